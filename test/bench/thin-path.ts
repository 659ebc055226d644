/**
 * The thin path, measured: the time from CreateVirtualNode returning until
 *   (a) the compiled snapshot is listed in the mesh manifest in S3,
 *   (b) a raw ADS client gets the proxy's listeners from the relay (reconnecting at once while
 *       the relay still answers NOT_FOUND), and
 *   (c) a real proxyless client (@grpc/grpc-js-xds) started at that moment completes an RPC
 *       routed by that configuration (its own reconnect backoff after NOT_FOUND included),
 * and, for a client already connected, (d) the time from UpdateVirtualService returning
 * until its traffic has moved to the new provider. Five runs; median and max of each.
 */
import { randomUUID } from 'node:crypto';
import {
  AppMeshClient,
  CreateMeshCommand,
  CreateVirtualNodeCommand,
  CreateVirtualServiceCommand,
  UpdateVirtualServiceCommand,
} from '@aws-sdk/client-app-mesh';
import { startLocalStack } from '../../scripts/local-stack/index.js';
import { issueProxyTokenIn, keyStoreOf } from '../support/stack-keys.js';
import { awsSettingsFromEnv, createS3Client } from '../../shared/store/clients.js';
import { SnapshotStore } from '../../shared/store/snapshots.js';
import { LISTENER } from '../../shared/xds/type-urls.js';
import { AdsTestClient } from '../support/xds-ads-client.js';
import { startTestBackend, type TestBackend } from '../support/xds-backend.js';
import { proxylessClient } from '../support/xds-client.js';

const RUNS = 5;

function summary(label: string, values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  return `${label.padEnd(58)} median ${median.toFixed(0).padStart(5)} ms   max ${(sorted.at(-1) ?? NaN).toFixed(0).padStart(5)} ms   runs ${sorted.map((v) => v.toFixed(0)).join(', ')}`;
}

async function until<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await attempt();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms`);
}

/** Connects a raw ADS client, again and again while the relay answers NOT_FOUND, until it has listeners. */
async function adsListeners(relay: string, nodeId: string, proxyToken: string): Promise<void> {
  await until('ADS listeners', async () => {
    const client = new AdsTestClient(relay, nodeId, { metadata: { authorization: `Bearer ${proxyToken}` } });
    try {
      client.subscribe(LISTENER);
      const response = await client.next(5_000).catch(() => undefined);
      return response && response.resources.length > 0 ? true : undefined;
    } finally {
      client.close();
    }
  });
}

function backendSpec(backend: TestBackend) {
  return { listeners: [{ portMapping: { port: backend.port, protocol: 'grpc' as const } }], serviceDiscovery: { dns: { hostname: backend.host } } };
}

export async function run(): Promise<void> {
  const stack = await startLocalStack({
    inMemory: true,
    ports: { api: 0, lambda: 0, dynamodb: 0, s3: 0, relay: 0, relayAdmin: 0 },
    quiet: true,
  });
  const [blue, green] = await Promise.all([startTestBackend('blue'), startTestBackend('green')]);
  const appmesh = new AppMeshClient({ endpoint: stack.endpoints.api, region: stack.region, credentials: stack.adminKey });
  const keys = keyStoreOf(stack);
  const snapshots = new SnapshotStore(createS3Client(awsSettingsFromEnv(stack.env)), stack.bucketName);
  const relay = stack.endpoints.relayAds ?? '';
  const figures = { manifest: [] as number[], ads: [] as number[], grpc: [] as number[], update: [] as number[] };
  try {
    for (let run = 0; run < RUNS + 1; run++) {
      const meshName = `bench-${randomUUID().slice(0, 8)}`;
      const service = `backend.${meshName}.local`;
      const nodeId = `mesh/${meshName}/virtualNode/frontend`;
      await appmesh.send(new CreateMeshCommand({ meshName }));
      await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'blue', spec: backendSpec(blue) }));
      await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'green', spec: backendSpec(green) }));
      await appmesh.send(new CreateVirtualServiceCommand({ meshName, virtualServiceName: service, spec: { provider: { virtualNode: { virtualNodeName: 'blue' } } } }));

      // The proxy's credentials exist before its node does, as when a deployment provisions them.
      const proxyToken = await issueProxyTokenIn(keys.store, nodeId);
      await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'frontend', spec: { backends: [{ virtualService: { virtualServiceName: service } }] } }));
      const created = performance.now();
      const client = proxylessClient(service, { relayAddress: relay, nodeId, proxyToken });
      const [manifest, ads, grpc] = await Promise.all([
        until('manifest', async () => ((await snapshots.getManifest(meshName))?.proxies['virtualNode/frontend'] ? performance.now() - created : undefined)),
        adsListeners(relay, nodeId, proxyToken).then(() => performance.now() - created),
        until('grpc-js-xds RPC', async () => ((await client.whoami(1_000).catch(() => '')) === 'blue' ? performance.now() - created : undefined)),
      ]);

      await appmesh.send(new UpdateVirtualServiceCommand({ meshName, virtualServiceName: service, spec: { provider: { virtualNode: { virtualNodeName: 'green' } } } }));
      const updated = performance.now();
      const moved = await until('traffic moved', async () => ((await client.whoami(1_000).catch(() => '')) === 'green' ? performance.now() - updated : undefined));
      client.close();
      // The first run warms the Lambda containers and the JIT; it is not counted.
      if (run === 0) continue;
      figures.manifest.push(manifest);
      figures.ads.push(ads);
      figures.grpc.push(grpc);
      figures.update.push(moved);
    }
  } finally {
    await Promise.all([blue.close(), green.close()]);
    keys.close();
    await stack.stop();
  }
  console.log(summary('(a) CreateVirtualNode -> snapshot listed in S3 manifest', figures.manifest));
  console.log(summary('(b) CreateVirtualNode -> raw ADS client has listeners', figures.ads));
  console.log(summary('(c) CreateVirtualNode -> grpc-js-xds client RPC routed', figures.grpc));
  console.log(summary('(d) UpdateVirtualService -> connected client moved', figures.update));
}
