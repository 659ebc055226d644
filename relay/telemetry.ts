/**
 * The relay's traffic aggregator: what proxies report on their load reporting streams (relay/lrs.ts)
 * and metrics service streams (relay/metrics-service.ts), added up per edge of a mesh (source
 * proxy to the virtual node behind a cluster) and per window, then written once per edge per
 * closed window to the traffic table (shared/store/traffic.ts), printed as CloudWatch Embedded
 * Metric Format lines, and kept as cumulative counters on /metrics.
 *
 * A report counts in the window in which it arrives at this relay, so a window takes nothing
 * more once it has ended and is closed at its boundary. Relays never share a window: each writes
 * its own item, and readers add them up (a proxy that moves to another relay mid-window is
 * counted by each for what it reported there).
 */
import type { EdgeWindow, LatencyHistogram, TrafficStore } from '../shared/store/traffic.js';
import type { Logger } from './log.js';
import type { Counter, Histogram, Labels, MetricsRegistry, Sample } from './metrics.js';

/** One edge of a mesh: who reported, and the virtual node behind the cluster it reported on. */
export interface Edge {
  mesh: string;
  /** `virtualNode/<name>` or `virtualGateway/<name>`. */
  source: string;
  /** `virtualNode/<name>`. */
  target: string;
}

/** Counts of one report: deltas since the reporter's previous report. */
export interface LoadCounts {
  issued: number;
  succeeded: number;
  failed: number;
  dropped: number;
}

export interface TrafficAggregatorOptions {
  /** Names this relay in the windows it writes. */
  relayId: string;
  windowSeconds: number;
  /** Where closed windows are written; without it they are only counted here (and printed as EMF). */
  store?: Pick<TrafficStore, 'putWindows'> | undefined;
  /** Receives one Embedded Metric Format line per edge per closed window (e.g. stdout). */
  emf?: ((line: string) => void) | undefined;
  logger: Logger;
  registry: MetricsRegistry;
  /** Closed windows not yet written are kept at most this many windows back; older ones are dropped (counted). */
  maxPendingWindows?: number | undefined;
  /** Epoch milliseconds; Date.now by default. */
  now?: (() => number) | undefined;
}

/**
 * Bucket bounds of TargetResponseTime on /metrics (ms): Envoy's default histogram buckets, so an
 * Envoy's reported buckets map onto them exactly.
 */
export const RESPONSE_TIME_BOUNDS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

/** The EMF namespace of the relay's traffic metrics. */
export const EMF_NAMESPACE = 'Meshline';

/** How far past a boundary the closing tick runs (timers fire a little early or late). */
const TICK_SLACK_MS = 50;

/** The longest time between ticks, so failed writes are retried within it whatever the window. */
const MAX_TICK_MS = 5_000;

/** A window of an edge being added up. */
interface OpenWindow extends EdgeWindow {
  /** The edge's running figures: its in-progress level is read when the window closes. */
  tally: EdgeTally;
  /** Latency buckets by upper bound. */
  latencyBuckets?: Map<number, number>;
}

/**
 * One edge as this relay counts it, kept from its first report on, so the hot path (a load
 * report's cluster stats, thousands a second) builds no labels or keys: its /metrics series,
 * resolved once, the window being added up, and the in-progress level of every open stream that
 * reports it (each reporter adds the change of its own latest figure, and takes its figure back
 * when its stream ends).
 */
export interface EdgeTally {
  readonly edge: Edge;
  readonly requestCount: Sample;
  readonly http5xx: Sample;
  inProgress: number;
  window: OpenWindow | undefined;
}

/** The counters of the aggregator, on the relay's registry. */
interface TrafficMetrics {
  requestCount: Counter;
  http5xx: Counter;
  responseTime: Histogram;
  windowsWritten: Counter;
  writeErrors: Counter;
  windowsDropped: Counter;
}

