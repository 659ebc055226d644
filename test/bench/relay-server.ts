/**
 * The server process of the relay benchmark (forked by relay.ts): either the relay over an
 * in-memory bucket, or a bare @grpc/grpc-js server with no protocol logic that writes the same
 * pre-encoded bytes. Each runs alone in a fresh process, so its memory and CPU are its own.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../relay/log.js';
import { ALL, prepare, selectionOf } from '../../relay/prepared.js';
import { STREAM_AGGREGATED_RESOURCES, withNonce } from '../../relay/protocol.js';
import { encodeLoadStatsResponse, loadReportingService } from '../../relay/lrs.js';
import { startRelay } from '../../relay/server.js';
import type { SnapshotReader } from '../../relay/snapshot-source.js';
import { createDocumentClient } from '../../shared/store/clients.js';
import type { Manifest, ManifestEntry, Snapshot } from '../../shared/store/snapshots.js';
import { TrafficStore } from '../../shared/store/traffic.js';
import { proxyKey } from '../../shared/xds/node-id.js';
import { ENDPOINT, RESOURCE_TYPE_URLS, ROUTE, type ResourceTypeUrl } from '../../shared/xds/type-urls.js';
import { MESH, proxyAt, serviceNames, snapshotOf, wallClock, type FleetSize } from './relay-fleet.js';

export type ServerKind = 'relay' | 'bare';

export type ServerCommand =
  | { type: 'start'; kind: ServerKind; size: FleetSize; telemetry?: BenchTelemetry }
  /** Memory (after a forced GC when `gc`) and CPU used so far. */
  | { type: 'sample'; gc: boolean }
  | { type: 'push'; round: number }
  | { type: 'stop' };

/** The relay's telemetry in the telemetry benchmark: a real traffic table in DynamoDB Local. */
export interface BenchTelemetry {
  dynamodbEndpoint: string;
  tableName: string;
  windowSeconds: number;
  loadReportIntervalMs: number;
}

export type ServerReport =
  | { type: 'started'; address: string }
  | { type: 'sample'; heap: number; rss: number; cpuMs: number }
  | { type: 'pushed'; startedAt: number }
  | { type: 'failed'; message: string };

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const quiet: Logger = {
  debug: () => {},
  info: () => {},
  warn: (msg, fields) => console.error('relay warn:', msg, fields),
  error: (msg, fields) => console.error('relay error:', msg, fields),
};

function reply(report: ServerReport): void {
  process.send?.(report);
}

/**
 * The bucket in memory: one mesh manifest per generation, every snapshot encoded before
 * anything is measured. Records when the relay's conditional GET returns a changed manifest:
 * the start of a push.
 */
class MemoryBucket implements SnapshotReader {
  private current = 0;
  private etag = 0;
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly generations: Manifest[] = [];
  changeSeenAt = 0;

  constructor(size: FleetSize) {
    for (let generation = 0; generation <= size.rounds; generation++) {
      const proxies: Record<string, ManifestEntry> = {};
      for (let i = 0; i < size.proxies; i++) {
        const snapshot = snapshotOf(size, i, generation);
        const key = `snapshots/${MESH}/node-${i}-${snapshot.version}.json`;
        this.snapshots.set(key, snapshot);
        proxies[proxyKey(proxyAt(i))] = { key, version: snapshot.version, sha256: snapshot.version };
      }
      this.generations.push({ mesh: MESH, proxies, errors: {} });
    }
  }

  publish(generation: number): void {
    this.current = generation;
    this.etag += 1;
  }

  async getManifestIfChanged(_mesh: string, etag: string | undefined): ReturnType<SnapshotReader['getManifestIfChanged']> {
    if (etag === String(this.etag)) return { status: 'unchanged' };
    this.changeSeenAt = wallClock();
    return { status: 'found', manifest: this.generations[this.current] as Manifest, etag: String(this.etag) };
  }

  async getSnapshot(entry: ManifestEntry): Promise<Snapshot> {
    const snapshot = this.snapshots.get(entry.key);
    if (!snapshot) throw new Error(`no snapshot ${entry.key}`);
    return snapshot;
  }
}

interface Server {
  address: string;
  /** Starts the push of a round; resolves with its start (wall clock). */
  push(round: number): Promise<number>;
}

