/**
 * What the relay's reporting streams share (load reports, relay/lrs.ts; Envoy's metrics service,
 * relay/metrics-service.ts): the identity checks of ADS on the first message, the proxy's
 * snapshot to attribute reported clusters to the virtual nodes behind them, and the lifecycle of
 * a stream (serveReportingStream), which ends one whose later message names another proxy.
 */
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import type { Snapshot } from '../shared/store/snapshots.js';
import { parseNodeId, proxyKey, type ProxyId } from '../shared/xds/node-id.js';
import { CLUSTER, ENDPOINT } from '../shared/xds/type-urls.js';
import { authorizeStream, refusedStream, statusOf, StreamError, type PeerCall, type StreamAccessDependencies } from './ads.js';
import type { AccessRefusal } from './access.js';
import type { Counter, MetricsRegistry } from './metrics.js';
import { ProtocolError, type RequestNode } from './protocol.js';
import type { SnapshotSource, SnapshotSubscription } from './snapshot-source.js';
import type { EdgeTally, TrafficAggregator } from './telemetry.js';

/** A reporting stream as the server tracks it, to end it on shutdown and recheck its access key. */
export interface ReportingStreamHandle {
  service: 'lrs' | 'metrics';
  /** The access key that granted the stream (set once granted), rechecked while it is open. */
  accessKeyId: string | undefined;
  /** Ends the stream with status OK. */
  end(): void;
  /** Ends the stream with the refusal's status, counted and logged (a revoked key). */
  refuse(refusal: AccessRefusal): void;
}

/** The counters of the reporting streams. */
export interface ReportingMetrics {
  /** Cluster stats of load reports added to an edge. */
  loadReports: Counter;
  /** Cluster stats of load reports on a cluster of the snapshot that has no virtual node behind it: accepted, not attributed. */
  loadReportsUnattributed: Counter;
  /** Load reports refused, label `reason`: unknown_cluster (a cluster stat dropped), another_proxy (the stream ended), malformed (the stream ended). */
  loadReportsRefused: Counter;
  /** Metrics service messages received. */
  metricsMessages: Counter;
  /** Metrics service messages refused, label `reason`: another_proxy, malformed (either ends the stream). */
  metricsRefused: Counter;
}

export function createReportingMetrics(registry: MetricsRegistry): ReportingMetrics {
  return {
    loadReports: registry.counter('meshline_relay_load_reports_total', 'Cluster stats of LRS load reports added to an edge.'),
    loadReportsUnattributed: registry.counter(
      'meshline_relay_load_reports_unattributed_total',
      'Cluster stats of LRS load reports on a cluster of the proxy with no virtual node behind it (accepted, on no edge).',
    ),
    loadReportsRefused: registry.counter(
      'meshline_relay_load_reports_refused_total',
      'LRS load reports refused, by reason: unknown_cluster (the cluster stat is dropped), another_proxy and malformed (the stream ends).',
    ),
    metricsMessages: registry.counter('meshline_relay_metrics_messages_total', 'Envoy metrics service messages received.'),
    metricsRefused: registry.counter('meshline_relay_metrics_refused_total', 'Envoy metrics service messages refused (the stream ends), by reason: another_proxy, malformed.'),
  };
}

export interface ReportingDependencies extends StreamAccessDependencies {
  source: SnapshotSource;
  traffic: TrafficAggregator;
  reporting: ReportingMetrics;
  /** Open reporting streams; each handler adds and removes its own. */
  reportingStreams: Set<ReportingStreamHandle>;
  /** The interval load reports are asked for (LoadStatsResponse.load_reporting_interval). */
  loadReportIntervalMs: number;
}

/**
 * How a reported cluster is attributed: to the edge to the virtual node behind it, to none (a
 * cluster of the proxy), or refused (unknown).
 */
export type Attribution = { target: string; tally: EdgeTally } | 'unattributed' | 'unknown';

