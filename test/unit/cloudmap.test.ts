/**
 * Cloud Map service discovery: registration validation, the instance source of the compile path
 * (subscribe first, then read; attribute filters), instance changes compiling only the proxies
 * whose endpoints change, and the resolver's diffing against a fake DiscoverInstances.
 */
import { describe, expect, it } from 'vitest';
import { BadRequestError } from '../../shared/errors.js';
import { parseRegisterBody, storedInstanceSource } from '../../shared/mesh/cloudmap.js';
import { resolveCloudMap, type DiscoveredSummary } from '../../shared/mesh/cloudmap-resolver.js';
import { publishMesh } from '../../shared/mesh/publish.js';
import { cloudMapPartition, cloudMapServiceOfPartition, type CloudMapServiceKey, type InstanceStore, type StoredInstance } from '../../shared/store/instances.js';
import type { MeshRepository, StoredResource } from '../../shared/store/repository.js';
import { serializeManifest, type Manifest, type ManifestEntry, type Snapshot, type SnapshotStore } from '../../shared/store/snapshots.js';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from '../../shared/xds/type-urls.js';
import { storedResource } from '../fixtures/compiler/cases.js';

/** An in-memory instance store, recording every call in order. */
class MemoryInstances {
  services = new Map<string, Map<string, StoredInstance>>();
  subscriptions = new Map<string, Set<string>>();
  log: string[] = [];

  private of(service: CloudMapServiceKey): Map<string, StoredInstance> {
    const key = cloudMapPartition(service);
    const found = this.services.get(key) ?? new Map<string, StoredInstance>();
    this.services.set(key, found);
    return found;
  }
  async put(service: CloudMapServiceKey, instance: StoredInstance): Promise<boolean> {
    this.log.push(`put ${instance.instanceId}`);
    const current = this.of(service).get(instance.instanceId);
    if (current && JSON.stringify(current) === JSON.stringify(instance)) return false;
    this.of(service).set(instance.instanceId, structuredClone(instance));
    return true;
  }
  async delete(service: CloudMapServiceKey, instanceId: string): Promise<boolean> {
    this.log.push(`delete ${instanceId}`);
    return this.of(service).delete(instanceId);
  }
  async list(service: CloudMapServiceKey): Promise<StoredInstance[]> {
    this.log.push(`list ${service.serviceName}`);
    return [...this.of(service).values()].sort((a, b) => (a.instanceId < b.instanceId ? -1 : 1)).map((i) => structuredClone(i));
  }
  async subscribe(service: CloudMapServiceKey, mesh: string): Promise<void> {
    this.log.push(`subscribe ${service.serviceName} ${mesh}`);
    const key = cloudMapPartition(service);
    this.subscriptions.set(key, (this.subscriptions.get(key) ?? new Set()).add(mesh));
  }
  async subscribers(service: CloudMapServiceKey): Promise<string[]> {
    return [...(this.subscriptions.get(cloudMapPartition(service)) ?? [])];
  }
  asStore(): InstanceStore {
    return this as unknown as InstanceStore;
  }
}

class MemorySnapshots {
  manifest: Manifest | undefined;
  snapshots = new Map<string, Snapshot>();
  async getManifest(): Promise<Manifest | undefined> {
    return this.manifest && (JSON.parse(JSON.stringify(this.manifest)) as Manifest);
  }
  async putSnapshot(_mesh: string, snapshot: Snapshot): Promise<ManifestEntry> {
    const key = `snapshots/${snapshot.version}.json`;
    this.snapshots.set(key, snapshot);
    return { key, version: snapshot.version, sha256: snapshot.version };
  }
  async putManifestIfChanged(manifest: Manifest, previous: Manifest | undefined): Promise<boolean> {
    if (previous && serializeManifest(previous) === serializeManifest(manifest)) return false;
    this.manifest = JSON.parse(serializeManifest(manifest)) as Manifest;
    return true;
  }
  snapshotOf(proxy: string): Snapshot {
    const entry = this.manifest?.proxies[proxy];
    const snapshot = entry && this.snapshots.get(entry.key);
    if (!snapshot) throw new Error(`no snapshot of ${proxy}`);
    return snapshot;
  }
}

