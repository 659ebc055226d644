/**
 * Sync status: the relay records, per proxy stream, the version each type last sent, ACKed and
 * NACKed, in its own DynamoDB table (DynamoDB Local of the stack; a uniquely named table per
 * test, created from the shared definition), and a reader lists a mesh's proxies.
 */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand, DescribeTableCommand, UpdateTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { createDocumentClient } from '../../shared/store/clients.js';
import {
  listSyncStatus,
  syncStatusTableDefinition,
  syncStatusTimeToLive,
  SyncStatusWriter,
  SYNC_STATUS_TTL_ATTRIBUTE,
  type ProxySyncStatus,
} from '../../shared/store/sync-status.js';
import { nodeIdOf } from '../../shared/xds/node-id.js';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from '../../shared/xds/type-urls.js';
import { AdsTestClient, DeltaTestClient } from '../support/xds-ads-client.js';
import { proxySnapshot, publish, virtualNode } from '../support/xds-fixtures.js';
import { eventually, startTestRelay } from '../support/xds-relay.js';

/** A fresh sync status table in the stack's DynamoDB Local, deleted after the test. */
async function syncTable(): Promise<{ client: DynamoDBDocumentClient; tableName: string }> {
  const stack = inject('stack');
  const client = createDocumentClient({
    region: stack.region,
    dynamodbEndpoint: stack.endpoints.dynamodb,
    dynamodbCredentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const tableName = `sync-status-${randomUUID().slice(0, 8)}`;
  await client.send(new CreateTableCommand({ ...syncStatusTableDefinition, TableName: tableName }));
  await client.send(new UpdateTimeToLiveCommand(syncStatusTimeToLive(tableName)));
  onTestFinished(async () => {
    await client.send(new DeleteTableCommand({ TableName: tableName }));
    client.destroy();
  });
  return { client, tableName };
}

function status(mesh: string, proxy: string, instance: string, acked: string): ProxySyncStatus {
  return {
    mesh,
    proxy,
    nodeId: `mesh/${mesh}/${proxy}`,
    instance,
    relay: 'relay-a',
    protocol: 'sotw',
    peer: '127.0.0.1:1',
    connectedAt: new Date().toISOString(),
    types: { clusters: { acked } },
    updatedAt: new Date().toISOString(),
  };
}

describe('relay: sync status', () => {
  it('has its own table, without a stream, and expires items by TTL', async () => {
    const { client, tableName } = await syncTable();
    const described = await client.send(new DescribeTableCommand({ TableName: tableName }));
    expect(described.Table?.StreamSpecification?.StreamEnabled ?? false).toBe(false);
    expect(syncStatusTimeToLive(tableName).TimeToLiveSpecification).toEqual({ Enabled: true, AttributeName: SYNC_STATUS_TTL_ATTRIBUTE });
  });

  it('writes throttled (changes within the interval coalesced), lists a mesh by proxy, skips expired items, and deletes on remove', async () => {
    const { client, tableName } = await syncTable();
    const writes: string[] = [];
    const waiters: (() => void)[] = [];
    const writer = new SyncStatusWriter({
      client,
      tableName,
      minIntervalMs: 300,
      ttlSeconds: 60,
      onWrite: (s) => {
        writes.push(s.types.clusters?.acked ?? '');
        waiters.splice(0).forEach((resolve) => resolve());
      },
      onError: (error) => {
        throw error;
      },
    });
    onTestFinished(() => writer.close());
    const nextWrite = () => new Promise<void>((resolve) => waiters.push(resolve));
    const mesh = `sync-${randomUUID().slice(0, 8)}`;

    const front = status(mesh, 'virtualNode/front', 'relay-a/1', 'v1');
    const written = nextWrite();
    writer.update(front);
    await written;
    // Three changes inside the interval: one write, of the last.
    const coalesced = nextWrite();
    for (const version of ['v2', 'v3', 'v4']) writer.update({ ...front, types: { clusters: { acked: version } } });
    await coalesced;
    expect(writes).toEqual(['v1', 'v4']);

    writer.update(status(mesh, 'virtualNode/back', 'relay-b/7', 'b1'));
    writer.update(status(`${mesh}-other`, 'virtualNode/front', 'relay-a/2', 'x'));
    // An item of a relay that died long ago: expired, though DynamoDB has not deleted it yet.
    await client.send(
      new PutCommand({
        TableName: tableName,
        Item: { pk: mesh, sk: 'virtualNode/gone#relay-z/1', ...status(mesh, 'virtualNode/gone', 'relay-z/1', 'old'), [SYNC_STATUS_TTL_ATTRIBUTE]: Math.floor(Date.now() / 1000) - 1 },
      }),
    );
    await writer.flush();

    const listed = await listSyncStatus(client, tableName, mesh);
    expect(listed.map((s) => [s.proxy, s.instance, s.types.clusters?.acked])).toEqual([
      ['virtualNode/back', 'relay-b/7', 'b1'],
      ['virtualNode/front', 'relay-a/1', 'v4'],
    ]);
    expect(listed[0]).not.toHaveProperty(SYNC_STATUS_TTL_ATTRIBUTE);

    writer.remove(front);
    await writer.flush();
    expect((await listSyncStatus(client, tableName, mesh)).map((s) => s.proxy)).toEqual(['virtualNode/back']);
  });

  it('a relay records each stream: versions sent and ACKed per type, the last NACK, and removes the stream when it ends', async () => {
    const { client, tableName } = await syncTable();
    const relay = await startTestRelay({ syncStatus: { client, tableName, minIntervalMs: 50 }, relayId: 'relay-under-test' });
    onTestFinished(() => relay.close());
    const mesh = `sync-${randomUUID().slice(0, 8)}`;
    const front = virtualNode(mesh, 'front');
    const alpha = (tag?: string) => proxySnapshot(front, [{ name: 'alpha', endpoints: [{ host: '127.0.0.1', port: 9001 }], ...(tag ? { tag } : {}) }]);
    await publish(relay.store, mesh, [alpha()]);

    const sotw = new AdsTestClient(relay.relay.adsAddress, nodeIdOf(front));
    onTestFinished(() => sotw.close());
    const versions: Record<string, string> = {};
    for (const [typeUrl, type, names] of [[CLUSTER, 'clusters', []], [ENDPOINT, 'endpoints', ['alpha']], [LISTENER, 'listeners', []], [ROUTE, 'routes', ['alpha']]] as const) {
      sotw.subscribe(typeUrl, [...names]);
      versions[type] = (await sotw.next()).version_info;
      sotw.ack(typeUrl, [...names]);
    }
    const listed = () => listSyncStatus(client, tableName, mesh);
    const [synced] = await eventually(async () => {
      const items = await listed();
      return items[0]?.types.routes?.acked ? items : undefined;
    }, 'the ACKs in the sync status table');
    expect(synced).toMatchObject({
      mesh,
      proxy: 'virtualNode/front',
      nodeId: nodeIdOf(front),
      relay: 'relay-under-test',
      protocol: 'sotw',
      snapshotVersion: alpha().version,
      types: Object.fromEntries(Object.entries(versions).map(([type, version]) => [type, { sent: version, acked: version }])),
    });
    expect(synced?.instance).toMatch(/^relay-under-test\//);

    // A NACK, then an ACK of the next change: the ACKed version moves on, the last NACK stays.
    await publish(relay.store, mesh, [alpha('rejected')]);
    const rejected = await sotw.next();
    sotw.nack(CLUSTER, 'cluster alpha: rejected by test', [], versions.clusters);
    await eventually(async () => ((await listed())[0]?.types.clusters?.nack ? true : undefined), 'the NACK in the sync status table');
    await publish(relay.store, mesh, [alpha('fixed')]);
    const fixed = await sotw.next();
    sotw.ack(CLUSTER);
    const [after] = await eventually(async () => {
      const items = await listed();
      return items[0]?.types.clusters?.acked === fixed.version_info ? items : undefined;
    }, 'the ACK after the NACK');
    expect(after?.types.clusters).toMatchObject({
      sent: fixed.version_info,
      acked: fixed.version_info,
      nack: { version: rejected.version_info, code: 3, message: 'cluster alpha: rejected by test' },
    });

    // A delta stream of the same proxy is a second item; each goes when its stream ends.
    const delta = new DeltaTestClient(relay.relay.adsAddress, nodeIdOf(front));
    onTestFinished(() => delta.close());
    delta.subscribe(CLUSTER);
    delta.ack(CLUSTER, await delta.next());
    await eventually(async () => ((await listed()).length === 2 ? true : undefined), 'two streams in the sync status table');
    expect((await listed()).map((s) => s.protocol).sort()).toEqual(['delta', 'sotw']);
    sotw.close();
    await eventually(async () => ((await listed()).map((s) => s.protocol).join() === 'delta' ? true : undefined), 'the closed stream to be removed');
    expect(await relay.metric('meshline_relay_sync_status_errors_total')).toBe(0);
    expect(await relay.metric('meshline_relay_sync_status_writes_total')).toBeGreaterThan(2);
  });
});
