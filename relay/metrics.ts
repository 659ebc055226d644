/** Label values of one sample, e.g. `{ type: 'clusters' }`. */
export type Labels = Record<string, string>;

/** One value of a metric. */
export interface Sample {
  labels: Labels;
  value: number;
}

/** Prometheus text format escaping of a label value. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatSample(name: string, { labels, value }: Sample): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''} ${Number.isFinite(value) ? value : 0}`;
}

/** Identifies a label set whatever the order of its keys (cheap: this runs for every request and response). */
function seriesKey(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length > 1) keys.sort();
  let key = '';
  for (const name of keys) key += `${name}\u0000${labels[name]}\u0001`;
  return key;
}

/** A monotonically increasing count, one series per distinct label set. */
export class Counter {
  private readonly series_ = new Map<string, Sample>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    this.series(labels).value += by;
  }

  /**
   * The series of one label set, to increment without building its key each time (for the
   * per-request counters): `counter.series({ type: 'clusters' }).value += 1`.
   */
  series(labels: Labels = {}): Sample {
    const key = seriesKey(labels);
    let sample = this.series_.get(key);
    if (!sample) {
      sample = { labels: { ...labels }, value: 0 };
      this.series_.set(key, sample);
    }
    return sample;
  }

  /** The current value for a label set (0 if never incremented). */
  get(labels: Labels = {}): number {
    return this.series_.get(seriesKey(labels))?.value ?? 0;
  }

  samples(): Sample[] {
    return [...this.series_.values()].filter((sample) => sample.value !== 0);
  }
}

interface Gauge {
  name: string;
  help: string;
  collect: () => Sample[];
}

/**
 * A small hand-written metrics registry: counters kept here, gauges read from their owner at
 * scrape time (so a gauge can never drift from the state it describes). Renders the Prometheus
 * text exposition format, version 0.0.4.
 */
export class MetricsRegistry {
  private readonly counters: Counter[] = [];
  private readonly gauges: Gauge[] = [];
  private readonly histograms: Histogram[] = [];

  counter(name: string, help: string): Counter {
    const counter = new Counter(name, help);
    this.counters.push(counter);
    return counter;
  }

  histogram(name: string, help: string, bounds: readonly number[]): Histogram {
    const histogram = new Histogram(name, help, bounds);
    this.histograms.push(histogram);
    return histogram;
  }

  gauge(name: string, help: string, collect: () => Sample[]): void {
    this.gauges.push({ name, help, collect });
  }

  render(): string {
    const lines: string[] = [];
    for (const counter of this.counters) {
      lines.push(`# HELP ${counter.name} ${counter.help}`, `# TYPE ${counter.name} counter`);
      for (const sample of counter.samples()) lines.push(formatSample(counter.name, sample));
    }
    for (const histogram of this.histograms) {
      lines.push(`# HELP ${histogram.name} ${histogram.help}`, `# TYPE ${histogram.name} histogram`);
      histogram.render(lines);
    }
    for (const gauge of this.gauges) {
      lines.push(`# HELP ${gauge.name} ${gauge.help}`, `# TYPE ${gauge.name} gauge`);
      for (const sample of gauge.collect()) lines.push(formatSample(gauge.name, sample));
    }
    return lines.join('\n') + '\n';
  }
}

/** The counters the relay keeps; gauges are registered by the parts that own the state. */
export interface RelayMetrics {
  registry: MetricsRegistry;
  /** DiscoveryRequests received, label `type` (`other` for types the relay does not serve). */
  requests: Counter;
  /** xDS responses sent, label `type` (clusters, endpoints, listeners, routes). */
  responses: Counter;
  /** Requests that acknowledged a response, label `type`. */
  acks: Counter;
  /** Requests that rejected a response (error_detail set), labels `type` and `code` (the gRPC status name of error_detail.code; the message goes to logs and sync status). */
  nacks: Counter;
  /**
   * Streams refused for their credentials, label `reason`: missing_token, invalid_token,
   * missing_client_certificate, certificate_names_another_proxy (shared token and mTLS);
   * missing_credentials, invalid_credentials, identity_names_another_proxy (access keys); and
   * key_revoked (an open stream whose access key was revoked since).
   */
  accessRefused: Counter;
  /** Access key reads of the periodic recheck of open streams that failed (their streams are kept). */
  keyRecheckErrors: Counter;
  /** Sync status items written, and writes or deletes that failed. */
  syncStatusWrites: Counter;
  syncStatusErrors: Counter;
  /** Streams refused or ended with an error status, label `code` (gRPC status name). */
  streamErrors: Counter;
  /** Failed manifest reads (S3 errors, unparseable manifests), label `mesh`. */
  manifestErrors: Counter;
  /** Failed snapshot loads (S3 errors, missing or corrupt objects), label `mesh`. */
  snapshotLoadErrors: Counter;
}

