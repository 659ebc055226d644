/**
 * Envoy's metrics service (`envoy.service.metrics.v3.MetricsService/StreamMetrics`), served on the
 * ADS port: an Envoy whose bootstrap names the relay as a `envoy.stat_sinks.metrics_service` sink
 * (`meshline bootstrap --metrics`) streams its stats as Prometheus MetricFamily protos. LRS carries
 * counts only; from these the relay keeps, per cluster, the request time histogram
 * (`upstream_rq_time`) and the response class counters (`upstream_rq_2xx`, ...), and adds them to
 * the edge of the cluster (relay/telemetry.ts).
 *
 * As Envoy sends them (source/extensions/stat_sinks/metrics_service/grpc_metrics_service_impl.cc):
 * the first message of a stream carries `identifier.node`; each stat is one MetricFamily with one
 * Metric; histograms carry the flush interval's samples only (`intervalStatistics`) with
 * cumulative bucket counts and no +Inf bucket; counters carry their delta since the last flush
 * when the sink has `report_counters_as_deltas` (which `meshline bootstrap --metrics` sets, with
 * `report_histograms_as_deltas`): every value is taken as a delta. Names are the stat names
 * (`cluster.<name>.upstream_rq_time`) or, with `emit_tags_as_labels`, the tag-extracted names
 * (`cluster.upstream_rq_time` with label `envoy.cluster_name`; `cluster.upstream_rq_xx` with
 * `envoy.response_code_class`); both are read. Stats of clusters the proxy's snapshot does not
 * attribute to a virtual node (Envoy's own xDS and sink clusters among them) are ignored.
 *
 * Not yet verified against a running Envoy: tested with messages built from Envoy's protos.
 */
import type * as grpc from '@grpc/grpc-js';
import type { LatencyHistogram } from '../shared/store/traffic.js';
import { LENGTH_DELIMITED, ProtocolError, decodeNode, readMessage, type Reader, type RequestNode } from './protocol.js';
import { serveReportingStream, type Reporter, type ReportingDependencies } from './reporting.js';

/** The gRPC method of Envoy's metrics service. */
export const STREAM_METRICS = '/envoy.service.metrics.v3.MetricsService/StreamMetrics';

/** `io.prometheus.client.MetricType`. */
export const METRIC_TYPE = { COUNTER: 0, GAUGE: 1, SUMMARY: 2, UNTYPED: 3, HISTOGRAM: 4 } as const;

/** A MetricFamily with its metrics still encoded: most of an Envoy's stats are never decoded. */
export interface EncodedMetricFamily {
  name: string;
  type: number;
  metrics: Uint8Array[];
}

/** An `envoy.service.metrics.v3.StreamMetricsMessage`. */
export interface StreamMetricsMessage {
  /** `identifier.node`: only on a stream's first message. */
  node: RequestNode | null;
  families: EncodedMetricFamily[];
}

/** The fields of an `io.prometheus.client.Metric` the relay reads. */
export interface DecodedMetric {
  labels: Record<string, string>;
  counter?: number;
  histogram?: { sampleCount: number; sampleSum: number; buckets: { upperBound: number; cumulativeCount: number }[] };
}

/** A uint64 (varint) or a double, by wire type: Prometheus has both forms of counts. */
function number(wireType: number, reader: Reader): number {
  if (wireType === 0) return reader.varint();
  if (wireType === 1) return reader.double();
  throw new ProtocolError('a number is neither a varint nor a double');
}

function decodeFamily(bytes: Uint8Array): EncodedMetricFamily {
  const family: EncodedMetricFamily = { name: '', type: METRIC_TYPE.UNTYPED, metrics: [] };
  readMessage(bytes, (field, wireType, reader) => {
    if (field === 3 && wireType === 0) family.type = reader.int32();
    else if (wireType !== LENGTH_DELIMITED) return false;
    else if (field === 1) family.name = reader.string();
    else if (field === 4) family.metrics.push(reader.bytesField());
    else return false;
    return true;
  });
  return family;
}

/** Decodes a StreamMetricsMessage, its metrics left encoded; throws ProtocolError on malformed bytes. */
export function decodeStreamMetricsMessage(bytes: Uint8Array): StreamMetricsMessage {
  const message: StreamMetricsMessage = { node: null, families: [] };
  readMessage(bytes, (field, wireType, reader) => {
    if (wireType !== LENGTH_DELIMITED) return false;
    if (field === 1) {
      readMessage(reader.bytesField(), (part, partWire, partReader) => {
        if (part !== 1 || partWire !== LENGTH_DELIMITED) return false;
        message.node = decodeNode(partReader.bytesField());
        return true;
      });
    } else if (field === 2) message.families.push(decodeFamily(reader.bytesField()));
    else return false;
    return true;
  });
  return message;
}

