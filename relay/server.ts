import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SyncStatusWriter } from '../shared/store/sync-status.js';
import { DEFAULT_TRAFFIC_WINDOW_SECONDS } from '../shared/store/traffic.js';
import { proxyKey } from '../shared/xds/node-id.js';
import { RESOURCE_TYPE_URLS, SHORT_NAMES } from '../shared/xds/type-urls.js';
import { keyRevoked, revokedKeys, type AccessKeyCheck, type AccessPolicy } from './access.js';
import { hostPort, startAdmin } from './admin.js';
import { adsStreamHandler, typeBit, type AdsStreamHandle } from './ads.js';
import { DeltaStream } from './delta.js';
import { jsonLogger, type Logger } from './log.js';
import { DEFAULT_LOAD_REPORT_INTERVAL_MS, loadReportingService, loadStatsHandler } from './lrs.js';
import { metricsService, streamMetricsHandler } from './metrics-service.js';
import { createReportingMetrics, type ReportingStreamHandle } from './reporting.js';
import { TrafficAggregator, type TrafficAggregatorOptions } from './telemetry.js';
import { createRelayMetrics, type MetricsRegistry, type RelayMetrics, type Sample } from './metrics.js';
import { aggregatedDiscoveryService } from './protocol.js';
import { BucketSnapshotSource, type SnapshotReader } from './snapshot-source.js';
import { SotwStream } from './sotw.js';
import { RelayTlsCredentials, type TlsFiles } from './tls.js';

export interface RelayOptions {
  /** Where snapshots and manifests are read (a SnapshotStore over the bucket). */
  store: SnapshotReader;
  host: string;
  /** The ADS port; 0 picks a free one. */
  port: number;
  /** The admin HTTP port (/healthz, /readyz, /metrics); 0 picks a free one. */
  adminPort: number;
  /** How often the manifest of each mesh with connected proxies is checked. */
  pollIntervalMs: number;
  /** How long a stream of a proxy no manifest lists is held before NOT_FOUND (0: refused at once); see BucketSnapshotSourceOptions. */
  unknownProxyWaitMs?: number | undefined;
  /** Structured logs; JSON lines on stderr by default. */
  logger?: Logger;
  /** Serve ADS over TLS (with a client CA: mTLS). Plaintext without. */
  tls?: TlsFiles | undefined;
  /**
   * Who may be served; see AccessPolicy. Defaults to: a client certificate when TLS has a client
   * CA (unless `keys` is set: then a certificate is one proof among others), no token, no keys.
   */
  access?: Partial<AccessPolicy> | undefined;
  /**
   * With `access.keys`: how often the access keys of open streams are read again, ending the
   * streams of a key revoked (or deleted) since (UNAUTHENTICATED, reason `key_revoked`).
   * DEFAULT_KEY_RECHECK_MS by default.
   */
  keyRecheckMs?: number | undefined;
  /** Records each stream's ACKed versions and last NACK in this table (see shared/store/sync-status.ts). */
  syncStatus?: SyncStatusOptions | undefined;
  /** Names this replica in sync status; the host name and a random suffix by default. */
  relayId?: string | undefined;
  /** Connection lifetime and keepalive; see DEFAULT_CONNECTION. */
  connection?: Partial<ConnectionOptions> | undefined;
  /** Load reports and Envoy's metrics service, served on the ADS port; see TelemetryOptions. */
  telemetry?: Partial<TelemetryOptions> | undefined;
}

/** How the relay aggregates the traffic proxies report (relay/telemetry.ts). */
export interface TelemetryOptions {
  /** The interval LRS clients are told to report at; DEFAULT_LOAD_REPORT_INTERVAL_MS by default. */
  loadReportIntervalMs: number;
  /** The window traffic is added up in; DEFAULT_TRAFFIC_WINDOW_SECONDS by default. */
  windowSeconds: number;
  /** Where closed windows are written (a TrafficStore); without it traffic is only on /metrics. */
  store?: TrafficAggregatorOptions['store'];
  /** Receives one CloudWatch Embedded Metric Format line per edge per closed window (MESHLINE_TRAFFIC_EMF=on: stdout). */
  emf?: TrafficAggregatorOptions['emf'];
}

export interface SyncStatusOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** At most one write per stream in this interval. */
  minIntervalMs?: number | undefined;
  ttlSeconds?: number | undefined;
}

