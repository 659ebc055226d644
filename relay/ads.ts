import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { ProxySyncStatus, SyncTypeName } from '../shared/store/sync-status.js';
import type { Snapshot } from '../shared/store/snapshots.js';
import { parseNodeId, proxyKey, type ProxyId } from '../shared/xds/node-id.js';
import { RESOURCE_TYPE_URLS, SHORT_NAMES, isResourceTypeUrl, type ResourceTypeUrl } from '../shared/xds/type-urls.js';
import { AccessCheckUnavailableError, checkAccess, type AccessPolicy, type AccessRefusal, type PeerCredentials } from './access.js';
import type { Logger } from './log.js';
import type { RelayMetrics, Sample } from './metrics.js';
import type { EncodedResponse, ErrorDetail, RequestNode } from './protocol.js';
import { ProxyNotFoundError, SnapshotUnavailableError, type SnapshotSource, type SnapshotSubscription } from './snapshot-source.js';

/** What a protocol state machine tells the transport about a response it sends. */
export interface ResponseSummary {
  typeUrl: ResourceTypeUrl;
  /** `version_info` (SotW) or `system_version_info` (delta): a hash of the type's served state. */
  version: string;
  nonce: string;
  /** Resources in the response. */
  resources: number;
  /** Names in `removed_resources` (delta only). */
  removed?: number;
}

/**
 * A per-stream xDS protocol state machine, free of gRPC: state of the world
 * ({@link SotwStream}) or delta ({@link DeltaStream}). Requests and snapshots in; encoded
 * responses and protocol events out through {@link StreamEvents}.
 */
export interface ProtocolStream<Request> {
  handleRequest(request: Request): void;
  /** A new snapshot; `delivery` is the same for every stream of the proxy given it at once (see SnapshotListener). */
  setSnapshot(snapshot: Snapshot, delivery: number): void;
}

/** What a protocol state machine reports to the transport (and so to metrics, logs and sync status). */
export interface StreamEvents {
  send(response: EncodedResponse, summary: ResponseSummary): void;
  /** The client accepted the response of `version`. */
  ack(typeUrl: ResourceTypeUrl, version: string): void;
  /** The client rejected the response of `version`. */
  nack(typeUrl: ResourceTypeUrl, version: string, detail: ErrorDetail): void;
  ignore(typeUrl: string, reason: string): void;
  /**
   * The stream's subscription of a type changed (first request included): the wildcard flag
   * and the names now subscribed. Logged at debug level, so a client that unsubscribes (and
   * so is no longer pushed a type) is visible.
   */
  subscribed?(typeUrl: ResourceTypeUrl, wildcard: boolean, names: ReadonlySet<string>): void;
}

/** The fields of a request (SotW or delta) the transport reads. */
export interface AdsRequest {
  node: RequestNode | null;
  type_url: string;
}

export type AdsProtocol = 'sotw' | 'delta';

/** An ADS stream as the server tracks it, for shutdown and the gauges. */
export interface AdsStreamHandle {
  protocol: AdsProtocol;
  /** Set once the proxy is subscribed to its snapshot: a connected proxy. */
  proxy: ProxyId | undefined;
  /** Types whose latest response the proxy rejected, one bit per type in RESOURCE_TYPE_URLS order. */
  rejected: number;
  /** The access key that granted the stream (set once granted), rechecked while it is open; none for a certificate or shared token. */
  accessKeyId: string | undefined;
  /** Ends the stream with status OK (the proxy reconnects, e.g. to another replica). */
  end(): void;
  /** Ends the stream with the refusal's status, counted and logged as a refusal at its start would be. */
  refuse(refusal: AccessRefusal): void;
}

/** Where the sync status of streams goes (a {@link SyncStatusWriter}); it throttles. */
export interface SyncStatusSink {
  update(status: ProxySyncStatus): void;
  remove(status: ProxySyncStatus): void;
}

export interface AdsDependencies {
  source: SnapshotSource;
  logger: Logger;
  metrics: RelayMetrics;
  /** Every open stream; the handler adds and removes its own. */
  streams: Set<AdsStreamHandle>;
  access: AccessPolicy;
  syncStatus?: SyncStatusSink | undefined;
  /** Names this relay in sync status. */
  relayId: string;
}