/** Decodes one `io.prometheus.client.Metric`: labels (1), counter (3), histogram (7). */
export function decodeMetric(bytes: Uint8Array): DecodedMetric {
  const metric: DecodedMetric = { labels: {} };
  readMessage(bytes, (field, wireType, reader) => {
    if (wireType !== LENGTH_DELIMITED) return false;
    if (field === 1) {
      let name = '';
      let value = '';
      readMessage(reader.bytesField(), (part, partWire, partReader) => {
        if (partWire !== LENGTH_DELIMITED) return false;
        if (part === 1) name = partReader.string();
        else if (part === 2) value = partReader.string();
        else return false;
        return true;
      });
      metric.labels[name] = value;
    } else if (field === 3) {
      metric.counter = 0;
      readMessage(reader.bytesField(), (part, partWire, partReader) => {
        if (part !== 1) return false;
        metric.counter = number(partWire, partReader);
        return true;
      });
    } else if (field === 7) {
      const histogram: NonNullable<DecodedMetric['histogram']> = { sampleCount: 0, sampleSum: 0, buckets: [] };
      readMessage(reader.bytesField(), (part, partWire, partReader) => {
        // sample_count (1, uint64) or sample_count_float (4, double); sample_sum (2); bucket (3).
        if (part === 1 || part === 4) histogram.sampleCount = number(partWire, partReader);
        else if (part === 2) histogram.sampleSum = number(partWire, partReader);
        else if (part === 3 && partWire === LENGTH_DELIMITED) {
          const bucket = { upperBound: NaN, cumulativeCount: 0 };
          readMessage(partReader.bytesField(), (b, bWire, bReader) => {
            // cumulative_count (1, uint64) or cumulative_count_float (4, double); upper_bound (2).
            if (b === 1 || b === 4) bucket.cumulativeCount = number(bWire, bReader);
            else if (b === 2) bucket.upperBound = number(bWire, bReader);
            else return false;
            return true;
          });
          histogram.buckets.push(bucket);
        } else return false;
        return true;
      });
      metric.histogram = histogram;
    } else return false;
    return true;
  });
  return metric;
}

/** Buckets kept of one histogram; Envoy sends 19 by default. */
const MAX_BUCKETS = 64;

