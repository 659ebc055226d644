import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { parseNodeId, type ProxyId } from '../shared/xds/node-id.js';
import { SHORT_NAMES, isResourceTypeUrl, type ResourceTypeUrl } from '../shared/xds/type-urls.js';
import type { Snapshot } from '../shared/store/snapshots.js';
import type { Logger } from './log.js';
import type { RelayMetrics } from './metrics.js';
import { ProxyNotFoundError, SnapshotUnavailableError, type SnapshotSource, type SnapshotSubscription } from './snapshot-source.js';

/**
 * A per-stream xDS protocol state machine, free of gRPC: state of the world
 * ({@link SotwStream}) now, delta beside it later. Requests and snapshots in; responses and
 * protocol events out through {@link StreamEvents}.
 */
export interface ProtocolStream<Request> {
  handleRequest(request: Request): void;
  setSnapshot(snapshot: Snapshot): void;
}

/** What a protocol state machine reports to the transport (and so to metrics and logs). */
export interface StreamEvents<Response> {
  send(response: Response, summary: { typeUrl: ResourceTypeUrl; version: string; nonce: string; resources: number }): void;
  ack(typeUrl: ResourceTypeUrl, version: string): void;
  nack(typeUrl: ResourceTypeUrl, version: string, message: string): void;
  ignore(typeUrl: string, reason: string): void;
}

/** The fields of a request (SotW or delta) the transport reads. */
export interface AdsRequest {
  node: { id: string } | null;
  type_url: string;
}

/** An ADS stream as the server tracks it, for shutdown and the per-mesh stream gauge. */
export interface AdsStreamHandle {
  /** Set once the proxy is subscribed to its snapshot: a connected proxy. */
  proxy: ProxyId | undefined;
  /** Ends the stream with status OK (the proxy reconnects, e.g. to another replica). */
  end(): void;
}

export interface AdsDependencies {
  source: SnapshotSource;
  logger: Logger;
  metrics: RelayMetrics;
  /** Every open stream; the handler adds and removes its own. */
  streams: Set<AdsStreamHandle>;
}

/** A gRPC status that ends a stream. */
class StreamError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

const NODE_ID_FORMS =
  'mesh/<mesh>/virtualNode/<name>, mesh/<mesh>/virtualGateway/<name> or arn:aws:appmesh:<region>:<account>:mesh/<mesh>/virtualNode/<name>';

/** The proxy a stream's first request names, or a StreamError saying why it names none. */
function proxyOf(request: AdsRequest): ProxyId {
  const nodeId = request.node?.id ?? '';
  if (nodeId === '') throw new StreamError(grpc.status.INVALID_ARGUMENT, 'the first request of a stream must carry node.id');
  const proxy = parseNodeId(nodeId);
  if (!proxy) throw new StreamError(grpc.status.INVALID_ARGUMENT, `node.id ${JSON.stringify(nodeId)} is not of the form ${NODE_ID_FORMS}`);
  return proxy;
}

function statusOf(error: unknown): StreamError {
  if (error instanceof StreamError) return error;
  if (error instanceof ProxyNotFoundError) return new StreamError(grpc.status.NOT_FOUND, error.message);
  if (error instanceof SnapshotUnavailableError) return new StreamError(grpc.status.UNAVAILABLE, error.message);
  return new StreamError(grpc.status.INTERNAL, 'internal error');
}

function typeLabel(typeUrl: string): string {
  return isResourceTypeUrl(typeUrl) ? SHORT_NAMES[typeUrl] : 'other';
}

/**
 * The transport side of an ADS stream, whatever its protocol: identifies the proxy from the
 * first request, subscribes it to its snapshot, feeds requests and snapshots to the protocol
 * state machine, writes what it sends, and turns failures into gRPC statuses (INVALID_ARGUMENT
 * for a bad node id, NOT_FOUND for a proxy its mesh does not list, UNAVAILABLE while nothing
 * can be read).
 */
