/**
 * Client-side codecs of the relay's telemetry services, built with protobufjs from Envoy's own
 * protos (LRS: envoy/service/load_stats/v3/lrs.proto; metrics service:
 * envoy/service/metrics/v3/metrics_service.proto, with Prometheus's client_model from
 * test/support/protos): every test message checks the relay's hand-written decoders.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type protobuf from 'protobufjs';
import { envoyProtoIncludeDirs, loadProtoRoot } from '../../shared/xds/protos.js';

let root: protobuf.Root | undefined;

function telemetryRoot(): protobuf.Root {
  root ??= loadProtoRoot(
    ['envoy/service/load_stats/v3/lrs.proto', 'envoy/service/metrics/v3/metrics_service.proto'],
    [...envoyProtoIncludeDirs(), join(dirname(fileURLToPath(import.meta.url)), 'protos')],
  );
  return root;
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function encoder(name: string): (message: object) => Buffer {
  return (message) => {
    const type = telemetryRoot().lookupType(name);
    const built = type.fromObject(message);
    const problem = type.verify(built);
    if (problem) throw new Error(`${name}: ${problem}`);
    return toBuffer(type.encode(built).finish());
  };
}

/** One locality's counts of a ClusterStats, as gRPC and Envoy fill them in. */
export interface LocalityCounts {
  locality?: { region?: string; zone?: string; sub_zone?: string };
  total_successful_requests?: number;
  total_requests_in_progress?: number;
  total_error_requests?: number;
  total_issued_requests?: number;
}

export interface ClusterStatsMessage {
  cluster_name: string;
  cluster_service_name?: string;
  upstream_locality_stats?: LocalityCounts[];
  total_dropped_requests?: number;
  dropped_requests?: { category: string; dropped_count: number }[];
  load_report_interval?: { seconds?: number; nanos?: number };
}

export interface LoadStatsRequestMessage {
  node?: { id: string; cluster?: string; metadata?: unknown };
  cluster_stats?: ClusterStatsMessage[];
}

export const encodeLoadStatsRequest = encoder('envoy.service.load_stats.v3.LoadStatsRequest');

export interface LoadStatsResponseMessage {
  clusters: string[];
  send_all_clusters: boolean;
  /** Present exactly when the relay wrote it. */
  load_reporting_interval: { seconds: number; nanos: number } | null;
  report_endpoint_granularity: boolean;
}

export function decodeLoadStatsResponse(bytes: Uint8Array): LoadStatsResponseMessage {
  const type = telemetryRoot().lookupType('envoy.service.load_stats.v3.LoadStatsResponse');
  const message = type.toObject(type.decode(bytes), { longs: Number, defaults: false }) as Partial<LoadStatsResponseMessage> & {
    load_reporting_interval?: { seconds?: number; nanos?: number };
  };
  const interval = message.load_reporting_interval;
  return {
    clusters: message.clusters ?? [],
    send_all_clusters: message.send_all_clusters ?? false,
    load_reporting_interval: interval ? { seconds: Number(interval.seconds ?? 0), nanos: interval.nanos ?? 0 } : null,
    report_endpoint_granularity: message.report_endpoint_granularity ?? false,
  };
}

/** An `io.prometheus.client.MetricFamily` as Envoy's sink fills it in. */
export interface MetricFamilyMessage {
  name: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY';
  metric: {
    label?: { name: string; value: string }[];
    counter?: { value: number };
    gauge?: { value: number };
    histogram?: { sample_count: number; sample_sum: number; bucket: { cumulative_count: number; upper_bound: number }[] };
    timestamp_ms?: number;
  }[];
}

export interface StreamMetricsMessageObject {
  identifier?: { node: { id: string; cluster?: string } };
  envoy_metrics?: MetricFamilyMessage[];
}

export const encodeStreamMetricsMessage = encoder('envoy.service.metrics.v3.StreamMetricsMessage');

/** Envoy's default histogram bucket bounds (ms), as its sink reports them. */
export const ENVOY_BUCKETS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

/**
 * A histogram MetricFamily as Envoy's sink writes one for the flush interval's samples: every
 * default bucket with its cumulative count, no +Inf bucket.
 */
export function envoyHistogram(name: string, samplesMs: number[], labels: { name: string; value: string }[] = []): MetricFamilyMessage {
  return {
    name,
    type: 'HISTOGRAM',
    metric: [
      {
        label: labels,
        timestamp_ms: Date.now(),
        histogram: {
          sample_count: samplesMs.length,
          sample_sum: samplesMs.reduce((a, b) => a + b, 0),
          bucket: ENVOY_BUCKETS_MS.map((bound) => ({ upper_bound: bound, cumulative_count: samplesMs.filter((s) => s <= bound).length })),
        },
      },
    ],
  };
}

/** A counter MetricFamily as Envoy's sink writes one (with report_counters_as_deltas: the delta). */
export function envoyCounter(name: string, value: number, labels: { name: string; value: string }[] = []): MetricFamilyMessage {
  return { name, type: 'COUNTER', metric: [{ label: labels, timestamp_ms: Date.now(), counter: { value } }] };
}
