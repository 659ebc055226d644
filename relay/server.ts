import * as grpc from '@grpc/grpc-js';
import type { SnapshotStore } from '../shared/store/snapshots.js';
import { hostPort, startAdmin } from './admin.js';
import { adsStreamHandler, type AdsStreamHandle } from './ads.js';
import { jsonLogger, type Logger } from './log.js';
import { createRelayMetrics, type Sample } from './metrics.js';
import { aggregatedDiscoveryService } from './protocol.js';
import { BucketSnapshotSource } from './snapshot-source.js';
import { SotwStream } from './sotw.js';

export interface RelayOptions {
  store: SnapshotStore;
  host: string;
  /** The ADS port; 0 picks a free one. */
  port: number;
  /** The admin HTTP port (/healthz, /readyz, /metrics); 0 picks a free one. */
  adminPort: number;
  /** How often the manifest of each mesh with connected proxies is checked. */
  pollIntervalMs: number;
  /** Structured logs; JSON lines on stderr by default. */
  logger?: Logger;
}

export interface Relay {
  /** `host:port` of the ADS gRPC server (a target for grpc-js and a bootstrap `server_uri`). */
  adsAddress: string;
  /** `http://host:port` of the admin server. */
  adminUrl: string;
  /** Stops accepting streams, ends the open ones, stops watching S3. */
  close(): Promise<void>;
}

/** How long close() lets streams drain before cutting them. */
const SHUTDOWN_GRACE_MS = 5_000;

/**
 * ADS streams live as long as their proxy. Behind a load balancer, replicas added later would
 * get no proxies, so connections are recycled (grpc-js adds +-10% jitter; the grace lets a
 * stream finish before it is cut and the proxy reconnects, wherever the balancer sends it).
 * Keepalive pings keep idle streams through balancer idle timeouts and find dead peers.
 */
const SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.max_connection_age_ms': 30 * 60_000,
  'grpc.max_connection_age_grace_ms': 60_000,
  'grpc.keepalive_time_ms': 60_000,
  'grpc.keepalive_timeout_ms': 20_000,
};

function bind(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port)));
  });
}

/**
 * Starts the xDS relay: a gRPC ADS server (state of the world) serving each proxy its own
 * snapshot from the bucket, and an admin HTTP server.
 */
export async function startRelay(options: RelayOptions): Promise<Relay> {
  const logger = options.logger ?? jsonLogger();
  const metrics = createRelayMetrics();
  const source = new BucketSnapshotSource({ store: options.store, pollIntervalMs: options.pollIntervalMs, logger, metrics });
  const streams = new Set<AdsStreamHandle>();
  let serving = false;

  metrics.registry.gauge('meshline_relay_streams', 'Open ADS streams of connected proxies, by mesh.', () => streamsPerMesh(streams));
  metrics.registry.gauge(
    'meshline_relay_served_snapshot_age_seconds',
    'Seconds since the oldest served snapshot of a mesh was last confirmed current by its manifest; grows while S3 fails or a newer snapshot cannot be loaded.',
    () => source.snapshotAges(),
  );

  const server = new grpc.Server(SERVER_OPTIONS);
  const deps = { source, logger, metrics, streams };
  // DeltaAggregatedResources goes here beside it, with its own state machine. Until then
  // grpc-js answers it UNIMPLEMENTED: Envoy must use `api_type: GRPC`, not `DELTA_GRPC`.
  server.addService(aggregatedDiscoveryService, {
    StreamAggregatedResources: adsStreamHandler(deps, (events, streamId) => new SotwStream(events, streamId)),
  });
  const admin = await startAdmin({ host: options.host, port: options.adminPort, ready: () => serving, metrics: metrics.registry });
  let port: number;
  try {
    port = await bind(server, hostPort(options.host, options.port));
  } catch (error) {
    await admin.close();
    throw error;
  }
  serving = true;
  const adsAddress = hostPort(options.host, port);
  logger.info('relay listening', { ads: adsAddress, admin: admin.url, pollIntervalMs: options.pollIntervalMs });

  let closing: Promise<void> | undefined;
  async function close(): Promise<void> {
    serving = false;
    // tryShutdown stops accepting and waits for open calls; ADS streams never end on their
    // own, so end them (proxies reconnect, to another replica behind the load balancer).
    const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    for (const stream of [...streams]) stream.end();
    const grace = new Promise<'timeout'>((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS, 'timeout').unref());
    if ((await Promise.race([drained, grace])) === 'timeout') {
      logger.warn('streams did not drain in time; closing them', { open: streams.size });
      server.forceShutdown();
    }
    source.close();
    await admin.close();
    logger.info('relay stopped');
  }

  return {
    adsAddress,
    adminUrl: admin.url,
    close: () => (closing ??= close()),
  };
}

function streamsPerMesh(streams: Set<AdsStreamHandle>): Sample[] {
  const counts = new Map<string, number>();
  for (const { proxy } of streams) if (proxy) counts.set(proxy.mesh, (counts.get(proxy.mesh) ?? 0) + 1);
  return [...counts].map(([mesh, value]) => ({ labels: { mesh }, value }));
}
