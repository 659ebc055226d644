import type * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { envoyRoot } from '../shared/xds/protos.js';

/** The gRPC method of state-of-the-world ADS. */
export const STREAM_AGGREGATED_RESOURCES =
  '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

/** An `envoy.service.discovery.v3.DiscoveryRequest`, the fields the relay reads. */
export interface DiscoveryRequest {
  version_info: string;
  /** Set on the first request of a stream; clients may omit it afterwards. */
  node: { id: string; cluster?: string; locality?: { region?: string; zone?: string; sub_zone?: string } } | null;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  /** Present exactly when the request is a NACK. */
  error_detail: { code: number; message: string } | null;
}

/** An `Any`: the resource bytes exactly as the compiler encoded them. */
export interface AnyResource {
  type_url: string;
  value: Uint8Array;
}

/** An `envoy.service.discovery.v3.DiscoveryResponse`. */
export interface DiscoveryResponse {
  version_info: string;
  resources: AnyResource[];
  type_url: string;
  nonce: string;
}

let types: { request: protobuf.Type; response: protobuf.Type } | undefined;

function discoveryTypes(): { request: protobuf.Type; response: protobuf.Type } {
  types ??= {
    request: envoyRoot().lookupType('envoy.service.discovery.v3.DiscoveryRequest'),
    response: envoyRoot().lookupType('envoy.service.discovery.v3.DiscoveryResponse'),
  };
  return types;
}

/**
 * Encodes a response. An `Any` is written as its `type_url` and `value` bytes, so the resource
 * bytes from the snapshot go out untouched: no resource is decoded or re-encoded per client.
 */
export function encodeDiscoveryResponse(response: DiscoveryResponse): Buffer {
  const bytes = discoveryTypes().response.encode(response).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function decodeDiscoveryResponse(bytes: Uint8Array): DiscoveryResponse {
  const message = discoveryTypes().response.decode(bytes) as unknown as DiscoveryResponse;
  return {
    version_info: message.version_info ?? '',
    type_url: message.type_url ?? '',
    nonce: message.nonce ?? '',
    resources: (message.resources ?? []).map((r) => ({ type_url: r.type_url ?? '', value: r.value })),
  };
}

/** Encodes a request (used by test clients; Envoy and grpc-js-xds bring their own). */
export function encodeDiscoveryRequest(request: Partial<DiscoveryRequest>): Buffer {
  const bytes = discoveryTypes().request.encode(request).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Decodes a request into plain data with every field defaulted, so callers need no null checks but `node` and `error_detail`. */
export function decodeDiscoveryRequest(bytes: Uint8Array): DiscoveryRequest {
  const message = discoveryTypes().request.decode(bytes) as unknown as Partial<DiscoveryRequest>;
  const node = message.node;
  const error = message.error_detail;
  return {
    version_info: message.version_info ?? '',
    node: node ? { id: node.id ?? '', cluster: node.cluster ?? '', ...(node.locality ? { locality: node.locality } : {}) } : null,
    resource_names: [...(message.resource_names ?? [])],
    type_url: message.type_url ?? '',
    response_nonce: message.response_nonce ?? '',
    error_detail: error ? { code: error.code ?? 0, message: error.message ?? '' } : null,
  };
}

/**
 * The ADS service with hand-written codecs built from the protobufjs types of `envoyRoot()`
 * (rather than @grpc/proto-loader), so responses carry the compile-time bytes as they are.
 */
export const aggregatedDiscoveryService = {
  StreamAggregatedResources: {
    path: STREAM_AGGREGATED_RESOURCES,
    requestStream: true,
    responseStream: true,
    requestSerialize: encodeDiscoveryRequest,
    requestDeserialize: decodeDiscoveryRequest,
    responseSerialize: encodeDiscoveryResponse,
    responseDeserialize: decodeDiscoveryResponse,
  },
} satisfies grpc.ServiceDefinition;
