/**
 * Traffic per edge of a mesh, as proxies report it to the relays (LRS counts, Envoy's metrics
 * service latency), kept per window.
 *
 * An edge is a source proxy (`virtualNode/<name>` or `virtualGateway/<name>`) to the virtual node
 * behind one of its clusters (`virtualNode/<name>`). Each relay aggregates what its own streams
 * report and writes one item per edge per closed window: relays never read or update each
 * other's items, so partial aggregates add up without a double count, and a proxy that moves to
 * another relay mid-window is counted by each for what it reported there. Readers sum.
 *
 * Its own table, without a stream (nothing may wake the compiler), with a TTL: items expire
 * `retentionSeconds` after their window closes.
 */
import type { CreateTableCommandInput, UpdateTimeToLiveCommandInput } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { keyedTableDefinition, PARTITION_KEY, SORT_KEY } from './table.js';

// Items: partition key the mesh (one Query reads a span of it); sort key
// `<windowStart, 12 digits>#<source>#<target>#<relay>`, so a span is one key range.

/** The attribute DynamoDB's TTL reads: epoch seconds after which the item is gone. */
export const TRAFFIC_TTL_ATTRIBUTE = 'expiresAt';

/** How long windows are kept after they close, unless the deployment says otherwise (7 days). */
export const DEFAULT_TRAFFIC_RETENTION_SECONDS = 7 * 86_400;

/** The window length unless the deployment says otherwise: per minute. */
export const DEFAULT_TRAFFIC_WINDOW_SECONDS = 60;

/** How long after a window closes a relay writes it (reports in flight at the boundary land in it). */
export const WINDOW_FLUSH_GRACE_MS = 500;

/** Beyond the flush grace, how long a relay's write may take before readers count a window as complete. */
const WINDOW_WRITE_ALLOWANCE_MS = 2_500;

/** DynamoDB's BatchWriteItem takes at most 25 items. */
const BATCH_SIZE = 25;

/** BatchWriteItem rounds before unprocessed items count as a failure. */
const MAX_BATCH_ROUNDS = 8;

/**
 * The traffic table as DynamoDB's CreateTable takes it, minus the name. No stream. Enable TTL
 * with {@link trafficTimeToLive} after creating it.
 */
export const trafficTableDefinition: Omit<CreateTableCommandInput, 'TableName'> = keyedTableDefinition;

/** The UpdateTimeToLive call that makes DynamoDB expire the table's items. */
export function trafficTimeToLive(tableName: string): UpdateTimeToLiveCommandInput {
  return { TableName: tableName, TimeToLiveSpecification: { Enabled: true, AttributeName: TRAFFIC_TTL_ATTRIBUTE } };
}

/**
 * Request times: per-bucket counts (not cumulative), bucket upper bounds in milliseconds as
 * Envoy reports them, ascending; the last bound may be `Infinity`.
 */
export interface LatencyHistogram {
  buckets: { le: number; count: number }[];
  count: number;
  sumMs: number;
}

/** One relay's aggregate of one edge in one window. */
export interface EdgeWindow {
  mesh: string;
  /** `virtualNode/<name>` or `virtualGateway/<name>`: the proxy that reported. */
  source: string;
  /** `virtualNode/<name>`: the node behind the cluster it reported on. */
  target: string;
  /** Epoch seconds, a multiple of windowSeconds. */
  windowStart: number;
  windowSeconds: number;
  /** The relay that wrote it. */
  relay: string;
  /** Requests (attempts) issued, completed successfully, completed with an error, dropped. */
  issued: number;
  succeeded: number;
  failed: number;
  dropped: number;
  /** Sum over the proxies that reported the edge of their last `total_requests_in_progress` in the window. */
  inProgress: number;
  /** From Envoy's metrics service (`upstream_rq_time`), where a proxy streams it. */
  latency?: LatencyHistogram | undefined;
  /** Response classes (`2xx`, `4xx`, `5xx`, ...) from Envoy's metrics service. */
  responseCodes?: Record<string, number> | undefined;
}

/** One edge's traffic over a span. */
export interface EdgeTraffic {
  source: string;
  target: string;
  requests: number;
  successes: number;
  errors: number;
  dropped: number;
  /** In progress at the end of the latest window that reported the edge. */
  inProgress: number;
  /** errors / (successes + errors), in percent; 0 without completed requests. */
  errorRate: number;
  /** Quantiles of request time, where a proxy reported it. */
  latencyMs?: { p50: number; p90: number; p99: number } | undefined;
  responseCodes?: Record<string, number> | undefined;
}