/** Attributions kept per snapshot, by cluster; a client naming ever more clusters gets no more. */
const MAX_CACHED_ATTRIBUTIONS = 1_000;

/**
 * Attributions by aggregator (one per relay) and snapshot (one per proxy version): every stream
 * of a proxy (its replicas share its node id) looks a cluster up in one map, made once.
 */
const attributionCaches = new WeakMap<TrafficAggregator, WeakMap<Snapshot, Map<string, Attribution>>>();

function attributionCache(traffic: TrafficAggregator, snapshot: Snapshot): Map<string, Attribution> {
  let bySnapshot = attributionCaches.get(traffic);
  if (!bySnapshot) attributionCaches.set(traffic, (bySnapshot = new WeakMap()));
  let cache = bySnapshot.get(snapshot);
  if (!cache) bySnapshot.set(snapshot, (cache = new Map()));
  return cache;
}

/** The cluster and EDS service names of a snapshot, computed once per snapshot. */
const snapshotNames = new WeakMap<Snapshot, Set<string>>();

function namesOf(snapshot: Snapshot): Set<string> {
  let names = snapshotNames.get(snapshot);
  if (!names) {
    names = new Set([...snapshot.resources[CLUSTER].map((r) => r.name), ...snapshot.resources[ENDPOINT].map((r) => r.name)]);
    snapshotNames.set(snapshot, names);
  }
  return names;
}

/** A stream's proxy, identified and authorized, with its current snapshot. */
export class Reporter {
  /** `virtualNode/<name>` or `virtualGateway/<name>`: the source of the edges it reports. */
  readonly source: string;
  private snapshot: Snapshot | undefined;
  private subscription: SnapshotSubscription | undefined;
  /** This stream's latest in-progress figure of each cluster, and the edge it counts on. */
  private readonly levels = new Map<string, { tally: EdgeTally; value: number }>();

  constructor(
    readonly proxy: ProxyId,
    /** The access key that granted the stream, if one did. */
    readonly accessKeyId: string | undefined,
    private readonly traffic: TrafficAggregator,
  ) {
    this.source = proxyKey(proxy);
  }

  get mesh(): string {
    return this.proxy.mesh;
  }

  /** The edge to the virtual node behind a reported cluster (by its name, else its EDS service name). */
  attribute(clusterName: string, serviceName = ''): Attribution {
    const snapshot = this.snapshot;
    if (!snapshot) return 'unknown';
    const cache = attributionCache(this.traffic, snapshot);
    const key = serviceName === '' ? clusterName : `${clusterName}\n${serviceName}`;
    let attribution = cache.get(key);
    if (attribution === undefined) {
      attribution = this.resolve(snapshot, clusterName, serviceName);
      if (cache.size < MAX_CACHED_ATTRIBUTIONS) cache.set(key, attribution);
    }
    return attribution;
  }

  /**
   * Sets this stream's in-progress figure of a cluster (a level, not a delta): the edge's level
   * moves by the change, so it always holds the sum of every open stream's latest figure.
   */
  inProgress(clusterName: string, tally: EdgeTally, value: number): void {
    const previous = this.levels.get(clusterName);
    if (previous !== undefined && previous.tally === tally) {
      tally.inProgress += value - previous.value;
      previous.value = value;
      return;
    }
    if (previous) previous.tally.inProgress -= previous.value;
    tally.inProgress += value;
    this.levels.set(clusterName, { tally, value });
  }

  private resolve(snapshot: Snapshot, clusterName: string, serviceName: string): Attribution {
    const targets = snapshot.targets;
    const target = (Object.hasOwn(targets, clusterName) ? targets[clusterName] : undefined) ?? (serviceName && Object.hasOwn(targets, serviceName) ? targets[serviceName] : undefined);
    if (target !== undefined) return { target, tally: this.traffic.tally({ mesh: this.proxy.mesh, source: this.source, target }) };
    const names = namesOf(snapshot);
    return names.has(clusterName) || (serviceName !== '' && names.has(serviceName)) ? 'unattributed' : 'unknown';
  }