const SERVICE = { namespaceName: 'apps.local', serviceName: 'backend' };

function mesh(name = 'm'): StoredResource[] {
  return [
    storedResource(name, { kind: 'mesh', name, spec: {} }),
    storedResource(name, {
      kind: 'virtualNode',
      name: 'backend',
      spec: {
        listeners: [{ portMapping: { port: 8080, protocol: 'grpc' } }],
        serviceDiscovery: { awsCloudMap: { ...SERVICE, attributes: [{ key: 'stage', value: 'live' }] } },
      },
    }),
    storedResource(name, { kind: 'virtualService', name: 'backend.local', spec: { provider: { virtualNode: { virtualNodeName: 'backend' } } } }),
    storedResource(name, { kind: 'virtualNode', name: 'frontend', spec: { backends: [{ virtualService: { virtualServiceName: 'backend.local' } }] } }),
    storedResource(name, { kind: 'virtualNode', name: 'loner', spec: { listeners: [{ portMapping: { port: 9090, protocol: 'http' } }], serviceDiscovery: { dns: { hostname: '10.1.1.1' } } } }),
  ];
}

/** The endpoint assignments of a snapshot as text (addresses are ASCII inside the protobuf bytes). */
function endpointsOf(snapshot: Snapshot): string {
  return (snapshot.resources[ENDPOINT] ?? []).map((r) => Buffer.from(r.value).toString('latin1')).join('\n');
}

