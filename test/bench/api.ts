/**
 * `npm run bench -- api`: the App Mesh API on the local stack (serverless-offline, DynamoDB
 * Local, the stream-triggered compile running beside it, as `npm start` runs them), driven with
 * @aws-sdk/client-app-mesh.
 *
 *   (a) latency, one client, one request at a time: p50 and p99 of CreateVirtualNode,
 *       DescribeVirtualNode, UpdateVirtualNode and ListVirtualNodes (a full page of 100);
 *   (b) sustained throughput with 16 concurrent clients for a fixed time, per operation and
 *       mixed (40% describe, 20% each of create, update, list), with p50/p99 under load;
 *   (c) the hot mesh item: every create in a mesh moves that mesh's counters (quotas, childCount)
 *       in its transaction, so 16 clients creating into one mesh are compared with 16 clients
 *       creating into 16 meshes, and the transaction conflicts the repository retried are
 *       counted from the stack's log.
 *
 * Errors are counted, not retried (the client makes one attempt). Figures only: benchmarks
 * never assert timings.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import {
  AppMeshClient,
  CreateMeshCommand,
  CreateVirtualNodeCommand,
  DescribeVirtualNodeCommand,
  ListVirtualNodesCommand,
  UpdateVirtualNodeCommand,
} from '@aws-sdk/client-app-mesh';
import { startLocalStack } from '../../scripts/local-stack/index.js';

const LATENCY_SAMPLES = 200;
const CLIENTS = 16;
const PHASE_MS = 8_000;

type Operation = (client: number, i: number) => Promise<unknown>;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function latencies(label: string, values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
  return `${label.padEnd(34)} p50 ${percentile(sorted, 50).toFixed(1).padStart(6)} ms   p99 ${percentile(sorted, 99).toFixed(1).padStart(6)} ms   mean ${mean.toFixed(1).padStart(6)} ms   n ${values.length}`;
}

async function timed(operation: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await operation();
  return performance.now() - start;
}

/** Runs `operation` from CLIENTS concurrent loops for PHASE_MS; requests per second, latencies and errors. */
async function sustained(label: string, operation: Operation): Promise<string> {
  const values: number[] = [];
  const errors = new Map<string, number>();
  const deadline = performance.now() + PHASE_MS;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const begin = performance.now();
        try {
          await operation(client, i);
          values.push(performance.now() - begin);
        } catch (error) {
          const name = (error as Error).name;
          errors.set(name, (errors.get(name) ?? 0) + 1);
        }
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const sorted = values.sort((a, b) => a - b);
  const failed = [...errors].map(([name, count]) => `${name} ${count}`).join(', ') || 'none';
  return `${label.padEnd(34)} ${(values.length / seconds).toFixed(0).padStart(5)} req/s   p50 ${percentile(sorted, 50).toFixed(1).padStart(6)} ms   p99 ${percentile(sorted, 99).toFixed(1).padStart(6)} ms   ok ${values.length}   errors: ${failed}`;
}

function conflictsLogged(logFile: string): number {
  return (readFileSync(logFile, 'utf8').match(/"msg":"transaction conflict"/g) ?? []).length;
}

const nodeSpec = (port: number) => ({
  listeners: [{ portMapping: { port, protocol: 'http' as const } }],
  serviceDiscovery: { dns: { hostname: 'app.bench.local' } },
  backends: [{ virtualService: { virtualServiceName: 'backend.bench.local' } }],
});