/** How long connections live and how they are kept alive. */
export interface ConnectionOptions {
  /**
   * A connection older than this (plus or minus 10% jitter, which grpc-js draws per connection)
   * gets a GOAWAY: its proxy opens a new one, which the load balancer may send to another
   * replica. Without it, replicas added later would never get proxies.
   */
  maxAgeMs: number;
  /** How long streams may continue on a connection after its GOAWAY before it is closed. */
  maxAgeGraceMs: number;
  /** Pings on an idle connection: keeps it through load balancer idle timeouts and finds dead peers. */
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
}

export const DEFAULT_CONNECTION: ConnectionOptions = {
  maxAgeMs: 30 * 60_000,
  maxAgeGraceMs: 60_000,
  keepaliveTimeMs: 60_000,
  keepaliveTimeoutMs: 20_000,
};

export interface Relay {
  /** `host:port` of the ADS gRPC server (a target for grpc-js and a bootstrap `server_uri`). */
  adsAddress: string;
  /** `http://host:port` of the admin server. */
  adminUrl: string;
  /** Stops accepting streams, ends the open ones, stops watching S3. */
  close(): Promise<void>;
}

/** How often the access keys of open streams are read again by default. */
export const DEFAULT_KEY_RECHECK_MS = 60_000;

/** The longest delay a Node timer takes. */
const MAX_TIMER_MS = 2_147_483_647;

/** How long close() lets streams drain before cutting them. */
const SHUTDOWN_GRACE_MS = 5_000;

function bind(server: grpc.Server, address: string, credentials: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) => (error ? reject(error) : resolve(port)));
  });
}

/**
 * Starts the xDS relay: a gRPC ADS server (state of the world and delta) serving each proxy its
 * own snapshot from the bucket, and an admin HTTP server.
 */
