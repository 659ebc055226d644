/**
 * Sync status: which configuration each connected proxy runs, as its relay saw it (the version
 * it last ACKed per resource type and its last NACK), like `istioctl proxy-status`.
 *
 * It lives in its own table, without a stream, so that relays writing it never wake the
 * compiler. Items expire by TTL: a relay rewrites the item of each open stream well within the
 * TTL and deletes it when the stream ends, so a relay that dies leaves items that expire on
 * their own (readers skip expired items, since DynamoDB deletes them lazily).
 */
import type { CreateTableCommandInput, UpdateTimeToLiveCommandInput } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { keyedTableDefinition, PARTITION_KEY, SORT_KEY } from './table.js';

// Items: partition key the mesh (one Query lists its proxies); sort key
// `<virtualNode|virtualGateway>/<name>#<instance>`, one item per proxy stream.

/** The attribute DynamoDB's TTL reads: epoch seconds after which the item is stale. */
export const SYNC_STATUS_TTL_ATTRIBUTE = 'expiresAt';

/**
 * The sync status table as DynamoDB's CreateTable takes it, minus the name. No stream: nothing
 * may be triggered by it. Enable TTL with {@link syncStatusTimeToLive} after creating it.
 */
export const syncStatusTableDefinition: Omit<CreateTableCommandInput, 'TableName'> = keyedTableDefinition;

/** The UpdateTimeToLive call that makes DynamoDB expire the table's items. */
export function syncStatusTimeToLive(tableName: string): UpdateTimeToLiveCommandInput {
  return { TableName: tableName, TimeToLiveSpecification: { Enabled: true, AttributeName: SYNC_STATUS_TTL_ATTRIBUTE } };
}

/** The short names of the resource types, as in logs and metrics. */
export type SyncTypeName = 'clusters' | 'endpoints' | 'listeners' | 'routes';

/** One resource type of one proxy stream. Versions are the `version_info` (SotW) or `system_version_info` (delta) of a response. */
export interface TypeSyncStatus {
  /** The latest response sent. */
  sent?: string;
  sentAt?: string;
  /** The latest response the proxy accepted. */
  acked?: string;
  ackedAt?: string;
  /** The latest response the proxy rejected, and why, kept after later ACKs. */
  nack?: { version: string; code: number; message: string; at: string };
}

/** What a relay knows about one ADS stream of a proxy. Times are ISO 8601. */
export interface ProxySyncStatus {
  mesh: string;
  /** The proxy within its mesh: `virtualNode/<name>` or `virtualGateway/<name>`. */
  proxy: string;
  /** The node id as the proxy sent it (plain or ARN form). */
  nodeId: string;
  /** The stream: `<relay id>/<stream id>`; several replicas of one virtual node each have their own. */
  instance: string;
  relay: string;
  protocol: 'sotw' | 'delta';
  /** The client's address as the relay saw it. */
  peer: string;
  /** `<user_agent_name>/<user_agent_version>` from the node, when sent. */
  userAgent?: string;
  connectedAt: string;
  /** The snapshot the relay serves this proxy now (from the mesh manifest). */
  snapshotVersion?: string;
  types: Partial<Record<SyncTypeName, TypeSyncStatus>>;
  updatedAt: string;
}

function itemKey(status: Pick<ProxySyncStatus, 'mesh' | 'proxy' | 'instance'>): { pk: string; sk: string } {
  return { pk: status.mesh, sk: `${status.proxy}#${status.instance}` };
}

export interface SyncStatusWriterOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** At most one write per stream in this interval; changes in between are coalesced. Default 5 s. */
  minIntervalMs?: number;
  /** Items expire this long after their last write. Default 600 s; rewritten every third of it. */
  ttlSeconds?: number;
  /** Writes in flight at once, so a fleet reconnecting does not flood the table. Default 8. */
  maxInFlight?: number;
  /** Told of every failed write or delete (the writer never throws). */
  onError?: (error: unknown, status: ProxySyncStatus) => void;
  /** Told of every successful write. */
  onWrite?: (status: ProxySyncStatus) => void;
  now?: () => number;
}

interface Entry {
  status: ProxySyncStatus;
  /** When the item was last written (0: never). */
  writtenAt: number;
  timer?: NodeJS.Timeout | undefined;
  /** Queued or being written. */
  queued: boolean;
  /** The last write or delete of this key; the next waits for it, so they land in order. */
  last: Promise<void>;
}

/**
 * Writes sync status items, throttled per stream and with a TTL. `update()` and `remove()`
 * return at once; the writes happen in the background, in order per stream, a few at a time.
 */
export class SyncStatusWriter {
  private readonly entries = new Map<string, Entry>();
  private readonly queue: Entry[] = [];
  private inFlight = 0;
  private readonly idle = new Set<() => void>();
  private readonly refresher: NodeJS.Timeout;
  private readonly minIntervalMs: number;
  private readonly ttlSeconds: number;
  private readonly now: () => number;

  constructor(private readonly options: SyncStatusWriterOptions) {
    this.minIntervalMs = options.minIntervalMs ?? 5_000;
    this.ttlSeconds = options.ttlSeconds ?? 600;
    this.now = options.now ?? Date.now;
    // Keeps the items of open streams alive: anything not written for a third of the TTL is rewritten.
    const refreshMs = (this.ttlSeconds * 1000) / 3;
    this.refresher = setInterval(() => {
      for (const entry of this.entries.values()) {
        if (this.now() - entry.writtenAt >= refreshMs) this.schedule(entry, 0);
      }
    }, Math.max(1_000, refreshMs / 4));
    this.refresher.unref();
  }

