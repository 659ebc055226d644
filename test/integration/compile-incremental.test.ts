/**
 * The compile trigger over the wire: App Mesh API calls land in DynamoDB, its stream drives the
 * compile function, and the manifest in S3 shows that a change recompiled only the proxies it
 * affects, that a mesh that cannot compile keeps its last good snapshot and says why, and that
 * a full publish (what the scheduled reconcile runs) heals a manifest that missed a change.
 */
import {
  CreateMeshCommand,
  CreateRouteCommand,
  CreateVirtualGatewayCommand,
  CreateGatewayRouteCommand,
  CreateVirtualNodeCommand,
  CreateVirtualRouterCommand,
  CreateVirtualServiceCommand,
  UpdateRouteCommand,
  UpdateVirtualNodeCommand,
  type RouteSpec,
  type VirtualNodeSpec,
} from '@aws-sdk/client-app-mesh';
import { describe, expect, inject, it } from 'vitest';
import { compileMesh, indexMesh } from '../../shared/compiler/index.js';
import { listMeshNames, publishMesh } from '../../shared/mesh/publish.js';
import { awsSettingsFromEnv, createDocumentClient, createS3Client } from '../../shared/store/clients.js';
import { MeshRepository } from '../../shared/store/repository.js';
import { SnapshotStore, type Manifest } from '../../shared/store/snapshots.js';
import { appMeshClient, uniqueMeshName } from '../support/appmesh.js';

const appmesh = appMeshClient();
const stack = inject('stack');
const settings = awsSettingsFromEnv(stack.env);
const repository = new MeshRepository(createDocumentClient(settings), stack.tableName);
const snapshots = new SnapshotStore(createS3Client(settings), stack.bucketName);

/** What the pure compiler gives for the mesh as the table holds it now: versions and errors. */
async function expectedNow(mesh: string): Promise<{ versions: Record<string, string>; errors: Record<string, string> }> {
  const state = indexMesh(await repository.loadMesh(mesh));
  if (!state) throw new Error(`no mesh ${mesh}`);
  const versions: Record<string, string> = {};
  const errors: Record<string, string> = {};
  for (const [key, outcome] of compileMesh(state)) {
    if ('error' in outcome) errors[key] = outcome.error;
    else versions[key] = outcome.snapshot.version;
  }
  return { versions, errors };
}

/**
 * Waits until the manifest in S3 satisfies `done` (the stream-triggered compile runs
 * asynchronously and signals nothing else), failing with the last manifest seen.
 */
async function untilManifest(mesh: string, done: (manifest: Manifest) => boolean, deadlineMs = 30_000): Promise<Manifest> {
  const deadline = Date.now() + deadlineMs;
  let last: Manifest | undefined;
  while (Date.now() < deadline) {
    last = await snapshots.getManifest(mesh);
    if (last && done(last)) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`manifest of ${mesh} not as expected within ${deadlineMs} ms; last: ${JSON.stringify(last)}`);
}

function versionsOf(manifest: Manifest): Record<string, string> {
  return Object.fromEntries(Object.entries(manifest.proxies).map(([k, e]) => [k, e.version]));
}

function split(blue: number, green: number, router: string): RouteSpec {
  return { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: [{ virtualNode: `${router}-blue`, weight: blue }, { virtualNode: `${router}-green`, weight: green }] } } };
}

function backendNode(name: string, healthCheckPath?: string): VirtualNodeSpec {
  const healthCheck = healthCheckPath ? { protocol: 'http' as const, path: healthCheckPath, healthyThreshold: 2, unhealthyThreshold: 2, timeoutMillis: 2000, intervalMillis: 5000 } : undefined;
  return { listeners: [{ portMapping: { port: 8080, protocol: 'http' }, ...(healthCheck ? { healthCheck } : {}) }], serviceDiscovery: { dns: { hostname: `${name}.internal` } } };
}

/** Two services, each behind its own router with a blue/green split; a client of each; a gateway to the first. */
async function createMesh(meshName: string): Promise<void> {
  await appmesh.send(new CreateMeshCommand({ meshName }));
  for (const router of ['alpha', 'beta']) {
    for (const color of ['blue', 'green']) {
      await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: `${router}-${color}`, spec: backendNode(`${router}-${color}`) }));
    }
    await appmesh.send(new CreateVirtualRouterCommand({ meshName, virtualRouterName: router, spec: { listeners: [{ portMapping: { port: 8080, protocol: 'http' } }] } }));
    await appmesh.send(new CreateRouteCommand({ meshName, virtualRouterName: router, routeName: 'split', spec: split(50, 50, router) }));
    await appmesh.send(new CreateVirtualServiceCommand({ meshName, virtualServiceName: `${router}.local`, spec: { provider: { virtualRouter: { virtualRouterName: router } } } }));
    await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: `${router}-client`, spec: { backends: [{ virtualService: { virtualServiceName: `${router}.local` } }] } }));
  }
  await appmesh.send(new CreateVirtualGatewayCommand({ meshName, virtualGatewayName: 'edge', spec: { listeners: [{ portMapping: { port: 8088, protocol: 'http' } }] } }));
  await appmesh.send(
    new CreateGatewayRouteCommand({
      meshName,
      virtualGatewayName: 'edge',
      gatewayRouteName: 'alpha',
      spec: { httpRoute: { match: { prefix: '/' }, action: { target: { virtualService: { virtualServiceName: 'alpha.local' } } } } },
    }),
  );
}

