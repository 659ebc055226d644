import middy from '@middy/core';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { changeOfSortKey, type MeshChange } from '../../shared/compiler/index.js';
import { publishMesh } from '../../shared/mesh/publish.js';
import { runtimeFromEnv } from '../runtime.js';

const runtime = runtimeFromEnv(process.env);

const MESH_PARTITION = /^mesh#(.+)$/;

/** The mesh a stream record belongs to (records of the mesh registry partition belong to none). */
function meshOf(record: DynamoDBRecord): string | undefined {
  const pk = record.dynamodb?.Keys?.pk?.S;
  return pk ? MESH_PARTITION.exec(pk)?.[1] : undefined;
}

/** What a record changed; a record without a sort key is an unknown change (recompile all). */
function changeOf(record: DynamoDBRecord): MeshChange {
  const sk = record.dynamodb?.Keys?.sk?.S;
  return sk === undefined ? { kind: 'unknown', name: '' } : changeOfSortKey(sk);
}

interface MeshBatch {
  firstRecord: DynamoDBRecord;
  changes: MeshChange[];
}

/**
 * Compiles every mesh that changed in a batch of stream records, once per mesh however many of
 * its records the batch holds, and only the proxies those records can affect. A mesh that fails
 * is reported as a partial batch failure from its first record, so Lambda retries from there
 * (bisecting the batch, and after bounded retries sending the records to the dead-letter queue)
 * while the other meshes of the batch are done. The scheduled reconcile heals what is lost.
 */
export async function compileChangedMeshes(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  const meshes = new Map<string, MeshBatch>();
  for (const record of event.Records) {
    const mesh = meshOf(record);
    if (mesh === undefined) continue;
    const batch = meshes.get(mesh) ?? { firstRecord: record, changes: [] };
    batch.changes.push(changeOf(record));
    meshes.set(mesh, batch);
  }
  const failures: string[] = [];
  for (const [mesh, { firstRecord, changes }] of meshes) {
    try {
      const result = await publishMesh(runtime, mesh, { changes });
      console.log(JSON.stringify({ level: 'info', msg: 'mesh published', records: changes.length, ...result }));
    } catch (error) {
      console.error(JSON.stringify({ level: 'error', msg: 'mesh publish failed', mesh, error: String((error as Error)?.stack ?? error) }));
      const sequence = firstRecord.dynamodb?.SequenceNumber;
      if (sequence) failures.push(sequence);
    }
  }
  // Lambda retries a shard from its lowest failed sequence number.
  failures.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  return { batchItemFailures: failures.slice(0, 1).map((itemIdentifier) => ({ itemIdentifier })) };
}

export const handler = middy<DynamoDBStreamEvent, DynamoDBBatchResponse>().handler(compileChangedMeshes);