  /** Records a stream's current status; written now, or coalesced into the next write of its interval. */
  update(status: ProxySyncStatus): void {
    const key = this.key(status);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { status, writtenAt: 0, queued: false, last: Promise.resolve() };
      this.entries.set(key, entry);
    }
    entry.status = status;
    this.schedule(entry, Math.max(0, entry.writtenAt + this.minIntervalMs - this.now()));
  }

  /** Deletes a stream's item (after any write of it in progress). */
  remove(status: ProxySyncStatus): void {
    const key = this.key(status);
    const entry = this.entries.get(key);
    if (entry) {
      clearTimeout(entry.timer);
      this.entries.delete(key);
      const index = this.queue.indexOf(entry);
      if (index >= 0) this.queue.splice(index, 1);
    }
    const previous = entry?.last ?? Promise.resolve();
    this.track(
      previous.then(() =>
        this.options.client
          .send(new DeleteCommand({ TableName: this.options.tableName, Key: itemKey(status) }))
          .then(
            () => undefined,
            (error: unknown) => this.options.onError?.(error, status),
          ),
      ),
    );
  }

  /** Writes every pending change now and resolves when nothing is in flight. */
  async flush(): Promise<void> {
    for (const entry of this.entries.values()) {
      if (!entry.timer) continue;
      clearTimeout(entry.timer);
      entry.timer = undefined;
      entry.queued = true;
      this.queue.push(entry);
    }
    this.pump();
    if (this.inFlight === 0 && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idle.add(resolve));
  }

  /** Stops refreshing; pending writes are flushed. */
  async close(): Promise<void> {
    clearInterval(this.refresher);
    for (const entry of this.entries.values()) clearTimeout(entry.timer);
    await this.flush();
  }

  private key(status: ProxySyncStatus): string {
    const { pk, sk } = itemKey(status);
    return `${pk}\n${sk}`;
  }

  private schedule(entry: Entry, delayMs: number): void {
    if (entry.queued) return; // the queued write will take the latest status
    if (entry.timer) {
      if (delayMs > 0) return; // already due at the end of its interval
      clearTimeout(entry.timer);
    }
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.queued = true;
      this.queue.push(entry);
      this.pump();
    }, delayMs);
    entry.timer.unref();
  }

  private pump(): void {
    const max = this.options.maxInFlight ?? 8;
    while (this.inFlight < max) {
      const entry = this.queue.shift();
      if (!entry) break;
      this.inFlight += 1;
      const write = entry.last.then(() => this.write(entry));
      entry.last = write;
      void write.finally(() => {
        this.inFlight -= 1;
        this.pump();
        this.settle();
      });
    }
  }

  private async write(entry: Entry): Promise<void> {
    entry.queued = false;
    const status = entry.status;
    // Stamped when it leaves, so the item's TTL runs from its write.
    const now = this.now();
    entry.writtenAt = now;
    const item = { ...itemKey(status), ...status, updatedAt: new Date(now).toISOString(), [SYNC_STATUS_TTL_ATTRIBUTE]: Math.ceil(now / 1000) + this.ttlSeconds };
    try {
      await this.options.client.send(new PutCommand({ TableName: this.options.tableName, Item: item }));
      this.options.onWrite?.(status);
    } catch (error) {
      // Retried after an interval; the status keeps changing meanwhile anyway.
      this.options.onError?.(error, status);
      if (this.entries.get(this.key(status)) === entry) this.schedule(entry, this.minIntervalMs);
    }
  }

  /** Counts a delete in flight, so flush() waits for it too. */
  private track(promise: Promise<void>): void {
    this.inFlight += 1;
    void promise.finally(() => {
      this.inFlight -= 1;
      this.settle();
    });
  }

  /** Wakes flush() callers once nothing is queued or in flight. */
  private settle(): void {
    if (this.inFlight !== 0 || this.queue.length !== 0) return;
    for (const resolve of this.idle) resolve();
    this.idle.clear();
  }
}

/**
 * The sync status of every proxy stream of a mesh that has not expired, ordered by proxy and
 * instance. Several items per proxy mean several connected replicas (or relays) of it.
 */
export async function listSyncStatus(
  client: DynamoDBDocumentClient,
  tableName: string,
  mesh: string,
  now: number = Date.now(),
): Promise<ProxySyncStatus[]> {
  const statuses: ProxySyncStatus[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: '#pk = :mesh',
        ExpressionAttributeNames: { '#pk': PARTITION_KEY },
        ExpressionAttributeValues: { ':mesh': mesh },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      // DynamoDB deletes expired items lazily (up to days later): an expired item is gone.
      if (typeof item[SYNC_STATUS_TTL_ATTRIBUTE] === 'number' && item[SYNC_STATUS_TTL_ATTRIBUTE] * 1000 <= now) continue;
      const { [PARTITION_KEY]: _pk, [SORT_KEY]: _sk, [SYNC_STATUS_TTL_ATTRIBUTE]: _ttl, ...status } = item;
      statuses.push(status as ProxySyncStatus);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return statuses.sort((a, b) => (a.proxy === b.proxy ? (a.instance < b.instance ? -1 : 1) : a.proxy < b.proxy ? -1 : 1));
}
