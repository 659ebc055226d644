/**
 * Validation of App Mesh input against the model's schemas, with messages App Mesh users can
 * act on: the field as they wrote it (`spec.listeners[0].portMapping.port`), the bound that
 * was broken and the value given, in the style of the AWS CDK ("... must be between 2 and 10,
 * got: 11"). Also the schema introspection the messages and the constraint tests need.
 */
import { z } from 'zod';
import { BadRequestError } from '../errors.js';
import type { OperationSpec } from './shapes.js';
import { shapeInfo } from './smithy.js';

/** One step of a field path: a member name, or an index into a list. */
export type PathSegment = string | number;

/**
 * Parses `value` with `schema` and returns the result, or throws a `BadRequestError` naming
 * every broken constraint (joined by "; ", in the order zod reports them).
 *
 * A member set to JSON `null` is treated as absent, as AWS's JSON protocols do; a `null` item
 * of a list is an error. `what` names the value and prefixes every field path: parsing a spec
 * with `what = 'spec'` reports `spec.listeners[0]...`; parsing a body leaves it out.
 */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, what?: string): z.output<S> {
  const result = schema.safeParse(withoutNullMembers(value), { reportInput: true });
  if (result.success) return result.data;
  throw new BadRequestError(validationMessage(schema, result.error.issues, what));
}

/** The App Mesh-style message for the issues zod found parsing a value with `schema`. */
export function validationMessage(schema: z.ZodType, issues: readonly z.core.$ZodIssue[], what?: string): string {
  const messages = issues.flatMap((issue) => describeIssue(schema, issue, what));
  return [...new Set(messages)].join('; ');
}

/** `['spec', 'listeners', 0, 'port']` -> `spec.listeners[0].port`, after `what` if given. */
export function fieldPath(path: readonly PropertyKey[], what?: string): string {
  let text = what ?? '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text ? `.${String(segment)}` : String(segment);
  }
  return text || 'input';
}

/** The request parts of one operation, as the HTTP layer found them. */
export interface OperationRequest {
  /** URI label values, already percent-decoded, by member name. */
  readonly labels?: Readonly<Record<string, string | undefined>>;
  /** Query parameters by query name; the first value counts when one is repeated. */
  readonly query?: Readonly<Record<string, string | readonly string[] | undefined>>;
  /** The parsed JSON body; undefined when the request had none. */
  readonly body?: unknown;
}

/**
 * Validates one operation's request and returns its whole input (labels, query and body
 * members together). The body is checked on its own first, so a label member sent in the body
 * is reported as not a member of the input rather than silently overridden. Integer query
 * members (`limit`) are read from their decimal string form.
 */
export function parseOperationInput<O extends OperationSpec>(
  operation: O,
  request: OperationRequest,
): z.output<O['input']> {
  let body: Record<string, unknown> = {};
  if (operation.body) {
    const raw = request.body ?? {};
    if (!isPlainObject(raw)) throw new BadRequestError('The request body must be a JSON object');
    body = parseInput(operation.body, raw) as Record<string, unknown>;
  }
  const input: Record<string, unknown> = { ...body };
  for (const name of Object.keys(operation.labels)) {
    const value = request.labels?.[name];
    if (value !== undefined) input[name] = value;
  }
  for (const [member, { name, schema }] of Object.entries(operation.query)) {
    const given = request.query?.[name];
    const value = Array.isArray(given) ? given[0] : given;
    if (value === undefined) continue;
    input[member] = unwrap(schema) instanceof z.ZodNumber && /^-?\d+$/.test(value) ? Number(value) : value;
  }
  return parseInput(operation.input, input) as z.output<O['input']>;
}

/** Strips optional/nullable/default/pipe wrappers down to the schema of the value itself. */
export function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodNullable || current instanceof z.ZodDefault) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType;
    } else {
      return current;
    }
  }
}

