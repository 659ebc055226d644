import { compileMesh, indexMesh } from '../compiler/index.js';
import type { MeshRepository } from '../store/repository.js';
import type { Manifest, SnapshotStore } from '../store/snapshots.js';

export interface PublishDeps {
  repository: MeshRepository;
  snapshots: SnapshotStore;
}

/** What one publish did, for logs and tests. */
export interface PublishResult {
  mesh: string;
  proxies: number;
  written: number;
  unchanged: number;
  errors: Record<string, string>;
}

/**
 * Compiles a mesh from its current state in the table (never from stream images alone) and
 * publishes it: changed snapshots first, the manifest last, so a relay never reads a manifest
 * naming a snapshot that is not there. A proxy whose snapshot version is unchanged is not
 * written again; a proxy that fails to compile keeps its last good snapshot and the manifest
 * says why. A deleted mesh publishes an empty manifest, so relays drop its proxies.
 */
export async function publishMesh(deps: PublishDeps, meshName: string): Promise<PublishResult> {
  const state = indexMesh(await deps.repository.loadMesh(meshName));
  const previous = await deps.snapshots.getManifest(meshName);
  const manifest: Manifest = { mesh: meshName, proxies: {}, errors: {} };
  let written = 0;
  let unchanged = 0;
  if (state) {
    for (const [key, outcome] of compileMesh(state)) {
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
      manifest.proxies[key] = await deps.snapshots.putSnapshot(meshName, outcome.snapshot, outcome.twin);
      written++;
    }
  }
  await deps.snapshots.putManifestIfChanged(manifest, previous);
  return { mesh: meshName, proxies: Object.keys(manifest.proxies).length, written, unchanged, errors: manifest.errors };
}