async function relayServer(size: FleetSize, telemetry: BenchTelemetry | undefined): Promise<Server> {
  const bucket = new MemoryBucket(size);
  bucket.publish(0);
  const relay = await startRelay({
    store: bucket,
    host: '127.0.0.1',
    port: 0,
    adminPort: 0,
    pollIntervalMs: 20,
    logger: quiet,
    ...(telemetry
      ? {
          telemetry: {
            windowSeconds: telemetry.windowSeconds,
            loadReportIntervalMs: telemetry.loadReportIntervalMs,
            store: new TrafficStore(
              createDocumentClient({ region: 'us-east-1', dynamodbEndpoint: telemetry.dynamodbEndpoint, dynamodbCredentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } }),
              telemetry.tableName,
            ),
          },
        }
      : {}),
  });
  return {
    address: relay.adsAddress,
    async push(round) {
      const seen = bucket.changeSeenAt;
      bucket.publish(round);
      // The push starts when the relay's poll reads the changed manifest (within 20 ms).
      while (bucket.changeSeenAt === seen) await new Promise((resolve) => setTimeout(resolve, 1));
      return bucket.changeSeenAt;
    },
  };
}

async function bareServer(size: FleetSize, telemetry: BenchTelemetry | undefined): Promise<Server> {
  const named = selectionOf(false, serviceNames(size));
  const bytesOf = (index: number, generation: number, typeUrl: ResourceTypeUrl) =>
    withNonce(prepare(snapshotOf(size, index, generation), typeUrl, typeUrl === ENDPOINT || typeUrl === ROUTE ? named : ALL).sotwBody(), `bare-${generation}`);
  const initial = Array.from({ length: size.proxies }, (_, i) => RESOURCE_TYPE_URLS.map((typeUrl) => bytesOf(i, 0, typeUrl)));
  const pushes = Array.from({ length: size.rounds + 1 }, (_, round) => Array.from({ length: size.proxies }, (_, i) => bytesOf(i, round, ENDPOINT)));
  const calls: { call: grpc.ServerDuplexStream<Buffer, Buffer>; proxy: number }[] = [];
  const identity = (bytes: Buffer) => bytes;
  const server = new grpc.Server();
  server.addService(
    {
      StreamAggregatedResources: {
        path: STREAM_AGGREGATED_RESOURCES,
        requestStream: true,
        responseStream: true,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      },
    },
    {
      StreamAggregatedResources(call: grpc.ServerDuplexStream<Buffer, Buffer>) {
        // The load opens stream s for proxy s % proxies, in order per connection; which proxy's
        // bytes a stream gets does not change the work.
        const proxy = calls.length % size.proxies;
        calls.push({ call, proxy });
        call.on('data', () => {});
        call.on('error', () => {});
        for (const bytes of initial[proxy] ?? []) call.write(bytes);
      },
    },
  );
  // The floor of load reporting: the LRS stream of each proxy, answered with the interval as the
  // relay answers it, and every report read and dropped.
  if (telemetry) {
    const response = encodeLoadStatsResponse(telemetry.loadReportIntervalMs);
    server.addService(loadReportingService, {
      StreamLoadStats(call: grpc.ServerDuplexStream<Buffer, Buffer>) {
        call.once('data', () => call.write(response));
        call.on('data', () => {});
        call.on('error', () => {});
      },
    });
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return {
    address: `127.0.0.1:${port}`,
    async push(round) {
      const startedAt = wallClock();
      const bytes = pushes[round] ?? [];
      for (const { call, proxy } of calls) call.write(bytes[proxy] as Buffer);
      return startedAt;
    },
  };
}

let server: Server | undefined;

process.on('message', (command: ServerCommand) => {
  void (async () => {
    if (command.type === 'start') {
      server = command.kind === 'relay' ? await relayServer(command.size, command.telemetry) : await bareServer(command.size, command.telemetry);
      reply({ type: 'started', address: server.address });
    } else if (command.type === 'sample') {
      // CPU is read first, so a forced GC is not counted in it.
      const cpu = process.cpuUsage();
      if (command.gc) {
        gc();
        gc();
      }
      const usage = process.memoryUsage();
      reply({ type: 'sample', heap: usage.heapUsed + usage.external, rss: usage.rss, cpuMs: (cpu.user + cpu.system) / 1000 });
    } else if (command.type === 'push') {
      if (!server) throw new Error('not started');
      reply({ type: 'pushed', startedAt: await server.push(command.round) });
    } else {
      // A normal exit, so a --cpu-prof profile is written.
      process.disconnect();
      process.exitCode = 0;
      setImmediate(() => process.exit(0));
    }
  })().catch((error: unknown) => reply({ type: 'failed', message: error instanceof Error ? error.stack ?? error.message : String(error) }));
});
