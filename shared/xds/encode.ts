import protobuf from 'protobufjs';
import { envoyRoot, messageType } from './protos.js';
import { messageName } from './type-urls.js';

/**
 * A resource in protobufjs object form, field names exactly as in Envoy's .proto files
 * (snake_case): Durations as `{ seconds, nanos }`, wrappers as `{ value }`, enums by name,
 * `Any` as `{ '@type': 'type.googleapis.com/...', ...fields }`.
 */
export type ProtoObject = { [field: string]: unknown };

/** Thrown when a resource would not be accepted by Envoy's protos or its validation rules. */
export class ResourceValidationError extends Error {
  override name = 'ResourceValidationError';
}

const WRAPPERS = new Set([
  'google.protobuf.DoubleValue',
  'google.protobuf.FloatValue',
  'google.protobuf.Int64Value',
  'google.protobuf.UInt64Value',
  'google.protobuf.Int32Value',
  'google.protobuf.UInt32Value',
  'google.protobuf.BoolValue',
  'google.protobuf.StringValue',
  'google.protobuf.BytesValue',
]);

const INTEGER_TYPES = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32']);
const LONG_TYPES = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const UNSIGNED = new Set(['uint32', 'fixed32', 'uint64', 'fixed64']);

function fail(path: string, message: string): never {
  throw new ResourceValidationError(`${path}: ${message}`);
}

function isPlainObject(value: unknown): value is ProtoObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

const fullNames = new WeakMap<protobuf.ReflectionObject, string>();

function fullName(type: protobuf.ReflectionObject): string {
  let name = fullNames.get(type);
  if (name === undefined) {
    name = type.fullName.replace(/^\./, '');
    fullNames.set(type, name);
  }
  return name;
}

const fieldRules = new WeakMap<protobuf.Field, Map<string, unknown>>();

/** The `(validate.rules).*` options of a field, keyed without that prefix. */
function validateRules(field: protobuf.Field): Map<string, unknown> {
  const cached = fieldRules.get(field);
  if (cached) return cached;
  const rules = new Map<string, unknown>();
  for (const [key, value] of Object.entries(field.options ?? {})) {
    if (key.startsWith('(validate.rules).')) rules.set(key.slice('(validate.rules).'.length), value);
  }
  fieldRules.set(field, rules);
  return rules;
}

function numeric(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return Number(value);
  if (isPlainObject(value) && ('seconds' in value || 'nanos' in value)) {
    return Number(value.seconds ?? 0) + Number(value.nanos ?? 0) / 1e9;
  }
  return Number.NaN;
}

/** Applies the protoc-gen-validate rules Envoy enforces on one field's (present or default) value. */
function checkRules(path: string, field: protobuf.Field, value: unknown, present: boolean): void {
  const rules = validateRules(field);
  if (rules.size === 0) return;
  if (rules.get('message.required') === true && !present) fail(path, 'is required');
  if (field.repeated || field.map) {
    const count = field.map ? Object.keys((value as object) ?? {}).length : ((value as unknown[]) ?? []).length;
    const min = rules.get('repeated.min_items') ?? rules.get('map.min_pairs');
    const max = rules.get('repeated.max_items') ?? rules.get('map.max_pairs');
    if (typeof min === 'number' && count < min) fail(path, `must have at least ${min} item(s), got ${count}`);
    if (typeof max === 'number' && count > max) fail(path, `must have at most ${max} item(s), got ${count}`);
    return;
  }
  const typeName = field.resolvedType ? fullName(field.resolvedType) : field.type;
  // Scalar rules on a wrapper apply to the wrapped value, and only when it is set.
  let scalar: unknown = value;
  if (WRAPPERS.has(typeName)) {
    if (!present) return;
    scalar = (value as ProtoObject).value;
  } else if (field.resolvedType instanceof protobuf.Type && typeName !== 'google.protobuf.Duration') {
    return;
  }
  for (const [rule, bound] of rules) {
    // A duration bound is flattened by unit: `duration.gte.nanos` = 1000000 is 1 ms.
    const [kind, check, unit] = rule.split('.') as [string, string | undefined, string | undefined];
    if (kind === 'string') {
      const text = typeof scalar === 'string' ? scalar : '';
      const length = [...text].length;
      if ((check === 'min_len' || check === 'min_bytes') && length < Number(bound)) {
        fail(path, `must be at least ${String(bound)} character(s) long, got ${JSON.stringify(text)}`);
      }
      if ((check === 'max_len' || check === 'max_bytes') && length > Number(bound)) {
        fail(path, `must be at most ${String(bound)} character(s) long, got ${length}`);
      }
      if (check === 'well_known_regex' && rules.get('string.strict') !== false && /[\0\r\n]/.test(text)) {
        fail(path, `must not contain NUL, CR or LF, got ${JSON.stringify(text)}`);
      }
    } else if (kind === 'enum') {
      if (check === 'defined_only' && bound === true && scalar !== undefined) {
        const values = (field.resolvedType as protobuf.Enum).values;
        const known = typeof scalar === 'number' ? Object.values(values).includes(scalar) : String(scalar) in values;
        if (!known) fail(path, `is not a defined enum value, got ${String(scalar)}`);
      }
    } else if (kind === 'duration') {
      if (!present) continue;
      const seconds = numeric(scalar);
      const limit = numeric(isPlainObject(bound) ? bound : unit === 'nanos' ? { nanos: bound } : { seconds: bound });
      checkBound(path, check, seconds, limit, `${limit}s`);
    } else if (check !== undefined && ['gt', 'gte', 'lt', 'lte'].includes(check)) {
      if (WRAPPERS.has(typeName) || present || scalar === undefined) {
        checkBound(path, check, numeric(scalar ?? 0), Number(bound), String(bound));
      }
    }
  }
}

