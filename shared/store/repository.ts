import {
  TransactionCanceledException,
  ConditionalCheckFailedException,
  type TransactWriteItem,
} from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { TooManyRequestsError, type MeshlineError } from '../errors.js';
import { KINDS, type Kind, type ResourceKey } from '../mesh/kinds.js';
import { PARTITION_KEY, SORT_KEY } from './table.js';

/** An App Mesh tag. */
export interface Tag {
  key: string;
  value?: string | undefined;
}

/** One App Mesh resource as stored: identity, spec, tags and App Mesh metadata. */
export interface StoredResource extends ResourceKey {
  spec: unknown;
  tags: Tag[];
  arn: string;
  uid: string;
  version: number;
  /** Epoch milliseconds. */
  createdAt: number;
  lastUpdatedAt: number;
  meshOwner: string;
  resourceOwner: string;
  /** Client token and request hash of the last create or update, for idempotent retries. */
  clientToken?: string | undefined;
  requestHash?: string | undefined;
  /** How many resources reference this one (route targets, service providers, gateway route targets). */
  refCount?: number | undefined;
  /** How many resources this one holds (a mesh's resources, a router's routes, a gateway's routes). */
  childCount?: number | undefined;
  /** Moves with every tag change (tags do not move the App Mesh version). */
  tagsRevision?: number | undefined;
}

/** A reference from one resource to another, held as a counter on the referenced item. */
export type Reference = ResourceKey;

/** The partition of a mesh: every entity of a mesh shares it, so one Query loads a whole mesh. */
export function meshPartition(meshName: string): string {
  return `mesh#${meshName}`;
}

/** The partition that lists meshes (ListMeshes cannot Query across mesh partitions). */
export const MESH_REGISTRY_PARTITION = 'meshes';

/**
 * The sort key of a resource inside its mesh's partition. Names are URI-encoded so a `#` in a
 * name can never make two keys collide (`route#a#b#c` would be ambiguous otherwise).
 */
export function sortKey(key: Pick<ResourceKey, 'kind' | 'parentName' | 'name'>): string {
  if (key.kind === 'mesh') return 'mesh';
  const parent = KINDS[key.kind].parent ? `${encodeURIComponent(key.parentName ?? '')}#` : '';
  return `${key.kind}#${parent}${encodeURIComponent(key.name)}`;
}

/** The sort-key prefix of every resource of a kind (under one parent, for routes). */
export function sortKeyPrefix(kind: Kind, parentName?: string): string {
  return KINDS[kind].parent ? `${kind}#${encodeURIComponent(parentName ?? '')}#` : `${kind}#`;
}

function itemKey(key: ResourceKey): Record<string, string> {
  return { [PARTITION_KEY]: meshPartition(key.meshName), [SORT_KEY]: sortKey(key) };
}

const ITEM_ATTRIBUTES = [PARTITION_KEY, SORT_KEY] as const;

function toItem(resource: StoredResource): Record<string, unknown> {
  const { spec, ...rest } = resource;
  // The spec is kept as JSON text so it comes back exactly as it was given.
  return { ...itemKey(resource), ...rest, spec: JSON.stringify(spec) };
}

function fromItem(item: Record<string, unknown>): StoredResource {
  const { spec, ...rest } = item;
  for (const attribute of ITEM_ATTRIBUTES) delete rest[attribute];
  return { ...(rest as Omit<StoredResource, 'spec'>), spec: JSON.parse(String(spec)) as unknown };
}

/** One write of a transaction, with the domain error to raise when its condition fails. */
export interface TransactionPart {
  write: TransactWriteItem;
  onConditionFailed: () => MeshlineError;
}

/** A page of a listing: items and the sort key to continue after, if any. */
export interface Page {
  items: StoredResource[];
  lastSortKey?: string | undefined;
}

const MAX_TRANSACTION_ATTEMPTS = 8;

/**
 * The DynamoDB repository of mesh entities. Every write is one transaction whose conditions
 * enforce App Mesh's rules (uniqueness, versions, references, non-empty parents), so no race
 * between two writers can break them. SDK errors become domain errors here, at the edge.
 */
