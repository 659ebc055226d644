/**
 * The wire format of ADS, written by hand from envoy/service/discovery/v3/discovery.proto.
 *
 * Responses are assembled from bytes encoded once and shared by every stream that sends them
 * (see `PreparedResponse` in sotw.ts and the resource entries of delta.ts): protobuf fields may
 * be written in any order and a message is the concatenation of its fields, so a response is a
 * shared body followed by the few bytes that differ per stream (the nonce). Requests are decoded
 * field by field into plain data. The relay therefore needs no .proto files at run time, and a
 * single bundle (`npm run build:relay`) is the whole program. The test clients encode requests
 * and decode responses with protobufjs over Envoy's own protos, so every test checks this codec.
 */
import type * as grpc from '@grpc/grpc-js';
import { RESOURCE_TYPE_URLS } from '../shared/xds/type-urls.js';

/** The gRPC method of state-of-the-world ADS. */
export const STREAM_AGGREGATED_RESOURCES =
  '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

/** The gRPC method of incremental (delta) ADS. */
export const DELTA_AGGREGATED_RESOURCES =
  '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';

/** The fields of an `envoy.config.core.v3.Node` the relay reads. */
export interface RequestNode {
  id: string;
  cluster: string;
  /** e.g. `envoy`, `gRPC Node`; empty when not sent. */
  user_agent_name: string;
  /** `user_agent_version`, or `user_agent_build_version` as `major.minor.patch`; empty when not sent. */
  user_agent_version: string;
  /**
   * `metadata["meshline.proxyToken"]`: the per-proxy token of a client that cannot add call
   * metadata (relay/access.ts). Its string value; `''` when it holds another kind of value;
   * absent when the key is. Never logged.
   */
  proxy_token?: string;
}

/** The key of the per-proxy token in `Node.metadata`. */
export const PROXY_TOKEN_METADATA_KEY = 'meshline.proxyToken';

/** A `google.rpc.Status`: present on a request exactly when it is a NACK. */
export interface ErrorDetail {
  code: number;
  message: string;
}

/** An `envoy.service.discovery.v3.DiscoveryRequest`, the fields the relay reads. */
export interface DiscoveryRequest {
  version_info: string;
  /** Set on the first request of a stream; clients may omit it afterwards. */
  node: RequestNode | null;
  /** Shared between requests that list the same names (see decodeDiscoveryRequest): never mutate it. */
  resource_names: readonly string[];
  type_url: string;
  response_nonce: string;
  error_detail: ErrorDetail | null;
}

/** An `envoy.service.discovery.v3.DeltaDiscoveryRequest`, the fields the relay reads. */
export interface DeltaDiscoveryRequest {
  node: RequestNode | null;
  type_url: string;
  resource_names_subscribe: readonly string[];
  resource_names_unsubscribe: readonly string[];
  /** Set on the first request of a type on a reconnected stream: what the client already holds. */
  initial_resource_versions: Map<string, string>;
  response_nonce: string;
  error_detail: ErrorDetail | null;
}

/** A response as it goes on the wire: encoded bytes, written as they are. */
export type EncodedResponse = Buffer;

// --- Writing ---------------------------------------------------------------------------------

/** Wire type 2: strings, bytes, embedded messages. */
export const LENGTH_DELIMITED = 2;

function varintLength(value: number): number {
  let length = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    length += 1;
  }
  return length;
}

