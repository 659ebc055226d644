/**
 * Incremental compiles: which proxies a change can affect, the stream-record keys that name a
 * change, and publishMesh compiling only those proxies while keeping every other manifest entry
 * (and the last good snapshot of a proxy that no longer compiles).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { affectedProxies, changeOfSortKey, compileMesh, indexMesh, type MeshChange, type MeshOutput } from '../../shared/compiler/index.js';
import { publishMesh } from '../../shared/mesh/publish.js';
import type { MeshRepository, StoredResource } from '../../shared/store/repository.js';
import { serializeManifest, type Manifest, type ManifestEntry, type Snapshot, type SnapshotStore } from '../../shared/store/snapshots.js';
import { meshArbitrary } from '../fixtures/compiler/arbitrary.js';
import { caseState, goldenCases, storedResource, type CaseInput, type CaseResource } from '../fixtures/compiler/cases.js';

function versions(output: MeshOutput): Map<string, string> {
  return new Map([...output].map(([k, o]) => [k, 'error' in o ? `error: ${o.error}` : o.snapshot.version]));
}

function golden(name: string): CaseInput {
  const found = goldenCases().find((c) => c.name === name);
  if (!found) throw new Error(`no golden case ${name}`);
  return found.input;
}

describe('the change a stream record names', () => {
  it('reads every kind of sort key, decoding URI-encoded names', () => {
    expect(changeOfSortKey('mesh')).toEqual({ kind: 'mesh', name: '' });
    expect(changeOfSortKey('virtualNode#web')).toEqual({ kind: 'virtualNode', name: 'web' });
    expect(changeOfSortKey('virtualService#color.mesh.local')).toEqual({ kind: 'virtualService', name: 'color.mesh.local' });
    expect(changeOfSortKey('route#r%23x#a%20b')).toEqual({ kind: 'route', parentName: 'r#x', name: 'a b' });
    expect(changeOfSortKey('gatewayRoute#gw#all')).toEqual({ kind: 'gatewayRoute', parentName: 'gw', name: 'all' });
  });

  it('treats a key it does not know as unknown, so the whole mesh is recompiled', () => {
    for (const key of ['syncStatus#x', 'route#only-one-part', 'virtualNode#a#b', 'virtualNode#%E0%A4%A']) {
      expect(changeOfSortKey(key).kind, key).toBe('unknown');
    }
    const state = caseState(golden('http-route-matches'));
    expect(affectedProxies(state, [changeOfSortKey('somethingNew#x')])).toBe('all');
    expect(affectedProxies(state, [{ kind: 'mesh', name: '' }])).toBe('all');
  });
});

describe('which proxies a change affects', () => {
  it('a route: the nodes whose backends reach its router, and the gateways routing to them', () => {
    const state = caseState(golden('gateway-http'));
    expect(affectedProxies(state, [{ kind: 'route', parentName: 'color', name: 'tell' }])).toEqual(new Set(['virtualGateway/ingress']));
    const nodes = caseState(golden('weighted-targets'));
    expect(affectedProxies(nodes, [{ kind: 'route', parentName: 'food', name: 'gone' }])).toEqual(new Set(['virtualNode/frontend']));
  });

  it('a virtual node: itself, and every proxy with a cluster to it', () => {
    const state = caseState(golden('weighted-targets'));
    expect(affectedProxies(state, [{ kind: 'virtualNode', name: 'food-v3' }])).toEqual(new Set(['virtualNode/food-v3', 'virtualNode/frontend']));
    expect(affectedProxies(state, [{ kind: 'virtualNode', name: 'frontend' }])).toEqual(new Set(['virtualNode/frontend']));
  });

  it('a virtual service, even one that does not exist yet: the nodes naming it as a backend', () => {
    const state = caseState(golden('egress-filter'));
    expect(affectedProxies(state, [{ kind: 'virtualService', name: 'later.golden.local' }])).toEqual(new Set(['virtualNode/client']));
  });

  it('a gateway route: its gateway only', () => {
    const state = caseState(golden('gateway-http'));
    expect(affectedProxies(state, [{ kind: 'gatewayRoute', parentName: 'ingress', name: 'red' }])).toEqual(new Set(['virtualGateway/ingress']));
  });

  it('never misses a proxy whose bytes change (random meshes, random edits)', () => {
    fc.assert(
      fc.property(meshArbitrary, fc.nat(), fc.nat(), (resources, pick, weight) => {
        const before = JSON.parse(JSON.stringify(resources)) as CaseResource[];
        const edited = edit(before, pick, weight);
        if (!edited) return;
        const { after, change } = edited;
        const stateBefore = indexMesh(before.map((r) => storedResource('prop', r)))!;
        const stateAfter = indexMesh(after.map((r) => storedResource('prop', r)))!;
        const old = versions(compileMesh(stateBefore));
        const now = versions(compileMesh(stateAfter));
        const affected = affectedProxies(stateAfter, [change]);
        if (affected === 'all') return;
        for (const [key, version] of now) {
          if (old.get(key) !== version) expect(affected.has(key), `${key} changed after ${JSON.stringify(change)}`).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});

/** One edit of a mesh that the API would accept, and the change its stream record names. */
function edit(resources: CaseResource[], pick: number, weight: number): { after: CaseResource[]; change: MeshChange } | undefined {
  const editable = resources.filter((r) => r.kind !== 'mesh');
  const target = editable[pick % Math.max(editable.length, 1)];
  if (!target) return undefined;
  const after = resources.map((r) => (r === target ? (JSON.parse(JSON.stringify(r)) as CaseResource) : r));
  const copy = after.find((r) => r.kind === target.kind && r.name === target.name && r.parentName === target.parentName) as CaseResource;
  const spec = copy.spec as Record<string, Record<string, unknown>>;
  switch (copy.kind) {
    case 'route': {
      const body = (spec.httpRoute ?? spec.http2Route ?? spec.grpcRoute ?? spec.tcpRoute) as { action: { weightedTargets: { weight: number }[] } };
      const first = body.action.weightedTargets[0];
      if (first) first.weight = 1 + (weight % 100);
      break;
    }
    case 'virtualNode':
      (copy.spec as Record<string, unknown>).logging = { accessLog: { file: { path: `/var/log/${weight % 3}.log` } } };
      break;
    case 'gatewayRoute': {
      const match = (spec.httpRoute as { match: { prefix?: string } }).match;
      match.prefix = `/p${weight % 5}`;
      break;
    }
    case 'virtualGateway':
      (copy.spec as Record<string, unknown>).logging = { accessLog: { file: { path: '/dev/stdout' } } };
      break;
    case 'virtualService':
    case 'virtualRouter':
      // A service's provider and a router's listeners are constrained by their references; a
      // deleted route stands in for the router side.
      return undefined;
    default:
      return undefined;
  }
  return { after, change: { kind: copy.kind, name: copy.name, parentName: copy.parentName } };
}