/** The schema of the field at `path` inside `schema` (unwrapped), or undefined if there is none. */
export function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let current = unwrap(schema);
  for (const segment of path) {
    if (current instanceof z.ZodObject && typeof segment === 'string') {
      const member = (current.shape as Record<string, z.ZodType | undefined>)[segment];
      if (!member) return undefined;
      current = unwrap(member);
    } else if (current instanceof z.ZodArray && typeof segment === 'number') {
      current = unwrap(current.element as z.ZodType);
    } else {
      return undefined;
    }
  }
  return current;
}

/** Inclusive bounds of a string (length), number (value) or list (size) schema. */
export interface Bounds {
  readonly min: number | undefined;
  readonly max: number | undefined;
}

/** The length, range or size bounds a schema declares (not zod's implicit safe-integer range). */
export function boundsOf(schema: z.ZodType): Bounds {
  let min: number | undefined;
  let max: number | undefined;
  for (const check of unwrap(schema)._zod.def.checks ?? []) {
    const def = check._zod.def as { check: string; minimum?: number; maximum?: number; length?: number; value?: unknown; inclusive?: boolean };
    if (def.check === 'min_length') min = def.minimum;
    else if (def.check === 'max_length') max = def.maximum;
    else if (def.check === 'length_equals') min = max = def.length;
    else if (def.check === 'greater_than' && typeof def.value === 'number') min = def.inclusive ? def.value : def.value + 1;
    else if (def.check === 'less_than' && typeof def.value === 'number') max = def.inclusive ? def.value : def.value - 1;
  }
  return { min, max };
}

/** A field whose value the model bounds: a string's length, a number's value, a list's size. */
export interface BoundedField {
  /** Path from the root schema; list items appear as index 0. */
  readonly path: readonly PathSegment[];
  /** The path as messages print it: `spec.listeners[0].portMapping.port`. */
  readonly field: string;
  readonly kind: 'string' | 'number' | 'list';
  readonly min: number | undefined;
  readonly max: number | undefined;
  /** Whether a number must be an integer. */
  readonly integer: boolean;
  /** The Smithy shape of the field's value, e.g. `PortNumber`. */
  readonly shape: string | undefined;
}

/**
 * Every bounded field reachable from `schema`, depth first in member order, through every
 * optional member and union branch; list items appear once, at index 0.
 */
export function boundedFields(schema: z.ZodType): BoundedField[] {
  const fields: BoundedField[] = [];
  const visit = (node: z.ZodType, path: PathSegment[], ancestors: ReadonlySet<z.ZodType>): void => {
    const current = unwrap(node);
    if (ancestors.has(current)) return; // a recursive shape: its fields were listed one level up
    const kind = current instanceof z.ZodString ? 'string' : current instanceof z.ZodNumber ? 'number' : current instanceof z.ZodArray ? 'list' : undefined;
    if (kind) {
      const { min, max } = boundsOf(current);
      if (min !== undefined || max !== undefined) {
        const integer = current instanceof z.ZodNumber && current.isInt;
        fields.push({ path, field: fieldPath(path), kind, min, max, integer, shape: shapeInfo(current)?.shape });
      }
    }
    const inner = new Set(ancestors).add(current);
    if (current instanceof z.ZodObject) {
      for (const [name, member] of Object.entries(current.shape as Record<string, z.ZodType>)) visit(member, [...path, name], inner);
    } else if (current instanceof z.ZodArray) {
      visit(current.element as z.ZodType, [...path, 0], inner);
    }
  };
  visit(schema, [], new Set());
  return fields;
}

