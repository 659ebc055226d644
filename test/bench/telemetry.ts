/**
 * `npm run bench -- telemetry`: what load reporting adds to a relay.
 *
 * The relay benchmark's fleet (relay.ts: 10,000 state-of-the-world streams of 100 proxies, 10
 * services each, in load processes) on one relay, in its own process, whose traffic table is a
 * real one in DynamoDB Local. First the streams are opened and left idle: the relay's CPU and
 * memory (after a forced GC) without reports. Then every ADS stream gets an LRS stream beside it,
 * for the same node, reporting on all 10 clusters every interval (10 s, the relay's default) as
 * a proxyless gRPC client does: the relay's CPU and memory again, and the writes it makes to the
 * traffic table per minute (items written over whole windows, counted in the table). The same
 * load then runs against a bare @grpc/grpc-js server that answers each LRS stream with the
 * interval and drops every report: the floor that grpc-js itself costs.
 *
 * Options (environment): as relay.ts (RELAY_BENCH_STREAMS, RELAY_BENCH_PROXIES,
 * RELAY_BENCH_SERVICES, RELAY_BENCH_WORKERS, RELAY_BENCH_CONNECTIONS), and
 * TELEMETRY_BENCH_WINDOW_SECONDS (60), TELEMETRY_BENCH_INTERVAL_MS (10000),
 * TELEMETRY_BENCH_WINDOWS (2 measured windows), TELEMETRY_BENCH_IDLE_MS (30000). Nothing is asserted; targets are printed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { assertDynamoDbLocalJar, ensureTrafficTable, startDynamoDbLocal } from '../../scripts/local-stack/dynamodb.js';
import { createStackLog } from '../../scripts/local-stack/log.js';
import { freePort, stopPart, type Part } from '../../scripts/local-stack/processes.js';
import { WINDOW_FLUSH_GRACE_MS } from '../../shared/store/traffic.js';
import { serviceNames, type FleetSize } from './relay-fleet.js';
import type { LoadCommand, LoadReport } from './relay-load.js';
import { ask, forkTs, Load, stopChild, withTimeout } from './relay.js';
import type { BenchTelemetry, ServerCommand, ServerKind, ServerReport } from './relay-server.js';

const env = process.env;
const SIZE: FleetSize = {
  streams: Number(env.RELAY_BENCH_STREAMS ?? 10_000),
  proxies: Number(env.RELAY_BENCH_PROXIES ?? 100),
  services: Number(env.RELAY_BENCH_SERVICES ?? 10),
  rounds: 0,
};
const WINDOW_SECONDS = Number(env.TELEMETRY_BENCH_WINDOW_SECONDS ?? 60);
const INTERVAL_MS = Number(env.TELEMETRY_BENCH_INTERVAL_MS ?? 10_000);
const MEASURED_WINDOWS = Number(env.TELEMETRY_BENCH_WINDOWS ?? 2);
const IDLE_MS = Number(env.TELEMETRY_BENCH_IDLE_MS ?? 30_000);
const TABLE = 'bench-traffic';

type Sample = Extract<ServerReport, { type: 'sample' }>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the next window boundary plus the relays' flush grace and a margin for the write. */
async function untilWindowWritten(): Promise<void> {
  const windowMs = WINDOW_SECONDS * 1000;
  const boundary = Math.ceil(Date.now() / windowMs) * windowMs;
  await sleep(boundary + WINDOW_FLUSH_GRACE_MS + 2_000 - Date.now());
}

async function itemCount(client: DynamoDBClient): Promise<number> {
  let count = 0;
  let startKey: Record<string, never> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: TABLE, Select: 'COUNT', ExclusiveStartKey: startKey }));
    count += page.Count ?? 0;
    startKey = page.LastEvaluatedKey as Record<string, never> | undefined;
  } while (startKey);
  return count;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

/** What one server did: CPU while its streams idled and while they reported, memory before and after. */
interface Figures {
  idleCpu: number;
  reportingCpu: number;
  quiet: Sample;
  busy: Sample;
  /** Items the server wrote to the traffic table per minute (the relay; 0 for the bare server). */
  writesPerMinute: number;
}

/**
 * One server kind in its own process under its own load: the ADS streams opened and idle, then
 * an LRS stream beside each, reporting; figures over whole windows.
 */
