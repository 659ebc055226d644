import * as grpc from '@grpc/grpc-js';
import { DELTA_AGGREGATED_RESOURCES, STREAM_AGGREGATED_RESOURCES } from '../../relay/protocol.js';
import { messageType } from '../../shared/xds/protos.js';
import { ENDPOINT, messageName } from '../../shared/xds/type-urls.js';
import {
  decodeDeltaDiscoveryResponse,
  decodeDiscoveryResponse,
  encodeDeltaDiscoveryRequest,
  encodeDiscoveryRequest,
  type AnyResource,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
  type TestNode,
} from './xds-codecs.js';

/** How a stream ended. */
export interface StreamEnd {
  code: grpc.status;
  details: string;
}

/** How a test client reaches the relay: plaintext by default. */
export interface ConnectOptions {
  credentials?: grpc.ChannelCredentials;
  /** Call metadata, e.g. `authorization`. */
  metadata?: Record<string, string>;
  /** Channel options, e.g. `grpc.ssl_target_name_override`. */
  channelOptions?: grpc.ChannelOptions;
  /**
   * `node.metadata` of every request, e.g. `{ 'meshline.proxyToken': token }`: strings, numbers
   * and booleans become the Struct's string, number and bool values.
   */
  nodeMetadata?: Record<string, string | number | boolean>;
}

/** `node` of a test client's requests: the id, and the metadata Struct in protobufjs object form (its built-in google.protobuf types are camelCase). */
function testNode(nodeId: string, metadata: ConnectOptions['nodeMetadata']): TestNode {
  if (!metadata) return { id: nodeId };
  const fields = Object.fromEntries(
    Object.entries(metadata).map(([key, value]) => [
      key,
      typeof value === 'string' ? { stringValue: value } : typeof value === 'number' ? { numberValue: value } : { boolValue: value },
    ]),
  );
  return { id: nodeId, metadata: { fields } } as TestNode;
}

/**
 * One scripted ADS stream: the test says what to send and awaits each response, so every step
 * of the protocol is visible. Requests are encoded and responses decoded with protobufjs over
 * Envoy's protos (xds-codecs.ts), independently of the relay's own codec.
 */
class ScriptedStream<Request, Response extends { type_url: string }> {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<Request, Response>;
  private readonly queue: Response[] = [];
  private waiting: { resolve: (r: Response) => void; reject: (e: Error) => void } | undefined;
  private ended: StreamEnd | undefined;
  private readonly endWaiters: ((end: StreamEnd) => void)[] = [];
  /** The latest response of each type, for ACKs and NACKs. */
  readonly latest = new Map<string, Response>();