/** An in-memory snapshot store that records what is written. */
class MemoryStore {
  manifest: Manifest | undefined;
  snapshots = new Map<string, Snapshot>();
  puts = 0;
  manifestWrites = 0;

  async getManifest(): Promise<Manifest | undefined> {
    return this.manifest && (JSON.parse(JSON.stringify(this.manifest)) as Manifest);
  }

  async putSnapshot(_mesh: string, snapshot: Snapshot, twin: unknown): Promise<ManifestEntry> {
    expect(twin).toMatchObject({ proxy: snapshot.proxy, version: snapshot.version });
    this.puts++;
    const key = `snapshots/${snapshot.version}.json`;
    this.snapshots.set(key, snapshot);
    return { key, version: snapshot.version, sha256: snapshot.version };
  }

  async putManifestIfChanged(manifest: Manifest, previous: Manifest | undefined): Promise<boolean> {
    if (previous && serializeManifest(previous) === serializeManifest(manifest)) return false;
    this.manifestWrites++;
    this.manifest = JSON.parse(serializeManifest(manifest)) as Manifest;
    return true;
  }
}

function deps(items: () => StoredResource[], store: MemoryStore) {
  const repository = { loadMesh: async () => items() } as unknown as MeshRepository;
  return { repository, snapshots: store as unknown as SnapshotStore };
}

function meshItems(input: CaseInput): StoredResource[] {
  const state = caseState(input);
  return [state.mesh, ...state.virtualNodes.values(), ...state.virtualServices.values(), ...state.virtualRouters.values(), ...[...state.routes.values()].flat(), ...state.virtualGateways.values(), ...[...state.gatewayRoutes.values()].flat()];
}

function withRoute(items: StoredResource[], router: string, route: string, spec: unknown): StoredResource[] {
  return items.map((i) => (i.kind === 'route' && i.parentName === router && i.name === route ? { ...i, spec, version: i.version + 1 } : i));
}

