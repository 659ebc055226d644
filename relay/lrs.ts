/**
 * Envoy's Load Reporting Service (`envoy.service.load_stats.v3`), served on the ADS port: proxies
 * (Envoy through its bootstrap's `cluster_manager.load_stats_config`, proxyless gRPC for clusters
 * whose `lrs_server` is `self`) stream per-cluster request counts, which are added up per edge
 * (relay/telemetry.ts).
 *
 * The wire format is written by hand from lrs.proto and load_report.proto, with the reader of
 * relay/protocol.ts, so the relay bundle loads no .proto file. Facts the protocol rests on
 * (measured with gRPC C-core 1.51): every LoadStatsResponse must carry load_reporting_interval
 * (the client crashes without it); only a stream's first request carries node; a client told
 * neither send_all_clusters nor a cluster list reports nothing; counts are deltas since the
 * client's last report, split per upstream locality, and per attempt (a retried call counts
 * each attempt). So the relay answers once, right after the identity checks, with the interval
 * and send_all_clusters, and adds the counts of every locality of every report.
 */
import type * as grpc from '@grpc/grpc-js';
import {
  LENGTH_DELIMITED,
  ProtocolError,
  decodeNode,
  lengthDelimited,
  readMessage,
  varintField,
  type EncodedResponse,
  type Reader,
  type RequestNode,
} from './protocol.js';
import { serveReportingStream, type Reporter, type ReportingDependencies, type ReportingStreamIds } from './reporting.js';
import { count } from './telemetry.js';

/** The gRPC method of load reporting. */
export const STREAM_LOAD_STATS = '/envoy.service.load_stats.v3.LoadReportingService/StreamLoadStats';

/** The load reporting interval unless the relay is told otherwise (MESHLINE_LOAD_REPORT_INTERVAL_MS). */
export const DEFAULT_LOAD_REPORT_INTERVAL_MS = 10_000;

/** An `envoy.config.endpoint.v3.UpstreamLocalityStats`, the fields the relay reads: deltas since the last report. */
export interface UpstreamLocalityStats {
  total_successful_requests: number;
  total_requests_in_progress: number;
  total_error_requests: number;
  total_issued_requests: number;
}

/** An `envoy.config.endpoint.v3.ClusterStats`, the fields the relay reads. */
export interface ClusterStats {
  cluster_name: string;
  cluster_service_name: string;
  upstream_locality_stats: UpstreamLocalityStats[];
  total_dropped_requests: number;
  /** Per category; `total_dropped_requests` is their sum where a client sends both. */
  dropped_requests: { category: string; dropped_count: number }[];
  /** `load_report_interval` in milliseconds (0 when absent). */
  load_report_interval_ms: number;
}

/** An `envoy.service.load_stats.v3.LoadStatsRequest`. */
export interface LoadStatsRequest {
  /** Only on a stream's first request. */
  node: RequestNode | null;
  cluster_stats: ClusterStats[];
}

/** A uint64 field that must be a varint; anything else is malformed. */
function uint64(wireType: number, reader: Reader): number {
  if (wireType !== 0) throw new ProtocolError('a count is not a varint');
  return reader.varint();
}

function decodeLocalityStats(bytes: Uint8Array): UpstreamLocalityStats {
  const stats: UpstreamLocalityStats = { total_successful_requests: 0, total_requests_in_progress: 0, total_error_requests: 0, total_issued_requests: 0 };
  readMessage(bytes, (field, wireType, reader) => {
    if (field === 2) stats.total_successful_requests = uint64(wireType, reader);
    else if (field === 3) stats.total_requests_in_progress = uint64(wireType, reader);
    else if (field === 4) stats.total_error_requests = uint64(wireType, reader);
    else if (field === 8) stats.total_issued_requests = uint64(wireType, reader);
    else return false;
    return true;
  });
  return stats;
}

/** `google.protobuf.Duration` in milliseconds. */
function decodeDurationMs(bytes: Uint8Array): number {
  let seconds = 0;
  let nanos = 0;
  readMessage(bytes, (field, wireType, reader) => {
    if (wireType !== 0) return false;
    if (field === 1) seconds = reader.varint();
    else if (field === 2) nanos = reader.int32();
    else return false;
    return true;
  });
  return seconds * 1000 + Math.floor(nanos / 1e6);
}

function decodeClusterStats(bytes: Uint8Array): ClusterStats {
  const stats: ClusterStats = {
    cluster_name: '',
    cluster_service_name: '',
    upstream_locality_stats: [],
    total_dropped_requests: 0,
    dropped_requests: [],
    load_report_interval_ms: 0,
  };
  readMessage(bytes, (field, wireType, reader) => {
    if (field === 3) {
      stats.total_dropped_requests = uint64(wireType, reader);
      return true;
    }
    if (wireType !== LENGTH_DELIMITED) return false;
    if (field === 1) stats.cluster_name = reader.string();
    else if (field === 6) stats.cluster_service_name = reader.string();
    else if (field === 2) stats.upstream_locality_stats.push(decodeLocalityStats(reader.bytesField()));
    else if (field === 4) stats.load_report_interval_ms = decodeDurationMs(reader.bytesField());
    else if (field === 5) {
      const dropped = { category: '', dropped_count: 0 };
      readMessage(reader.bytesField(), (part, partWire, partReader) => {
        if (part === 1 && partWire === LENGTH_DELIMITED) dropped.category = partReader.string();
        else if (part === 2) dropped.dropped_count = uint64(partWire, partReader);
        else return false;
        return true;
      });
      stats.dropped_requests.push(dropped);
    } else return false;
    return true;
  });
  return stats;
}