async function session(kind: ServerKind, telemetry: BenchTelemetry, client: DynamoDBClient): Promise<Figures> {
  const server = forkTs('./relay-server.ts', true);
  const load = new Load(SIZE);
  try {
    const sample = (gc: boolean) => ask<Sample>(server, { type: 'sample', gc } satisfies ServerCommand, 'sample', 'a sample');
    const { address } = await ask<Extract<ServerReport, { type: 'started' }>>(server, { type: 'start', kind, size: SIZE, telemetry } satisfies ServerCommand, 'started', `the ${kind} server`);
    await load.open(address);

    // Without reports: the streams idle.
    const quiet = await sample(true);
    const idleStart = await sample(false);
    await sleep(IDLE_MS);
    const idleEnd = await sample(false);

    // With reports: every stream's LRS stream open and reporting, then whole windows measured.
    const reporting = Promise.all(
      load.workers.map(
        (worker) =>
          new Promise<Extract<LoadReport, { type: 'reporting' }>>((resolve) => {
            const onMessage = (report: LoadReport) => {
              if (report.type !== 'reporting') return;
              worker.off('message', onMessage);
              resolve(report);
            };
            worker.on('message', onMessage);
            worker.send({ type: 'report', clusters: serviceNames(SIZE) } satisfies LoadCommand);
          }),
      ),
    );
    await withTimeout(reporting, 'every LRS stream to get its interval');
    // One whole interval, so every stream has sent its first report, then a window boundary.
    await sleep(INTERVAL_MS);
    await untilWindowWritten();
    const itemsBefore = await itemCount(client);
    const busyStart = await sample(false);
    const startedAt = Date.now();
    for (let w = 0; w < MEASURED_WINDOWS; w++) await untilWindowWritten();
    const busyEnd = await sample(false);
    const elapsed = Date.now() - startedAt;
    const itemsAfter = await itemCount(client);
    const busy = await sample(true);
    return {
      idleCpu: (idleEnd.cpuMs - idleStart.cpuMs) / IDLE_MS,
      reportingCpu: (busyEnd.cpuMs - busyStart.cpuMs) / elapsed,
      quiet,
      busy,
      writesPerMinute: ((itemsAfter - itemsBefore) / MEASURED_WINDOWS) * (60 / WINDOW_SECONDS),
    };
  } finally {
    await load.stop();
    await stopChild(server, { type: 'stop' } satisfies ServerCommand);
  }
}

const signed = (bytes: number) => `${bytes >= 0 ? '+' : ''}${mb(bytes)}`;
const percent = (share: number) => `${(share * 100).toFixed(1)} %`;

export async function run(): Promise<void> {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const jarDir = join(root, 'node_modules', '.cache', 'meshline', 'dynamodb-local');
  assertDynamoDbLocalJar(jarDir);
  const dataDir = mkdtempSync(join(tmpdir(), 'meshline-telemetry-bench-'));
  const log = createStackLog(join(dataDir, 'stack.log'), true);
  const parts: Part[] = [];
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
  try {
    await startDynamoDbLocal(log, parts, { dataDir, jarDir, port, dbPath: undefined, client });
    await ensureTrafficTable(client, TABLE, log);
    const reportsPerSecond = SIZE.streams / (INTERVAL_MS / 1000);
    console.log(
      `${SIZE.streams} state-of-the-world streams of ${SIZE.proxies} proxies (${SIZE.services} services each) per server; ` +
        `then one LRS stream beside each, reporting on every cluster every ${INTERVAL_MS / 1000} s (${reportsPerSecond} reports/s); ` +
        `windows of ${WINDOW_SECONDS} s into DynamoDB Local; the relay, then a bare grpc-js server that reads and drops the same reports`,
    );
    const telemetry: BenchTelemetry = { dynamodbEndpoint: endpoint, tableName: TABLE, windowSeconds: WINDOW_SECONDS, loadReportIntervalMs: INTERVAL_MS };
    const relay = await session('relay', telemetry, client);
    const bare = await session('bare', telemetry, client);
    const edges = SIZE.proxies * SIZE.services;
    const added = (f: Figures) => ({ cpu: f.reportingCpu - f.idleCpu, heap: f.busy.heap - f.quiet.heap, rss: f.busy.rss - f.quiet.rss });
    const [r, b] = [added(relay), added(bare)];
    const rows: [string, string, string][] = [
      ['CPU, streams idle (% of a core)', percent(relay.idleCpu), percent(bare.idleCpu)],
      [`CPU, reporting (${MEASURED_WINDOWS} windows)`, percent(relay.reportingCpu), percent(bare.reportingCpu)],
      ['  added by reporting', percent(r.cpu), percent(b.cpu)],
      ['memory after GC, heap + external, added by reporting', signed(r.heap), signed(b.heap)],
      ['memory, RSS, added by reporting', signed(r.rss), signed(b.rss)],
      [`writes to the traffic table per minute (${edges} edges)`, relay.writesPerMinute.toFixed(0), '-'],
    ];
    console.log(`${''.padEnd(56)} ${'relay'.padStart(14)} ${'bare grpc-js'.padStart(14)}`);
    for (const [label, a, c] of rows) console.log(`${label.padEnd(56)} ${a.padStart(14)} ${c.padStart(14)}`);
    console.log(`relay beyond the bare server: CPU ${percent(r.cpu - b.cpu)} of a core, heap + external ${signed(r.heap - b.heap)}`);
    const targets = [
      ['reporting adds at most 10 % of one core', r.cpu <= 0.1],
      ['reporting adds at most 16 MB (heap + external after GC)', r.heap <= 16 * 1024 * 1024],
      ['at most one write per edge per window', relay.writesPerMinute <= edges * (60 / WINDOW_SECONDS)],
    ] as const;
    for (const [target, met] of targets) console.log(`${met ? 'met   ' : 'MISSED'} ${target}`);
  } finally {
    for (const part of parts) await stopPart(part);
    client.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
