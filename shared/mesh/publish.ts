import {
  affectedProxies,
  compileMesh,
  indexMesh,
  proxyKeys,
  type CompiledProxy,
  type DiscoveredInstance,
  type MeshChange,
  type MeshState,
} from '../compiler/index.js';
import type { CloudMapServiceKey } from '../store/instances.js';
import type { MeshRepository, StoredResource } from '../store/repository.js';
import type { Manifest, SnapshotStore } from '../store/snapshots.js';

/**
 * Where the instances of Cloud Map virtual nodes come from (a Cloud Map resolver, or the
 * instance-registration API). Without one, Cloud Map nodes have empty endpoint assignments.
 */
export type InstanceSource = (mesh: string, nodes: readonly StoredResource[]) => Promise<ReadonlyMap<string, readonly DiscoveredInstance[]>>;

export interface PublishDeps {
  repository: MeshRepository;
  snapshots: SnapshotStore;
  instances?: InstanceSource;
}

/** What one publish did, for logs and tests. */
export interface PublishResult {
  mesh: string;
  proxies: number;
  /** Proxies compiled this time (the others kept their manifest entries untouched). */
  compiled: number;
  written: number;
  unchanged: number;
  errors: Record<string, string>;
  /** Set when the publish stepped aside because the mesh changed while it compiled. */
  superseded?: boolean;
}

export interface PublishOptions {
  /**
   * The changes that triggered this publish. Only the proxies they can affect are compiled (and
   * any proxy the manifest does not know yet); without changes, every proxy is.
   */
  changes?: readonly MeshChange[];
  /**
   * Publish only if the mesh is still as it was loaded when the manifest is about to be written.
   * The scheduled reconcile sets it, so it never overwrites what the stream-triggered compile of
   * a newer change has just published.
   */
  yieldToNewerChanges?: boolean;
  /**
   * Cloud Map services whose instances changed. Each counts as a change of the virtual nodes
   * that use it, so only the proxies reaching those nodes (their EDS) are compiled.
   */
  cloudMapServices?: readonly CloudMapServiceKey[];
}

/** The virtual nodes of a mesh that use one Cloud Map service. */
function nodesUsingService(state: MeshState, service: CloudMapServiceKey): MeshChange[] {
  const changes: MeshChange[] = [];
  for (const node of state.virtualNodes.values()) {
    const spec = node.spec as { serviceDiscovery?: { awsCloudMap?: { namespaceName: string; serviceName: string } } } | undefined;
    const cm = spec?.serviceDiscovery?.awsCloudMap;
    if (cm && cm.namespaceName === service.namespaceName && cm.serviceName === service.serviceName) changes.push({ kind: 'virtualNode', name: node.name });
  }
  return changes;
}

/** Snapshots written to S3 at once. */
const WRITE_CONCURRENCY = 16;

/** Runs `work` over `items`, at most `limit` at a time; fails with the first failure. */
async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A fingerprint of a mesh's stored state: every resource's identity and version. */
function fingerprint(items: readonly StoredResource[]): string {
  return items
    .map((i) => `${i.kind}/${i.parentName ?? ''}/${i.name}@${i.version}`)
    .sort()
    .join('\n');
}

async function loadState(deps: PublishDeps, meshName: string): Promise<{ items: StoredResource[]; state: MeshState | undefined }> {
  const items = await deps.repository.loadMesh(meshName);
  const nodes = items.filter((i) => i.kind === 'virtualNode');
  const instances = deps.instances ? await deps.instances(meshName, nodes) : undefined;
  return { items, state: indexMesh(items, instances ? { instances } : {}) };
}

/**
 * Compiles a mesh from its current state in the table (never from stream images alone) and
 * publishes it: changed snapshots first, the manifest last, so a relay never reads a manifest
 * naming a snapshot that is not there. Only the proxies the changes can affect are compiled; a
 * proxy whose snapshot version is unchanged is not written again; a proxy that fails to compile
 * keeps its last good snapshot and the manifest says why. A deleted mesh publishes an empty
 * manifest, so relays drop its proxies.
 */
export async function publishMesh(deps: PublishDeps, meshName: string, options: PublishOptions = {}): Promise<PublishResult> {
  const { items, state } = await loadState(deps, meshName);
  const previous = await deps.snapshots.getManifest(meshName);
  const manifest: Manifest = { mesh: meshName, proxies: {}, errors: {} };
  let written = 0;
  let unchanged = 0;
  let compiled = 0;
  if (state) {
    let changes = options.changes;
    if (options.cloudMapServices) {
      changes = [...(changes ?? []), ...options.cloudMapServices.flatMap((service) => nodesUsingService(state, service))];
    }
    const affected = changes ? affectedProxies(state, changes) : 'all';
    const only = new Set<string>();
    for (const key of proxyKeys(state)) {
      const known = previous && (key in previous.proxies || key in previous.errors);
      if (affected === 'all' || affected.has(key) || !known) {
        only.add(key);
        continue;
      }
      // Not affected: keep what the manifest says, good entry and error alike.
      const entry = previous.proxies[key];
      const error = previous.errors[key];
      if (entry) manifest.proxies[key] = entry;
      if (error !== undefined) manifest.errors[key] = error;
    }
    const output = compileMesh(state, { only });
    compiled = output.size;
    const toWrite: [string, CompiledProxy][] = [];
    for (const [key, outcome] of output) {
      const last = previous?.proxies[key];
      if ('error' in outcome) {
        manifest.errors[key] = outcome.error;
        if (last) manifest.proxies[key] = last;
        continue;
      }
      if (last && last.version === outcome.snapshot.version) {
        manifest.proxies[key] = last;
        unchanged++;
        continue;
      }
      toWrite.push([key, outcome]);
    }
    // Snapshots are immutable and independent: write several at once (S3 latency, not
    // bandwidth, is what a large mesh waits on); the manifest still comes after all of them.
    await inParallel(toWrite, WRITE_CONCURRENCY, async ([key, outcome]) => {
      manifest.proxies[key] = await deps.snapshots.putSnapshot(meshName, outcome.snapshot, outcome.twin);
    });
    written = toWrite.length;
  }
  const result: PublishResult = { mesh: meshName, proxies: Object.keys(manifest.proxies).length, compiled, written, unchanged, errors: manifest.errors };
  if (options.yieldToNewerChanges && fingerprint(await deps.repository.loadMesh(meshName)) !== fingerprint(items)) {
    return { ...result, superseded: true };
  }
  await deps.snapshots.putManifestIfChanged(manifest, previous);
  return result;
}

/** Every mesh name in the table, page by page from the registry of meshes. */
export async function listMeshNames(repository: MeshRepository): Promise<string[]> {
  const names: string[] = [];
  let after: string | undefined;
  do {
    const page = await repository.listMeshes(100, after);
    for (const item of page.items) names.push(item.meshName);
    after = page.lastSortKey;
  } while (after);
  return names;
}
