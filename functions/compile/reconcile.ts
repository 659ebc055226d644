import middy from '@middy/core';
import { storedInstanceSource } from '../../shared/mesh/cloudmap.js';
import { listMeshNames, publishMesh, type PublishResult } from '../../shared/mesh/publish.js';
import type { PublishDeps } from '../../shared/mesh/publish.js';
import { runtimeFromEnv } from '../runtime.js';

const runtime = runtimeFromEnv(process.env);

/** What one reconcile did: per mesh, its publish result or why it failed. */
export interface ReconcileResult {
  meshes: number;
  failed: string[];
  written: number;
}

/**
 * Recompiles every mesh in the table from scratch and publishes what differs, so a stream
 * record that was lost (dead-lettered after its retries, or never delivered) and a compiler
 * upgrade both heal without anyone touching the mesh. A mesh that changes while it is being
 * reconciled is left to the stream-triggered compile of that change. One failing mesh does not
 * stop the others; the run fails at the end if any did, so the failure shows in the metrics.
 */
export async function reconcileAll(deps: PublishDeps): Promise<ReconcileResult> {
  const names = await listMeshNames(deps.repository);
  const failed: string[] = [];
  let written = 0;
  for (const mesh of names) {
    try {
      const result: PublishResult = await publishMesh(deps, mesh, { yieldToNewerChanges: true });
      written += result.written;
      if (result.written || result.superseded || Object.keys(result.errors).length) {
        console.log(JSON.stringify({ level: 'info', msg: 'mesh reconciled', ...result }));
      }
    } catch (error) {
      failed.push(mesh);
      console.error(JSON.stringify({ level: 'error', msg: 'mesh reconcile failed', mesh, error: String((error as Error)?.stack ?? error) }));
    }
  }
  return { meshes: names.length, failed, written };
}

async function reconcile(): Promise<ReconcileResult> {
  const result = await reconcileAll({ ...runtime, instances: storedInstanceSource(runtime.instanceStore) });
  console.log(JSON.stringify({ level: 'info', msg: 'reconcile done', ...result }));
  if (result.failed.length) throw new Error(`reconcile failed for ${result.failed.length} mesh(es): ${result.failed.join(', ')}`);
  return result;
}

export const handler = middy<unknown, ReconcileResult>().handler(reconcile);