describe('RegisterInstance validation', () => {
  const ok = (attributes: Record<string, string>) => parseRegisterBody({ Attributes: attributes });
  it('accepts IPv4, IPv6, both, ports 1 and 65535, and Cloud Map limits exactly', () => {
    expect(ok({ AWS_INSTANCE_IPV4: '10.0.0.1' })).toEqual({ AWS_INSTANCE_IPV4: '10.0.0.1' });
    expect(ok({ AWS_INSTANCE_IPV6: '2001:db8::1', AWS_INSTANCE_PORT: '65535' })).toBeDefined();
    expect(ok({ AWS_INSTANCE_IPV4: '10.0.0.1', AWS_INSTANCE_IPV6: '::1', AWS_INSTANCE_PORT: '1' })).toBeDefined();
    expect(ok({ AWS_INSTANCE_IPV4: '10.0.0.1', ['k'.repeat(255)]: 'v'.repeat(1024) })).toBeDefined();
    expect(ok({ AWS_INSTANCE_IPV4: '10.0.0.1', ...Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, 'v'])) })).toBeDefined();
  });
  it.each([
    ['no address', { AWS_INSTANCE_PORT: '80' }],
    ['IPv4 out of range', { AWS_INSTANCE_IPV4: '256.0.0.1' }],
    ['IPv6 in the IPv4 attribute', { AWS_INSTANCE_IPV4: '::1' }],
    ['IPv4 in the IPv6 attribute', { AWS_INSTANCE_IPV6: '10.0.0.1' }],
    ['port 0', { AWS_INSTANCE_IPV4: '10.0.0.1', AWS_INSTANCE_PORT: '0' }],
    ['port 65536', { AWS_INSTANCE_IPV4: '10.0.0.1', AWS_INSTANCE_PORT: '65536' }],
    ['port not a number', { AWS_INSTANCE_IPV4: '10.0.0.1', AWS_INSTANCE_PORT: '80a' }],
    ['key of 256', { AWS_INSTANCE_IPV4: '10.0.0.1', ['k'.repeat(256)]: 'v' }],
    ['value of 1,025', { AWS_INSTANCE_IPV4: '10.0.0.1', k: 'v'.repeat(1025) }],
    ['a non-ASCII value', { AWS_INSTANCE_IPV4: '10.0.0.1', k: 'é' }],
    ['31 custom attributes', { AWS_INSTANCE_IPV4: '10.0.0.1', ...Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`k${i}`, 'v'])) }],
    ['more than 5,000 characters', { AWS_INSTANCE_IPV4: '10.0.0.1', a: 'v'.repeat(1024), b: 'v'.repeat(1024), c: 'v'.repeat(1024), d: 'v'.repeat(1024), e: 'v'.repeat(1024) }],
  ])('refuses %s', (_label, attributes) => {
    expect(() => ok(attributes as Record<string, string>)).toThrow(BadRequestError);
  });
  it('refuses a body without Attributes, or with an unknown member', () => {
    expect(() => parseRegisterBody(undefined)).toThrow(BadRequestError);
    expect(() => parseRegisterBody({ Attributes: [] })).toThrow(BadRequestError);
    expect(() => parseRegisterBody({ Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1' }, Extra: 1 })).toThrow(/Unknown member: Extra/);
  });
  it('keeps a service name with # apart from its namespace in the partition key', () => {
    const service = { namespaceName: 'a#b', serviceName: 'c' };
    expect(cloudMapServiceOfPartition(cloudMapPartition(service))).toEqual(service);
    expect(cloudMapServiceOfPartition('mesh#x')).toBeUndefined();
  });
});

describe('Cloud Map endpoints in the compile path', () => {
  it('subscribes the mesh before reading instances, and filters by the node attributes', async () => {
    const store = new MemoryInstances();
    await store.put(SERVICE, { instanceId: 'a', attributes: { AWS_INSTANCE_IPV4: '10.0.0.1', stage: 'live' }, origin: 'api' });
    await store.put(SERVICE, { instanceId: 'b', attributes: { AWS_INSTANCE_IPV4: '10.0.0.2', stage: 'canary' }, origin: 'api' });
    store.log = [];
    const source = storedInstanceSource(store.asStore());
    const instances = await source('m', mesh().filter((i) => i.kind === 'virtualNode'));
    expect(store.log).toEqual(['subscribe backend m', 'list backend']);
    expect(instances.get('backend')).toEqual([{ ipv4: '10.0.0.1', ipv6: undefined }]);
    expect(instances.has('frontend')).toBe(false);
  });

  it('an instance change recompiles only the proxies reaching the node, and changes only their endpoints', async () => {
    const store = new MemoryInstances();
    const snapshots = new MemorySnapshots();
    const items = mesh();
    const deps = {
      repository: { loadMesh: async () => items } as unknown as MeshRepository,
      snapshots: snapshots as unknown as SnapshotStore,
      instances: storedInstanceSource(store.asStore()),
    };
    await store.put(SERVICE, { instanceId: 'a', attributes: { AWS_INSTANCE_IPV4: '10.0.0.1', stage: 'live' }, origin: 'api' });
    await publishMesh(deps, 'm');
    const before = snapshots.snapshotOf('virtualNode/frontend');
    const loner = snapshots.manifest?.proxies['virtualNode/loner'];
    expect(endpointsOf(before)).toContain('10.0.0.1');

    await store.put(SERVICE, { instanceId: 'b', attributes: { AWS_INSTANCE_IPV4: '10.0.0.2', stage: 'live' }, origin: 'api' });
    const result = await publishMesh(deps, 'm', { changes: [], cloudMapServices: [SERVICE] });
    // backend (the node itself) and frontend (reaches it) are compiled; loner is not.
    expect(result.compiled).toBe(2);
    expect(result.written).toBe(1);
    expect(snapshots.manifest?.proxies['virtualNode/loner']).toEqual(loner);
    const after = snapshots.snapshotOf('virtualNode/frontend');
    expect(endpointsOf(after)).toContain('10.0.0.2');
    for (const type of [CLUSTER, LISTENER, ROUTE] as const) expect(after.resources[type]).toEqual(before.resources[type]);
    expect(endpointsOf(after)).not.toBe(endpointsOf(before));

    // A service no node of the mesh uses compiles nothing.
    const none = await publishMesh(deps, 'm', { changes: [], cloudMapServices: [{ namespaceName: 'other', serviceName: 'x' }] });
    expect(none.compiled).toBe(0);
  });
});

describe('the Cloud Map resolver', () => {
  function resolverDeps(store: MemoryInstances, answers: Map<string, DiscoveredSummary[] | undefined>, meshes: Record<string, StoredResource[]>) {
    const repository = {
      listMeshes: async () => ({ items: Object.keys(meshes).map((meshName) => ({ meshName })) }),
      loadMesh: async (name: string) => meshes[name] ?? [],
    } as unknown as MeshRepository;
    const asked: string[] = [];
    const discover = async (service: CloudMapServiceKey) => {
      asked.push(`${service.namespaceName}/${service.serviceName}`);
      const answer = answers.get(service.serviceName);
      if (answer instanceof Error) throw answer;
      return answer;
    };
    return { deps: { repository, instances: store.asStore(), discover }, asked };
  }

  it('asks once per service in use, writes new and changed instances, deletes vanished ones, and writes nothing when nothing changed', async () => {
    const store = new MemoryInstances();
    const answers = new Map<string, DiscoveredSummary[] | undefined>([
      ['backend', [{ InstanceId: 'a', Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1' } }, { InstanceId: 'b', Attributes: { AWS_INSTANCE_IPV4: '10.0.0.2' } }]],
    ]);
    const { deps, asked } = resolverDeps(store, answers, { m1: mesh('m1'), m2: mesh('m2') });
    expect(await resolveCloudMap(deps)).toEqual({ services: 1, written: 2, deleted: 0, failed: [] });
    expect(asked).toEqual(['apps.local/backend']);

    store.log = [];
    expect(await resolveCloudMap(deps)).toEqual({ services: 1, written: 0, deleted: 0, failed: [] });
    expect(store.log.filter((l) => !l.startsWith('list'))).toEqual([]);

    answers.set('backend', [{ InstanceId: 'b', Attributes: { AWS_INSTANCE_IPV4: '10.0.0.9' } }]);
    store.log = [];
    expect(await resolveCloudMap(deps)).toEqual({ services: 1, written: 1, deleted: 1, failed: [] });
    expect(store.log.filter((l) => !l.startsWith('list'))).toEqual(['put b', 'delete a']);
    expect((await store.list(SERVICE)).map((i) => [i.instanceId, i.attributes.AWS_INSTANCE_IPV4, i.origin])).toEqual([['b', '10.0.0.9', 'cloudmap']]);
  });

  it('never touches instances registered through the API, and leaves a service Cloud Map does not know as it is', async () => {
    const store = new MemoryInstances();
    await store.put(SERVICE, { instanceId: 'mine', attributes: { AWS_INSTANCE_IPV4: '10.0.0.5' }, origin: 'api' });
    const answers = new Map<string, DiscoveredSummary[] | undefined>([['backend', [{ InstanceId: 'mine', Attributes: { AWS_INSTANCE_IPV4: '10.9.9.9' } }]]]);
    const { deps } = resolverDeps(store, answers, { m: mesh() });
    expect(await resolveCloudMap(deps)).toMatchObject({ written: 0, deleted: 0 });
    answers.set('backend', undefined);
    expect(await resolveCloudMap(deps)).toMatchObject({ written: 0, deleted: 0, failed: [] });
    expect(await store.list(SERVICE)).toEqual([{ instanceId: 'mine', attributes: { AWS_INSTANCE_IPV4: '10.0.0.5' }, origin: 'api' }]);
  });

  it('reports a failing service and goes on with the others', async () => {
    const store = new MemoryInstances();
    const other = mesh('o').map((i) =>
      i.kind === 'virtualNode' && i.name === 'backend' ? { ...i, spec: { ...(i.spec as object), serviceDiscovery: { awsCloudMap: { namespaceName: 'apps.local', serviceName: 'broken' } } } } : i,
    );
    const answers = new Map<string, DiscoveredSummary[] | undefined>([['backend', [{ InstanceId: 'a', Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1' } }]]]);
    (answers as Map<string, unknown>).set('broken', new Error('throttled'));
    const { deps } = resolverDeps(store, answers, { m: mesh(), o: other });
    expect(await resolveCloudMap(deps)).toEqual({ services: 2, written: 1, deleted: 0, failed: ['apps.local/broken'] });
  });
});