/** The sort key's fixed-width window start: lexical order is time order. */
function windowKey(windowStart: number): string {
  return String(windowStart).padStart(12, '0');
}

/** The window that holds `epochMs`. */
export function windowStartOf(epochMs: number, windowSeconds: number): number {
  return Math.floor(epochMs / 1000 / windowSeconds) * windowSeconds;
}

/**
 * When every relay has surely written the window that starts at `windowStart` (epoch ms): its
 * end, the relays' flush grace, and time for the write itself. A reader that wants a complete
 * span waits until then for the span's last window.
 */
export function windowSettledAt(windowStart: number, windowSeconds: number): number {
  return (windowStart + windowSeconds) * 1000 + WINDOW_FLUSH_GRACE_MS + WINDOW_WRITE_ALLOWANCE_MS;
}

/** A histogram as DynamoDB stores it: `+Inf` has no number form there. */
interface StoredHistogram {
  le: (number | '+Inf')[];
  counts: number[];
  count: number;
  sumMs: number;
}

function storedHistogram(histogram: LatencyHistogram): StoredHistogram {
  return {
    le: histogram.buckets.map((b) => (Number.isFinite(b.le) ? b.le : '+Inf')),
    counts: histogram.buckets.map((b) => b.count),
    count: histogram.count,
    sumMs: histogram.sumMs,
  };
}

function histogramOf(stored: StoredHistogram): LatencyHistogram {
  return {
    buckets: stored.le.map((le, index) => ({ le: le === '+Inf' ? Infinity : le, count: stored.counts[index] ?? 0 })),
    count: stored.count,
    sumMs: stored.sumMs,
  };
}

type PutRequest = { PutRequest: { Item: Record<string, unknown> } };

export interface TrafficStoreOptions {
  /** How long items are kept after their window closes; DEFAULT_TRAFFIC_RETENTION_SECONDS by default. */
  retentionSeconds?: number | undefined;
}

/** The traffic table: relays write windows, the API and rollouts read spans. */
export class TrafficStore {
  private readonly retentionSeconds: number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    readonly tableName: string,
    options: TrafficStoreOptions = {},
  ) {
    this.retentionSeconds = options.retentionSeconds ?? DEFAULT_TRAFFIC_RETENTION_SECONDS;
  }

  /**
   * Writes windows, one PutItem each (in batches of 25), retrying what DynamoDB leaves
   * unprocessed. A window is written once, by the relay that aggregated it, so a put never
   * overwrites another relay's figures; a retry of the same window writes the same item.
   */
  async putWindows(windows: readonly EdgeWindow[]): Promise<void> {
    for (let offset = 0; offset < windows.length; offset += BATCH_SIZE) {
      let requests: PutRequest[] = windows.slice(offset, offset + BATCH_SIZE).map((window) => ({ PutRequest: { Item: this.item(window) } }));
      for (let round = 0; requests.length > 0; round += 1) {
        if (round === MAX_BATCH_ROUNDS) throw new Error(`DynamoDB left ${requests.length} traffic windows unprocessed after ${MAX_BATCH_ROUNDS} rounds`);
        if (round > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** round));
        requests = await this.batch(requests);
      }
    }
  }

  /** Every stored window of the mesh whose windowStart is in [fromSeconds, toSeconds). */
  async windows(mesh: string, fromSeconds: number, toSeconds: number): Promise<EdgeWindow[]> {
    const windows: EdgeWindow[] = [];
    if (toSeconds <= fromSeconds) return windows;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          // `<to>` sorts before every key of the window starting at `to` (`<to>#...`) and after every earlier one.
          KeyConditionExpression: '#pk = :mesh AND #sk BETWEEN :from AND :to',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
          ExpressionAttributeValues: { ':mesh': mesh, ':from': windowKey(fromSeconds), ':to': windowKey(toSeconds) },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) windows.push(this.window(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return windows;
  }

  /** One BatchWriteItem; what it left unprocessed. */
  private async batch(requests: PutRequest[]): Promise<PutRequest[]> {
    const result = await this.client.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: requests } }));
    return (result.UnprocessedItems?.[this.tableName] ?? []) as PutRequest[];
  }

  private item(window: EdgeWindow): Record<string, unknown> {
    const { latency, responseCodes, ...figures } = window;
    return {
      [PARTITION_KEY]: window.mesh,
      [SORT_KEY]: `${windowKey(window.windowStart)}#${window.source}#${window.target}#${window.relay}`,
      ...figures,
      ...(latency && latency.count > 0 ? { latency: storedHistogram(latency) } : {}),
      ...(responseCodes && Object.keys(responseCodes).length > 0 ? { responseCodes } : {}),
      [TRAFFIC_TTL_ATTRIBUTE]: window.windowStart + window.windowSeconds + this.retentionSeconds,
    };
  }

  private window(item: Record<string, unknown>): EdgeWindow {
    const { [PARTITION_KEY]: _pk, [SORT_KEY]: _sk, [TRAFFIC_TTL_ATTRIBUTE]: _ttl, latency, ...rest } = item;
    const window = rest as unknown as EdgeWindow;
    if (latency) window.latency = histogramOf(latency as StoredHistogram);
    return window;
  }
}