export async function run(): Promise<void> {
  const stack = await startLocalStack({
    inMemory: true,
    ports: { api: 0, lambda: 0, dynamodb: 0, s3: 0, relay: 0, relayAdmin: 0 },
    quiet: true,
    relay: false,
    // MESHLINE_AUTH=off measures the same without SigV4 and the rate window, for comparison.
    auth: process.env.MESHLINE_AUTH !== 'off',
  });
  const appmesh = new AppMeshClient({
    endpoint: stack.endpoints.api,
    region: stack.region,
    // Signed with the stack's admin key: the figures include SigV4 verification and the key's rate window.
    credentials: stack.adminKey ?? { accessKeyId: 'unused', secretAccessKey: 'unused' },
    maxAttempts: 1,
  });
  const out: string[] = [];
  try {
    const meshName = `bench-${randomUUID().slice(0, 8)}`;
    await appmesh.send(new CreateMeshCommand({ meshName }));
    // Warm every Lambda worker the concurrent phases will use (serverless-offline starts one per concurrent request).
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: CLIENTS }, () => appmesh.send(new ListVirtualNodesCommand({ meshName, limit: 1 }))));
    }

    // (a) one client, one request at a time.
    const figures = { create: [] as number[], describe: [] as number[], update: [] as number[], list: [] as number[] };
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      figures.create.push(await timed(() => appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: `node-${i}`, spec: nodeSpec(8080) }))));
    }
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      figures.describe.push(await timed(() => appmesh.send(new DescribeVirtualNodeCommand({ meshName, virtualNodeName: `node-${i}` }))));
    }
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      figures.update.push(await timed(() => appmesh.send(new UpdateVirtualNodeCommand({ meshName, virtualNodeName: `node-${i}`, spec: nodeSpec(9090) }))));
    }
    for (let i = 0; i < LATENCY_SAMPLES; i++) {
      figures.list.push(await timed(() => appmesh.send(new ListVirtualNodesCommand({ meshName, limit: 100 }))));
    }
    out.push(`(a) latency, 1 client, sequential, mesh of ${LATENCY_SAMPLES} virtual nodes`);
    out.push(latencies('  CreateVirtualNode', figures.create));
    out.push(latencies('  DescribeVirtualNode', figures.describe));
    out.push(latencies('  UpdateVirtualNode', figures.update));
    out.push(latencies('  ListVirtualNodes (limit 100)', figures.list));

    // (b) 16 clients, per operation and mixed. Updates: each client its own node (no version races).
    out.push(`(b) sustained, ${CLIENTS} concurrent clients, ${PHASE_MS / 1000} s per phase`);
    out.push(await sustained('  DescribeVirtualNode', (_, i) => appmesh.send(new DescribeVirtualNodeCommand({ meshName, virtualNodeName: `node-${i % LATENCY_SAMPLES}` }))));
    out.push(await sustained('  UpdateVirtualNode', (client, i) => appmesh.send(new UpdateVirtualNodeCommand({ meshName, virtualNodeName: `node-${client}`, spec: nodeSpec(10_000 + i) }))));
    out.push(await sustained('  ListVirtualNodes (limit 100)', () => appmesh.send(new ListVirtualNodesCommand({ meshName, limit: 100 }))));
    // Creates go to fresh meshes, a new one every 900 nodes: the phases must measure creates, not the quota.
    const freshMeshes = async (prefix: string, count: number) => {
      const names = Array.from({ length: count }, (_, i) => `${meshName}-${prefix}-${i}`);
      for (const name of names) await appmesh.send(new CreateMeshCommand({ meshName: name }));
      return names;
    };
    const hot = await freshMeshes('hot', 4);
    let hotCreates = 0;
    const beforeHot = conflictsLogged(stack.logFile);
    out.push(
      await sustained('  CreateVirtualNode, one mesh', (client, i) =>
        appmesh.send(new CreateVirtualNodeCommand({ meshName: hot[Math.floor(hotCreates++ / 900)], virtualNodeName: `hot-${client}-${i}`, spec: nodeSpec(8080) })),
      ),
    );
    const hotConflicts = conflictsLogged(stack.logFile) - beforeHot;
    const spread = await freshMeshes('spread', CLIENTS);
    const beforeSpread = conflictsLogged(stack.logFile);
    out.push(await sustained(`  CreateVirtualNode, ${CLIENTS} meshes`, (client, i) => appmesh.send(new CreateVirtualNodeCommand({ meshName: spread[client], virtualNodeName: `n-${i}`, spec: nodeSpec(8080) }))));
    const spreadConflicts = conflictsLogged(stack.logFile) - beforeSpread;
    const mixed = await freshMeshes('mixed', 2);
    let mixedCreates = 0;
    out.push(
      await sustained('  mixed 40/20/20/20 d/c/u/l', (client, i) => {
        const pick = (client * 7 + i) % 5;
        if (pick === 0) {
          return appmesh.send(new CreateVirtualNodeCommand({ meshName: mixed[Math.floor(mixedCreates++ / 900)], virtualNodeName: `mixed-${client}-${i}`, spec: nodeSpec(8080) }));
        }
        if (pick === 1) return appmesh.send(new UpdateVirtualNodeCommand({ meshName, virtualNodeName: `node-${client}`, spec: nodeSpec(20_000 + i) }));
        if (pick === 2) return appmesh.send(new ListVirtualNodesCommand({ meshName, limit: 100 }));
        return appmesh.send(new DescribeVirtualNodeCommand({ meshName, virtualNodeName: `node-${i % LATENCY_SAMPLES}` }));
      }),
    );
    out.push(`(c) transaction conflicts retried: ${hotConflicts} creating into one mesh, ${spreadConflicts} into ${CLIENTS} meshes`);
  } finally {
    appmesh.destroy();
    await stack.stop();
  }
  for (const line of out) console.log(line);
}