export class MeshRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async get(key: ResourceKey): Promise<StoredResource | undefined> {
    const result = await this.db.send(new GetCommand({ TableName: this.table, Key: itemKey(key), ConsistentRead: true }));
    return result.Item ? fromItem(result.Item) : undefined;
  }

  /** Every resource of a mesh, the mesh itself included, with one (paged) consistent Query. */
  async loadMesh(meshName: string): Promise<StoredResource[]> {
    const items: StoredResource[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY },
          ExpressionAttributeValues: { ':pk': meshPartition(meshName) },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of result.Items ?? []) items.push(fromItem(item));
      start = result.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /** A page of meshes in name order, from the registry partition. */
  async listMeshes(limit: number, afterSortKey?: string): Promise<Page> {
    return this.queryPage(MESH_REGISTRY_PARTITION, '', limit, afterSortKey);
  }

  /** A page of one kind of resource of a mesh (of one parent, for routes), in name order. */
  async list(meshName: string, kind: Kind, parentName: string | undefined, limit: number, afterSortKey?: string): Promise<Page> {
    return this.queryPage(meshPartition(meshName), sortKeyPrefix(kind, parentName), limit, afterSortKey);
  }

  private async queryPage(partition: string, prefix: string, limit: number, afterSortKey?: string): Promise<Page> {
    const items: StoredResource[] = [];
    let start: Record<string, unknown> | undefined = afterSortKey
      ? { [PARTITION_KEY]: partition, [SORT_KEY]: afterSortKey }
      : undefined;
    // Ask for one more than the page so we know whether another page follows.
    while (items.length <= limit) {
      const result = await this.db.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: prefix ? '#pk = :pk AND begins_with(#sk, :prefix)' : '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY, ...(prefix ? { '#sk': SORT_KEY } : {}) },
          ExpressionAttributeValues: { ':pk': partition, ...(prefix ? { ':prefix': prefix } : {}) },
          ConsistentRead: true,
          Limit: limit + 1 - items.length,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of result.Items ?? []) items.push(fromItem(item));
      start = result.LastEvaluatedKey;
      if (!start) break;
    }
    if (items.length <= limit) return { items };
    const page = items.slice(0, limit);
    return { items: page, lastSortKey: sortKeyOf(page[page.length - 1] as StoredResource) };
  }

  /**
   * Runs one transaction. A failed condition becomes the domain error of its part; a conflict
   * with another transaction on the same items is retried with backoff, then answered as
   * TooManyRequests (the caller may retry, nothing was written).
   */
  async transact(parts: TransactionPart[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.db.send(new TransactWriteCommand({ TransactItems: parts.map((p) => p.write) as never }));
        return;
      } catch (error) {
        if (error instanceof TransactionCanceledException) {
          const reasons = error.CancellationReasons ?? [];
          const failed = reasons.findIndex((r) => r.Code === 'ConditionalCheckFailed');
          if (failed >= 0) throw (parts[failed] as TransactionPart).onConditionFailed();
          if (reasons.some((r) => r.Code === 'TransactionConflict') && attempt < MAX_TRANSACTION_ATTEMPTS) {
            await backoff(attempt);
            continue;
          }
          throw new TooManyRequestsError('The resource is being changed by another request; retry the request.');
        }
        if (error instanceof ConditionalCheckFailedException) throw parts[0]?.onConditionFailed() ?? error;
        throw error;
      }
    }
  }

  // The builders below return transaction parts; each explains its condition.

  /** Put a new resource: fails if one with that key exists. */
  putNew(resource: StoredResource, onExists: () => MeshlineError): TransactionPart {
    return {
      write: {
        Put: {
          TableName: this.table,
          Item: toItem(resource),
          // Only when no item has this key: names are unique per kind (and parent) in a mesh.
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY },
        },
      } as unknown as TransactWriteItem,
      onConditionFailed: onExists,
    };
  }

  /**
   * Update a resource's spec and App Mesh metadata only: counters and tags are kept as stored,
   * since other transactions move them without touching the version.
   */
  updateSpec(resource: StoredResource, expectedVersion: number, onChanged: () => MeshlineError): TransactionPart {
    return {
      write: {
        Update: {
          TableName: this.table,
          Key: itemKey(resource),
          UpdateExpression:
            'SET #spec = :spec, #version = :version, #updated = :updated, #token = :token, #hash = :hash',
          // Optimistic concurrency: no update is lost and a version never repeats.
          ConditionExpression: '#version = :expected',
          ExpressionAttributeNames: {
            '#spec': 'spec',
            '#version': 'version',
            '#updated': 'lastUpdatedAt',
            '#token': 'clientToken',
            '#hash': 'requestHash',
          },
          ExpressionAttributeValues: {
            ':spec': JSON.stringify(resource.spec),
            ':version': resource.version,
            ':updated': resource.lastUpdatedAt,
            ':token': resource.clientToken ?? '',
            ':hash': resource.requestHash ?? '',
            ':expected': expectedVersion,
          },
        },
      } as unknown as TransactWriteItem,
      onConditionFailed: onChanged,
    };
  }

  /**
   * Replace a resource's tags: fails unless the tags are still those the change was based on
   * (tags do not move the App Mesh version, so they carry their own revision).
   */
  updateTags(key: ResourceKey, tags: Tag[], expectedRevision: number, onChanged: () => MeshlineError): TransactionPart {
    return {
      write: {
        Update: {
          TableName: this.table,
          Key: itemKey(key),
          UpdateExpression: 'SET #tags = :tags, #revision = :next',
          // Read-modify-write of the tag list: only if no other tag change came in between.
          ConditionExpression: 'attribute_exists(#pk) AND (#revision = :expected OR (attribute_not_exists(#revision) AND :expected = :zero))',
          ExpressionAttributeNames: { '#tags': 'tags', '#revision': 'tagsRevision', '#pk': PARTITION_KEY },
          ExpressionAttributeValues: { ':tags': tags, ':next': expectedRevision + 1, ':expected': expectedRevision, ':zero': 0 },
        },
      } as unknown as TransactWriteItem,
      onConditionFailed: onChanged,
    };
  }

  /** Delete a resource: fails if it changed since it was read, or if anything references or lives in it. */
  deleteIdle(key: ResourceKey, expectedVersion: number, onBlocked: () => MeshlineError): TransactionPart {
    return {
      write: {
        Delete: {
          TableName: this.table,
          Key: itemKey(key),
          // Same version as read, and nothing may still point at it or live under it.
          ConditionExpression:
            '#version = :expected AND (attribute_not_exists(#refs) OR #refs = :zero) AND (attribute_not_exists(#children) OR #children = :zero)',
          ExpressionAttributeNames: { '#version': 'version', '#refs': 'refCount', '#children': 'childCount' },
          ExpressionAttributeValues: { ':expected': expectedVersion, ':zero': 0 },
        },
      } as unknown as TransactWriteItem,
      onConditionFailed: onBlocked,
    };
  }

  /**
   * Add `delta` to a counter (`refCount` or `childCount`) of an existing resource: fails if the
   * resource does not exist, so a reference or a child can never dangle.
   */
  adjustCounter(key: ResourceKey, counter: 'refCount' | 'childCount', delta: number, onMissing: () => MeshlineError): TransactionPart {
    return {
      write: {
        Update: {
          TableName: this.table,
          Key: itemKey(key),
          UpdateExpression: 'SET #counter = if_not_exists(#counter, :zero) + :delta',
          // The referenced resource (or parent) must exist in the same transaction as the write.
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#counter': counter, '#pk': PARTITION_KEY },
          ExpressionAttributeValues: { ':delta': delta, ':zero': 0 },
        },
      } as unknown as TransactWriteItem,
      onConditionFailed: onMissing,
    };
  }

  /** Write the mesh's entry in the registry partition that ListMeshes reads. */
  putRegistryEntry(mesh: StoredResource): TransactionPart {
    return {
      write: {
        Put: {
          TableName: this.table,
          // A copy for listing only: the counters live on the mesh's own item.
          Item: {
            ...toItem({ ...mesh, refCount: undefined, childCount: undefined }),
            [PARTITION_KEY]: MESH_REGISTRY_PARTITION,
            [SORT_KEY]: registrySortKey(mesh.meshName),
          },
        },
      } as unknown as TransactWriteItem,
      onConditionFailed: () => new TooManyRequestsError('mesh registry write failed; retry the request.'),
    };
  }

  deleteRegistryEntry(meshName: string): TransactionPart {
    return {
      write: {
        Delete: {
          TableName: this.table,
          Key: { [PARTITION_KEY]: MESH_REGISTRY_PARTITION, [SORT_KEY]: registrySortKey(meshName) },
        },
      } as unknown as TransactWriteItem,
      onConditionFailed: () => new TooManyRequestsError('mesh registry delete failed; retry the request.'),
    };
  }
}

function registrySortKey(meshName: string): string {
  return encodeURIComponent(meshName);
}

function sortKeyOf(resource: StoredResource): string {
  return resource.kind === 'mesh' ? registrySortKey(resource.meshName) : sortKey(resource);
}

function backoff(attempt: number): Promise<void> {
  const ms = Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random() / 2);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