/** Adds histograms bucket by bucket (by upper bound). */
export function mergeHistograms(histograms: readonly LatencyHistogram[]): LatencyHistogram | undefined {
  if (histograms.length === 0) return undefined;
  const counts = new Map<number, number>();
  let count = 0;
  let sumMs = 0;
  for (const histogram of histograms) {
    for (const { le, count: n } of histogram.buckets) counts.set(le, (counts.get(le) ?? 0) + n);
    count += histogram.count;
    sumMs += histogram.sumMs;
  }
  const buckets = [...counts].sort(([a], [b]) => a - b).map(([le, n]) => ({ le, count: n }));
  return { buckets, count, sumMs };
}

/**
 * The q-quantile (0..1) of a histogram, as Prometheus's histogram_quantile computes it: linear
 * interpolation inside the bucket where the rank falls (from 0 for the first bucket); a rank in
 * the +Inf bucket gives the highest finite bound. Undefined for an empty histogram.
 */
export function quantile(q: number, histogram: LatencyHistogram): number | undefined {
  const total = histogram.buckets.reduce((sum, b) => sum + b.count, 0);
  if (total === 0) return undefined;
  const rank = q * total;
  let below = 0;
  let lower = 0;
  for (const { le, count } of histogram.buckets) {
    if (below + count >= rank && count > 0) {
      if (!Number.isFinite(le)) return lower;
      return lower + (le - lower) * ((rank - below) / count);
    }
    below += count;
    if (Number.isFinite(le)) lower = le;
  }
  return lower;
}

function addCodes(into: Record<string, number>, codes: Record<string, number> | undefined): void {
  for (const [code, n] of Object.entries(codes ?? {})) into[code] = (into[code] ?? 0) + n;
}

/**
 * Per edge totals over windows (every relay's and every window's figures added up), ordered by
 * requests, most first. In progress is the latest window's (a gauge, not a count).
 */
export function edgeTotals(windows: readonly EdgeWindow[]): EdgeTraffic[] {
  interface Sum {
    traffic: EdgeTraffic;
    latest: number;
    histograms: LatencyHistogram[];
    codes: Record<string, number>;
  }
  const sums = new Map<string, Sum>();
  for (const window of windows) {
    const key = `${window.source}\n${window.target}`;
    let sum = sums.get(key);
    if (!sum) {
      sum = {
        traffic: { source: window.source, target: window.target, requests: 0, successes: 0, errors: 0, dropped: 0, inProgress: 0, errorRate: 0 },
        latest: -1,
        histograms: [],
        codes: {},
      };
      sums.set(key, sum);
    }
    const t = sum.traffic;
    t.requests += window.issued;
    t.successes += window.succeeded;
    t.errors += window.failed;
    t.dropped += window.dropped;
    if (window.windowStart > sum.latest) {
      sum.latest = window.windowStart;
      t.inProgress = 0;
    }
    if (window.windowStart === sum.latest) t.inProgress += window.inProgress;
    if (window.latency) sum.histograms.push(window.latency);
    addCodes(sum.codes, window.responseCodes);
  }
  const edges: EdgeTraffic[] = [];
  for (const { traffic, histograms, codes } of sums.values()) {
    const completed = traffic.successes + traffic.errors;
    traffic.errorRate = completed === 0 ? 0 : (traffic.errors / completed) * 100;
    const merged = mergeHistograms(histograms);
    const p50 = merged && quantile(0.5, merged);
    if (merged && p50 !== undefined) {
      traffic.latencyMs = { p50, p90: quantile(0.9, merged) ?? p50, p99: quantile(0.99, merged) ?? p50 };
    }
    if (Object.keys(codes).length > 0) traffic.responseCodes = codes;
    edges.push(traffic);
  }
  return edges.sort((a, b) => b.requests - a.requests || (a.source + a.target < b.source + b.target ? -1 : 1));
}
