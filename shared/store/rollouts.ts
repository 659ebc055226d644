/**
 * Rollouts (shared/mesh/rollouts.ts): one item per rollout, holding its settings, the route's
 * weights before it began and every step it took with that step's figures and decision, kept
 * after the rollout ends. Its own table, without a stream: a rollout's bookkeeping must never
 * wake the compiler (its weight changes reach the mesh table through UpdateRoute).
 *
 * Items:
 * - `pk = rollouts#<mesh>`, `sk = rollout#<id>`: the rollout. Ids sort by creation time, so one
 *   Query lists a mesh's rollouts oldest first.
 * - `pk = active`, `sk = <mesh>/<router>/<route>` (each part URI-encoded): the lock of a route
 *   with a rollout in progress (running or paused), naming it. Created with the rollout in one
 *   transaction, conditional on its absence (one rollout per route), and deleted in the
 *   transaction that ends the rollout. The scheduler's one Query of this partition finds every
 *   rollout in progress, however many have ended.
 */
import { randomUUID } from 'node:crypto';
import { TransactionCanceledException, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ConflictError } from '../errors.js';
import { keyedTableDefinition, PARTITION_KEY, SORT_KEY } from './table.js';

const ACTIVE_PARTITION = 'active';

/** The rollouts table as DynamoDB's CreateTable takes it, minus the name. No stream, no TTL. */
export const rolloutTableDefinition: Omit<CreateTableCommandInput, 'TableName'> = keyedTableDefinition;

/**
 * RUNNING: a step is in place and is being watched. PAUSED: the route was changed by someone
 * else; nothing moves until the rollout is aborted. The others are final.
 */
export type RolloutState = 'RUNNING' | 'PAUSED' | 'SUCCEEDED' | 'ROLLED_BACK' | 'ABORTED';

/** Whether a rollout in this state still holds its route. */
export function inProgress(state: RolloutState): boolean {
  return state === 'RUNNING' || state === 'PAUSED';
}

/** A weighted target of a route, as App Mesh has it. */
export interface RolloutTarget {
  virtualNode: string;
  weight: number;
  port?: number | undefined;
}

/** One step of a rollout: the weights it set, and, once judged, the canary's figures and the decision. */
export interface RolloutStep {
  /** The canary's percentage. */
  percent: number;
  /** Every target's weight in this step. */
  weights: Record<string, number>;
  /** The route version that holds this step's weights. */
  routeVersion: number;
  /** When the weights were written (ISO 8601): traffic and NACKs before it do not count for this step. */
  startedAt: string;
  /** When the step was last judged. */
  evaluatedAt?: string | undefined;
  /** The telemetry windows read: windowStart in [from, to), epoch seconds. */
  window?: { from: number; to: number; windowSeconds: number } | undefined;
  /** The canary's traffic within `window`, over every edge into it. */
  requests?: number | undefined;
  errors?: number | undefined;
  /** Percent of requests that failed. */
  errorRate?: number | undefined;
  /** The canary's p99 latency in ms, where proxies reported latency. */
  p99Ms?: number | undefined;
  /** Proxies that NACKed since the step began, one line each. */
  nacks?: string[] | undefined;
  /**
   * WAITING: too little traffic so far, judged again later; ADVANCED: healthy, the next step
   * followed; SUCCEEDED: healthy at 100 %; ROLLED_BACK: a figure failed; ABORTED, PAUSED: the
   * step ended by an abort or a change by hand.
   */
  decision?: 'WAITING' | 'ADVANCED' | 'SUCCEEDED' | 'ROLLED_BACK' | 'ABORTED' | 'PAUSED' | undefined;
  /** Why, in words: the figure that failed, or what was waited for. */
  reason?: string | undefined;
}

/** What a rollout was asked to do. */
export interface RolloutSettings {
  meshName: string;
  virtualRouterName: string;
  routeName: string;
  /** The canary: a virtual node of the mesh. */
  to: string;
  /** Ascending percentages, the last 100. */
  steps: number[];
  intervalSeconds: number;
  /** Percent of the canary's requests that may fail in a step. */
  maxErrorRate: number;
  /** Requests a step must see before it can pass. */
  minRequests: number;
  maxP99Ms?: number | undefined;
  /** How long past its interval a step with too little traffic may wait. */
  maxWaitSeconds: number;
}

export interface Rollout extends RolloutSettings {
  rolloutId: string;
  state: RolloutState;
  /** Why it is paused or ended, in words. */
  reason?: string | undefined;
  /** The route's weighted targets and version before the rollout's first write. */
  originalTargets: RolloutTarget[];
  originalVersion: number;
  /** The route version the rollout last wrote: any other means someone else changed the route. */
  routeVersion: number;
  /** Every step taken so far, the current one last. */
  history: RolloutStep[];
  createdAt: string;
  updatedAt: string;
  endedAt?: string | undefined;
  /** Moves with every write of the item: writes are conditional on it. */
  revision: number;
}

/** A new rollout id: sorts by creation time (ms, base 36), then random. */
export function newRolloutId(now: number): string {
  return `ro-${now.toString(36).padStart(9, '0')}-${randomUUID().slice(0, 8)}`;
}