/** A gRPC status that ends a stream. */
export class StreamError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

const NODE_ID_FORMS =
  'mesh/<mesh>/virtualNode/<name>, mesh/<mesh>/virtualGateway/<name> or arn:aws:appmesh:<region>:<account>:mesh/<mesh>/virtualNode/<name>';

/** NACK messages can be long (a whole config dump); logs and sync status keep this much. */
const MAX_NACK_MESSAGE = 2_000;

/** A subscription change logs this many of its names (and how many there are). */
const MAX_LOGGED_NAMES = 20;

/** The proxy a stream's first request names, or a StreamError saying why it names none. */
export function proxyOf(request: Pick<AdsRequest, 'node'>): ProxyId {
  const nodeId = request.node?.id ?? '';
  if (nodeId === '') throw new StreamError(grpc.status.INVALID_ARGUMENT, 'the first request of a stream must carry node.id');
  const proxy = parseNodeId(nodeId);
  if (!proxy) throw new StreamError(grpc.status.INVALID_ARGUMENT, `node.id ${JSON.stringify(nodeId)} is not of the form ${NODE_ID_FORMS}`);
  return proxy;
}

/** The gRPC status a stream ends with for an error. */
export function statusOf(error: unknown): StreamError {
  if (error instanceof StreamError) return error;
  if (error instanceof ProxyNotFoundError) return new StreamError(grpc.status.NOT_FOUND, error.message);
  if (error instanceof SnapshotUnavailableError) return new StreamError(grpc.status.UNAVAILABLE, error.message);
  if (error instanceof AccessCheckUnavailableError) return new StreamError(grpc.status.UNAVAILABLE, error.message);
  return new StreamError(grpc.status.INTERNAL, 'internal error');
}

/** The gRPC status name of a NACK's error_detail code: a bounded label. */
export function nackCode(code: number): string {
  return grpc.status[code] ?? 'OTHER';
}

/** One bit per resource type, for {@link AdsStreamHandle.rejected}. */
export function typeBit(typeUrl: ResourceTypeUrl): number {
  return 1 << RESOURCE_TYPE_URLS.indexOf(typeUrl);
}

/** The parts of a server call (any streaming kind) its credentials are read from. */
export type PeerCall = Pick<grpc.ServerReadableStream<unknown, unknown>, 'metadata' | 'getPath' | 'getHost' | 'getAuthContext'>;

/**
 * What the client presented: its verified certificate (if any), its authorization metadata, the
 * call as SigV4 signed it, and the token in its first request's node metadata.
 */
function credentialsOf(call: PeerCall, first: Pick<AdsRequest, 'node'>): PeerCredentials {
  const certificate = call.getAuthContext().sslPeerCertificate;
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(call.metadata.getMap())) {
    if (typeof value === 'string') metadata[key] = value;
  }
  return {
    certificateSubjectAltName: certificate ? (certificate.subjectaltname ?? '') : undefined,
    authorization: call.metadata.get('authorization').map(String),
    call: { path: call.getPath(), authority: call.getHost(), metadata },
    nodeProxyToken: first.node?.proxy_token,
  };
}

/** What {@link authorizeStream} needs: the policy, and where refusals are counted and logged. */
export type StreamAccessDependencies = Pick<AdsDependencies, 'access' | 'logger' | 'metrics'>;

/** Counts and logs a refusal; the StreamError to end the stream with. */
export function refusedStream(deps: StreamAccessDependencies, refusal: AccessRefusal, fields: Record<string, unknown>): StreamError {
  deps.metrics.accessRefused.inc({ reason: refusal.reason });
  // The reason and our own message only: never the authorization metadata or a token.
  deps.logger.warn('stream refused', { ...fields, reason: refusal.reason, detail: refusal.message });
  return new StreamError(grpc.status[refusal.code], refusal.message);
}

/**
 * The identity checks of every stream a proxy opens (ADS, load reports, metrics): the proxy its
 * first request's node names, and the call's credentials checked for that proxy (see
 * checkAccess). Throws a StreamError (counted and logged when the credentials are refused), or
 * AccessCheckUnavailableError while access keys cannot be read.
 */