function checkBound(path: string, check: string | undefined, value: number, limit: number, shown: string): void {
  const ok =
    check === 'gt' ? value > limit
    : check === 'gte' ? value >= limit
    : check === 'lt' ? value < limit
    : check === 'lte' ? value <= limit
    : true;
  const words: Record<string, string> = { gt: 'greater than', gte: 'at least', lt: 'less than', lte: 'at most' };
  if (!ok) fail(path, `must be ${words[check ?? ''] ?? check} ${shown}, got ${value}`);
}

function checkScalar(path: string, field: protobuf.Field, value: unknown): void {
  const type = field.type;
  if (field.resolvedType instanceof protobuf.Enum) {
    const values = field.resolvedType.values;
    const known = typeof value === 'number' ? Number.isInteger(value) : typeof value === 'string' && value in values;
    if (!known) fail(path, `must be one of ${Object.keys(values).join(', ')}, got ${JSON.stringify(value)}`);
    return;
  }
  if (type === 'string') {
    if (typeof value !== 'string') fail(path, `must be a string, got ${JSON.stringify(value)}`);
  } else if (type === 'bool') {
    if (typeof value !== 'boolean') fail(path, `must be a boolean, got ${JSON.stringify(value)}`);
  } else if (type === 'bytes') {
    if (typeof value !== 'string' && !(value instanceof Uint8Array)) fail(path, 'must be bytes (base64 string or Uint8Array)');
  } else if (type === 'double' || type === 'float') {
    if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, `must be a finite number, got ${JSON.stringify(value)}`);
  } else if (INTEGER_TYPES.has(type) || LONG_TYPES.has(type)) {
    const asNumber = typeof value === 'string' && LONG_TYPES.has(type) && /^-?\d+$/.test(value) ? Number(value) : value;
    if (typeof asNumber !== 'number' || !Number.isInteger(asNumber)) {
      fail(path, `must be an integer (${type}), got ${JSON.stringify(value)}`);
    }
    if (UNSIGNED.has(type) && asNumber < 0) fail(path, `must not be negative (${type}), got ${asNumber}`);
    if (INTEGER_TYPES.has(type)) {
      const [min, max] = UNSIGNED.has(type) ? [0, 2 ** 32 - 1] : [-(2 ** 31), 2 ** 31 - 1];
      if (asNumber < min || asNumber > max) fail(path, `is out of range for ${type}, got ${asNumber}`);
    }
  }
}

function checkValue(path: string, field: protobuf.Field, value: unknown): void {
  if (field.resolvedType instanceof protobuf.Type) {
    checkMessage(path, field.resolvedType, value);
  } else {
    checkScalar(path, field, value);
  }
}

/**
 * Checks an object against a message type: every key must be a field of the type (protobufjs
 * silently drops unknown keys, Envoy would not have them), every value must have the field's
 * type, at most one member of each oneof may be set, and Envoy's own validation rules
 * (protoc-gen-validate annotations in the protos) must hold.
 */
