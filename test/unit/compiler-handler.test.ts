/**
 * The stream-triggered compile handler: one publish per mesh of a batch, with the changes its
 * records name; registry records ignored; a failing mesh reported as a partial batch failure
 * from its first record while the other meshes are published.
 */
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { beforeAll, describe, expect, it, vi } from 'vitest';

const publishMesh = vi.fn();
vi.mock('../../shared/mesh/publish.js', () => ({ publishMesh }));

let compileChangedMeshes: (event: DynamoDBStreamEvent) => Promise<{ batchItemFailures: { itemIdentifier: string }[] }>;

beforeAll(async () => {
  // The handler module builds its clients from the environment once, as a Lambda container does.
  process.env.MESHLINE_TABLE = 'table';
  process.env.MESHLINE_BUCKET = 'bucket';
  ({ compileChangedMeshes } = await import('../../functions/compile/handler.js'));
});

function record(pk: string, sk: string, sequence: string): DynamoDBRecord {
  return { eventName: 'MODIFY', dynamodb: { Keys: { pk: { S: pk }, sk: { S: sk } }, SequenceNumber: sequence } };
}

describe('the compile handler', () => {
  it('publishes each mesh once with the changes of its records, and ignores the registry of meshes', async () => {
    publishMesh.mockReset().mockResolvedValue({ mesh: '', proxies: 0, compiled: 0, written: 0, unchanged: 0, errors: {} });
    const result = await compileChangedMeshes({
      Records: [
        record('mesh#a', 'route#r#one', '100'),
        record('meshes', 'a', '101'),
        record('mesh#b', 'virtualNode#web', '102'),
        record('mesh#a', 'virtualService#svc', '103'),
      ],
    });
    expect(result).toEqual({ batchItemFailures: [] });
    expect(publishMesh.mock.calls.map(([, mesh, options]) => [mesh, options])).toEqual([
      ['a', { changes: [{ kind: 'route', parentName: 'r', name: 'one' }, { kind: 'virtualService', name: 'svc' }] }],
      ['b', { changes: [{ kind: 'virtualNode', name: 'web' }] }],
    ]);
  });

  it('reports the first record of a failing mesh, so Lambda retries from there, and publishes the others', async () => {
    publishMesh.mockReset().mockImplementation(async (_deps: unknown, mesh: string) => {
      if (mesh === 'broken') throw new Error('S3 is down');
      return { mesh, proxies: 0, compiled: 0, written: 0, unchanged: 0, errors: {} };
    });
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const result = await compileChangedMeshes({
      Records: [record('mesh#ok', 'mesh', '200'), record('mesh#broken', 'virtualNode#x', '201'), record('mesh#broken', 'virtualNode#y', '202'), record('mesh#later', 'mesh', '203')],
    });
    error.mockRestore();
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: '201' }] });
    expect(publishMesh.mock.calls.map(([, mesh]) => mesh)).toEqual(['ok', 'broken', 'later']);
  });
});