  /** Whether a later message's node (if it carries one) names this same proxy. */
  sameProxy(node: RequestNode | null): boolean {
    if (!node || node.id === '') return true;
    const named = parseNodeId(node.id);
    return named !== undefined && named.mesh === this.proxy.mesh && proxyKey(named) === this.source;
  }

  setSnapshot(snapshot: Snapshot): void {
    this.snapshot = snapshot;
  }

  setSubscription(subscription: SnapshotSubscription): void {
    this.subscription = subscription;
  }

  /** Ends the snapshot subscription, and takes this stream's in-progress figures back from their edges. */
  close(): void {
    this.subscription?.close();
    this.subscription = undefined;
    for (const { tally, value } of this.levels.values()) tally.inProgress -= value;
    this.levels.clear();
  }
}

/**
 * Identifies and authorizes a reporting stream from its first message (exactly as ADS does,
 * authorizeStream), then subscribes to its proxy's snapshot: NOT_FOUND (as a StreamError, via
 * `gone`) when no manifest lists the proxy. The caller closes the reporter when the stream ends.
 */
export async function openReporter(
  deps: ReportingDependencies,
  call: PeerCall,
  first: { node: RequestNode | null },
  fields: { stream: string; peer: string },
  gone: (reason: string) => void,
): Promise<Reporter> {
  const { proxy, accessKeyId } = await authorizeStream(deps, call, first, fields);
  const reporter = new Reporter(proxy, accessKeyId, deps.traffic);
  const subscription = await deps.source.subscribe(proxy, {
    snapshot: (snapshot) => reporter.setSnapshot(snapshot),
    gone,
  });
  reporter.setSubscription(subscription);
  return reporter;
}

/**
 * The parts of a server call a reporting stream uses, whichever its kind (bidi for LRS, client
 * streaming for metrics): its metadata for {@link openReporter}, and its events.
 */
export type ReportingCall = PeerCall & Pick<grpc.ServerReadableStream<unknown, unknown>, 'getPeer'> & Pick<EventEmitter, 'on'>;

/** A reporting stream's id and its proxy's node id, for the fields of its handler's logs. */
export interface ReportingStreamIds {
  stream: string;
  node: string | undefined;
}

/** What one kind of reporting stream says for itself; {@link serveReportingStream} does the rest. */
export interface ReportingStreamOptions<Message extends { node: RequestNode | null }> {
  service: ReportingStreamHandle['service'];
  /** Decodes a message; throws ProtocolError on malformed bytes. */
  decode(bytes: Buffer): Message;
  /** The message's proto name, in the status of a malformed one: `malformed <name>: ...`. */
  messageName: string;
  /** What the status of a message naming another proxy calls one (`a request named ...`). */
  noun: string;
  /** Counts messages that end the stream, label `reason`: another_proxy, malformed. */
  refused: Counter;
  /** Messages held while the first one's identity is checked. */
  maxQueued: number;
  /** A message beyond maxQueued: ends the stream as malformed (`refuse`) or is dropped (`drop`). */
  overflow: 'refuse' | 'drop';
  logs: {
    /** Debug: the stream is granted. */
    opened: string;
    /** Error: the stream ended INTERNAL. */
    failed: string;
    /** Info: the stream ended with any other error status. */
    errorStatus: string;
  };
  /** The stream is granted, before any message is recorded: what to send then, if anything. */
  granted?(): void;
  /** Records one message of the stream's proxy (the first included); may throw to end the stream. */
  record(message: Message, from: Reporter, ids: ReportingStreamIds): void;
  /** Ends the call with status OK. */
  end(): void;
  /** Ends the call with an error status. */
  fail(status: StreamError): void;
}