describe('publishing a mesh incrementally', () => {
  it('compiles only the proxies a change affects and keeps every other entry as it was', async () => {
    const input = golden('weighted-targets');
    let items = meshItems({ ...input, mesh: 'golden' });
    const store = new MemoryStore();
    const full = await publishMesh(deps(() => items, store), 'golden');
    expect(full).toMatchObject({ compiled: 4, written: 4, proxies: 4 });
    const before = structuredClone(store.manifest);

    const fruit = { httpRoute: { match: { port: 3333 }, action: { weightedTargets: [{ virtualNode: 'food-v1', weight: 1, port: 5555 }, { virtualNode: 'food-v2', weight: 9 }] } } };
    items = withRoute(items, 'food', 'fruit', fruit);
    const result = await publishMesh(deps(() => items, store), 'golden', { changes: [{ kind: 'route', parentName: 'food', name: 'fruit' }] });
    expect(result).toMatchObject({ compiled: 1, written: 1, unchanged: 0, proxies: 4 });
    for (const key of Object.keys(before?.proxies ?? {})) {
      if (key === 'virtualNode/frontend') expect(store.manifest?.proxies[key]?.version).not.toBe(before?.proxies[key]?.version);
      else expect(store.manifest?.proxies[key]).toEqual(before?.proxies[key]);
    }
    // The incremental result is what a full compile gives.
    const fullNow = versions(compileMesh(indexMesh(items)!));
    expect(Object.fromEntries(Object.entries(store.manifest?.proxies ?? {}).map(([k, e]) => [k, e.version]))).toEqual(Object.fromEntries(fullNow));
  });

  it('keeps the last good snapshot of a proxy that stops compiling, says why, and recovers', async () => {
    let items = meshItems({ ...golden('weighted-targets'), mesh: 'golden' });
    const store = new MemoryStore();
    await publishMesh(deps(() => items, store), 'golden');
    const good = store.manifest?.proxies['virtualNode/frontend'];
    const zero = { httpRoute: { match: { port: 3333 }, action: { weightedTargets: [{ virtualNode: 'food-v2', weight: 0 }] } } };
    items = withRoute(items, 'food', 'fruit', zero);
    const broken = await publishMesh(deps(() => items, store), 'golden', { changes: [{ kind: 'route', parentName: 'food', name: 'fruit' }] });
    expect(broken.errors).toEqual({
      'virtualNode/frontend': 'route fruit of virtual router food: every weighted target has weight 0, so the route has nowhere to send traffic (Envoy rejects a total weight of 0)',
    });
    expect(store.manifest?.proxies['virtualNode/frontend']).toEqual(good);
    expect(store.manifest?.errors).toEqual(broken.errors);
    // An unrelated change elsewhere keeps the error (the proxy is not affected, so not retried).
    await publishMesh(deps(() => items, store), 'golden', { changes: [{ kind: 'virtualNode', name: 'food-v3' }] });
    expect(store.manifest?.errors).toEqual(broken.errors);

    items = withRoute(items, 'food', 'fruit', { httpRoute: { match: { port: 3333 }, action: { weightedTargets: [{ virtualNode: 'food-v2', weight: 5 }] } } });
    await publishMesh(deps(() => items, store), 'golden', { changes: [{ kind: 'route', parentName: 'food', name: 'fruit' }] });
    expect(store.manifest?.errors).toEqual({});
    expect(store.manifest?.proxies['virtualNode/frontend']?.version).not.toBe(good?.version);
  });

  it('drops a deleted proxy and compiles a new one even when no change names it', async () => {
    let items = meshItems({ ...golden('weighted-targets'), mesh: 'golden' });
    const store = new MemoryStore();
    await publishMesh(deps(() => items, store), 'golden');
    items = items.filter((i) => !(i.kind === 'virtualNode' && i.name === 'frontend'));
    items.push({ ...(items.find((i) => i.kind === 'virtualNode') as StoredResource), name: 'newcomer', spec: {} });
    await publishMesh(deps(() => items, store), 'golden', { changes: [{ kind: 'virtualNode', name: 'frontend' }] });
    expect(Object.keys(store.manifest?.proxies ?? {}).sort()).toEqual(['virtualNode/food-v1', 'virtualNode/food-v2', 'virtualNode/food-v3', 'virtualNode/newcomer']);
  });

  it('writes nothing when a change leaves every byte as it was', async () => {
    const items = meshItems({ ...golden('weighted-targets'), mesh: 'golden' });
    const store = new MemoryStore();
    await publishMesh(deps(() => items, store), 'golden');
    const puts = store.puts;
    const result = await publishMesh(deps(() => items, store), 'golden', { changes: [{ kind: 'virtualNode', name: 'food-v1' }] });
    expect(result).toMatchObject({ compiled: 2, written: 0, unchanged: 2 });
    expect(store.puts).toBe(puts);
    expect(store.manifestWrites).toBe(1);
  });

  it('a reconcile steps aside when the mesh changes while it compiles', async () => {
    const items = meshItems({ ...golden('weighted-targets'), mesh: 'golden' });
    const store = new MemoryStore();
    let loads = 0;
    const changing = () => (loads++ === 0 ? items : withRoute(items, 'food', 'fruit', routeSpecOf(items, 'fruit')));
    const result = await publishMesh(deps(changing, store), 'golden', { yieldToNewerChanges: true });
    expect(result.superseded).toBe(true);
    expect(store.manifest).toBeUndefined();
    const settled = await publishMesh(deps(() => items, store), 'golden', { yieldToNewerChanges: true });
    expect(settled.superseded).toBeUndefined();
    expect(Object.keys(store.manifest?.proxies ?? {})).toHaveLength(4);
  });
});

function routeSpecOf(items: StoredResource[], name: string): unknown {
  return items.find((i) => i.kind === 'route' && i.name === name)?.spec;
}