function rolloutKey(meshName: string, rolloutId: string): { pk: string; sk: string } {
  return { pk: `rollouts#${meshName}`, sk: `rollout#${rolloutId}` };
}

function lockKey(r: Pick<RolloutSettings, 'meshName' | 'virtualRouterName' | 'routeName'>): { pk: string; sk: string } {
  return { pk: ACTIVE_PARTITION, sk: [r.meshName, r.virtualRouterName, r.routeName].map(encodeURIComponent).join('/') };
}

function fromItem(item: Record<string, unknown>): Rollout {
  const { [PARTITION_KEY]: _pk, [SORT_KEY]: _sk, ...rollout } = item;
  return rollout as unknown as Rollout;
}

function isConditionFailure(error: unknown): boolean {
  return error instanceof TransactionCanceledException && (error.CancellationReasons ?? []).some((r) => r.Code === 'ConditionalCheckFailed');
}

/** The rollouts table. */
export class RolloutStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Stores a new rollout and takes its route's lock, in one transaction. ConflictError if the
   * route already has a rollout in progress (the message names it).
   */
  async create(rollout: Rollout): Promise<void> {
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            // The lock: absent unless another rollout of the route is in progress.
            {
              Put: {
                TableName: this.tableName,
                Item: { ...lockKey(rollout), meshName: rollout.meshName, rolloutId: rollout.rolloutId },
                ConditionExpression: 'attribute_not_exists(#pk)',
                ExpressionAttributeNames: { '#pk': PARTITION_KEY },
              },
            },
            // Ids are unique; the condition only guards against overwriting one by accident.
            {
              Put: {
                TableName: this.tableName,
                Item: { ...rolloutKey(rollout.meshName, rollout.rolloutId), ...rollout },
                ConditionExpression: 'attribute_not_exists(#pk)',
                ExpressionAttributeNames: { '#pk': PARTITION_KEY },
              },
            },
          ],
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      const lock = await this.client.send(new GetCommand({ TableName: this.tableName, Key: lockKey(rollout), ConsistentRead: true }));
      const holder = typeof lock.Item?.rolloutId === 'string' ? ` (${lock.Item.rolloutId})` : '';
      throw new ConflictError(
        `Route ${rollout.routeName} of virtual router ${rollout.virtualRouterName} in mesh ${rollout.meshName} already has a rollout in progress${holder}; abort it first.`,
      );
    }
  }

  async get(meshName: string, rolloutId: string): Promise<Rollout | undefined> {
    const { Item } = await this.client.send(new GetCommand({ TableName: this.tableName, Key: rolloutKey(meshName, rolloutId), ConsistentRead: true }));
    return Item ? fromItem(Item) : undefined;
  }

  /** A mesh's rollouts, oldest first. */
  async list(meshName: string): Promise<Rollout[]> {
    const rollouts: Rollout[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :rollout)',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
          ExpressionAttributeValues: { ':pk': rolloutKey(meshName, '').pk, ':rollout': 'rollout#' },
          ExclusiveStartKey: startKey,
        }),
      );
      rollouts.push(...(page.Items ?? []).map(fromItem));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return rollouts;
  }

  /** Every rollout in progress (running or paused), in every mesh. */
  async listInProgress(): Promise<Rollout[]> {
    const locks: { meshName: string; rolloutId: string }[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY },
          ExpressionAttributeValues: { ':pk': ACTIVE_PARTITION },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) locks.push({ meshName: String(item.meshName), rolloutId: String(item.rolloutId) });
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    const rollouts = await Promise.all(locks.map((lock) => this.get(lock.meshName, lock.rolloutId)));
    return rollouts.filter((r): r is Rollout => r !== undefined && inProgress(r.state));
  }

  /**
   * Writes a rollout's new state, conditional on the revision it was read at (`rollout.revision`
   * is the read one; the stored one becomes revision + 1). A rollout that ends releases its
   * route's lock in the same transaction. ConflictError if another writer got there first.
   */
  async save(rollout: Rollout): Promise<Rollout> {
    const saved: Rollout = { ...rollout, revision: rollout.revision + 1 };
    const items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']> = [
      {
        Put: {
          TableName: this.tableName,
          Item: { ...rolloutKey(rollout.meshName, rollout.rolloutId), ...saved },
          // Nobody else wrote it since it was read (the scheduler and an abort may race).
          ConditionExpression: '#revision = :revision',
          ExpressionAttributeNames: { '#revision': 'revision' },
          ExpressionAttributeValues: { ':revision': rollout.revision },
        },
      },
    ];
    if (!inProgress(saved.state)) {
      items.push({
        Delete: {
          TableName: this.tableName,
          Key: lockKey(rollout),
          // Only its own lock: never one a later rollout of the route took.
          ConditionExpression: 'attribute_not_exists(#pk) OR #rolloutId = :id',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#rolloutId': 'rolloutId' },
          ExpressionAttributeValues: { ':id': rollout.rolloutId },
        },
      });
    }
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: items }));
      return saved;
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      throw new ConflictError(`Rollout ${rollout.rolloutId} was changed by another request; read it again.`);
    }
  }
}