  constructor(
    address: string,
    method: string,
    encode: (request: Request) => Buffer,
    decode: (bytes: Buffer) => Response,
    options: ConnectOptions,
  ) {
    this.client = new grpc.Client(address, options.credentials ?? grpc.credentials.createInsecure(), options.channelOptions);
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(options.metadata ?? {})) metadata.set(key, value);
    this.call = this.client.makeBidiStreamRequest(method, encode, decode, metadata);
    this.call.on('data', (response: Response) => {
      this.latest.set(response.type_url, response);
      if (this.waiting) {
        this.waiting.resolve(response);
        this.waiting = undefined;
      } else {
        this.queue.push(response);
      }
    });
    this.call.on('status', (status: grpc.StatusObject) => {
      this.ended = { code: status.code, details: status.details };
      this.waiting?.reject(new Error(`stream ended: ${grpc.status[status.code]} ${status.details}`));
      this.waiting = undefined;
      for (const resolve of this.endWaiters.splice(0)) resolve(this.ended);
    });
    this.call.on('error', () => {}); // the status event reports it
  }

  protected write(request: Request): void {
    this.call.write(request);
  }

  /** The next response; fails if none comes within `timeoutMs` or the stream ends. */
  next(timeoutMs = 5_000): Promise<Response> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.ended) return Promise.reject(new Error(`stream ended: ${grpc.status[this.ended.code]} ${this.ended.details}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      };
    });
  }

  /** Responses received and not yet taken with next(). */
  pending(): Response[] {
    return [...this.queue];
  }

  /** Resolves when the server ends the stream, with its status. */
  end(): Promise<StreamEnd> {
    if (this.ended) return Promise.resolve(this.ended);
    return new Promise((resolve) => this.endWaiters.push(resolve));
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }

  protected mustHave(typeUrl: string): Response {
    const response = this.latest.get(typeUrl);
    if (!response) throw new Error(`no response of ${typeUrl} to answer yet`);
    return response;
  }
}

/** A scripted state-of-the-world ADS client. */
export class AdsTestClient extends ScriptedStream<DiscoveryRequest, DiscoveryResponse> {
  private readonly node: TestNode;

  constructor(
    address: string,
    readonly nodeId: string,
    options: ConnectOptions = {},
  ) {
    super(address, STREAM_AGGREGATED_RESOURCES, encodeDiscoveryRequest, decodeDiscoveryResponse, options);
    this.node = testNode(nodeId, options.nodeMetadata);
  }

  /** Sends a request; every request carries the node id (the relay reads only the first). */
  send(request: DiscoveryRequest): void {
    this.write({ node: this.node, ...request });
  }

  /** Subscribes to a type (no nonce): `names` empty is a wildcard for CDS and LDS. */
  subscribe(typeUrl: string, names: string[] = [], versionInfo = ''): void {
    this.send({ type_url: typeUrl, resource_names: names, version_info: versionInfo });
  }

  /** ACKs the latest response of a type, keeping or changing the subscription. */
  ack(typeUrl: string, names: string[] = []): void {
    const response = this.mustHave(typeUrl);
    this.send({ type_url: typeUrl, version_info: response.version_info, response_nonce: response.nonce, resource_names: names });
  }

  /** NACKs the latest response of a type; the version sent is the previously accepted one. */
  nack(typeUrl: string, message: string, names: string[] = [], acceptedVersion = ''): void {
    const response = this.mustHave(typeUrl);
    this.send({
      type_url: typeUrl,
      version_info: acceptedVersion,
      response_nonce: response.nonce,
      resource_names: names,
      error_detail: { code: grpc.status.INVALID_ARGUMENT, message },
    });
  }
}

/** A scripted incremental (delta) ADS client. */
export class DeltaTestClient extends ScriptedStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
  private readonly node: TestNode;

  constructor(
    address: string,
    readonly nodeId: string,
    options: ConnectOptions = {},
  ) {
    super(address, DELTA_AGGREGATED_RESOURCES, encodeDeltaDiscoveryRequest, decodeDeltaDiscoveryResponse, options);
    this.node = testNode(nodeId, options.nodeMetadata);
  }

  /** Sends a request; every request carries the node id (the relay reads only the first). */
  send(request: DeltaDiscoveryRequest): void {
    this.write({ node: this.node, ...request });
  }

  /** Subscribes to names (`*` for the wildcard); nothing named is the legacy wildcard of a first CDS/LDS request. */
  subscribe(typeUrl: string, names: string[] = [], initialVersions?: Record<string, string>): void {
    this.send({ type_url: typeUrl, resource_names_subscribe: names, ...(initialVersions ? { initial_resource_versions: initialVersions } : {}) });
  }

  unsubscribe(typeUrl: string, names: string[]): void {
    this.send({ type_url: typeUrl, resource_names_unsubscribe: names });
  }

  /** ACKs a response (the latest of its type by default). */
  ack(typeUrl: string, response: DeltaDiscoveryResponse = this.mustHave(typeUrl)): void {
    this.send({ type_url: typeUrl, response_nonce: response.nonce });
  }

  /** NACKs a response (the latest of its type by default). */
  nack(typeUrl: string, message: string, response: DeltaDiscoveryResponse = this.mustHave(typeUrl)): void {
    this.send({ type_url: typeUrl, response_nonce: response.nonce, error_detail: { code: grpc.status.INVALID_ARGUMENT, message } });
  }
}

/** The name a resource carries (a ClusterLoadAssignment is named by cluster_name). */
export function resourceName(any: AnyResource): string {
  const type = messageType(messageName(any.type_url));
  const decoded = type.decode(any.value) as unknown as { name?: string; cluster_name?: string };
  return (any.type_url === ENDPOINT ? decoded.cluster_name : decoded.name) ?? '';
}

/** The names of the resources in a response. */
export function resourceNames(response: DiscoveryResponse): string[] {
  return response.resources.map(resourceName);
}

/** A resource of a response decoded to protobufjs object form (its built-in google.protobuf types are camelCase) (snake_case), for assertions. */
export function decodeResource(response: DiscoveryResponse, index = 0): Record<string, unknown> {
  const any = response.resources[index];
  if (!any) throw new Error(`response has no resource ${index}`);
  return decodeAny(any);
}

/** An Any decoded to protobufjs object form (its built-in google.protobuf types are camelCase). */
export function decodeAny(any: AnyResource): Record<string, unknown> {
  const type = messageType(messageName(any.type_url));
  return type.toObject(type.decode(any.value), { longs: Number, enums: String }) as Record<string, unknown>;
}

export type { DeltaDiscoveryResponse, DiscoveryResponse } from './xds-codecs.js';