function writeVarint(target: Buffer, offset: number, value: number): number {
  while (value >= 0x80) {
    target[offset++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  target[offset++] = value;
  return offset;
}

/** One length-delimited field (string, bytes or embedded message): tag, length, bytes. */
export function lengthDelimited(field: number, bytes: Uint8Array): Buffer {
  const tag = (field << 3) | LENGTH_DELIMITED;
  const out = Buffer.allocUnsafe(varintLength(tag) + varintLength(bytes.length) + bytes.length);
  let offset = writeVarint(out, 0, tag);
  offset = writeVarint(out, offset, bytes.length);
  out.set(bytes, offset);
  return out;
}

/** A varint field (uint64, bool, enum); zero is the proto3 default and is not written. */
export function varintField(field: number, value: number): Buffer {
  if (value === 0) return Buffer.alloc(0);
  const tag = field << 3;
  const out = Buffer.allocUnsafe(varintLength(tag) + varintLength(value));
  writeVarint(out, writeVarint(out, 0, tag), value);
  return out;
}

/** A string field; an empty string is the proto3 default and is not written. */
export function stringField(field: number, value: string): Buffer {
  return value === '' ? Buffer.alloc(0) : lengthDelimited(field, Buffer.from(value, 'utf8'));
}

/** A `google.protobuf.Any` (type_url = 1, value = 2): the resource bytes wrapped as they are. */
export function encodeAny(typeUrl: string, value: Uint8Array): Buffer {
  return Buffer.concat([stringField(1, typeUrl), lengthDelimited(2, value)]);
}

/**
 * The body of a DiscoveryResponse without its nonce: version_info (1), each resource as an Any
 * (2), type_url (4). Shared by every stream that is sent this state; see {@link withNonce}.
 */
export function discoveryResponseBody(versionInfo: string, anys: readonly Buffer[], typeUrl: string): Buffer {
  const fields = [stringField(1, versionInfo)];
  for (const any of anys) fields.push(lengthDelimited(2, any));
  fields.push(stringField(4, typeUrl));
  return Buffer.concat(fields);
}

/** DiscoveryResponse.nonce and DeltaDiscoveryResponse.nonce are both field 5. */
const NONCE_FIELD = 5;

/** A complete response: a shared body with the stream's nonce appended as its last field. */
export function withNonce(body: Buffer, nonce: string): EncodedResponse {
  const length = Buffer.byteLength(nonce, 'utf8');
  if (length === 0) return body;
  const tag = (NONCE_FIELD << 3) | LENGTH_DELIMITED;
  // One allocation: the body, the nonce's tag and length, the nonce.
  const out = Buffer.allocUnsafe(body.length + 1 + varintLength(length) + length);
  body.copy(out, 0);
  let offset = writeVarint(out, body.length, tag);
  offset = writeVarint(out, offset, length);
  out.write(nonce, offset, 'utf8');
  return out;
}

/**
 * One entry of DeltaDiscoveryResponse.resources (field 2), tag included: a `Resource` with
 * name (3), version (1) and the resource as an Any (2). Encoded once per snapshot resource.
 */
export function deltaResourceEntry(name: string, version: string, any: Buffer): Buffer {
  return lengthDelimited(2, Buffer.concat([stringField(1, version), lengthDelimited(2, any), stringField(3, name)]));
}

/**
 * A DeltaDiscoveryResponse: system_version_info (1), resource entries from
 * {@link deltaResourceEntry} (2), type_url (4), removed_resources (6), nonce (5).
 */
export function encodeDeltaResponse(
  systemVersion: string,
  entries: readonly Buffer[],
  typeUrl: string,
  removed: readonly string[],
  nonce: string,
): EncodedResponse {
  const fields = [stringField(1, systemVersion), ...entries, stringField(4, typeUrl)];
  for (const name of removed) fields.push(lengthDelimited(6, Buffer.from(name, 'utf8')));
  fields.push(stringField(NONCE_FIELD, nonce));
  return Buffer.concat(fields);
}

// --- Reading ---------------------------------------------------------------------------------

/** A malformed message: the stream ends with INVALID_ARGUMENT. */
export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

/** Reads protobuf wire format field by field (also for the telemetry codecs: relay/lrs.ts, relay/metrics-service.ts). */
export class Reader {
  private offset = 0;
  private readonly bytes: Buffer;

  constructor(bytes: Uint8Array) {
    this.bytes = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get done(): boolean {
    return this.offset >= this.bytes.length;
  }

  /** A varint as a number (exact up to 2^53; enough for tags, lengths and status codes). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.bytes.length) throw new ProtocolError('truncated varint');
      const byte = this.bytes[this.offset++] as number;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) return result;
      scale *= 128;
    }
    throw new ProtocolError('varint longer than 10 bytes');
  }

  /** An int32 (negative ones are sign-extended to 10 bytes on the wire): the low 32 bits. */
  int32(): number {
    let result = 0;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.bytes.length) throw new ProtocolError('truncated varint');
      const byte = this.bytes[this.offset++] as number;
      if (i < 5) result |= (byte & 0x7f) << (7 * i);
      if (byte < 0x80) return result | 0;
    }
    throw new ProtocolError('varint longer than 10 bytes');
  }

  /** A `double` (wire type 1): 8 bytes, little-endian. */
  double(): number {
    if (this.offset + 8 > this.bytes.length) throw new ProtocolError('truncated fixed-width field');
    const value = this.bytes.readDoubleLE(this.offset);
    this.offset += 8;
    return value;
  }

  /** The next tag as [field number, wire type]. */
  tag(): [number, number] {
    const tag = this.varint();
    return [Math.floor(tag / 8), tag & 7];
  }

  bytesField(): Uint8Array {
    const length = this.varint();
    const end = this.offset + length;
    if (end > this.bytes.length) throw new ProtocolError('truncated length-delimited field');
    const slice = this.bytes.subarray(this.offset, end);
    this.offset = end;
    return slice;
  }

  /** A string field, decoded in place (no intermediate Buffer: this runs for every name of every request). */
  string(): string {
    const length = this.varint();
    const end = this.offset + length;
    if (end > this.bytes.length) throw new ProtocolError('truncated length-delimited field');
    const value = this.bytes.toString('utf8', this.offset, end);
    this.offset = end;
    return value;
  }

  /**
   * A repeated string field whose first tag was just read: this entry and the ones right
   * after it, as one list. Lists seen recently are returned as the very same (frozen) array:
   * a fleet's clients repeat the same names in every ACK, so they are decoded once, and the
   * protocol recognises a repeated list by identity.
   */
  stringRun(field: number): readonly string[] {
    const start = this.offset;
    const tag = (field << 3) | LENGTH_DELIMITED;
    // Find where the run ends without decoding it: lengths and tags only.
    let entry = start;
    let end: number;
    for (;;) {
      this.offset = entry;
      const length = this.varint();
      end = this.offset + length;
      if (end > this.bytes.length) throw new ProtocolError('truncated length-delimited field');
      if (end >= this.bytes.length || this.bytes[end] !== tag) break;
      entry = end + 1; // past the next entry's tag (one byte: field numbers below 16)
    }
    this.offset = end;
    const key = this.bytes.toString('latin1', start, end);
    const cached = stringRuns.get(key);
    if (cached) return cached;
    const names: string[] = [];
    const run = new Reader(this.bytes.subarray(start, end));
    names.push(run.string());
    while (!run.done) {
      run.tag();
      names.push(run.string());
    }
    Object.freeze(names);
    if (key.length <= MAX_RUN_KEY) {
      stringRuns.set(key, names);
      if (stringRuns.size > MAX_RUNS) stringRuns.delete(stringRuns.keys().next().value as string);
    }
    return names;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.advance(8);
    else if (wireType === 2) this.bytesField();
    else if (wireType === 5) this.advance(4);
    else throw new ProtocolError(`unsupported wire type ${wireType}`);
  }

  private advance(count: number): void {
    if (this.offset + count > this.bytes.length) throw new ProtocolError('truncated fixed-width field');
    this.offset += count;
  }
}

/** Lists of names decoded recently, by their bytes (insertion order: oldest first). */
const stringRuns = new Map<string, readonly string[]>();
const MAX_RUNS = 4_096;
/** Longer lists are decoded every time rather than kept. */
const MAX_RUN_KEY = 16_384;

/** Appends a run to a list read so far (a repeated field split by other fields, which clients do not do). */
function appendRun(list: readonly string[], run: readonly string[]): readonly string[] {
  return list.length === 0 ? run : Object.freeze([...list, ...run]);
}

/**
 * Reads a message field by field: `onField` reads the fields it knows from `reader` and returns
 * true, or returns false to have the field skipped.
 */
export function readMessage(bytes: Uint8Array, onField: (field: number, wireType: number, reader: Reader) => boolean): void {
  const reader = new Reader(bytes);
  while (!reader.done) {
    const [field, wireType] = reader.tag();
    if (!onField(field, wireType, reader)) reader.skip(wireType);
  }
}

/** `envoy.config.core.v3.BuildVersion.version` (a SemanticVersion) as `major.minor.patch`. */
function decodeBuildVersion(bytes: Uint8Array): string {
  const numbers = [0, 0, 0];
  readMessage(bytes, (field, wireType, reader) => {
    if (field !== 1 || wireType !== LENGTH_DELIMITED) return false;
    readMessage(reader.bytesField(), (part, partWire, partReader) => {
      if (part < 1 || part > 3 || partWire !== 0) return false;
      numbers[part - 1] = partReader.varint();
      return true;
    });
    return true;
  });
  return numbers.join('.');
}

/**
 * The token in a `google.protobuf.Struct` (Node.metadata): its `fields` map entries (1) have a
 * key (1) and a Value (2), whose string_value is field 3. Other entries are only skipped.
 */
function decodeProxyToken(struct: Uint8Array): string | undefined {
  let token: string | undefined;
  readMessage(struct, (field, wireType, reader) => {
    if (field !== 1 || wireType !== LENGTH_DELIMITED) return false;
    let key = '';
    let value: Uint8Array | undefined;
    readMessage(reader.bytesField(), (part, partWire, entry) => {
      if (partWire !== LENGTH_DELIMITED) return false;
      if (part === 1) key = entry.string();
      else if (part === 2) value = entry.bytesField();
      else return false;
      return true;
    });
    if (key !== PROXY_TOKEN_METADATA_KEY) return true;
    token = '';
    readMessage(value ?? new Uint8Array(), (part, partWire, valueReader) => {
      if (part !== 3 || partWire !== LENGTH_DELIMITED) return false;
      token = valueReader.string();
      return true;
    });
    return true;
  });
  return token;
}

/**
 * `envoy.config.core.v3.Node`: id (1), cluster (2), metadata (3, for the proxy token only),
 * user_agent_name (6), user_agent_version (7) or user_agent_build_version (8).
 */
export function decodeNode(bytes: Uint8Array): RequestNode {
  const node: RequestNode = { id: '', cluster: '', user_agent_name: '', user_agent_version: '' };
  readMessage(bytes, (field, wireType, reader) => {
    if (wireType !== LENGTH_DELIMITED) return false;
    if (field === 1) node.id = reader.string();
    else if (field === 2) node.cluster = reader.string();
    else if (field === 3) {
      const token = decodeProxyToken(reader.bytesField());
      if (token !== undefined) node.proxy_token = token;
    }
    else if (field === 6) node.user_agent_name = reader.string();
    else if (field === 7) node.user_agent_version = reader.string();
    else if (field === 8) node.user_agent_version = decodeBuildVersion(reader.bytesField());
    else return false;
    return true;
  });
  return node;
}

/** `google.rpc.Status`: code (1, int32), message (2). */
function decodeStatus(bytes: Uint8Array): ErrorDetail {
  const status: ErrorDetail = { code: 0, message: '' };
  readMessage(bytes, (field, wireType, reader) => {
    if (field === 1 && wireType === 0) status.code = reader.int32();
    else if (field === 2 && wireType === LENGTH_DELIMITED) status.message = reader.string();
    else return false;
    return true;
  });
  return status;
}

/** The type URLs the relay serves, so a decoded type_url is one of these very strings (their hashes cached for every Map lookup). */
const KNOWN_TYPE_URLS = new Map<string, string>(RESOURCE_TYPE_URLS.map((typeUrl) => [typeUrl, typeUrl]));

function internTypeUrl(typeUrl: string): string {
  return KNOWN_TYPE_URLS.get(typeUrl) ?? typeUrl;
}

/** Decodes a DiscoveryRequest into plain data with every field defaulted but `node` and `error_detail`. */
export function decodeDiscoveryRequest(bytes: Uint8Array): DiscoveryRequest {
  const request: DiscoveryRequest = { version_info: '', node: null, resource_names: [], type_url: '', response_nonce: '', error_detail: null };
  readMessage(bytes, (field, wireType, reader) => {
    if (wireType !== LENGTH_DELIMITED) return false;
    if (field === 1) request.version_info = reader.string();
    else if (field === 2) request.node = decodeNode(reader.bytesField());
    else if (field === 3) request.resource_names = appendRun(request.resource_names, reader.stringRun(3));
    else if (field === 4) request.type_url = internTypeUrl(reader.string());
    else if (field === 5) request.response_nonce = reader.string();
    else if (field === 6) request.error_detail = decodeStatus(reader.bytesField());
    else return false;
    return true;
  });
  return request;
}

/** A map entry of initial_resource_versions: key (1), value (2). */
function decodeMapEntry(bytes: Uint8Array): [string, string] {
  let key = '';
  let value = '';
  readMessage(bytes, (field, wireType, reader) => {
    if (wireType !== LENGTH_DELIMITED) return false;
    if (field === 1) key = reader.string();
    else if (field === 2) value = reader.string();
    else return false;
    return true;
  });
  return [key, value];
}

/** Decodes a DeltaDiscoveryRequest into plain data. */
export function decodeDeltaDiscoveryRequest(bytes: Uint8Array): DeltaDiscoveryRequest {
  const request: DeltaDiscoveryRequest = {
    node: null,
    type_url: '',
    resource_names_subscribe: [],
    resource_names_unsubscribe: [],
    initial_resource_versions: new Map(),
    response_nonce: '',
    error_detail: null,
  };
  readMessage(bytes, (field, wireType, reader) => {
    if (wireType !== LENGTH_DELIMITED) return false;
    if (field === 1) request.node = decodeNode(reader.bytesField());
    else if (field === 2) request.type_url = internTypeUrl(reader.string());
    else if (field === 3) request.resource_names_subscribe = appendRun(request.resource_names_subscribe, reader.stringRun(3));
    else if (field === 4) request.resource_names_unsubscribe = appendRun(request.resource_names_unsubscribe, reader.stringRun(4));
    else if (field === 5) request.initial_resource_versions.set(...decodeMapEntry(reader.bytesField()));
    else if (field === 6) request.response_nonce = reader.string();
    else if (field === 7) request.error_detail = decodeStatus(reader.bytesField());
    else return false;
    return true;
  });
  return request;
}

/** The fields of a response a load generator reads to ACK it, without decoding its resources. */
export interface ResponseHeader {
  version: string;
  type_url: string;
  nonce: string;
}

/** Reads version (1), type_url (4) and nonce (5) of a DiscoveryResponse or DeltaDiscoveryResponse. */
export function decodeResponseHeader(bytes: Uint8Array): ResponseHeader {
  const header: ResponseHeader = { version: '', type_url: '', nonce: '' };
  readMessage(bytes, (field, wireType, reader) => {
    if (wireType !== LENGTH_DELIMITED) return false;
    if (field === 1) header.version = reader.string();
    else if (field === 4) header.type_url = reader.string();
    else if (field === 5) header.nonce = reader.string();
    else return false;
    return true;
  });
  return header;
}

/** Encodes a DiscoveryRequest (for load generators; Envoy and grpc-js-xds bring their own). */
export function encodeDiscoveryRequest(request: Partial<DiscoveryRequest>): Buffer {
  const fields = [stringField(1, request.version_info ?? '')];
  if (request.node) fields.push(lengthDelimited(2, Buffer.concat([stringField(1, request.node.id), stringField(2, request.node.cluster)])));
  for (const name of request.resource_names ?? []) fields.push(lengthDelimited(3, Buffer.from(name, 'utf8')));
  fields.push(stringField(4, request.type_url ?? ''), stringField(5, request.response_nonce ?? ''));
  return Buffer.concat(fields);
}

const identity = (bytes: Buffer): Buffer => bytes;

/**
 * The ADS service. Responses are bytes from this module, written as they are; requests are
 * decoded by hand. The client half of each method (request encoding, response decoding) is
 * raw bytes: clients bring their own codecs.
 */
export const aggregatedDiscoveryService = {
  StreamAggregatedResources: {
    path: STREAM_AGGREGATED_RESOURCES,
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: decodeDiscoveryRequest,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
  DeltaAggregatedResources: {
    path: DELTA_AGGREGATED_RESOURCES,
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: decodeDeltaDiscoveryRequest,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
} satisfies grpc.ServiceDefinition;
