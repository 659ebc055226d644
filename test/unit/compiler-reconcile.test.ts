/**
 * The scheduled reconcile: every mesh the table lists (page by page) is published in full,
 * and one mesh that fails does not stop the others.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { PublishDeps } from '../../shared/mesh/publish.js';
import type { MeshRepository } from '../../shared/store/repository.js';

const publishMesh = vi.fn();
vi.mock('../../shared/mesh/publish.js', async (importOriginal) => ({ ...(await importOriginal<object>()), publishMesh }));

let reconcileAll: (deps: PublishDeps) => Promise<{ meshes: number; failed: string[]; written: number }>;

beforeAll(async () => {
  process.env.MESHLINE_TABLE = 'table';
  process.env.MESHLINE_BUCKET = 'bucket';
  ({ reconcileAll } = await import('../../functions/compile/reconcile.js'));
});

describe('the scheduled reconcile', () => {
  it('publishes every mesh of every page in full, yielding to newer changes, and carries on past a failure', async () => {
    const pages: Record<string, { items: { meshName: string }[]; lastSortKey?: string }> = {
      start: { items: [{ meshName: 'a' }, { meshName: 'b' }], lastSortKey: 'b' },
      b: { items: [{ meshName: 'c' }] },
    };
    const repository = { listMeshes: async (_limit: number, after?: string) => pages[after ?? 'start'] } as unknown as MeshRepository;
    publishMesh.mockReset().mockImplementation(async (_deps: unknown, mesh: string) => {
      if (mesh === 'b') throw new Error('throttled');
      return { mesh, proxies: 1, compiled: 1, written: 1, unchanged: 0, errors: {} };
    });
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const result = await reconcileAll({ repository, snapshots: {} as never });
    log.mockRestore();
    error.mockRestore();
    expect(result).toEqual({ meshes: 3, failed: ['b'], written: 2 });
    expect(publishMesh.mock.calls.map(([, mesh, options]) => [mesh, options])).toEqual([
      ['a', { yieldToNewerChanges: true }],
      ['b', { yieldToNewerChanges: true }],
      ['c', { yieldToNewerChanges: true }],
    ]);
  });
});