function trafficMetrics(registry: MetricsRegistry): TrafficMetrics {
  return {
    // App Mesh's metrics extension names, by mesh, virtual node (or gateway) and target virtual node.
    requestCount: registry.counter('envoy_appmesh_RequestCountPerTarget', 'Requests (attempts) issued by a virtual node or gateway to a target virtual node, as its proxies reported them (LRS).'),
    http5xx: registry.counter('envoy_appmesh_HTTPCode_Target_5XX_Count', 'Requests to a target virtual node that completed with an error, as the proxies reported them (LRS).'),
    responseTime: registry.histogram(
      'envoy_appmesh_TargetResponseTime',
      'Request time to a target virtual node in milliseconds (Envoy metrics service, upstream_rq_time).',
      RESPONSE_TIME_BOUNDS_MS,
    ),
    windowsWritten: registry.counter('meshline_relay_traffic_windows_written_total', 'Edge windows written to the traffic table.'),
    writeErrors: registry.counter('meshline_relay_traffic_write_errors_total', 'Failed writes of edge windows to the traffic table (retried on the next tick).'),
    windowsDropped: registry.counter('meshline_relay_traffic_windows_dropped_total', 'Closed edge windows dropped unwritten because the traffic table failed for too long.'),
  };
}

/** The labels of an edge on /metrics: App Mesh's dimension names. */
export function edgeLabels(edge: Edge): Labels {
  const [kind, name = ''] = splitProxy(edge.source);
  return {
    Mesh: edge.mesh,
    [kind === 'virtualGateway' ? 'VirtualGateway' : 'VirtualNode']: name,
    TargetVirtualNode: splitProxy(edge.target)[1] ?? '',
  };
}

function splitProxy(key: string): [string, string | undefined] {
  const slash = key.indexOf('/');
  return slash < 0 ? [key, undefined] : [key.slice(0, slash), key.slice(slash + 1)];
}

function edgeKey(edge: Edge): string {
  return `${edge.mesh}\n${edge.source}\n${edge.target}`;
}

