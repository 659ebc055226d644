import middy from '@middy/core';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { changeOfSortKey, type MeshChange } from '../../shared/compiler/index.js';
import { serviceId, storedInstanceSource } from '../../shared/mesh/cloudmap.js';
import { publishMesh, type PublishDeps } from '../../shared/mesh/publish.js';
import { INSTANCE_SORT_PREFIX, cloudMapServiceOfPartition, type CloudMapServiceKey, type InstanceStore } from '../../shared/store/instances.js';
import { runtimeFromEnv } from '../runtime.js';

const runtime = runtimeFromEnv(process.env);
const defaultDeps: CompileDeps = { ...runtime, instances: storedInstanceSource(runtime.instanceStore) };

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

/** The Cloud Map service whose instance a record changed (subscription records change none). */
function cloudMapServiceOf(record: DynamoDBRecord): CloudMapServiceKey | undefined {
  const pk = record.dynamodb?.Keys?.pk?.S;
  const sk = record.dynamodb?.Keys?.sk?.S;
  if (!pk || !sk?.startsWith(INSTANCE_SORT_PREFIX)) return undefined;
  return cloudMapServiceOfPartition(pk);
}

interface MeshBatch {
  firstRecord: DynamoDBRecord;
  changes: MeshChange[];
  cloudMapServices: CloudMapServiceKey[];
}

export interface CompileDeps extends PublishDeps {
  instanceStore: InstanceStore;
}

/**
 * Compiles every mesh that changed in a batch of stream records, once per mesh however many of
 * its records the batch holds, and only the proxies those records can affect. A mesh that fails
 * is reported as a partial batch failure from its first record, so Lambda retries from there
 * (bisecting the batch, and after bounded retries sending the records to the dead-letter queue)
 * while the other meshes of the batch are done. The scheduled reconcile heals what is lost.
 */
export async function compileChangedMeshes(event: DynamoDBStreamEvent, deps: CompileDeps = defaultDeps): Promise<DynamoDBBatchResponse> {
  const meshes = new Map<string, MeshBatch>();
  const failures: string[] = [];
  // Instance changes of Cloud Map services: each goes to the meshes subscribed to its service.
  const services = new Map<string, { service: CloudMapServiceKey; firstRecord: DynamoDBRecord }>();
  for (const record of event.Records) {
    const mesh = meshOf(record);
    if (mesh !== undefined) {
      const batch = meshes.get(mesh) ?? { firstRecord: record, changes: [], cloudMapServices: [] };
      batch.changes.push(changeOf(record));
      meshes.set(mesh, batch);
      continue;
    }
    const service = cloudMapServiceOf(record);
    if (service && !services.has(serviceId(service))) services.set(serviceId(service), { service, firstRecord: record });
  }
  for (const { service, firstRecord } of services.values()) {
    try {
      for (const mesh of await deps.instanceStore.subscribers(service)) {
        const batch = meshes.get(mesh) ?? { firstRecord, changes: [], cloudMapServices: [] };
        batch.cloudMapServices.push(service);
        meshes.set(mesh, batch);
      }
    } catch (error) {
      console.error(JSON.stringify({ level: 'error', msg: 'cloud map subscribers failed', ...service, error: String((error as Error)?.stack ?? error) }));
      const sequence = firstRecord.dynamodb?.SequenceNumber;
      if (sequence) failures.push(sequence);
    }
  }
  for (const [mesh, { firstRecord, changes, cloudMapServices }] of meshes) {
    try {
      // A mesh woken only by instance changes compiles only the proxies reaching those nodes.
      const options = cloudMapServices.length ? { changes, cloudMapServices } : { changes };
      const result = await publishMesh(deps, mesh, options);
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

export const handler = middy<DynamoDBStreamEvent, DynamoDBBatchResponse>().handler((event) => compileChangedMeshes(event));
