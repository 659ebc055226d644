/**
 * `npm run bench -- compile`: the compiler at scale. A mesh of 1,000 virtual nodes, 1,000
 * virtual services (each provided by its own virtual router), 1,000 routers with 2,000 routes
 * (a weighted split and a catch-all each), every node with 10 backends. Measures
 *   (a) a full compile and encode of every proxy: time and peak memory;
 *   (b) one route weight change, compiled incrementally: time, proxies recompiled, proxies
 *       whose snapshot changed, bytes they write (snapshot + JSON twin);
 *   (c) the same two through publishMesh against an S3 emulator (s3rver in this process).
 * Each figure is the median of a few runs; the first run warms the JIT and is not counted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { affectedProxies, compileMesh, indexMesh, type MeshOutput } from '../../shared/compiler/index.js';
import { publishMesh } from '../../shared/mesh/publish.js';
import { createS3Client } from '../../shared/store/clients.js';
import type { MeshRepository, StoredResource } from '../../shared/store/repository.js';
import { serializeSnapshot, SnapshotStore } from '../../shared/store/snapshots.js';
import { createStackLog } from '../../scripts/local-stack/log.js';
import { ensureBucket, S3RVER_CREDENTIALS, startS3rver } from '../../scripts/local-stack/s3.js';

const NODES = 1_000;
const BACKENDS = 10;
const MESH = 'bench';
const RUNS = 3;

function resource(kind: StoredResource['kind'], name: string, spec: unknown, parentName?: string): StoredResource {
  return {
    kind,
    meshName: MESH,
    name,
    parentName,
    spec,
    tags: [],
    arn: `arn:aws:appmesh:us-east-1:111122223333:mesh/${MESH}/${kind}/${name}`,
    uid: '00000000-0000-0000-0000-000000000000',
    version: 1,
    createdAt: 0,
    lastUpdatedAt: 0,
    meshOwner: '111122223333',
    resourceOwner: '111122223333',
  };
}

/** The benchmark mesh; `weight` is the first target's weight in route `split` of router 42. */
export function benchMesh(weight = 50): StoredResource[] {
  const items = [resource('mesh', MESH, {})];
  for (let i = 0; i < NODES; i++) {
    const ip = `10.${Math.floor(i / 250)}.${i % 250}.1`;
    items.push(
      resource('virtualNode', `node-${i}`, {
        listeners: [{ portMapping: { port: 8080, protocol: 'http' }, healthCheck: { protocol: 'http', path: '/ping', healthyThreshold: 2, unhealthyThreshold: 2, timeoutMillis: 2000, intervalMillis: 5000 } }],
        serviceDiscovery: { dns: { hostname: ip } },
        backends: Array.from({ length: BACKENDS }, (_, b) => ({ virtualService: { virtualServiceName: `service-${(i + b + 1) % NODES}.bench.local` } })),
      }),
      resource('virtualRouter', `router-${i}`, { listeners: [{ portMapping: { port: 8080, protocol: 'http' } }] }),
      resource('virtualService', `service-${i}.bench.local`, { provider: { virtualRouter: { virtualRouterName: `router-${i}` } } }),
      resource('route', 'split', {
        priority: 1,
        httpRoute: {
          match: { prefix: '/api', headers: [{ name: 'x-canary', match: { exact: 'true' } }] },
          action: { weightedTargets: [{ virtualNode: `node-${i}`, weight: i === 42 ? weight : 50 }, { virtualNode: `node-${(i + 500) % NODES}`, weight: 50 }] },
          retryPolicy: { maxRetries: 3, perRetryTimeout: { value: 2, unit: 's' }, httpRetryEvents: ['server-error'], tcpRetryEvents: ['connection-error'] },
        },
      }, `router-${i}`),
      resource('route', 'default', { priority: 2, httpRoute: { match: { prefix: '/' }, action: { weightedTargets: [{ virtualNode: `node-${i}`, weight: 1 }] } } }, `router-${i}`),
    );
  }
  return items;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

function versions(output: MeshOutput): Map<string, string> {
  return new Map([...output].map(([k, o]) => [k, 'error' in o ? `error: ${o.error}` : o.snapshot.version]));
}

function time<T>(f: () => T): [T, number] {
  const start = performance.now();
  const value = f();
  return [value, performance.now() - start];
}

interface Incremental {
  ms: number;
  recompiled: number;
  changed: number;
  bytes: number;
}

/** One route weight change, compiled as the stream-triggered compile does it. */
function incrementalChange(before: Map<string, string>, weight: number): Incremental {
  const items = benchMesh(weight);
  const start = performance.now();
  const state = indexMesh(items);
  if (!state) throw new Error('no mesh');
  const affected = affectedProxies(state, [{ kind: 'route', parentName: 'router-42', name: 'split' }]);
  if (affected === 'all') throw new Error('a route change must not recompile everything');
  const output = compileMesh(state, { only: affected });
  const changed = [...output].filter(([k, o]) => !('error' in o) && o.snapshot.version !== before.get(k));
  const bytes = changed.reduce((sum, [, o]) => ('error' in o ? sum : sum + serializeSnapshot(o.snapshot).length + JSON.stringify(o.twin, null, 2).length), 0);
  const ms = performance.now() - start;
  return { ms, recompiled: output.size, changed: changed.length, bytes };
}

async function publishPath(): Promise<void> {
  const directory = mkdtempSync(join(tmpdir(), 'meshline-bench-s3-'));
  const log = createStackLog(join(directory, 'stack.log'), true);
  const s3server = await startS3rver(log, { directory, port: 0 });
  const s3 = createS3Client({ region: 'us-east-1', s3Endpoint: s3server.endpoint, s3Credentials: S3RVER_CREDENTIALS });
  try {
    await ensureBucket(s3, 'bench', log);
    const snapshots = new SnapshotStore(s3, 'bench');
    let items = benchMesh(50);
    const repository = { loadMesh: async () => items } as unknown as MeshRepository;
    const [full, fullMs] = await timeAsync(() => publishMesh({ repository, snapshots }, MESH));
    const runs: { ms: number; compiled: number; written: number }[] = [];
    for (let run = 0; run <= RUNS; run++) {
      items = benchMesh(run % 2 === 0 ? 20 : 80);
      const [result, ms] = await timeAsync(() => publishMesh({ repository, snapshots }, MESH, { changes: [{ kind: 'route', parentName: 'router-42', name: 'split' }] }));
      if (run > 0) runs.push({ ms, compiled: result.compiled, written: result.written });
    }
    console.log(`(c) publishMesh to s3rver, full:        ${fullMs.toFixed(0)} ms, ${full.compiled} proxies compiled, ${full.written} snapshots written`);
    console.log(
      `(c) publishMesh to s3rver, one change:  median ${median(runs.map((r) => r.ms)).toFixed(0)} ms, ${runs[0]?.compiled} proxies compiled, ${runs[0]?.written} snapshots written (runs ${runs.map((r) => r.ms.toFixed(0)).join(', ')} ms)`,
    );
  } finally {
    s3.destroy();
    await s3server.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

async function timeAsync<T>(f: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await f();
  return [value, performance.now() - start];
}

export async function run(): Promise<void> {
  // Node 20 is supported on purpose (ARCHITECTURE.md); the SDK's notice is noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const items = benchMesh(50);
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item.kind, (counts.get(item.kind) ?? 0) + 1);
  console.log(`mesh: ${[...counts].map(([k, n]) => `${n} ${k}`).join(', ')}; ${BACKENDS} backends per node`);

  const rssBefore = process.memoryUsage().rss;
  const fullTimes: number[] = [];
  let output: MeshOutput = new Map();
  let cold = 0;
  for (let run = 0; run <= RUNS; run++) {
    const [compiled, ms] = time(() => compileMesh(indexMesh(items)!));
    output = compiled;
    if (run > 0) fullTimes.push(ms);
    else cold = ms;
  }
  const peakRss = process.resourceUsage().maxRSS * 1024;
  const errors = [...output.values()].filter((o) => 'error' in o).length;
  let resources = 0;
  let bytes = 0;
  for (const outcome of output.values()) {
    if ('error' in outcome) continue;
    for (const list of Object.values(outcome.snapshot.resources)) {
      resources += list.length;
      for (const r of list) bytes += r.value.length;
    }
  }
  console.log(
    `(a) full compile + encode: median ${median(fullTimes).toFixed(0)} ms (runs ${fullTimes.map((t) => t.toFixed(0)).join(', ')} ms; cold first run with proto loading ${cold.toFixed(0)} ms); ` +
      `${output.size} proxies, ${errors} errors, ${resources} resources, ${mib(bytes)} encoded; peak RSS ${mib(peakRss)} (before ${mib(rssBefore)})`,
  );

  const before = versions(output);
  const changes: Incremental[] = [];
  for (let run = 0; run <= RUNS; run++) changes.push(incrementalChange(before, run % 2 === 0 ? 20 : 80));
  const counted = changes.slice(1);
  const first = counted[0];
  console.log(
    `(b) one route weight change: median ${median(counted.map((c) => c.ms)).toFixed(0)} ms (runs ${counted.map((c) => c.ms.toFixed(0)).join(', ')} ms); ` +
      `${first?.recompiled} proxies recompiled, ${first?.changed} changed, ${((first?.bytes ?? 0) / 1024).toFixed(0)} KiB to write`,
  );

  await publishPath();
}
