/**
 * What the relay's reporting streams share (load reports, relay/lrs.ts; Envoy's metrics service,
 * relay/metrics-service.ts): the identity checks of ADS on the first message, the proxy's
 * snapshot to attribute reported clusters to the virtual nodes behind them, and a message to
 * end a stream whose later message names another proxy.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Snapshot } from '../shared/store/snapshots.js';
import { parseNodeId, proxyKey, type ProxyId } from '../shared/xds/node-id.js';
import { CLUSTER, ENDPOINT } from '../shared/xds/type-urls.js';
import { authorizeStream, type PeerCall, type StreamAccessDependencies } from './ads.js';
import type { AccessRefusal } from './access.js';
import type { Counter, MetricsRegistry } from './metrics.js';
import type { RequestNode } from './protocol.js';
import type { SnapshotSource, SnapshotSubscription } from './snapshot-source.js';
import type { TrafficAggregator } from './telemetry.js';

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

/** How a reported cluster is attributed: to the virtual node behind it, to none (a cluster of the proxy), or refused (unknown). */
export type Attribution = { target: string } | 'unattributed' | 'unknown';

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

  constructor(
    readonly proxy: ProxyId,
    /** The access key that granted the stream, if one did. */
    readonly accessKeyId: string | undefined,
    private subscription?: SnapshotSubscription,
  ) {
    this.source = proxyKey(proxy);
  }

  get mesh(): string {
    return this.proxy.mesh;
  }

  /** The virtual node behind a reported cluster (by its name, else its EDS service name). */
  attribute(clusterName: string, serviceName = ''): Attribution {
    const snapshot = this.snapshot;
    if (!snapshot) return 'unknown';
    const targets = snapshot.targets;
    const target = (Object.hasOwn(targets, clusterName) ? targets[clusterName] : undefined) ?? (serviceName && Object.hasOwn(targets, serviceName) ? targets[serviceName] : undefined);
    if (target !== undefined) return { target };
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

  close(): void {
    this.subscription?.close();
    this.subscription = undefined;
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
  const reporter = new Reporter(proxy, accessKeyId);
  const subscription = await deps.source.subscribe(proxy, {
    snapshot: (snapshot) => reporter.setSnapshot(snapshot),
    gone,
  });
  reporter.setSubscription(subscription);
  return reporter;
}

/** The metadata of a server call, typed for {@link openReporter}. */
export type ReportingCall = PeerCall & Pick<grpc.ServerReadableStream<unknown, unknown>, 'getPeer'>;
