import middy from '@middy/core';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { publishMesh } from '../../shared/mesh/publish.js';
import { runtimeFromEnv } from '../runtime.js';

const runtime = runtimeFromEnv(process.env);

const MESH_PARTITION = /^mesh#(.+)$/;

/** The mesh a stream record belongs to (records of the mesh registry partition belong to none). */
function meshOf(record: DynamoDBRecord): string | undefined {
  const pk = record.dynamodb?.Keys?.pk?.S;
  return pk ? MESH_PARTITION.exec(pk)?.[1] : undefined;
}

/**
 * Compiles every mesh that changed in a batch of stream records, once per mesh however many of
 * its records the batch holds. A mesh that fails is reported as a partial batch failure from
 * its first record, so Lambda retries from there (and, after bounded retries, sends the records
 * to the dead-letter queue) while the other meshes of the batch are done.
 */
async function compileChangedMeshes(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  const firstRecord = new Map<string, DynamoDBRecord>();
  for (const record of event.Records) {
    const mesh = meshOf(record);
    if (mesh !== undefined && !firstRecord.has(mesh)) firstRecord.set(mesh, record);
  }
  const failures: string[] = [];
  for (const [mesh, record] of firstRecord) {
    try {
      const result = await publishMesh(runtime, mesh);
      console.log(JSON.stringify({ level: 'info', msg: 'mesh published', ...result }));
    } catch (error) {
      console.error(JSON.stringify({ level: 'error', msg: 'mesh publish failed', mesh, error: String((error as Error)?.stack ?? error) }));
      const sequence = record.dynamodb?.SequenceNumber;
      if (sequence) failures.push(sequence);
    }
  }
  // Lambda retries a shard from its lowest failed sequence number.
  failures.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  return { batchItemFailures: failures.slice(0, 1).map((itemIdentifier) => ({ itemIdentifier })) };
}

export const handler = middy<DynamoDBStreamEvent, DynamoDBBatchResponse>().handler(compileChangedMeshes);
