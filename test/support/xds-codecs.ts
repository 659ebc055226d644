/**
 * Client-side ADS codecs built with protobufjs from Envoy's own protos: requests encoded and
 * responses decoded independently of the relay's hand-written codec (relay/protocol.ts), so
 * every test that talks to the relay checks its wire format too.
 */
import type protobuf from 'protobufjs';
import { envoyRoot } from '../../shared/xds/protos.js';

/** A client's node, as test clients send it. */
export interface TestNode {
  id: string;
  cluster?: string;
  user_agent_name?: string;
  user_agent_version?: string;
}

export interface ErrorDetail {
  code: number;
  message: string;
}

/** A DiscoveryRequest as test clients write it. */
export interface DiscoveryRequest {
  version_info?: string;
  node?: TestNode | null;
  resource_names?: string[];
  type_url: string;
  response_nonce?: string;
  error_detail?: ErrorDetail | null;
}

/** An `Any` of a response: the resource bytes. */
export interface AnyResource {
  type_url: string;
  value: Uint8Array;
}

/** A decoded DiscoveryResponse. */
export interface DiscoveryResponse {
  version_info: string;
  resources: AnyResource[];
  type_url: string;
  nonce: string;
}

/** A DeltaDiscoveryRequest as test clients write it. */
export interface DeltaDiscoveryRequest {
  node?: TestNode | null;
  type_url: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: ErrorDetail | null;
}

/** One resource of a delta response. */
export interface DeltaResource {
  name: string;
  version: string;
  resource: AnyResource | null;
}

/** A decoded DeltaDiscoveryResponse. */
export interface DeltaDiscoveryResponse {
  system_version_info: string;
  resources: DeltaResource[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
}

let types: Record<'request' | 'response' | 'deltaRequest' | 'deltaResponse', protobuf.Type> | undefined;

function discoveryTypes() {
  types ??= {
    request: envoyRoot().lookupType('envoy.service.discovery.v3.DiscoveryRequest'),
    response: envoyRoot().lookupType('envoy.service.discovery.v3.DiscoveryResponse'),
    deltaRequest: envoyRoot().lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest'),
    deltaResponse: envoyRoot().lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse'),
  };
  return types;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function anyOf(any: { type_url?: string; value?: Uint8Array } | null | undefined): AnyResource | null {
  return any ? { type_url: any.type_url ?? '', value: any.value ?? new Uint8Array() } : null;
}

export function encodeDiscoveryRequest(request: DiscoveryRequest): Buffer {
  const type = discoveryTypes().request;
  return toBuffer(type.encode(type.fromObject(request)).finish());
}

export function decodeDiscoveryResponse(bytes: Uint8Array): DiscoveryResponse {
  const message = discoveryTypes().response.decode(bytes) as unknown as Partial<DiscoveryResponse>;
  return {
    version_info: message.version_info ?? '',
    type_url: message.type_url ?? '',
    nonce: message.nonce ?? '',
    resources: (message.resources ?? []).map((r) => anyOf(r) as AnyResource),
  };
}

export function encodeDeltaDiscoveryRequest(request: DeltaDiscoveryRequest): Buffer {
  const type = discoveryTypes().deltaRequest;
  return toBuffer(type.encode(type.fromObject(request)).finish());
}

export function decodeDeltaDiscoveryResponse(bytes: Uint8Array): DeltaDiscoveryResponse {
  const message = discoveryTypes().deltaResponse.decode(bytes) as unknown as {
    system_version_info?: string;
    type_url?: string;
    nonce?: string;
    removed_resources?: string[];
    resources?: { name?: string; version?: string; resource?: { type_url?: string; value?: Uint8Array } | null }[];
  };
  return {
    system_version_info: message.system_version_info ?? '',
    type_url: message.type_url ?? '',
    nonce: message.nonce ?? '',
    removed_resources: [...(message.removed_resources ?? [])],
    resources: (message.resources ?? []).map((r) => ({ name: r.name ?? '', version: r.version ?? '', resource: anyOf(r.resource) })),
  };
}
