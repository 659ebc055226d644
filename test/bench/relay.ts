/**
 * `npm run bench -- relay`: the relay under a fleet of state-of-the-world streams.
 *
 * Three kinds of process: the server (relay-server.ts: the relay over an in-memory bucket, so
 * S3's latency is not what is measured), the load (relay-load.ts: several processes, each
 * with its own HTTP/2 connections), and this one, which drives them. 10,000 streams by
 * default, of 100 proxies (a proxy's replicas share its node id, as under App Mesh), each
 * subscribed like Envoy and ACKing every response.
 *
 * Measured on the server process: memory per idle stream (heap + external, and RSS, after a
 * forced GC, before and after opening the streams), CPU while opening them, while idle and
 * per push; and the time from the relay reading a changed manifest (every proxy's endpoints
 * moved) until the last stream has the change. In the same run, a bare @grpc/grpc-js server
 * with no protocol logic, with as many streams of its own load processes, writes the same
 * bytes; the pushes of the two alternate, and the relay's fan-out time is reported as a ratio
 * to the bare server's (the median of the per-round ratios).
 *
 * Options (environment): RELAY_BENCH_STREAMS (10000), RELAY_BENCH_PROXIES (100),
 * RELAY_BENCH_SERVICES (10 per proxy), RELAY_BENCH_WORKERS (4 load processes),
 * RELAY_BENCH_CONNECTIONS (100 in all), RELAY_BENCH_ROUNDS (7 pushes each). Every phase is
 * bounded in time; nothing is asserted (see the targets printed at the end).
 * RELAY_BENCH_PROFILE=<dir> writes a CPU profile of each server process to <dir>.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RESOURCE_TYPE_URLS } from '../../shared/xds/type-urls.js';
import { nodeIdAt, serviceNames, type FleetSize } from './relay-fleet.js';
import type { LoadCommand, LoadReport } from './relay-load.js';
import type { ServerCommand, ServerKind, ServerReport } from './relay-server.js';

const env = process.env;
const SIZE: FleetSize = {
  streams: Number(env.RELAY_BENCH_STREAMS ?? 10_000),
  proxies: Number(env.RELAY_BENCH_PROXIES ?? 100),
  services: Number(env.RELAY_BENCH_SERVICES ?? 10),
  rounds: Number(env.RELAY_BENCH_ROUNDS ?? 7),
};
const WORKERS = Number(env.RELAY_BENCH_WORKERS ?? 4);
const CONNECTIONS = Number(env.RELAY_BENCH_CONNECTIONS ?? 100);
const PHASE_TIMEOUT_MS = 180_000;
const IDLE_MS = 3_000;

export function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${PHASE_TIMEOUT_MS} ms waiting for ${what}`)), PHASE_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Forks a TypeScript module; RELAY_BENCH_PROFILE=<dir> writes a CPU profile of each server process there. */
export function forkTs(file: string, profile = false): ChildProcess {
  const execArgv = ['--import', 'tsx', ...(profile && env.RELAY_BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${env.RELAY_BENCH_PROFILE}`] : [])];
  return fork(fileURLToPath(new URL(file, import.meta.url)), [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

/** Sends a command to a child and resolves with its next report of a type. */
export function ask<R extends { type: string }>(child: ChildProcess, command: object, type: R['type'], what: string): Promise<R> {
  const answer = new Promise<R>((resolve, reject) => {
    const onMessage = (report: R) => {
      if (report.type === 'failed') {
        child.off('message', onMessage);
        reject(new Error(`${what}: ${(report as unknown as { message: string }).message}`));
      } else if (report.type === type) {
        child.off('message', onMessage);
        resolve(report);
      }
    };
    child.on('message', onMessage);
  });
  child.send(command);
  return withTimeout(answer, what);
}

/** The load processes, driven as one. */
export class Load {
  readonly workers = Array.from({ length: WORKERS }, () => forkTs('./relay-load.ts'));

  constructor(private readonly size: FleetSize = SIZE) {
    for (const worker of this.workers) {
      worker.on('message', (report: LoadReport) => {
        if (report.type === 'failed') console.error(`load process: ${report.message}`);
      });
    }
  }

  /** Opens every stream to `address`, spread over workers and connections; resolves when all have their initial config. */
  async open(address: string): Promise<number> {
    const started = performance.now();
    await Promise.all(
      this.workers.map((worker, w) => {
        const nodeIds: string[] = [];
        for (let s = w; s < this.size.streams; s += WORKERS) nodeIds.push(nodeIdAt(s % this.size.proxies));
        const command: LoadCommand = {
          type: 'start',
          address,
          nodeIds,
          channels: Math.max(1, Math.round(CONNECTIONS / WORKERS)),
          names: serviceNames(this.size),
          initialResponses: RESOURCE_TYPE_URLS.length,
        };
        return ask<LoadReport>(worker, command, 'ready', 'the load to open its streams');
      }),
    );
    return performance.now() - started;
  }

  /** Arms every worker for a round, then returns when the last stream got its push (wall clock). */
  async arm(round: number): Promise<{ received: Promise<number> }> {
    const received = Promise.all(
      this.workers.map(
        (worker) =>
          new Promise<number>((resolve) => {
            const onMessage = (report: LoadReport) => {
              if (report.type === 'received' && report.round === round) {
                worker.off('message', onMessage);
                resolve(report.lastAt);
              }
            };
            worker.on('message', onMessage);
          }),
      ),
    );
    await Promise.all(this.workers.map((worker) => ask<LoadReport>(worker, { type: 'arm', round } satisfies LoadCommand, 'armed', 'the load to arm')));
    return { received: withTimeout(received, `round ${round} to reach every stream`).then((times) => Math.max(...times)) };
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((worker) => stopChild(worker, { type: 'stop' } satisfies LoadCommand)));
  }
}

export function stopChild(child: ChildProcess, command: object): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.send(command);
  });
}

interface OpenFigures {
  openMs: number;
  openCpuMs: number;
  perStreamHeap: number;
  perStreamRss: number;
  idleCpuPercent: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** One server kind in a fresh process, under its own load processes, its streams open. */
interface Session {
  kind: ServerKind;
  opened: OpenFigures;
  /** Pushes one change to every stream: the time until the last has it, and the server CPU spent. */
  push(round: number): Promise<{ fanOutMs: number; cpuMs: number }>;
  close(): Promise<void>;
}

async function openSession(kind: ServerKind): Promise<Session> {
  const server = forkTs('./relay-server.ts', true);
  const load = new Load();
  const sample = (gc: boolean) => ask<Extract<ServerReport, { type: 'sample' }>>(server, { type: 'sample', gc } satisfies ServerCommand, 'sample', 'a sample');
  const close = async () => {
    await load.stop();
    await stopChild(server, { type: 'stop' } satisfies ServerCommand);
  };
  try {
    const { address } = await ask<Extract<ServerReport, { type: 'started' }>>(server, { type: 'start', kind, size: SIZE } satisfies ServerCommand, 'started', `the ${kind} server`);
    const before = await sample(true);
    const openMs = await load.open(address);
    const after = await sample(true);
    const idleStart = await sample(false);
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const idleEnd = await sample(false);
    return {
      kind,
      opened: {
        openMs,
        openCpuMs: idleStart.cpuMs - before.cpuMs,
        perStreamHeap: (after.heap - before.heap) / SIZE.streams,
        perStreamRss: (after.rss - before.rss) / SIZE.streams,
        idleCpuPercent: ((idleEnd.cpuMs - idleStart.cpuMs) / IDLE_MS) * 100,
      },
      async push(round) {
        const { received } = await load.arm(round);
        const cpuBefore = await sample(false);
        const { startedAt } = await ask<Extract<ServerReport, { type: 'pushed' }>>(server, { type: 'push', round } satisfies ServerCommand, 'pushed', `push ${round}`);
        const last = await received;
        const cpuAfter = await sample(false);
        return { fanOutMs: last - startedAt, cpuMs: cpuAfter.cpuMs - cpuBefore.cpuMs };
      },
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KB`;
}

export async function run(): Promise<void> {
  console.log(
    `${SIZE.streams} state-of-the-world streams of ${SIZE.proxies} proxies (${SIZE.services} services each) per server, ` +
      `${WORKERS} load processes and ${CONNECTIONS} connections per server, ${SIZE.rounds} pushes each; each server in its own process`,
  );
  // The relay first, alone, then the bare server beside it (the relay's streams idle): each
  // one's memory is measured while it is the only one opening streams. The pushes then
  // alternate, so both see the same machine (shared machines vary by the second).
  const relay = await openSession('relay');
  let bare: Session | undefined;
  try {
    bare = await openSession('bare');
    const pushes: Record<ServerKind, { fanOutMs: number; cpuMs: number }[]> = { relay: [], bare: [] };
    for (let round = 1; round <= SIZE.rounds; round++) {
      for (const session of [relay, bare]) pushes[session.kind].push(await session.push(round));
    }
    report(relay.opened, bare.opened, pushes);
  } finally {
    await Promise.all([relay.close(), bare?.close()]);
  }
}

function report(relay: OpenFigures, bare: OpenFigures, pushes: Record<ServerKind, { fanOutMs: number; cpuMs: number }[]>): void {
  const fanOut = (kind: ServerKind) => pushes[kind].map((p) => p.fanOutMs);
  const cpu = (kind: ServerKind) => pushes[kind].map((p) => p.cpuMs);
  const ratios = pushes.relay.map((p, i) => p.fanOutMs / (pushes.bare[i]?.fanOutMs ?? Number.NaN));
  const ratio = median(ratios);
  const rows: [string, string, string][] = [
    ['open all streams (4 responses + 4 ACKs each)', `${relay.openMs.toFixed(0)} ms`, `${bare.openMs.toFixed(0)} ms`],
    ['  server CPU meanwhile', `${relay.openCpuMs.toFixed(0)} ms`, `${bare.openCpuMs.toFixed(0)} ms`],
    ['memory per idle stream, heap + external', kb(relay.perStreamHeap), kb(bare.perStreamHeap)],
    ['memory per idle stream, RSS', kb(relay.perStreamRss), kb(bare.perStreamRss)],
    [`server CPU while idle (${IDLE_MS / 1000} s)`, `${relay.idleCpuPercent.toFixed(1)} % of a core`, `${bare.idleCpuPercent.toFixed(1)} % of a core`],
    ['push one change to every stream, median', `${median(fanOut('relay')).toFixed(0)} ms`, `${median(fanOut('bare')).toFixed(0)} ms`],
    ['  each round', fanOut('relay').map((v) => v.toFixed(0)).join(', '), fanOut('bare').map((v) => v.toFixed(0)).join(', ')],
    ['  server CPU per push, median', `${median(cpu('relay')).toFixed(0)} ms`, `${median(cpu('bare')).toFixed(0)} ms`],
  ];
  console.log(`${''.padEnd(46)} ${'relay'.padStart(30)} ${'bare grpc-js'.padStart(30)}`);
  for (const [label, a, b] of rows) console.log(`${label.padEnd(46)} ${a.padStart(30)} ${b.padStart(30)}`);
  console.log(`relay fan-out / bare fan-out, per round: ${ratios.map((r) => r.toFixed(2)).join(', ')}; median ${ratio.toFixed(2)}x`);
  console.log(`relay CPU / bare CPU per push (medians): ${(median(cpu('relay')) / median(cpu('bare'))).toFixed(2)}x`);
  const targets = [
    ['memory per idle stream <= 64 KB (RSS)', relay.perStreamRss <= 64 * 1024],
    ['fan-out to every stream within 2 s (median)', median(fanOut('relay')) <= 2_000],
    ['fan-out within 1.5x the bare server (median of per-round ratios)', ratio <= 1.5],
  ] as const;
  for (const [target, met] of targets) console.log(`${met ? 'met   ' : 'MISSED'} ${target}`);
}
