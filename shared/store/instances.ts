import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PARTITION_KEY, SORT_KEY } from './table.js';

/** A Cloud Map service, as a virtual node's `awsCloudMap` names it. */
export interface CloudMapServiceKey {
  namespaceName: string;
  serviceName: string;
}

/** Who wrote an instance: the registration API, or the resolver from real Cloud Map. */
export type InstanceOrigin = 'api' | 'cloudmap';

/** One registered instance of a Cloud Map service (Cloud Map's `Instance`: Id and Attributes). */
export interface StoredInstance {
  instanceId: string;
  attributes: Record<string, string>;
  origin: InstanceOrigin;
}

/**
 * The partition of a Cloud Map service in the mesh table: its instances (`instance#<id>`) and
 * the meshes that use it (`mesh#<name>`). Outside every mesh partition, so an instance write
 * never looks like a change of a mesh resource; the compile function maps it to its meshes.
 */
export const CLOUDMAP_PARTITION_PREFIX = 'cloudmap#';
export const INSTANCE_SORT_PREFIX = 'instance#';
export const SUBSCRIBER_SORT_PREFIX = 'mesh#';

export function cloudMapPartition(key: CloudMapServiceKey): string {
  return `${CLOUDMAP_PARTITION_PREFIX}${encodeURIComponent(key.namespaceName)}#${encodeURIComponent(key.serviceName)}`;
}

/** The service a partition key stands for; undefined for any other partition. */
export function cloudMapServiceOfPartition(pk: string): CloudMapServiceKey | undefined {
  if (!pk.startsWith(CLOUDMAP_PARTITION_PREFIX)) return undefined;
  const parts = pk.slice(CLOUDMAP_PARTITION_PREFIX.length).split('#');
  if (parts.length !== 2) return undefined;
  try {
    return { namespaceName: decodeURIComponent(parts[0] ?? ''), serviceName: decodeURIComponent(parts[1] ?? '') };
  } catch {
    return undefined;
  }
}

/**
 * Instances of Cloud Map services, and which meshes use each service, in the mesh table.
 * Instances are written by the registration API and by the Cloud Map resolver; subscriptions by
 * the compile path before it reads instances (see docs/decisions.md, "Cloud Map").
 */
export class InstanceStore {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  /** Registers or replaces an instance. Answers whether anything changed. */
  async put(service: CloudMapServiceKey, instance: StoredInstance): Promise<boolean> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: {
            [PARTITION_KEY]: cloudMapPartition(service),
            [SORT_KEY]: `${INSTANCE_SORT_PREFIX}${instance.instanceId}`,
            instanceId: instance.instanceId,
            attributes: JSON.stringify(sortedAttributes(instance.attributes)),
            origin: instance.origin,
          },
          // An identical rewrite is not a change: no stream record, no compile.
          ConditionExpression: 'attribute_not_exists(#pk) OR attributes <> :a OR origin <> :o',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY },
          ExpressionAttributeValues: { ':a': JSON.stringify(sortedAttributes(instance.attributes)), ':o': instance.origin },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Deregisters an instance; answers whether it was there. */
  async delete(service: CloudMapServiceKey, instanceId: string): Promise<boolean> {
    const result = await this.db.send(
      new DeleteCommand({
        TableName: this.table,
        Key: { [PARTITION_KEY]: cloudMapPartition(service), [SORT_KEY]: `${INSTANCE_SORT_PREFIX}${instanceId}` },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return result.Attributes !== undefined;
  }

  /** Every instance of a service, in id order (consistent read). */
  async list(service: CloudMapServiceKey): Promise<StoredInstance[]> {
    const items = await this.query(service, INSTANCE_SORT_PREFIX);
    return items.map((item) => ({
      instanceId: String(item.instanceId),
      attributes: JSON.parse(String(item.attributes)) as Record<string, string>,
      origin: item.origin === 'cloudmap' ? 'cloudmap' : 'api',
    }));
  }

  /** Records that a mesh uses a service; a no-op (and no stream record) when it already is. */
  async subscribe(service: CloudMapServiceKey, meshName: string): Promise<void> {
    try {
      await this.db.send(
        new PutCommand({
          TableName: this.table,
          Item: { [PARTITION_KEY]: cloudMapPartition(service), [SORT_KEY]: `${SUBSCRIBER_SORT_PREFIX}${encodeURIComponent(meshName)}`, meshName },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** The meshes that have used a service (consistent read). */
  async subscribers(service: CloudMapServiceKey): Promise<string[]> {
    return (await this.query(service, SUBSCRIBER_SORT_PREFIX)).map((item) => String(item.meshName));
  }

  private async query(service: CloudMapServiceKey, prefix: string): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
          ExpressionAttributeValues: { ':pk': cloudMapPartition(service), ':prefix': prefix },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(result.Items ?? []));
      start = result.LastEvaluatedKey;
    } while (start);
    return items;
  }
}

function sortedAttributes(attributes: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