export async function authorizeStream(
  deps: StreamAccessDependencies,
  call: PeerCall,
  first: Pick<AdsRequest, 'node'>,
  fields: { stream: string; peer: string },
): Promise<{ proxy: ProxyId; accessKeyId: string | undefined }> {
  const proxy = proxyOf(first);
  const node = first.node?.id;
  let decision: Awaited<ReturnType<typeof checkAccess>>;
  try {
    decision = await checkAccess(deps.access, credentialsOf(call, first), proxy);
  } catch (error) {
    // The cause is the store's error (DynamoDB, KMS): never the client's credentials.
    if (error instanceof AccessCheckUnavailableError) deps.logger.warn('access keys unreadable; stream answered UNAVAILABLE', { ...fields, node, error: error.cause });
    throw error;
  }
  if (!decision.allowed) throw refusedStream(deps, decision, { ...fields, node });
  return { proxy, accessKeyId: decision.accessKeyId };
}

function userAgent(node: RequestNode | null): string | undefined {
  if (!node?.user_agent_name) return undefined;
  return node.user_agent_version ? `${node.user_agent_name}/${node.user_agent_version}` : node.user_agent_name;
}

/**
 * The transport side of an ADS stream, whatever its protocol: identifies the proxy from the
 * first request, checks its credentials, subscribes it to its snapshot, feeds requests and
 * snapshots to the protocol state machine, writes what it sends, records sync status, and turns
 * failures into gRPC statuses (INVALID_ARGUMENT for a bad node id, UNAUTHENTICATED or
 * PERMISSION_DENIED for refused credentials, NOT_FOUND for a proxy its mesh does not list,
 * UNAVAILABLE while nothing can be read, snapshots or access keys).
 */