function checkMessage(path: string, type: protobuf.Type, value: unknown): void {
  if (!isPlainObject(value)) fail(path, `must be a ${fullName(type)} message, got ${JSON.stringify(value)}`);
  if (fullName(type) === 'google.protobuf.Any') {
    const typeUrl = value['@type'];
    if (typeof typeUrl !== 'string') fail(path, "an Any needs an '@type'");
    let inner: protobuf.Type;
    try {
      inner = envoyRoot().lookupType(messageName(typeUrl));
    } catch {
      return fail(path, `unknown type in Any: ${typeUrl}`);
    }
    const { '@type': _ignored, ...rest } = value;
    checkMessage(`${path}<${messageName(typeUrl)}>`, inner, rest);
    return;
  }
  for (const [key, fieldValue] of Object.entries(value)) {
    const field = type.fields[key];
    if (!field) fail(`${path}.${key}`, `unknown field of ${fullName(type)}`);
    if (fieldValue === undefined || fieldValue === null) fail(`${path}.${key}`, 'must not be null or undefined');
    if (field.map) {
      if (!isPlainObject(fieldValue)) fail(`${path}.${key}`, 'must be a map (object)');
      for (const [mapKey, mapValue] of Object.entries(fieldValue)) checkValue(`${path}.${key}[${mapKey}]`, field, mapValue);
    } else if (field.repeated) {
      if (!Array.isArray(fieldValue)) fail(`${path}.${key}`, 'must be a list');
      fieldValue.forEach((item, index) => checkValue(`${path}.${key}[${index}]`, field, item));
    } else {
      checkValue(`${path}.${key}`, field, fieldValue);
    }
  }
  const { oneofs, ruled } = shapeOf(type);
  for (const oneof of oneofs) {
    const set = oneof.fields.filter((name) => value[name] !== undefined);
    if (set.length > 1) fail(path, `only one of ${oneof.name} may be set, got ${set.join(' and ')}`);
    if (set.length === 0 && oneof.required) fail(path, `one of ${oneof.fields.join(', ')} is required`);
  }
  for (const field of ruled) {
    // A oneof member's rules apply only when it is the member that is set.
    if (field.partOf && value[field.name] === undefined) continue;
    checkRules(`${path}.${field.name}`, field, value[field.name], value[field.name] !== undefined);
  }
}

/** What checkMessage needs of a type besides its fields, worked out once per type. */
interface TypeShape {
  oneofs: { name: string; fields: string[]; required: boolean }[];
  /** The fields that carry validation rules (the others need no check when absent). */
  ruled: protobuf.Field[];
}

const shapes = new WeakMap<protobuf.Type, TypeShape>();

function shapeOf(type: protobuf.Type): TypeShape {
  let shape = shapes.get(type);
  if (!shape) {
    shape = {
      oneofs: type.oneofsArray.map((o) => ({ name: o.name, fields: o.fieldsArray.map((f) => f.name), required: o.options?.['(validate.required)'] === true })),
      ruled: type.fieldsArray.filter((f) => validateRules(f).size > 0),
    };
    shapes.set(type, shape);
  }
  return shape;
}

/**
 * Validates a resource against its Envoy message type and encodes it to protobuf bytes.
 * Throws {@link ResourceValidationError} naming the path of the first bad field.
 */
export function encodeMessage(typeName: string, object: ProtoObject, path: string = typeName): Uint8Array {
  const type = messageType(typeName);
  checkMessage(path, type, object);
  return type.encode(type.fromObject(object)).finish();
}

/** Encodes a resource of an xDS type URL, see {@link encodeMessage}. */
export function encodeResource(typeUrl: string, object: ProtoObject): Uint8Array {
  return encodeMessage(messageName(typeUrl), object);
}

/** A Duration as proto3 JSON writes it: seconds with up to nine decimals and an `s`. */
function durationJson(value: ProtoObject): string {
  const seconds = BigInt(String(value.seconds ?? 0));
  const nanos = Number(value.nanos ?? 0);
  if (nanos === 0) return `${seconds}s`;
  const sign = seconds < 0n || nanos < 0 ? '-' : '';
  const whole = seconds < 0n ? -seconds : seconds;
  const fraction = String(Math.abs(nanos)).padStart(9, '0').replace(/0+$/, '');
  return `${sign}${whole}.${fraction}s`;
}

/** Converts protobufjs object form (toObject output) of a type to proto3 JSON. */
function toProto3Json(type: protobuf.Type, value: ProtoObject): unknown {
  const name = fullName(type);
  if (WRAPPERS.has(name)) return value.value ?? (name === 'google.protobuf.BoolValue' ? false : name === 'google.protobuf.StringValue' ? '' : 0);
  if (name === 'google.protobuf.Duration') return durationJson(value);
  if (name === 'google.protobuf.Struct') {
    const fields = (value.fields ?? {}) as Record<string, ProtoObject>;
    return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, structValueJson(v)]));
  }
  if (name === 'google.protobuf.Value') return structValueJson(value);
  if (name === 'google.protobuf.Timestamp') {
    return new Date(Number(value.seconds ?? 0) * 1000 + Number(value.nanos ?? 0) / 1e6).toISOString();
  }
  if (name === 'google.protobuf.Any') {
    const typeUrl = String(value.type_url ?? '');
    const inner = envoyRoot().lookupType(messageName(typeUrl));
    const bytes = Buffer.from(String(value.value ?? ''), 'base64');
    const decoded = inner.toObject(inner.decode(bytes), OBJECT_OPTIONS) as ProtoObject;
    return { '@type': typeUrl, ...(toProto3Json(inner, decoded) as ProtoObject) };
  }
  const out: ProtoObject = {};
  for (const [key, fieldValue] of Object.entries(value)) {
    const field = type.fields[key];
    if (!field) continue;
    const convert = (v: unknown) => (field.resolvedType instanceof protobuf.Type ? toProto3Json(field.resolvedType, v as ProtoObject) : v);
    if (field.map) {
      out[key] = Object.fromEntries(Object.entries(fieldValue as ProtoObject).map(([k, v]) => [k, convert(v)]));
    } else if (field.repeated) {
      out[key] = (fieldValue as unknown[]).map(convert);
    } else {
      out[key] = convert(fieldValue);
    }
  }
  return out;
}

