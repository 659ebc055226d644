import * as grpc from '@grpc/grpc-js';
import {
  STREAM_AGGREGATED_RESOURCES,
  decodeDiscoveryResponse,
  encodeDiscoveryRequest,
  type DiscoveryRequest,
  type DiscoveryResponse,
} from '../../relay/protocol.js';
import { messageType } from '../../shared/xds/protos.js';
import { ENDPOINT, messageName } from '../../shared/xds/type-urls.js';

/** How a stream ended. */
export interface StreamEnd {
  code: grpc.status;
  details: string;
}

/**
 * A scripted state-of-the-world ADS client: the test says what to send and awaits each
 * response, so every step of the protocol is visible. Speaks the relay's own codecs.
 */
export class AdsTestClient {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<Partial<DiscoveryRequest>, DiscoveryResponse>;
  private readonly queue: DiscoveryResponse[] = [];
  private waiting: { resolve: (r: DiscoveryResponse) => void; reject: (e: Error) => void } | undefined;
  private ended: StreamEnd | undefined;
  private readonly endWaiters: ((end: StreamEnd) => void)[] = [];
  /** The latest response of each type, for ACKs and NACKs. */
  readonly latest = new Map<string, DiscoveryResponse>();

  constructor(address: string, readonly nodeId: string) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure());
    this.call = this.client.makeBidiStreamRequest(STREAM_AGGREGATED_RESOURCES, encodeDiscoveryRequest, decodeDiscoveryResponse);
    this.call.on('data', (response: DiscoveryResponse) => {
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

  /** Sends a request; the first one of the stream carries the node id. */
  send(request: Partial<DiscoveryRequest> & { type_url: string }): void {
    this.call.write({ node: { id: this.nodeId }, ...request });
  }

  /** Subscribes to a type (no nonce): `names` empty is a wildcard for CDS and LDS. */
  subscribe(typeUrl: string, names: string[] = []): void {
    this.send({ type_url: typeUrl, resource_names: names });
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

  /** The next response; fails if none comes within `timeoutMs` or the stream ends. */
  next(timeoutMs = 5_000): Promise<DiscoveryResponse> {
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
  pending(): DiscoveryResponse[] {
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

  private mustHave(typeUrl: string): DiscoveryResponse {
    const response = this.latest.get(typeUrl);
    if (!response) throw new Error(`no response of ${typeUrl} to answer yet`);
    return response;
  }
}

/** The names of the resources in a response (a ClusterLoadAssignment is named by cluster_name). */
export function resourceNames(response: DiscoveryResponse): string[] {
  const type = messageType(messageName(response.type_url));
  return response.resources.map((any) => {
    const decoded = type.decode(any.value) as unknown as { name?: string; cluster_name?: string };
    return (response.type_url === ENDPOINT ? decoded.cluster_name : decoded.name) ?? '';
  });
}

/** A resource of a response decoded to protobufjs object form (snake_case), for assertions. */
export function decodeResource(response: DiscoveryResponse, index = 0): Record<string, unknown> {
  const type = messageType(messageName(response.type_url));
  const any = response.resources[index];
  if (!any) throw new Error(`response has no resource ${index}`);
  return type.toObject(type.decode(any.value), { longs: Number, enums: String }) as Record<string, unknown>;
}