export function adsStreamHandler<Request extends AdsRequest, Response>(
  deps: AdsDependencies,
  createProtocol: (events: StreamEvents<Response>, streamId: string) => ProtocolStream<Request>,
): grpc.handleBidiStreamingCall<Request, Response> {
  const { source, logger, metrics, streams } = deps;

  return function handleAdsStream(call: grpc.ServerDuplexStream<Request, Response>): void {
    const streamId = randomBytes(6).toString('hex');
    const peer = call.getPeer();
    let node: string | undefined;
    let subscription: SnapshotSubscription | undefined;
    let closed = false;

    const protocol = createProtocol(
      {
        send(response, summary) {
          if (closed) return;
          const type = SHORT_NAMES[summary.typeUrl];
          metrics.responses.inc({ type });
          logger.debug('response sent', { stream: streamId, node, type, version: summary.version, nonce: summary.nonce, resources: summary.resources });
          call.write(response);
        },
        ack(typeUrl, version) {
          metrics.acks.inc({ type: SHORT_NAMES[typeUrl] });
          logger.debug('ACK', { stream: streamId, node, type: SHORT_NAMES[typeUrl], version });
        },
        nack(typeUrl, version, message) {
          metrics.nacks.inc({ type: SHORT_NAMES[typeUrl] });
          logger.warn('NACK: the proxy rejected a response', { stream: streamId, node, type: SHORT_NAMES[typeUrl], version, error: message });
        },
        ignore(typeUrl, reason) {
          logger.debug('request ignored', { stream: streamId, node, type: typeUrl, reason });
        },
      },
      streamId,
    );

    const handle: AdsStreamHandle = { proxy: undefined, end: () => finish() };
    streams.add(handle);

    /** Releases everything the stream holds; runs once, however the stream ends. */
    function cleanup(): void {
      if (closed) return;
      closed = true;
      streams.delete(handle);
      subscription?.close();
      if (subscription) logger.info('proxy disconnected', { stream: streamId, node, peer });
    }

    /** Ends the stream with OK, or with the status of an error. */
    function finish(error?: unknown): void {
      if (closed) return;
      if (error === undefined) {
        cleanup();
        call.end();
        return;
      }
      const status = statusOf(error);
      if (status.code === grpc.status.INTERNAL) logger.error('stream failed', { stream: streamId, node, error });
      else logger.info('stream ended with an error status', { stream: streamId, node, peer, code: grpc.status[status.code], reason: status.message });
      metrics.streamErrors.inc({ code: grpc.status[status.code] });
      cleanup();
      // grpc-js ends a server stream with the status of an emitted error.
      call.emit('error', { code: status.code, details: status.message });
    }

    async function start(first: Request): Promise<void> {
      const proxy = proxyOf(first);
      node = first.node?.id;
      const opened = await source.subscribe(proxy, {
        snapshot: (snapshot) => {
          if (!closed) protocol.setSnapshot(snapshot);
        },
        gone: (reason) => finish(new StreamError(grpc.status.NOT_FOUND, reason)),
      });
      if (closed) {
        opened.close();
        return;
      }
      subscription = opened;
      handle.proxy = proxy;
      logger.info('proxy connected', { stream: streamId, node, peer });
    }

    let first = true;
    call.on('data', (request: Request) => {
      if (closed) return;
      metrics.requests.inc({ type: typeLabel(request.type_url) });
      if (first) {
        first = false;
        start(request).catch(finish);
      }
      // Requests that arrive while the snapshot loads only shape subscriptions; the snapshot,
      // once there, answers them all in ADS order.
      try {
        protocol.handleRequest(request);
      } catch (error) {
        finish(error);
      }
    });
    // The client half-closed: nothing more will be asked, so the stream is done.
    call.on('end', () => finish());
    call.on('cancelled', cleanup);
    call.on('close', cleanup);
    call.on('error', cleanup);
  };
}