/**
 * Serves one reporting stream: tracks it in `deps.reportingStreams` (to end it on shutdown and
 * recheck its key), opens its reporter from the first message (queueing later ones until then),
 * ends it PERMISSION_DENIED when a later message names another proxy and INVALID_ARGUMENT when
 * one is malformed (both counted in `options.refused`), and turns every other failure into its
 * gRPC status, counted in streamErrors and logged, as ADS does.
 */
export function serveReportingStream<Message extends { node: RequestNode | null }>(
  deps: ReportingDependencies,
  call: ReportingCall,
  options: ReportingStreamOptions<Message>,
): void {
  const { logger } = deps;
  const streamId = randomBytes(6).toString('hex');
  const peer = call.getPeer();
  let reporter: Reporter | undefined;
  let closed = false;
  let node: string | undefined;
  const queued: Message[] = [];
  const handle: ReportingStreamHandle = {
    service: options.service,
    accessKeyId: undefined,
    end: () => finish(),
    refuse: (refusal) => finish(refusedStream(deps, refusal, { stream: streamId, node, peer })),
  };
  deps.reportingStreams.add(handle);

  /** Releases everything the stream holds; runs once, however the stream ends. */
  function cleanup(): void {
    if (closed) return;
    closed = true;
    deps.reportingStreams.delete(handle);
    reporter?.close();
  }

  /** Ends the stream with OK, or with the status of an error. */
  function finish(error?: unknown): void {
    if (closed) return;
    if (error === undefined) {
      cleanup();
      options.end();
      return;
    }
    const status = error instanceof ProtocolError ? new StreamError(grpc.status.INVALID_ARGUMENT, `malformed ${options.messageName}: ${error.message}`) : statusOf(error);
    if (status.code === grpc.status.INTERNAL) logger.error(options.logs.failed, { stream: streamId, node, error });
    else logger.info(options.logs.errorStatus, { stream: streamId, node, peer, code: grpc.status[status.code], reason: status.message });
    deps.metrics.streamErrors.inc({ code: grpc.status[status.code] });
    cleanup();
    options.fail(status);
  }

  function record(message: Message, from: Reporter): void {
    // Only the first message carries the node it is checked for; a later one that names
    // another proxy would report for a proxy this stream was never granted.
    if (!from.sameProxy(message.node)) {
      options.refused.inc({ reason: 'another_proxy' });
      throw new StreamError(
        grpc.status.PERMISSION_DENIED,
        `this stream reports for ${from.source} of mesh ${from.mesh}; a ${options.noun} named ${JSON.stringify(message.node?.id)}`,
      );
    }
    options.record(message, from, { stream: streamId, node });
  }

  async function start(first: Message): Promise<void> {
    node = first.node?.id;
    const opened = await openReporter(deps, call, first, { stream: streamId, peer }, (reason) => finish(new StreamError(grpc.status.NOT_FOUND, reason)));
    if (closed) {
      opened.close();
      return;
    }
    reporter = opened;
    handle.accessKeyId = opened.accessKeyId;
    logger.debug(options.logs.opened, { stream: streamId, node, peer });
    options.granted?.();
    for (const message of queued.splice(0)) record(message, opened);
  }

  let first = true;
  call.on('data', (bytes: Buffer) => {
    if (closed) return;
    try {
      const message = options.decode(bytes);
      if (first) {
        first = false;
        start(message).catch(finish);
        // Its figures wait with the rest; its node is the one just checked.
        queued.push({ ...message, node: null });
      } else if (reporter) {
        record(message, reporter);
      } else if (queued.length < options.maxQueued) {
        queued.push(message);
      } else if (options.overflow === 'refuse') {
        throw new ProtocolError(`more than ${options.maxQueued} ${options.noun}s before the first was answered`);
      }
    } catch (error) {
      if (error instanceof ProtocolError) options.refused.inc({ reason: 'malformed' });
      finish(error);
    }
  });
  // The client half-closed: it reports nothing more, so the stream is done.
  call.on('end', () => finish());
  call.on('cancelled', cleanup);
  call.on('close', cleanup);
  call.on('error', cleanup);
}