export function createRelayMetrics(registry = new MetricsRegistry()): RelayMetrics {
  return {
    registry,
    requests: registry.counter('meshline_relay_requests_total', 'DiscoveryRequests received, by resource type.'),
    responses: registry.counter('meshline_relay_responses_total', 'xDS responses sent, by resource type.'),
    acks: registry.counter('meshline_relay_acks_total', 'Requests that ACKed a response, by resource type.'),
    nacks: registry.counter('meshline_relay_nacks_total', 'Requests that NACKed a response (error_detail set), by resource type and error_detail code.'),
    accessRefused: registry.counter('meshline_relay_access_refused_total', 'ADS streams refused for their credentials, by reason.'),
    keyRecheckErrors: registry.counter(
      'meshline_relay_key_recheck_errors_total',
      'Failed reads of the access keys of open streams in their periodic recheck; the streams are kept.',
    ),
    syncStatusWrites: registry.counter('meshline_relay_sync_status_writes_total', 'Sync status items written to the sync status table.'),
    syncStatusErrors: registry.counter('meshline_relay_sync_status_errors_total', 'Failed writes or deletes of sync status items.'),
    streamErrors: registry.counter('meshline_relay_stream_errors_total', 'ADS streams refused or ended with an error status, by gRPC status.'),
    manifestErrors: registry.counter('meshline_relay_manifest_watch_errors_total', 'Failed manifest reads (S3 errors, unreadable manifests), by mesh.'),
    snapshotLoadErrors: registry.counter('meshline_relay_snapshot_load_errors_total', 'Failed snapshot loads (S3 errors, missing or corrupt objects), by mesh.'),
  };
}

/**
 * A Prometheus histogram over fixed bucket bounds, one series per distinct label set. Observed
 * buckets (already counted by the reporter, e.g. Envoy's) are added to the smallest fixed bucket
 * whose bound is at least theirs, so reporters with the same bounds are kept exactly.
 */
export class Histogram {
  private readonly series_ = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    /** Ascending upper bounds; +Inf is implied after the last. */
    readonly bounds: readonly number[],
  ) {}

  /** Adds per-bucket (not cumulative) counts with their upper bounds, and their sum. */
  addBuckets(labels: Labels, buckets: readonly { le: number; count: number }[], sum: number): void {
    const key = seriesKey(labels);
    let series = this.series_.get(key);
    if (!series) {
      series = { labels: { ...labels }, counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 };
      this.series_.set(key, series);
    }
    for (const { le, count } of buckets) {
      let index = this.bounds.findIndex((bound) => bound >= le);
      if (index < 0) index = this.bounds.length;
      series.counts[index] = (series.counts[index] as number) + count;
      series.count += count;
    }
    series.sum += sum;
  }

  render(lines: string[]): void {
    for (const { labels, counts, sum, count } of this.series_.values()) {
      let cumulative = 0;
      counts.forEach((value, index) => {
        cumulative += value;
        const le = index < this.bounds.length ? String(this.bounds[index]) : '+Inf';
        lines.push(formatSample(`${this.name}_bucket`, { labels: { ...labels, le }, value: cumulative }));
      });
      lines.push(formatSample(`${this.name}_sum`, { labels, value: sum }), formatSample(`${this.name}_count`, { labels, value: count }));
    }
  }
}