function describeIssue(root: z.ZodType, issue: z.core.$ZodIssue, what: string | undefined): string[] {
  const field = fieldPath(issue.path, what);
  const got = describeValue(issue.input);
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return [`${field} is required`];
      return [`${field} must be ${typeName(issue.expected, schemaAt(root, issue.path))}, got: ${got}`];
    case 'too_small':
    case 'too_big':
      return [`${field} ${boundMessage(root, issue)}`];
    case 'invalid_value':
      return [`${field} must be one of ${issue.values.map(String).join(', ')}, got: ${got}`];
    case 'invalid_format':
      if (issue.format === 'regex' && 'pattern' in issue) {
        return [`${field} must match the pattern ${patternSource(String(issue.pattern))}, got: ${got}`];
      }
      return [`${field} must be a valid ${issue.format}, got: ${got}`];
    case 'unrecognized_keys': {
      const container = schemaAt(root, issue.path);
      const shape = (container && shapeInfo(container)?.shape) ?? 'the input';
      return issue.keys.map((key) => `${fieldPath([...issue.path, key], what)} is not a member of ${shape}`);
    }
    case 'custom':
      return [customMessage(issue, field, what)];
    default:
      return [`${field} is not valid: ${issue.message}`];
  }
}

function boundMessage(root: z.ZodType, issue: z.core.$ZodIssueTooSmall | z.core.$ZodIssueTooBig): string {
  const declared = schemaAt(root, issue.path);
  const bounds = declared ? boundsOf(declared) : { min: undefined, max: undefined };
  const min = issue.code === 'too_small' ? Number(issue.minimum) : bounds.min;
  const max = issue.code === 'too_big' ? Number(issue.maximum) : bounds.max;
  const input = issue.input;
  if (issue.origin === 'string' || issue.origin === 'array') {
    const [unit, verb] = issue.origin === 'string' ? ['character', 'be'] : ['item', 'have'];
    const size = typeof input === 'string' || Array.isArray(input) ? input.length : undefined;
    const got = size === undefined ? '' : `, got: ${plural(size, unit)}`;
    const long = issue.origin === 'string' ? ' long' : '';
    if (min !== undefined && min === max) return `must ${verb} exactly ${plural(min, unit)}${long}${got}`;
    if (issue.code === 'too_big') return `must ${verb} at most ${plural(Number(max), unit)}${long}${got}`;
    return `must ${verb} at least ${plural(Number(min), unit)}${long}${got}`;
  }
  const got = `, got: ${describeValue(input)}`;
  if (min !== undefined && max !== undefined && max === bounds.max && min === bounds.min) return `must be between ${min} and ${max}${got}`;
  return issue.code === 'too_big' ? `must be at most ${max}${got}` : `must be at least ${min}${got}`;
}

function customMessage(issue: z.core.$ZodIssueCustom, field: string, what: string | undefined): string {
  const params = issue.params ?? {};
  if (params['rule'] === 'dependentRequired' && typeof params['when'] === 'string') {
    return `${field} is required when ${fieldPath([...issue.path.slice(0, -1), params['when']], what)} is set`;
  }
  if (params['rule'] === 'uniqueItems' && Array.isArray(params['sameAs'])) {
    const sameAs = params['sameAs'] as PathSegment[];
    const list = issue.path.slice(0, issue.path.length - sameAs.length);
    return `${field} must be unique, got: ${describeValue(issue.input)}, the same as ${fieldPath([...list, ...sameAs], what)}`;
  }
  return `${field} ${issue.message}`;
}

function typeName(expected: string, declared: z.ZodType | undefined): string {
  if (declared instanceof z.ZodNumber && declared.isInt) return 'an integer';
  switch (expected) {
    case 'int':
      return 'an integer';
    case 'object':
      return 'an object';
    case 'array':
      return 'a list';
    default:
      return `a ${expected}`;
  }
}

function patternSource(pattern: string): string {
  const match = /^\/(.*)\/[a-z]*$/s.exec(pattern);
  return match?.[1] ?? pattern;
}

function plural(count: number, unit: string): string {
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

/** A value as a message shows it: JSON, cut short when long. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number') return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function withoutNullMembers(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNullMembers);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    // defineProperty: a member named __proto__ stays a member (and is reported as unknown)
    if (member !== null) Object.defineProperty(out, key, { value: withoutNullMembers(member), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