/** A count reported by a client: a finite, non-negative number, else 0. */
export function count(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

/**
 * Adds up the traffic of this relay's reporting streams per edge and window; see the module
 * comment. {@link close} closes every open window and writes what it can.
 */
export class TrafficAggregator {
  private readonly windowSeconds: number;
  private readonly now: () => number;
  private readonly metrics: TrafficMetrics;
  private readonly maxPendingWindows: number;
  /** Open windows by start, each by edge. */
  private readonly open = new Map<number, Map<string, OpenWindow>>();
  /** Every edge reported to this relay, by edgeKey. */
  private readonly tallies = new Map<string, EdgeTally>();
  /** Closed windows not yet written. */
  private pending: EdgeWindow[] = [];
  private writing: Promise<void> | undefined;
  private failing = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly options: TrafficAggregatorOptions) {
    if (!(Number.isInteger(options.windowSeconds) && options.windowSeconds >= 1)) {
      throw new Error(`windowSeconds must be a whole number of seconds, at least 1, got: ${options.windowSeconds}`);
    }
    this.windowSeconds = options.windowSeconds;
    this.now = options.now ?? Date.now;
    this.metrics = trafficMetrics(options.registry);
    this.maxPendingWindows = options.maxPendingWindows ?? 10;
    this.schedule();
  }

  /** The running figures of an edge (made on its first report, then kept); reporters cache it. */
  tally(edge: Edge): EdgeTally {
    const key = edgeKey(edge);
    let tally = this.tallies.get(key);
    if (!tally) {
      const labels = edgeLabels(edge);
      tally = {
        edge: { mesh: edge.mesh, source: edge.source, target: edge.target },
        requestCount: this.metrics.requestCount.series(labels),
        http5xx: this.metrics.http5xx.series(labels),
        inProgress: 0,
        window: undefined,
      };
      this.tallies.set(key, tally);
    }
    return tally;
  }

  /** Adds one report's counts (deltas since the reporter's previous report) to an edge. */
  recordLoad(tally: EdgeTally, counts: LoadCounts): void {
    if (this.closed) return;
    const window = this.windowOf(tally);
    const issued = count(counts.issued);
    const failed = count(counts.failed);
    window.issued += issued;
    window.succeeded += count(counts.succeeded);
    window.failed += failed;
    window.dropped += count(counts.dropped);
    tally.requestCount.value += issued;
    tally.http5xx.value += failed;
  }

  /** Adds request times of an edge: per-bucket counts (not cumulative) by upper bound in ms. */
  recordLatency(edge: Edge, histogram: LatencyHistogram): void {
    if (this.closed || histogram.count <= 0) return;
    const window = this.windowOf(this.tally(edge));
    const buckets = (window.latencyBuckets ??= new Map());
    for (const { le, count: n } of histogram.buckets) buckets.set(le, (buckets.get(le) ?? 0) + n);
    const latency = (window.latency ??= { buckets: [], count: 0, sumMs: 0 });
    latency.count += histogram.count;
    latency.sumMs += histogram.sumMs;
    this.metrics.responseTime.addBuckets(edgeLabels(edge), histogram.buckets, histogram.sumMs);
  }

  /** Adds response counts of an edge by class (`2xx`, `5xx`, ...). */
  recordResponseCodes(edge: Edge, codes: Record<string, number>): void {
    if (this.closed) return;
    const window = this.windowOf(this.tally(edge));
    const target = (window.responseCodes ??= {});
    for (const [code, n] of Object.entries(codes)) target[code] = (target[code] ?? 0) + count(n);
  }

  /** Closes every open window, writes what is pending (as far as the store lets it) and stops the timer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.closeWindows(Infinity);
    await this.writing;
    await this.write();
  }

  /** The edge's window of now: its current one, or a new one registered among the open windows. */
  private windowOf(tally: EdgeTally): OpenWindow {
    const windowStart = Math.floor(this.now() / 1000 / this.windowSeconds) * this.windowSeconds;
    const current = tally.window;
    if (current && current.windowStart === windowStart) return current;
    let edges = this.open.get(windowStart);
    if (!edges) this.open.set(windowStart, (edges = new Map()));
    const key = edgeKey(tally.edge);
    let window = edges.get(key);
    if (!window) {
      // Every member written here, in one order: windows keep one shape, so their counters stay fast to add to.
      window = {
        mesh: tally.edge.mesh,
        source: tally.edge.source,
        target: tally.edge.target,
        windowStart,
        windowSeconds: this.windowSeconds,
        relay: this.options.relayId,
        issued: 0,
        succeeded: 0,
        failed: 0,
        dropped: 0,
        inProgress: 0,
        latency: undefined,
        responseCodes: undefined,
        tally,
        latencyBuckets: undefined,
      };
      edges.set(key, window);
    }
    tally.window = window;
    return window;
  }

  /** Runs {@link tick} just past the next multiple of the tick interval (window boundaries among them). */
  private schedule(): void {
    // A whole fraction of the window, so every window boundary is a tick.
    const windowMs = this.windowSeconds * 1000;
    const tickMs = windowMs / Math.ceil(windowMs / MAX_TICK_MS);
    const now = this.now();
    const delay = tickMs - (now % tickMs) + TICK_SLACK_MS;
    this.timer = setTimeout(() => {
      this.tick();
      if (!this.closed) this.schedule();
    }, delay);
    // Never what keeps the process alive.
    this.timer.unref();
  }

  private tick(): void {
    this.closeWindows(this.now());
    if (!this.writing) {
      this.writing = this.write().finally(() => {
        this.writing = undefined;
      });
    }
  }

  /** Moves every window that ended by `nowMs` to the pending writes (and prints its EMF line). */
  private closeWindows(nowMs: number): void {
    for (const [windowStart, edges] of this.open) {
      if ((windowStart + this.windowSeconds) * 1000 > nowMs) continue;
      this.open.delete(windowStart);
      for (const open of edges.values()) {
        const window = finished(open);
        if (this.options.emf) this.options.emf(emfLine(window));
        if (this.options.store) this.pending.push(window);
      }
    }
    // Bounded memory while the store fails: windows too far back are given up.
    const oldest = Math.floor(this.now() / 1000 / this.windowSeconds) * this.windowSeconds - this.maxPendingWindows * this.windowSeconds;
    const kept = this.pending.filter((window) => window.windowStart >= oldest || this.closed);
    if (kept.length < this.pending.length) {
      this.metrics.windowsDropped.inc({}, this.pending.length - kept.length);
      this.options.logger.warn('traffic windows dropped unwritten: the traffic table failed for too long', { dropped: this.pending.length - kept.length });
      this.pending = kept;
    }
  }

  /** Writes the pending windows; on failure they stay for the next tick (counted, logged once per outage). */
  private async write(): Promise<void> {
    const store = this.options.store;
    if (!store || this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      await store.putWindows(batch);
      this.metrics.windowsWritten.inc({}, batch.length);
      if (this.failing) this.options.logger.info('traffic table writable again', { windows: batch.length });
      this.failing = false;
    } catch (error) {
      this.pending = [...batch, ...this.pending];
      this.metrics.writeErrors.inc();
      if (!this.failing) this.options.logger.warn('traffic windows not written; retried on the next tick', { windows: batch.length, error });
      this.failing = true;
    }
  }
}