export function adsStreamHandler<Request extends AdsRequest>(
  deps: AdsDependencies,
  protocolName: AdsProtocol,
  createProtocol: (events: StreamEvents, streamId: string) => ProtocolStream<Request>,
): grpc.handleBidiStreamingCall<Request, EncodedResponse> {
  const { source, logger, metrics, streams } = deps;
  const debug = logger.debugEnabled !== false;
  // The per-request and per-response counters, resolved once: they run for every message.
  const byType = <T>(make: (type: string) => T) => new Map(RESOURCE_TYPE_URLS.map((typeUrl) => [typeUrl, make(SHORT_NAMES[typeUrl])]));
  const requestCounts = byType((type) => metrics.requests.series({ type }));
  const otherRequests = metrics.requests.series({ type: 'other' });
  const responseCounts = byType((type) => metrics.responses.series({ type }));
  const ackCounts = byType((type) => metrics.acks.series({ type }));

  return function handleAdsStream(call: grpc.ServerDuplexStream<Request, EncodedResponse>): void {
    const streamId = randomBytes(6).toString('hex');
    const peer = call.getPeer();
    let node: string | undefined;
    let subscription: SnapshotSubscription | undefined;
    let closed = false;
    /** Kept only when sync status is recorded. */
    let sync: ProxySyncStatus | undefined;
    /** Whether the sink was given this stream's status (so it has an item to remove). */
    let syncRecorded = false;

    function recordSync(): void {
      if (!sync || !deps.syncStatus) return;
      syncRecorded = true;
      deps.syncStatus.update(sync);
    }

    const typeSync = (typeUrl: ResourceTypeUrl) => {
      if (!sync) return undefined;
      const name = SHORT_NAMES[typeUrl] as SyncTypeName;
      return (sync.types[name] ??= {});
    };

    const protocol = createProtocol(
      {
        send(response, summary) {
          if (closed) return;
          (responseCounts.get(summary.typeUrl) as Sample).value += 1;
          if (debug) {
            logger.debug('response sent', {
              stream: streamId,
              node,
              type: SHORT_NAMES[summary.typeUrl],
              version: summary.version,
              nonce: summary.nonce,
              resources: summary.resources,
              removed: summary.removed,
            });
          }
          call.write(response);
          const status = typeSync(summary.typeUrl);
          if (status) {
            status.sent = summary.version;
            status.sentAt = new Date().toISOString();
            recordSync();
          }
        },
        ack(typeUrl, version) {
          handle.rejected &= ~typeBit(typeUrl);
          (ackCounts.get(typeUrl) as Sample).value += 1;
          if (debug) logger.debug('ACK', { stream: streamId, node, type: SHORT_NAMES[typeUrl], version });
          const status = typeSync(typeUrl);
          if (status) {
            status.acked = version;
            status.ackedAt = new Date().toISOString();
            recordSync();
          }
        },
        nack(typeUrl, version, detail) {
          handle.rejected |= typeBit(typeUrl);
          const code = nackCode(detail.code);
          const message = detail.message.slice(0, MAX_NACK_MESSAGE);
          metrics.nacks.inc({ type: SHORT_NAMES[typeUrl], code });
          logger.warn('NACK: the proxy rejected a response', { stream: streamId, node, type: SHORT_NAMES[typeUrl], version, code, error: message });
          const status = typeSync(typeUrl);
          if (status) {
            status.nack = { version, code: detail.code, message, at: new Date().toISOString() };
            recordSync();
          }
        },
        ignore(typeUrl, reason) {
          if (debug) logger.debug('request ignored', { stream: streamId, node, type: typeUrl, reason });
        },
        subscribed(typeUrl, wildcard, names) {
          if (!debug) return;
          logger.debug('subscription changed', {
            stream: streamId,
            node,
            type: SHORT_NAMES[typeUrl],
            wildcard,
            count: names.size,
            names: [...names].slice(0, MAX_LOGGED_NAMES),
          });
        },
      },
      streamId,
    );

    const handle: AdsStreamHandle = {
      protocol: protocolName,
      proxy: undefined,
      rejected: 0,
      accessKeyId: undefined,
      end: () => finish(),
      refuse: (refusal) => {
        if (!closed) finish(refused(refusal));
      },
    };
    streams.add(handle);

    /** Releases everything the stream holds; runs once, however the stream ends. */
    function cleanup(): void {
      if (closed) return;
      closed = true;
      streams.delete(handle);
      subscription?.close();
      if (sync && syncRecorded) deps.syncStatus?.remove(sync);
      if (subscription) logger.info('proxy disconnected', { stream: streamId, node, peer, protocol: protocolName });
    }

    /** Counts and logs a refusal; the StreamError to end the stream with. */
    function refused(refusal: AccessRefusal): StreamError {
      return refusedStream(deps, refusal, { stream: streamId, node, peer });
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
      node = first.node?.id;
      const { proxy, accessKeyId } = await authorizeStream(deps, call, first, { stream: streamId, peer });
      if (closed) return;
      handle.accessKeyId = accessKeyId;
      if (deps.syncStatus) {
        sync = {
          mesh: proxy.mesh,
          proxy: proxyKey(proxy),
          nodeId: node ?? '',
          instance: `${deps.relayId}/${streamId}`,
          relay: deps.relayId,
          protocol: protocolName,
          peer,
          ...(userAgent(first.node) ? { userAgent: userAgent(first.node) } : {}),
          connectedAt: new Date().toISOString(),
          types: {},
          updatedAt: new Date().toISOString(),
        };
      }
      const opened = await source.subscribe(proxy, {
        snapshot: (snapshot, delivery) => {
          if (closed) return;
          if (sync) {
            sync.snapshotVersion = snapshot.version;
            recordSync();
          }
          protocol.setSnapshot(snapshot, delivery);
        },
        gone: (reason) => finish(new StreamError(grpc.status.NOT_FOUND, reason)),
      });
      if (closed) {
        opened.close();
        return;
      }
      subscription = opened;
      handle.proxy = proxy;
      logger.info('proxy connected', { stream: streamId, node, peer, protocol: protocolName, userAgent: userAgent(first.node) });
    }

    let first = true;
    call.on('data', (request: Request) => {
      if (closed) return;
      ((isResourceTypeUrl(request.type_url) ? requestCounts.get(request.type_url) : undefined) ?? otherRequests).value += 1;
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
