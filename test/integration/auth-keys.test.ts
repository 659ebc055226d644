/**
 * The access key store and the rate limiter against DynamoDB Local, over the wire, in a keys
 * table of this file's own (secrets sealed with a temporary key file).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureKeysTable } from '../../scripts/local-stack/dynamodb.js';
import { AccessKeyStore } from '../../shared/auth/keys.js';
import { RateLimiter } from '../../shared/auth/rate-limit.js';
import { FileSecretSealer } from '../../shared/auth/sealer.js';
import { NotFoundError } from '../../shared/errors.js';

const stack = inject('stack');
const dynamodb = new DynamoDBClient({ endpoint: stack.endpoints.dynamodb, region: stack.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
const client = DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } });
const tableName = `meshline-test-keys-${randomUUID().slice(0, 8)}`;
const dir = mkdtempSync(join(tmpdir(), 'meshline-auth-keys-'));
const sealer = new FileSecretSealer(join(dir, 'keys.key'));
const store = new AccessKeyStore({ client, tableName, sealer });

beforeAll(async () => {
  await ensureKeysTable(dynamodb, tableName);
  // A second call on an existing table (TTL already enabled) changes nothing and does not fail.
  await ensureKeysTable(dynamodb, tableName);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('ensureKeysTable', () => {
  it('creates the table on demand, without a stream, with TTL on expiresAt', async () => {
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(Table?.StreamSpecification?.StreamEnabled ?? false).toBe(false);
    const ttl = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
    expect(ttl.TimeToLiveDescription).toMatchObject({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
  });
});

describe('AccessKeyStore', () => {
  it('creates a key whose secret opens again, and stores it only sealed', async () => {
    const { key, secretAccessKey } = await store.create({ role: 'admin', meshes: '*', description: 'ops' });
    expect(key).toMatchObject({ role: 'admin', meshes: '*', description: 'ops', status: 'Active' });
    expect(key.accessKeyId).toMatch(/^MLAK[A-Z2-7]{16}$/);
    expect(secretAccessKey).toMatch(/^[A-Za-z0-9]{40}$/);

    const got = await store.get(key.accessKeyId);
    expect(got).toEqual(key);
    expect(await store.secretOf(got!)).toBe(secretAccessKey);
    // A copy of the key (not an object this store returned) opens too.
    expect(await new AccessKeyStore({ client, tableName, sealer }).secretOf({ ...key })).toBe(secretAccessKey);

    const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: { pk: 'accessKey', sk: key.accessKeyId } }));
    expect(Item).toMatchObject({ pk: 'accessKey', sk: key.accessKeyId, sealedWith: 'file', sealedSecret: expect.stringMatching(/^v1\./) });
    const { Items } = await client.send(new ScanCommand({ TableName: tableName }));
    expect(JSON.stringify(Items)).not.toContain(secretAccessKey);
  });

  it('keeps secrets out of what get and list return', async () => {
    const { key } = await store.create({ role: 'read-only', meshes: ['a'] });
    const fields = Object.keys((await store.get(key.accessKeyId))!);
    expect(fields.sort()).toEqual(['accessKeyId', 'createdAt', 'meshes', 'role', 'status']);
    for (const listed of await store.list()) expect(Object.keys(listed)).not.toContain('sealedSecret');
  });

  it('stores a proxy key with its node ids in canonical form', async () => {
    const { key } = await store.create({ role: 'proxy', proxies: ['arn:aws:appmesh:eu-west-1:123456789012:mesh/shop/virtualNode/web'] });
    expect(await store.get(key.accessKeyId)).toMatchObject({ role: 'proxy', meshes: ['shop'], proxies: ['mesh/shop/virtualNode/web'] });
  });

  it('refuses a rate limit on a proxy key, which makes no API requests', async () => {
    await expect(store.create({ role: 'proxy', proxies: ['mesh/shop/virtualNode/web'], rateLimit: 10 })).rejects.toThrow(
      'rateLimit applies to admin and read-only keys: a proxy key makes no API requests',
    );
  });

  it('answers undefined for an unknown or malformed id', async () => {
    expect(await store.get('MLAKAAAAAAAAAAAAAAAA')).toBeUndefined();
    expect(await store.get('not-a-key')).toBeUndefined();
  });

  it('lists every key, across pages', async () => {
    const listTable = `${tableName}-list`;
    await ensureKeysTable(dynamodb, listTable);
    const listStore = new AccessKeyStore({ client, tableName: listTable, sealer });
    const created = await Promise.all(Array.from({ length: 30 }, (_, i) => listStore.create({ role: 'read-only', meshes: [`m${i}`], description: 'x'.repeat(256) })));
    // Force small pages by listing through a Query limit: the store follows LastEvaluatedKey.
    const pages = { count: 0 };
    const paged = new AccessKeyStore({ client: limitQueries(client, 7, pages), tableName: listTable, sealer });
    const listed = await paged.list();
    expect(pages.count).toBe(5);
    expect(listed.map((k) => k.accessKeyId).sort()).toEqual(created.map((c) => c.key.accessKeyId).sort());
  });

  it('revokes a key: get shows it Revoked, a second revoke is harmless, an unknown id is NotFound', async () => {
    const { key } = await store.create({ role: 'admin', meshes: ['a', 'b'] });
    const revoked = await store.revoke(key.accessKeyId);
    expect(revoked).toMatchObject({ accessKeyId: key.accessKeyId, status: 'Revoked', revokedAt: expect.any(String) });
    expect(await store.get(key.accessKeyId)).toMatchObject({ status: 'Revoked', revokedAt: revoked.revokedAt });
    expect(await store.revoke(key.accessKeyId)).toEqual(revoked);
    await expect(store.revoke('MLAKAAAAAAAAAAAAAAAA')).rejects.toThrow(NotFoundError);
    await expect(store.revoke('MLAKAAAAAAAAAAAAAAAA')).rejects.toThrow('no access key MLAKAAAAAAAAAAAAAAAA');
    // Revoking an unknown id creates nothing.
    expect(await store.get('MLAKAAAAAAAAAAAAAAAA')).toBeUndefined();
  });

  it('gives concurrent creates distinct ids and secrets', async () => {
    const created = await Promise.all(Array.from({ length: 25 }, () => store.create({ role: 'read-only', meshes: '*' })));
    expect(new Set(created.map((c) => c.key.accessKeyId)).size).toBe(25);
    expect(new Set(created.map((c) => c.secretAccessKey)).size).toBe(25);
  });
});

describe('RateLimiter', () => {
  it('lets exactly the limit through in one second, across concurrent requests, and again the next second', async () => {
    const limiter = new RateLimiter({ client, tableName });
    const now = Date.UTC(2026, 10, 25, 9, 0, 0, 250);
    // The window's first request creates its item; the 19 after it race on the count. (Created by
    // concurrent requests at once, DynamoDB Local now and then loses one creation: real DynamoDB
    // does not, but the emulator would make this test flaky.)
    expect(await limiter.take('MLAKRATERATERATERATE', 5, now)).toBe(true);
    const takes = await Promise.all(Array.from({ length: 19 }, () => limiter.take('MLAKRATERATERATERATE', 5, now)));
    expect(takes.filter(Boolean)).toHaveLength(4);
    expect(await limiter.take('MLAKRATERATERATERATE', 5, now + 700)).toBe(false);
    expect(await limiter.take('MLAKRATERATERATERATE', 5, now + 750)).toBe(true);
    // Another key has its own windows.
    expect(await limiter.take('MLAKOTHEROTHEROTHERO', 5, now)).toBe(true);
    const second = Math.floor(now / 1000);
    const { Item } = await client.send(new GetCommand({ TableName: tableName, Key: { pk: 'rate#MLAKRATERATERATERATE', sk: String(second) } }));
    expect(Item).toEqual({ pk: 'rate#MLAKRATERATERATERATE', sk: String(second), count: 5, expiresAt: second + 60 });
  });
});

/** A document client whose Queries return at most `limit` items a page. */
function limitQueries(inner: DynamoDBDocumentClient, limit: number, pages: { count: number }): DynamoDBDocumentClient {
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver) as unknown;
      return (command: { input: Record<string, unknown>; constructor: { name: string } }) => {
        if (command.constructor.name === 'QueryCommand') {
          command.input.Limit = limit;
          pages.count += 1;
        }
        return target.send(command as never);
      };
    },
  });
}