describe('the stream-triggered compile', () => {
  it('recompiles only the proxies a route change affects; the others keep their snapshot entries untouched', async () => {
    const meshName = uniqueMeshName('incremental');
    await createMesh(meshName);
    const initial = await expectedNow(meshName);
    expect(Object.keys(initial.versions)).toContain('virtualGateway/edge');
    const before = await untilManifest(meshName, (m) => JSON.stringify(versionsOf(m)) === JSON.stringify(sorted(initial.versions)));

    await appmesh.send(new UpdateRouteCommand({ meshName, virtualRouterName: 'alpha', routeName: 'split', spec: split(90, 10, 'alpha') }));
    const wanted = await expectedNow(meshName);
    const after = await untilManifest(meshName, (m) => JSON.stringify(versionsOf(m)) === JSON.stringify(sorted(wanted.versions)));

    const changed = Object.keys(after.proxies).filter((k) => after.proxies[k]?.version !== before.proxies[k]?.version).sort();
    expect(changed).toEqual(['virtualGateway/edge', 'virtualNode/alpha-client']);
    for (const key of Object.keys(before.proxies)) {
      if (!changed.includes(key)) expect(after.proxies[key], key).toEqual(before.proxies[key]);
    }
  });

  it('keeps the last good snapshot of a proxy that cannot compile, says why in the manifest, and recovers', async () => {
    const meshName = uniqueMeshName('broken');
    await createMesh(meshName);
    const initial = await expectedNow(meshName);
    const good = await untilManifest(meshName, (m) => JSON.stringify(versionsOf(m)) === JSON.stringify(sorted(initial.versions)));

    // A value the App Mesh model accepts and Envoy would reject: a health check path with a CR LF.
    await appmesh.send(new UpdateVirtualNodeCommand({ meshName, virtualNodeName: 'beta-blue', spec: backendNode('beta-blue', '/ping\r\n') }));
    const broken = await untilManifest(meshName, (m) => 'virtualNode/beta-client' in m.errors);
    expect(broken.errors).toEqual({
      'virtualNode/beta-client': 'envoy.config.cluster.v3.Cluster.health_checks[0].http_health_check.path: must not contain NUL, CR or LF, got "/ping\\r\\n"',
    });
    expect(broken.proxies['virtualNode/beta-client']).toEqual(good.proxies['virtualNode/beta-client']);

    await appmesh.send(new UpdateVirtualNodeCommand({ meshName, virtualNodeName: 'beta-blue', spec: backendNode('beta-blue', '/ping') }));
    const healed = await untilManifest(meshName, (m) => Object.keys(m.errors).length === 0);
    expect(healed.proxies['virtualNode/beta-client']?.version).not.toBe(good.proxies['virtualNode/beta-client']?.version);
  });

  it('a full publish, as the scheduled reconcile runs it, heals a manifest that missed a change', async () => {
    const meshName = uniqueMeshName('reconcile');
    await createMesh(meshName);
    const initial = await expectedNow(meshName);
    const current = await untilManifest(meshName, (m) => JSON.stringify(versionsOf(m)) === JSON.stringify(sorted(initial.versions)));
    // As if a stream record was lost: the manifest lacks a proxy and carries a stale entry.
    const stale: Manifest = { ...current, proxies: { ...current.proxies } };
    delete stale.proxies['virtualNode/alpha-client'];
    stale.proxies['virtualNode/beta-client'] = current.proxies['virtualNode/alpha-blue'] as Manifest['proxies'][string];
    await snapshots.putManifest(stale);

    expect(await listMeshNames(repository)).toContain(meshName);
    const result = await publishMesh({ repository, snapshots }, meshName, { yieldToNewerChanges: true });
    expect(result.superseded).toBeUndefined();
    expect(versionsOf((await snapshots.getManifest(meshName)) as Manifest)).toEqual(sorted(initial.versions));
  });
});

function sorted(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(record).sort().map((k) => [k, record[k] as string]));
}