export async function startRelay(options: RelayOptions): Promise<Relay> {
  const logger = options.logger ?? jsonLogger();
  const metrics = createRelayMetrics();
  const source = new BucketSnapshotSource({
    store: options.store,
    pollIntervalMs: options.pollIntervalMs,
    unknownProxyWaitMs: options.unknownProxyWaitMs ?? 0,
    logger,
    metrics,
  });
  const streams = new Set<AdsStreamHandle>();
  const connection = { ...DEFAULT_CONNECTION, ...options.connection };
  const credentials = options.tls ? new RelayTlsCredentials(options.tls, logger) : grpc.ServerCredentials.createInsecure();
  const keys = options.access?.keys;
  const access: AccessPolicy = {
    // With access keys a client certificate is one proof among others, not a requirement.
    requireClientCertificate: options.access?.requireClientCertificate ?? (options.tls?.clientCaFile !== undefined && keys === undefined),
    bearerToken: options.access?.bearerToken,
    keys,
  };
  if (access.requireClientCertificate && !options.tls?.clientCaFile) {
    throw new Error('requiring client certificates needs TLS with a client CA');
  }
  if (keys && access.bearerToken !== undefined) {
    // Both would travel as `authorization: Bearer ...`; a shared token proves no proxy's identity.
    throw new Error('a shared bearer token cannot be combined with access keys: per-proxy tokens replace it');
  }
  const keyRecheckMs = options.keyRecheckMs ?? DEFAULT_KEY_RECHECK_MS;
  // setInterval runs a longer delay after 1 ms.
  if (!(keyRecheckMs >= 1 && keyRecheckMs <= MAX_TIMER_MS)) throw new Error(`keyRecheckMs must be between 1 and ${MAX_TIMER_MS}, got: ${keyRecheckMs}`);
  let serving = false;

  registerGauges(metrics.registry, streams, source);
  const relayId = options.relayId ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
  const loadReportIntervalMs = options.telemetry?.loadReportIntervalMs ?? DEFAULT_LOAD_REPORT_INTERVAL_MS;
  if (!(Number.isInteger(loadReportIntervalMs) && loadReportIntervalMs >= 1)) throw new Error(`loadReportIntervalMs must be a positive whole number of milliseconds, got: ${loadReportIntervalMs}`);
  const traffic = new TrafficAggregator({
    relayId,
    windowSeconds: options.telemetry?.windowSeconds ?? DEFAULT_TRAFFIC_WINDOW_SECONDS,
    store: options.telemetry?.store,
    emf: options.telemetry?.emf,
    logger,
    registry: metrics.registry,
  });
  const reportingStreams = new Set<ReportingStreamHandle>();
  metrics.registry.gauge('meshline_relay_reporting_streams', 'Open telemetry streams, by service (lrs, metrics).', () => {
    const counts = { lrs: 0, metrics: 0 };
    for (const stream of reportingStreams) counts[stream.service] += 1;
    return Object.entries(counts).map(([service, value]) => ({ labels: { service }, value }));
  });
  const syncStatus = options.syncStatus && syncStatusWriter(options.syncStatus, metrics, logger);

  const server = new grpc.Server({
    'grpc.max_connection_age_ms': connection.maxAgeMs,
    'grpc.max_connection_age_grace_ms': connection.maxAgeGraceMs,
    'grpc.keepalive_time_ms': connection.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': connection.keepaliveTimeoutMs,
  });
  const deps = {
    source,
    logger,
    metrics,
    streams,
    access,
    syncStatus,
    relayId,
  };
  const reportingDeps = { ...deps, traffic, reporting: createReportingMetrics(metrics.registry), reportingStreams, loadReportIntervalMs };
  server.addService(aggregatedDiscoveryService, {
    StreamAggregatedResources: adsStreamHandler(deps, 'sotw', (events, streamId) => new SotwStream(events, streamId)),
    DeltaAggregatedResources: adsStreamHandler(deps, 'delta', (events, streamId) => new DeltaStream(events, streamId)),
  });
  server.addService(loadReportingService, { StreamLoadStats: loadStatsHandler(reportingDeps) });
  server.addService(metricsService, { StreamMetrics: streamMetricsHandler(reportingDeps) });
  const admin = await startAdmin({ host: options.host, port: options.adminPort, ready: () => serving, metrics: metrics.registry });
  let port: number;
  try {
    port = await bind(server, hostPort(options.host, options.port), credentials);
  } catch (error) {
    await admin.close();
    if (credentials instanceof RelayTlsCredentials) credentials.close();
    throw error;
  }
  serving = true;
  const adsAddress = hostPort(options.host, port);
  logger.info('relay listening', {
    ads: adsAddress,
    admin: admin.url,
    relay: deps.relayId,
    pollIntervalMs: options.pollIntervalMs,
    tls: options.tls ? (options.tls.clientCaFile ? 'mtls' : 'tls') : 'off',
    token: access.bearerToken !== undefined,
    accessKeys: keys !== undefined,
    syncStatus: options.syncStatus !== undefined,
    loadReportIntervalMs,
    trafficTable: options.telemetry?.store !== undefined,
    ...(keys ? { keyRecheckMs } : {}),
  });
  const keyRecheck = keys && startKeyRecheck(keys, keyRecheckMs, () => [...streams, ...reportingStreams], metrics, logger);

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    serving = false;
    keyRecheck?.stop();
    // tryShutdown stops accepting and sends every connection a GOAWAY, then waits for open
    // calls; ADS streams never end on their own, so end them with OK (proxies reconnect, to
    // another replica behind the load balancer).
    const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    for (const stream of [...streams]) stream.end();
    for (const stream of [...reportingStreams]) stream.end();
    const grace = new Promise<'timeout'>((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS, 'timeout').unref());
    if ((await Promise.race([drained, grace])) === 'timeout') {
      logger.warn('streams did not drain in time; closing them', { open: streams.size });
      server.forceShutdown();
    }
    source.close();
    if (credentials instanceof RelayTlsCredentials) credentials.close();
    // Every open window, written once more (within the grace) before the process goes.
    await Promise.race([traffic.close(), new Promise((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref())]);
    // The streams' items were deleted as they ended; let those deletes land, within the grace.
    if (syncStatus) await Promise.race([syncStatus.close(), new Promise((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref())]);
    await admin.close();
    logger.info('relay stopped');
  }

  return {
    adsAddress,
    adminUrl: admin.url,
    close: () => (closing ??= close()),
  };
}

/**
 * Every `intervalMs`, reads once each distinct access key that granted an open stream, and ends
 * the streams (ADS and reporting) of keys now missing or not Active (see AdsStreamHandle.refuse). A key that cannot
 * be read keeps its streams (availability over a transient error): counted, and logged once per
 * outage. A round still running when the next is due makes that tick a no-op.
 */
function startKeyRecheck(
  keys: AccessKeyCheck,
  intervalMs: number,
  openStreams: () => Pick<AdsStreamHandle, 'accessKeyId' | 'refuse'>[],
  metrics: RelayMetrics,
  logger: Logger,
): { stop(): void } {
  let running = false;
  let stopped = false;
  let failing = false;

  async function recheck(): Promise<void> {
    const ids = new Set<string>();
    for (const stream of openStreams()) if (stream.accessKeyId !== undefined) ids.add(stream.accessKeyId);
    if (ids.size === 0) return;
    const { revoked, unreadable } = await revokedKeys(keys, ids);
    if (stopped) return;
    if (unreadable.size > 0) {
      metrics.keyRecheckErrors.inc({}, unreadable.size);
      if (!failing) {
        const [error] = unreadable.values();
        logger.warn('access keys unreadable; streams they granted are kept until they can be rechecked', { keys: unreadable.size, error });
      }
      failing = true;
    } else if (failing) {
      logger.info('access keys readable again', { keys: ids.size });
      failing = false;
    }
    if (revoked.size === 0) return;
    // Streams opened since the reads are included: a revoked key is never Active again.
    for (const stream of openStreams()) {
      if (stream.accessKeyId !== undefined && revoked.has(stream.accessKeyId)) stream.refuse(keyRevoked(stream.accessKeyId));
    }
  }

  const timer = setInterval(() => {
    if (running) return;
    running = true;
    recheck()
      .catch((error: unknown) => logger.error('access key recheck failed', { error }))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  // Never what keeps the process alive.
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}

/** A sync status writer whose outcomes are counted, and whose failures are logged once per outage. */
function syncStatusWriter(options: SyncStatusOptions, metrics: RelayMetrics, logger: Logger): SyncStatusWriter {
  let failing = false;
  return new SyncStatusWriter({
    client: options.client,
    tableName: options.tableName,
    minIntervalMs: options.minIntervalMs,
    ttlSeconds: options.ttlSeconds,
    onWrite: () => {
      metrics.syncStatusWrites.inc();
      if (failing) logger.info('sync status writable again', { table: options.tableName });
      failing = false;
    },
    onError: (error) => {
      metrics.syncStatusErrors.inc();
      if (!failing) logger.warn('sync status write failed; proxies are still served', { table: options.tableName, error });
      failing = true;
    },
  });
}

/** The gauges read from the open streams and the snapshot source at scrape time. */
function registerGauges(registry: MetricsRegistry, streams: Set<AdsStreamHandle>, source: BucketSnapshotSource): void {
  registry.gauge('meshline_relay_streams', 'Open ADS streams of connected proxies, by mesh and protocol (sotw, delta).', () => {
    const counts = new Map<string, Sample>();
    for (const { proxy, protocol } of streams) {
      if (!proxy) continue;
      const key = `${proxy.mesh}\n${protocol}`;
      const sample = counts.get(key) ?? { labels: { mesh: proxy.mesh, protocol }, value: 0 };
      sample.value += 1;
      counts.set(key, sample);
    }
    return [...counts.values()];
  });
  registry.gauge('meshline_relay_proxies', 'Distinct proxies (node ids) with at least one open stream, by mesh.', () => {
    const proxies = new Map<string, Set<string>>();
    for (const { proxy } of streams) {
      if (!proxy) continue;
      let set = proxies.get(proxy.mesh);
      if (!set) proxies.set(proxy.mesh, (set = new Set()));
      set.add(proxyKey(proxy));
    }
    return [...proxies].map(([mesh, set]) => ({ labels: { mesh }, value: set.size }));
  });
  registry.gauge(
    'meshline_relay_rejecting_streams',
    'Streams whose latest answered response of a type was NACKed (the proxy runs older config), by mesh and type.',
    () => {
      const samples: Sample[] = [];
      const counts = new Map<string, Sample>();
      for (const { proxy, rejected } of streams) {
        if (!proxy || rejected === 0) continue;
        for (const typeUrl of RESOURCE_TYPE_URLS) {
          if ((rejected & typeBit(typeUrl)) === 0) continue;
          const key = `${proxy.mesh}\n${typeUrl}`;
          let sample = counts.get(key);
          if (!sample) {
            sample = { labels: { mesh: proxy.mesh, type: SHORT_NAMES[typeUrl] }, value: 0 };
            counts.set(key, sample);
            samples.push(sample);
          }
          sample.value += 1;
        }
      }
      return samples;
    },
  );
  registry.gauge(
    'meshline_relay_served_snapshot_age_seconds',
    'Seconds since the oldest served snapshot of a mesh was last confirmed current by its manifest; grows while S3 fails or a newer snapshot cannot be loaded.',
    () => source.snapshotAges(),
  );
}
