import {
  TransactionCanceledException,
  ConditionalCheckFailedException,
  type AttributeValue,
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

/** A client token a resource was recently written with, and the hash of that request. */
export interface RecentToken {
  /** SHA-256 of the token: a token has no length bound in the model, so it is not stored as given. */
  token: string;
  request: string;
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
  /** The client tokens of the last creates and updates, oldest first, for idempotent retries. */
  recentTokens?: RecentToken[] | undefined;
  /** How many resources reference this one (route targets, service providers, gateway route targets). */
  refCount?: number | undefined;
  /** How many resources this one holds (a mesh's resources, a router's routes, a gateway's routes). */
  childCount?: number | undefined;
  /** Moves with every tag change (tags do not move the App Mesh version). */
  tagsRevision?: number | undefined;
}

/** A reference from one resource to another, held as a counter on the referenced item. */
export type Reference = ResourceKey;

/**
 * The scalar attributes of an item as it was when a transaction's condition failed on it
 * (`version`, `refCount`, `childCount`, `virtualNodeCount`, ...); undefined when there was no item.
 */
export type ItemState = Readonly<Record<string, string | number | undefined>>;

/** The partition of a mesh: every entity of a mesh shares it, so one Query loads a whole mesh. */
export function meshPartition(meshName: string): string {
  return `mesh#${meshName}`;
}

/** The partition that lists meshes (ListMeshes cannot Query across mesh partitions). */
export const MESH_REGISTRY_PARTITION = 'meshes';

/** The item that counts the account's meshes (the meshes-per-account quota); no mesh partition, so no compile. */
const ACCOUNT_KEY = { [PARTITION_KEY]: 'account', [SORT_KEY]: 'counters' } as const;

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

/** DynamoDB's key size limits, in UTF-8 bytes. */
const MAX_PARTITION_KEY_BYTES = 2048;
const MAX_SORT_KEY_BYTES = 1024;

/**
 * Whether a resource with this key can be stored at all. Names may be up to 255 characters, but
 * URI-encoding multiplies non-ASCII characters, so a route named with 255 such characters under a
 * router named the same way would exceed DynamoDB's 1,024-byte sort key; and a name holding a lone
 * UTF-16 surrogate cannot be encoded. Such a resource cannot exist, so reads answer "not there".
 */
export function isStorableKey(key: ResourceKey): boolean {
  try {
    const sortKeys = [sortKey(key), ...(key.kind === 'mesh' ? [registrySortKey(key.meshName)] : [])];
    return (
      Buffer.byteLength(meshPartition(key.meshName)) <= MAX_PARTITION_KEY_BYTES &&
      sortKeys.every((sk) => Buffer.byteLength(sk) <= MAX_SORT_KEY_BYTES)
    );
  } catch {
    return false; // encodeURIComponent throws URIError on a lone surrogate
  }
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

/** The scalar attributes of a raw (marshalled) item, which is what a cancellation reason carries. */
function itemState(item: Record<string, AttributeValue> | undefined): ItemState | undefined {
  if (!item) return undefined;
  const state: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(item)) {
    if (value.N !== undefined) state[name] = Number(value.N);
    else if (value.S !== undefined) state[name] = value.S;
  }
  return state;
}

/** One write of a transaction, with the domain error to raise when its condition fails. */
export interface TransactionPart {
  write: TransactWriteItem;
  /** Gets the item as it was when the condition failed (undefined: there was none). */
  onConditionFailed: (current: ItemState | undefined) => MeshlineError;
}

/** A counter to move on an item, and the most it may reach (a quota) if any. */
export interface CounterChange {
  counter: string;
  delta: number;
  max?: number | undefined;
}

/** A page of a listing: items and the sort key to continue after, if any. */
export interface Page {
  items: StoredResource[];
  lastSortKey?: string | undefined;
}

const MAX_TRANSACTION_ATTEMPTS = 8;

/** DynamoDB's answers to a caller that goes too fast; the SDK has already retried them. */
const THROTTLING = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded']);
const THROTTLING_REASONS = new Set(['ProvisionedThroughputExceeded', 'ThrottlingError', 'RequestLimitExceeded']);

/** The attribute of a mesh item that counts the mesh's resources of one kind (`virtualNodeCount`). */
export function kindCounter(kind: Kind): string {
  return `${kind}Count`;
}

/**
 * The DynamoDB repository of mesh entities. Every write is one transaction whose conditions
 * enforce App Mesh's rules (uniqueness, versions, references, non-empty parents, quotas), so no
 * race between two writers can break them. SDK errors become domain errors here, at the edge.
 */
export class MeshRepository {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string,
  ) {}

  async get(key: ResourceKey): Promise<StoredResource | undefined> {
    if (!isStorableKey(key)) return undefined;
    const result = await this.send(() => this.db.send(new GetCommand({ TableName: this.table, Key: itemKey(key), ConsistentRead: true })));
    return result.Item ? fromItem(result.Item) : undefined;
  }

  /** Every resource of a mesh, the mesh itself included, with one (paged) consistent Query. */
  async loadMesh(meshName: string): Promise<StoredResource[]> {
    const items: StoredResource[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const result = await this.send(() =>
        this.db.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: '#pk = :pk',
            ExpressionAttributeNames: { '#pk': PARTITION_KEY },
            ExpressionAttributeValues: { ':pk': meshPartition(meshName) },
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        ),
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

  /**
   * A page of one kind of resource of a mesh (of one parent, for routes), in name order.
   * `afterSortKey` must lie under the listing's prefix (DynamoDB rejects a start key outside
   * the key condition): callers check it with `sortKeyPrefix`.
   */
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
      const result = await this.send(() =>
        this.db.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: prefix ? '#pk = :pk AND begins_with(#sk, :prefix)' : '#pk = :pk',
            ExpressionAttributeNames: { '#pk': PARTITION_KEY, ...(prefix ? { '#sk': SORT_KEY } : {}) },
            ExpressionAttributeValues: { ':pk': partition, ...(prefix ? { ':prefix': prefix } : {}) },
            ConsistentRead: true,
            Limit: limit + 1 - items.length,
            ExclusiveStartKey: start,
          }),
        ),
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
   * Runs one transaction. A failed condition becomes the domain error of its part, given the
   * item as it was; a conflict with another transaction on the same items is retried with
   * backoff, then answered as TooManyRequests (the caller may retry: nothing was written).
   * Any other cancellation (a validation error) is an internal error and is rethrown as is.
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
          if (failed >= 0) throw (parts[failed] as TransactionPart).onConditionFailed(itemState(reasons[failed]?.Item));
          if (reasons.some((r) => r.Code === 'TransactionConflict')) {
            // Logged so a hot item shows in the logs (and the API benchmark can count it).
            console.warn(JSON.stringify({ level: 'warn', msg: 'transaction conflict', attempt }));
            if (attempt < MAX_TRANSACTION_ATTEMPTS) {
              await backoff(attempt);
              continue;
            }
            throw new TooManyRequestsError('The resource is being changed by other requests; retry the request.');
          }
          if (reasons.some((r) => THROTTLING_REASONS.has(r.Code ?? ''))) throw throttled();
          throw error;
        }
        if (error instanceof ConditionalCheckFailedException) throw parts[0]?.onConditionFailed(undefined) ?? error;
        if (THROTTLING.has((error as Error).name)) throw throttled();
        throw error;
      }
    }
  }

  /** Sends a read, turning DynamoDB's throttling (after the SDK's own retries) into TooManyRequests. */
  private async send<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (error) {
      if (THROTTLING.has((error as Error).name)) throw throttled();
      throw error;
    }
  }

  // The builders below return transaction parts; each explains its condition. Every part asks
  // for the item as it was when its condition fails, so the use case can tell why.

  /** Put a new resource: fails if one with that key exists. */
  putNew(resource: StoredResource, onExists: (current: ItemState | undefined) => MeshlineError): TransactionPart {
    return {
      write: {
        Put: {
          TableName: this.table,
          Item: toItem(resource),
          // Only when no item has this key: names are unique per kind (and parent) in a mesh.
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      } as unknown as TransactWriteItem,
      onConditionFailed: onExists,
    };
  }

  /**
   * Update a resource's spec and App Mesh metadata only: counters and tags are kept as stored,
   * since other transactions move them without touching the version.
   */
  updateSpec(resource: StoredResource, expectedVersion: number, onChanged: (current: ItemState | undefined) => MeshlineError): TransactionPart {
    return {
      write: {
        Update: {
          TableName: this.table,
          Key: itemKey(resource),
          UpdateExpression: 'SET #spec = :spec, #version = :version, #updated = :updated, #tokens = :tokens',
          // Optimistic concurrency: no update is lost and a version never repeats.
          ConditionExpression: '#version = :expected',
          ExpressionAttributeNames: {
            '#spec': 'spec',
            '#version': 'version',
            '#updated': 'lastUpdatedAt',
            '#tokens': 'recentTokens',
          },
          ExpressionAttributeValues: {
            ':spec': JSON.stringify(resource.spec),
            ':version': resource.version,
            ':updated': resource.lastUpdatedAt,
            ':tokens': resource.recentTokens ?? [],
            ':expected': expectedVersion,
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      } as unknown as TransactWriteItem,
      onConditionFailed: onChanged,
    };
  }

  /**
   * Replace a resource's tags: fails unless the tags are still those the change was based on
   * (tags do not move the App Mesh version, so they carry their own revision).
   */
  updateTags(key: ResourceKey, tags: Tag[], expectedRevision: number, onChanged: (current: ItemState | undefined) => MeshlineError): TransactionPart {
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
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      } as unknown as TransactWriteItem,
      onConditionFailed: onChanged,
    };
  }

  /** Delete a resource: fails if it changed since it was read, or if anything references or lives in it. */
  deleteIdle(key: ResourceKey, expectedVersion: number, onBlocked: (current: ItemState | undefined) => MeshlineError): TransactionPart {
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
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      } as unknown as TransactWriteItem,
      onConditionFailed: onBlocked,
    };
  }

  /**
   * Move counters (`refCount`, `childCount`, `virtualNodeCount`, ...) of an existing resource:
   * fails if the resource does not exist, so a reference or a child can never dangle, or if a
   * counter with a `max` would pass it, so a quota holds however many creates race.
   */
  adjustCounters(key: ResourceKey, changes: CounterChange[], onFailed: (current: ItemState | undefined) => MeshlineError): TransactionPart {
    const names: Record<string, string> = { '#pk': PARTITION_KEY };
    const values: Record<string, number> = { ':zero': 0 };
    const sets: string[] = [];
    // The resource (or parent) must exist in the same transaction as the write.
    const conditions = ['attribute_exists(#pk)'];
    changes.forEach(({ counter, delta, max }, i) => {
      names[`#c${i}`] = counter;
      values[`:d${i}`] = delta;
      sets.push(`#c${i} = if_not_exists(#c${i}, :zero) + :d${i}`);
      if (max !== undefined) {
        // After the change the counter may be at most `max`.
        values[`:m${i}`] = max - delta;
        conditions.push(`(attribute_not_exists(#c${i}) OR #c${i} <= :m${i})`);
      }
    });
    return {
      write: {
        Update: {
          TableName: this.table,
          Key: itemKey(key),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      } as unknown as TransactWriteItem,
      onConditionFailed: onFailed,
    };
  }

  /**
   * Move the account's mesh count (the item is created on first use). With a `max`, fails if the
   * count would pass it: the meshes-per-account quota, race-free.
   */
  adjustMeshCount(delta: number, max: number | undefined, onFailed: (current: ItemState | undefined) => MeshlineError): TransactionPart {
    return {
      write: {
        Update: {
          TableName: this.table,
          Key: ACCOUNT_KEY,
          UpdateExpression: 'SET #count = if_not_exists(#count, :zero) + :delta',
          ...(max !== undefined
            ? { ConditionExpression: 'attribute_not_exists(#count) OR #count <= :max' }
            : {}),
          ExpressionAttributeNames: { '#count': 'meshCount' },
          ExpressionAttributeValues: { ':delta': delta, ':zero': 0, ...(max !== undefined ? { ':max': max - delta } : {}) },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      } as unknown as TransactWriteItem,
      onConditionFailed: onFailed,
    };
  }

  /** Write the mesh's entry in the registry partition that ListMeshes reads. */
  putRegistryEntry(mesh: StoredResource): TransactionPart {
    // A copy of what a MeshRef shows, and nothing else: counters and tokens live on the mesh's own item.
    const entry: StoredResource = {
      kind: 'mesh',
      meshName: mesh.meshName,
      name: mesh.meshName,
      spec: mesh.spec,
      tags: [],
      arn: mesh.arn,
      uid: mesh.uid,
      version: mesh.version,
      createdAt: mesh.createdAt,
      lastUpdatedAt: mesh.lastUpdatedAt,
      meshOwner: mesh.meshOwner,
      resourceOwner: mesh.resourceOwner,
    };
    return {
      write: {
        Put: {
          TableName: this.table,
          Item: { ...toItem(entry), [PARTITION_KEY]: MESH_REGISTRY_PARTITION, [SORT_KEY]: registrySortKey(mesh.meshName) },
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

function throttled(): TooManyRequestsError {
  return new TooManyRequestsError('The table is throttling requests; retry the request.');
}

function backoff(attempt: number): Promise<void> {
  const ms = Math.min(200, 5 * 2 ** attempt) * (0.5 + Math.random() / 2);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