/** A count as a client may send it: finite, non-negative, below 2^53. */
function sane(value: number): boolean {
  return Number.isFinite(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER;
}

/**
 * A Prometheus histogram (cumulative buckets, no +Inf bucket, or one) as per-bucket counts,
 * with the samples above the last bound in a +Inf bucket; undefined when it is not a histogram
 * a client could mean (too many buckets, counts not numbers).
 */
export function latencyOf(histogram: NonNullable<DecodedMetric['histogram']>): LatencyHistogram | undefined {
  if (histogram.buckets.length > MAX_BUCKETS || !sane(histogram.sampleCount) || !Number.isFinite(histogram.sampleSum)) return undefined;
  const sorted = [...histogram.buckets].sort((a, b) => a.upperBound - b.upperBound);
  const buckets: LatencyHistogram['buckets'] = [];
  let previous = 0;
  for (const { upperBound, cumulativeCount } of sorted) {
    if (Number.isNaN(upperBound) || upperBound < 0 || !sane(cumulativeCount)) return undefined;
    // Cumulative counts never decrease; a client's that do count nothing more.
    const cumulative = Math.max(cumulativeCount, previous);
    buckets.push({ le: upperBound, count: cumulative - previous });
    previous = cumulative;
  }
  const count = Math.max(histogram.sampleCount, previous);
  const last = buckets[buckets.length - 1];
  if (count > previous) {
    if (last && last.le === Infinity) last.count += count - previous;
    else buckets.push({ le: Infinity, count: count - previous });
  }
  return { buckets: buckets.filter((bucket) => bucket.count > 0), count, sumMs: Math.max(0, histogram.sampleSum) };
}

/** The stat names read: upstream request time, and response classes. */
const RQ_TIME = 'upstream_rq_time';
const TAGGED_RQ_TIME = `cluster.${RQ_TIME}`;
const TAGGED_RQ_CLASS = 'cluster.upstream_rq_xx';
const RQ_CLASS = /^cluster\.(.+)\.upstream_rq_([1-5])xx$/;
const CLUSTER_TAG = 'envoy.cluster_name';
const CLASS_TAG = 'envoy.response_code_class';

/** Per cluster, what one message reported. */
interface ClusterFigures {
  latency: LatencyHistogram[];
  codes: Record<string, number>;
}

/**
 * The request times and response classes per cluster in one message's families (see the module
 * comment for the names); a metric that is not what Envoy sends is skipped.
 */
export function clusterFigures(families: readonly EncodedMetricFamily[]): Map<string, ClusterFigures> {
  const figures = new Map<string, ClusterFigures>();
  const of = (cluster: string): ClusterFigures => {
    let entry = figures.get(cluster);
    if (!entry) figures.set(cluster, (entry = { latency: [], codes: {} }));
    return entry;
  };
  for (const family of families) {
    const { name, type } = family;
    if (!name.startsWith('cluster.')) continue;
    if (type === METRIC_TYPE.HISTOGRAM && name.endsWith(`.${RQ_TIME}`)) {
      const untagged = name === TAGGED_RQ_TIME ? undefined : name.slice('cluster.'.length, -(RQ_TIME.length + 1));
      for (const bytes of family.metrics) {
        const metric = decodeMetric(bytes);
        const cluster = untagged ?? metric.labels[CLUSTER_TAG];
        const latency = metric.histogram && latencyOf(metric.histogram);
        if (cluster && latency && latency.count > 0) of(cluster).latency.push(latency);
      }
    } else if (type === METRIC_TYPE.COUNTER) {
      const match = name === TAGGED_RQ_CLASS ? undefined : RQ_CLASS.exec(name);
      if (name !== TAGGED_RQ_CLASS && !match) continue;
      for (const bytes of family.metrics) {
        const metric = decodeMetric(bytes);
        const cluster = match ? match[1] : metric.labels[CLUSTER_TAG];
        const codeClass = match ? match[2] : metric.labels[CLASS_TAG];
        const value = metric.counter ?? 0;
        if (!cluster || !codeClass || !/^[1-5]$/.test(codeClass) || !sane(value) || value === 0) continue;
        const codes = of(cluster).codes;
        codes[`${codeClass}xx`] = (codes[`${codeClass}xx`] ?? 0) + value;
      }
    }
  }
  return figures;
}

const identity = (bytes: Buffer): Buffer => bytes;

/** The metrics service; messages are decoded in the handler, so a malformed one ends its stream with INVALID_ARGUMENT. */
export const metricsService = {
  StreamMetrics: {
    path: STREAM_METRICS,
    requestStream: true,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
} satisfies grpc.ServiceDefinition;

/** Messages held while the first one's identity is checked; later ones are dropped. */
const MAX_QUEUED_MESSAGES = 4;

/**
 * The handler of StreamMetrics (client streaming: the response, an empty StreamMetricsResponse,
 * comes when the client ends the stream or the relay shuts down). Identity checks on the first
 * message, as ADS; a later message naming another proxy ends the stream PERMISSION_DENIED.
 */
export function streamMetricsHandler(deps: ReportingDependencies): grpc.handleClientStreamingCall<Buffer, Buffer> {
  const { reporting, traffic } = deps;

  function record(message: StreamMetricsMessage, from: Reporter): void {
    for (const [cluster, figures] of clusterFigures(message.families)) {
      const attribution = from.attribute(cluster);
      // Envoy reports every cluster it has, its own xDS and sink clusters too: only edges count.
      if (typeof attribution !== 'object') continue;
      const edge = { mesh: from.mesh, source: from.source, target: attribution.target };
      for (const latency of figures.latency) traffic.recordLatency(edge, latency);
      if (Object.keys(figures.codes).length > 0) traffic.recordResponseCodes(edge, figures.codes);
    }
  }

  return function handleStreamMetrics(call: grpc.ServerReadableStream<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>): void {
    serveReportingStream(deps, call, {
      service: 'metrics',
      decode: (bytes) => {
        const message = decodeStreamMetricsMessage(bytes);
        // Every well-formed message counts, one held or dropped before the first is answered too.
        reporting.metricsMessages.inc();
        return message;
      },
      messageName: 'StreamMetricsMessage',
      noun: 'message',
      refused: reporting.metricsRefused,
      maxQueued: MAX_QUEUED_MESSAGES,
      overflow: 'drop',
      logs: { opened: 'metrics stream opened', failed: 'metrics stream failed', errorStatus: 'metrics stream ended with an error status' },
      record,
      end: () => callback(null, Buffer.alloc(0)),
      fail: (status) => callback({ code: status.code, details: status.message }),
    });
  };
}