/** Decodes a LoadStatsRequest; throws ProtocolError on malformed bytes. */
export function decodeLoadStatsRequest(bytes: Uint8Array): LoadStatsRequest {
  const request: LoadStatsRequest = { node: null, cluster_stats: [] };
  readMessage(bytes, (field, wireType, reader) => {
    if (wireType !== LENGTH_DELIMITED) return false;
    if (field === 1) request.node = decodeNode(reader.bytesField());
    else if (field === 2) request.cluster_stats.push(decodeClusterStats(reader.bytesField()));
    else return false;
    return true;
  });
  return request;
}

/**
 * A LoadStatsResponse: send_all_clusters (4) true and load_reporting_interval (2), a Duration of
 * seconds (1) and nanos (2). Both always: see the module comment.
 */
export function encodeLoadStatsResponse(intervalMs: number): EncodedResponse {
  const seconds = Math.floor(intervalMs / 1000);
  const nanos = (intervalMs % 1000) * 1e6;
  return Buffer.concat([lengthDelimited(2, Buffer.concat([varintField(1, seconds), varintField(2, nanos)])), varintField(4, 1)]);
}

const identity = (bytes: Buffer): Buffer => bytes;

/** The LRS service; requests are decoded in the handler, so a malformed one ends its stream with INVALID_ARGUMENT. */
export const loadReportingService = {
  StreamLoadStats: {
    path: STREAM_LOAD_STATS,
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
} satisfies grpc.ServiceDefinition;

/** Requests held while the first one's identity is checked; beyond this the stream is malformed. */
const MAX_QUEUED_REQUESTS = 16;

/**
 * The handler of StreamLoadStats: identity checks on the first request (as ADS), one response
 * with the interval, then every report's cluster stats added to their edges. A cluster neither
 * in the snapshot's targets nor among its clusters is refused (counted, logged once per stream
 * and cluster); a later request naming another proxy ends the stream PERMISSION_DENIED.
 */
export function loadStatsHandler(deps: ReportingDependencies): grpc.handleBidiStreamingCall<Buffer, EncodedResponse> {
  const { logger, reporting, traffic } = deps;
  const unknownCluster = reporting.loadReportsRefused.series({ reason: 'unknown_cluster' });

  return function handleLoadStats(call: grpc.ServerDuplexStream<Buffer, EncodedResponse>): void {
    /** Clusters refused on this stream, so each is logged once. */
    const refusedClusters = new Set<string>();

    function report(request: LoadStatsRequest, from: Reporter, ids: ReportingStreamIds): void {
      for (const stats of request.cluster_stats) {
        const attribution = from.attribute(stats.cluster_name, stats.cluster_service_name);
        if (attribution === 'unknown') {
          unknownCluster.value += 1;
          if (!refusedClusters.has(stats.cluster_name) && refusedClusters.size < 100) {
            refusedClusters.add(stats.cluster_name);
            logger.warn('load report for an unknown cluster refused', { ...ids, cluster: stats.cluster_name, service: stats.cluster_service_name });
          }
          continue;
        }
        if (attribution === 'unattributed') {
          reporting.loadReportsUnattributed.inc();
          continue;
        }
        reporting.loadReports.inc();
        const counts = { issued: 0, succeeded: 0, failed: 0, dropped: 0 };
        let inProgress = 0;
        for (const locality of stats.upstream_locality_stats) {
          counts.issued += locality.total_issued_requests;
          counts.succeeded += locality.total_successful_requests;
          counts.failed += locality.total_error_requests;
          inProgress += locality.total_requests_in_progress;
        }
        let categorized = 0;
        for (const dropped of stats.dropped_requests) categorized += dropped.dropped_count;
        counts.dropped = Math.max(stats.total_dropped_requests, categorized);
        traffic.recordLoad(attribution.tally, counts);
        // In progress is a level, not a delta: the edge keeps the latest of each stream and cluster.
        from.inProgress(stats.cluster_name, attribution.tally, count(inProgress));
      }
    }

    serveReportingStream(deps, call, {
      service: 'lrs',
      decode: decodeLoadStatsRequest,
      messageName: 'LoadStatsRequest',
      noun: 'request',
      refused: reporting.loadReportsRefused,
      maxQueued: MAX_QUEUED_REQUESTS,
      overflow: 'refuse',
      logs: { opened: 'load reporting stream opened', failed: 'load report stream failed', errorStatus: 'load report stream ended with an error status' },
      // The one response, right after the identity checks (see the module comment).
      granted: () => {
        call.write(encodeLoadStatsResponse(deps.loadReportIntervalMs));
      },
      record: report,
      end: () => call.end(),
      // grpc-js ends a server stream with the status of an emitted error.
      fail: (status) => call.emit('error', { code: status.code, details: status.message }),
    });
  };
}