/** A google.protobuf.Value (object form, camelCase members) as the plain JSON value it stands for. */
function structValueJson(value: ProtoObject): unknown {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.numberValue !== undefined) return value.numberValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.structValue !== undefined) return toProto3Json(messageType('google.protobuf.Struct'), value.structValue as ProtoObject);
  if (value.listValue !== undefined) return (((value.listValue as ProtoObject).values ?? []) as ProtoObject[]).map(structValueJson);
  return null;
}

const OBJECT_OPTIONS: protobuf.IConversionOptions = { longs: String, enums: String, bytes: String };

/**
 * Decodes bytes of a type URL to proto3 JSON (field names as in the protos, Durations as
 * `"1s"`, wrappers unwrapped, `@type` on every Any): the human-readable twin of a snapshot.
 */
export function resourceToJson(typeUrl: string, bytes: Uint8Array): ProtoObject {
  return messageToJson(messageName(typeUrl), bytes);
}

/** Decodes bytes of a message type (by full name) to proto3 JSON, see {@link resourceToJson}. */
export function messageToJson(typeName: string, bytes: Uint8Array): ProtoObject {
  const type = messageType(typeName);
  return toProto3Json(type, type.toObject(type.decode(bytes), OBJECT_OPTIONS) as ProtoObject) as ProtoObject;
}

/** A proto3 JSON Duration (`"1.5s"`) in object form. */
function durationObject(path: string, text: unknown): ProtoObject {
  const match = typeof text === 'string' ? /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(text) : null;
  if (!match) fail(path, `must be a duration like "1.5s", got ${JSON.stringify(text)}`);
  const sign = match[1] ? -1 : 1;
  const nanos = Number((match[3] ?? '').padEnd(9, '0'));
  return { seconds: sign * Number(match[2]), nanos: sign * nanos };
}

function camelToSnake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * Converts proto3 JSON of a message type (as Envoy reads it, and as resourceToJson writes it)
 * to protobufjs object form: Durations from `"1s"`, bare wrapper values, `@type` Anys, lowerCamel
 * or original field names. An unknown key is an error, never a silent drop.
 */
export function fromProto3Json(typeName: string, json: unknown, path = typeName): ProtoObject {
  return messageFromJson(messageType(typeName), json, path) as ProtoObject;
}

function messageFromJson(type: protobuf.Type, json: unknown, path: string): unknown {
  const name = fullName(type);
  if (WRAPPERS.has(name)) return { value: json };
  if (name === 'google.protobuf.Duration') return durationObject(path, json);
  if (!isPlainObject(json)) fail(path, `must be a ${name} object, got ${JSON.stringify(json)}`);
  if (name === 'google.protobuf.Any') {
    const typeUrl = json['@type'];
    if (typeof typeUrl !== 'string') fail(path, "an Any needs an '@type'");
    const { '@type': _ignored, ...rest } = json;
    return { '@type': typeUrl, ...(messageFromJson(envoyRoot().lookupType(messageName(typeUrl)), rest, `${path}<${messageName(typeUrl)}>`) as ProtoObject) };
  }
  const out: ProtoObject = {};
  for (const [key, value] of Object.entries(json)) {
    const field = type.fields[key] ?? type.fields[camelToSnake(key)];
    if (!field) fail(`${path}.${key}`, `unknown field of ${name}`);
    const convert = (v: unknown, at: string) => (field.resolvedType instanceof protobuf.Type ? messageFromJson(field.resolvedType, v, at) : v);
    if (field.map && isPlainObject(value)) {
      out[field.name] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert(v, `${path}.${field.name}[${k}]`)]));
    } else if (field.repeated && Array.isArray(value)) {
      out[field.name] = value.map((v, i) => convert(v, `${path}.${field.name}[${i}]`));
    } else {
      out[field.name] = convert(value, `${path}.${field.name}`);
    }
  }
  return out;
}