/** An open window as it is written: the edge's in-progress level at its close, latency buckets in order. */
function finished(open: OpenWindow): EdgeWindow {
  const { tally, latencyBuckets, ...window } = open;
  window.inProgress = tally.inProgress;
  if (tally.window === open) tally.window = undefined;
  if (window.latency && latencyBuckets) {
    window.latency.buckets = [...latencyBuckets].sort(([a], [b]) => a - b).map(([le, n]) => ({ le, count: n }));
  }
  return window;
}

/** EMF takes at most this many values of one metric in one document. */
const EMF_MAX_VALUES = 100;

/**
 * Request times as EMF takes them: an array of at most 100 values, each a bucket's upper bound
 * (the +Inf bucket at the largest finite bound). Up to 100 requests, one value per request; past
 * that, 100 values shared among the buckets in proportion to their counts (largest remainder,
 * at least one per non-empty bucket), so CloudWatch's percentiles follow the histogram; its
 * SampleCount is then not the request count (RequestCountPerTarget is).
 */
export function responseTimeValues(latency: LatencyHistogram | undefined): number[] {
  const buckets = latency?.buckets.filter((bucket) => bucket.count > 0) ?? [];
  if (buckets.length === 0) return [];
  const finite = latency?.buckets.filter((bucket) => Number.isFinite(bucket.le)) ?? [];
  const top = finite.length > 0 ? (finite[finite.length - 1] as { le: number }).le : 0;
  const valueOf = (le: number) => (Number.isFinite(le) ? le : top);
  const total = buckets.reduce((sum, bucket) => sum + bucket.count, 0);
  const slots = total <= EMF_MAX_VALUES ? buckets.map((bucket) => bucket.count) : proportionalSlots(buckets.map((bucket) => bucket.count), total);
  return buckets.flatMap((bucket, index) => Array.from({ length: slots[index] ?? 0 }, () => valueOf(bucket.le)));
}

/** EMF_MAX_VALUES slots shared by counts in proportion (largest remainder), at least one each. */
function proportionalSlots(counts: number[], total: number): number[] {
  const free = EMF_MAX_VALUES - counts.length;
  const shares = counts.map((n) => (n / total) * free);
  const slots = shares.map((share) => 1 + Math.floor(share));
  let left = EMF_MAX_VALUES - slots.reduce((sum, n) => sum + n, 0);
  const byRemainder = shares.map((share, index) => ({ index, remainder: share - Math.floor(share) })).sort((a, b) => b.remainder - a.remainder);
  for (const { index } of byRemainder) {
    if (left <= 0) break;
    slots[index] = (slots[index] ?? 0) + 1;
    left -= 1;
  }
  return slots;
}

/**
 * One CloudWatch Embedded Metric Format line for an edge's window: namespace Meshline,
 * dimensions Mesh, VirtualNode (or VirtualGateway) and TargetVirtualNode, metrics
 * RequestCountPerTarget (issued), HTTPCode_Target_5XX_Count (failed) and, where reported,
 * TargetResponseTime as an array of values (see {@link responseTimeValues}).
 */
export function emfLine(window: EdgeWindow): string {
  const labels = edgeLabels(window);
  const dimensions = Object.keys(labels);
  const metrics: { Name: string; Unit: string }[] = [
    { Name: 'RequestCountPerTarget', Unit: 'Count' },
    { Name: 'HTTPCode_Target_5XX_Count', Unit: 'Count' },
  ];
  const line: Record<string, unknown> = {
    _aws: { Timestamp: window.windowStart * 1000, CloudWatchMetrics: [{ Namespace: EMF_NAMESPACE, Dimensions: [dimensions], Metrics: metrics }] },
    ...labels,
    RequestCountPerTarget: window.issued,
    HTTPCode_Target_5XX_Count: window.failed,
  };
  const values = responseTimeValues(window.latency);
  if (values.length > 0) {
    metrics.push({ Name: 'TargetResponseTime', Unit: 'Milliseconds' });
    line.TargetResponseTime = values;
  }
  return JSON.stringify(line);
}
