/**
 * Access keys that Meshline issues itself, as S3-compatible stores do: an access key id and a
 * secret access key that callers sign App Mesh API requests with (SigV4), and, for proxies, a
 * token `<accessKeyId>.<secret>` sent to the relay as `authorization: Bearer <token>`.
 *
 * They live in their own table, without a stream (the mesh table's stream must never see
 * them). A key is one item (pk `accessKey`, sk the id) holding its secret sealed by a
 * {@link SecretSealer} (KMS in AWS, a local key file locally); the plaintext secret is shown
 * once, by `create`, and never stored, returned or logged anywhere else.
 */
import { randomInt } from 'node:crypto';
import { ConditionalCheckFailedException, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { BadRequestError, NotFoundError } from '../errors.js';
import { nodeIdOf, parseNodeId } from '../xds/node-id.js';
import type { SecretSealer } from './sealer.js';

/** What a key may do; shared/auth/policy.ts says what each role allows. */
export type AccessKeyRole = 'admin' | 'read-only' | 'proxy';
export const ACCESS_KEY_ROLES: readonly AccessKeyRole[] = ['admin', 'read-only', 'proxy'];

export type AccessKeyStatus = 'Active' | 'Revoked';

/** An access key as the rest of Meshline sees it: never its secret. */
export interface AccessKey {
  /** `MLAK` + 16 characters of [A-Z2-7], like AWS's `AKIA…`. */
  accessKeyId: string;
  role: AccessKeyRole;
  /** `'*'` (every mesh) or the names of the meshes the key may act on. Role `proxy`: the meshes of its proxies. */
  meshes: '*' | string[];
  /** Role `proxy` only: the canonical node ids (`mesh/<mesh>/virtualNode/<name>`) it may fetch configuration for. */
  proxies?: string[];
  description?: string;
  /** Requests per second, overriding MESHLINE_AUTH_RATE_LIMIT for this key. */
  rateLimit?: number;
  status: AccessKeyStatus;
  createdAt: string;
  revokedAt?: string;
}

/** What `create` takes. `meshes` is required for admin and read-only, `proxies` for proxy. */
export interface AccessKeySpec {
  role: AccessKeyRole;
  meshes?: '*' | string[];
  proxies?: string[];
  description?: string;
  rateLimit?: number;
}

/** The table's attribute names. The rate limiter (rate-limit.ts) shares the table. */
export const KEYS_PARTITION_KEY = 'pk';
export const KEYS_SORT_KEY = 'sk';
/** The attribute DynamoDB's TTL reads (epoch seconds); only rate windows have it. */
export const KEYS_TTL_ATTRIBUTE = 'expiresAt';
/** The partition of every key item. */
const KEY_PARTITION = 'accessKey';

export const ACCESS_KEY_ID_PREFIX = 'MLAK';
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const ACCESS_KEY_ID = /^MLAK[A-Z2-7]{16}$/;
const SECRET = /^[A-Za-z0-9]{40}$/;
const MAX_DESCRIPTION = 256;
/** A mesh name as App Mesh allows it (1..255 characters). */
const MAX_MESH_NAME = 255;

/** `length` characters drawn uniformly from `alphabet` (crypto.randomInt rejects biased draws). */
function randomString(alphabet: string, length: number): string {
  let out = '';
  for (let i = 0; i < length; i += 1) out += alphabet[randomInt(alphabet.length)];
  return out;
}

/** A new access key id: `MLAK` + 16 random base32 characters (80 bits). */
export function newAccessKeyId(): string {
  return ACCESS_KEY_ID_PREFIX + randomString(BASE32, 16);
}

/** A new secret access key: 40 random alphanumeric characters (~238 bits). */
export function newSecretAccessKey(): string {
  return randomString(ALPHANUMERIC, 40);
}

/** Whether a string has the shape of a Meshline access key id (says nothing of whether it exists). */
export function isAccessKeyId(value: string): boolean {
  return ACCESS_KEY_ID.test(value);
}

/** A proxy's token for the relay: `<accessKeyId>.<secret>`. */
export function formatProxyToken(accessKeyId: string, secretAccessKey: string): string {
  return `${accessKeyId}.${secretAccessKey}`;
}

/** Splits a proxy token; undefined unless it has the exact shape `formatProxyToken` writes. */
export function parseProxyToken(token: string): { accessKeyId: string; secretAccessKey: string } | undefined {
  const dot = token.indexOf('.');
  if (dot < 0) return undefined;
  const accessKeyId = token.slice(0, dot);
  const secretAccessKey = token.slice(dot + 1);
  if (!ACCESS_KEY_ID.test(accessKeyId) || !SECRET.test(secretAccessKey)) return undefined;
  return { accessKeyId, secretAccessKey };
}

/**
 * Checks a spec and returns it in stored form: meshes de-duplicated and sorted, proxies in
 * canonical node id form. Messages name the field, the bound and the value.
 */
export function normalizeAccessKeySpec(spec: AccessKeySpec): Pick<AccessKey, 'role' | 'meshes' | 'proxies' | 'description' | 'rateLimit'> {
  if (!ACCESS_KEY_ROLES.includes(spec.role)) {
    throw new BadRequestError(`role must be one of ${ACCESS_KEY_ROLES.join(', ')}, got: ${String(spec.role)}`);
  }
  if (spec.description !== undefined && spec.description.length > MAX_DESCRIPTION) {
    throw new BadRequestError(`description must be at most ${MAX_DESCRIPTION} characters, got: ${spec.description.length}`);
  }
  if (spec.rateLimit !== undefined && (!Number.isInteger(spec.rateLimit) || spec.rateLimit < 1)) {
    throw new BadRequestError(`rateLimit must be a positive integer (requests per second), got: ${spec.rateLimit}`);
  }
  if (spec.rateLimit !== undefined && spec.role === 'proxy') {
    // Rate limits apply to API requests, which proxy keys may not make; the relay limits nothing per key.
    throw new BadRequestError('rateLimit applies to admin and read-only keys: a proxy key makes no API requests');
  }
  const common = {
    ...(spec.description !== undefined ? { description: spec.description } : {}),
    ...(spec.rateLimit !== undefined ? { rateLimit: spec.rateLimit } : {}),
  };
  if (spec.role === 'proxy') {
    if (spec.meshes !== undefined) throw new BadRequestError('meshes does not apply to role proxy: its proxies name their meshes');
    if (!spec.proxies?.length) throw new BadRequestError('proxies must name at least 1 node id for role proxy, got: 0');
    const proxies = [
      ...new Set(
        spec.proxies.map((nodeId) => {
          const proxy = parseNodeId(nodeId);
          if (!proxy) {
            throw new BadRequestError(`proxies must be node ids mesh/<mesh>/virtualNode/<name> or mesh/<mesh>/virtualGateway/<name>, got: ${nodeId}`);
          }
          return nodeIdOf(proxy);
        }),
      ),
    ].sort();
    const meshes = [...new Set(proxies.map((nodeId) => (parseNodeId(nodeId) as { mesh: string }).mesh))].sort();
    return { role: spec.role, meshes, proxies, ...common };
  }
  if (spec.proxies !== undefined) throw new BadRequestError(`proxies applies to role proxy only, got role: ${spec.role}`);
  if (spec.meshes === undefined) throw new BadRequestError(`meshes must be '*' or at least 1 mesh name for role ${spec.role}, got: none`);
  if (spec.meshes === '*') return { role: spec.role, meshes: '*', ...common };
  if (spec.meshes.length === 0) throw new BadRequestError(`meshes must be '*' or at least 1 mesh name for role ${spec.role}, got: 0`);
  for (const mesh of spec.meshes) {
    if (mesh.length < 1 || mesh.length > MAX_MESH_NAME || mesh.includes('/') || mesh === '*') {
      throw new BadRequestError(`meshes must be mesh names of 1..${MAX_MESH_NAME} characters without '/', got: ${JSON.stringify(mesh)}`);
    }
  }
  return { role: spec.role, meshes: [...new Set(spec.meshes)].sort(), ...common };
}

/** A key item as stored: the key, its sealed secret and what sealed it. */
interface KeyItem extends AccessKey {
  pk: typeof KEY_PARTITION;
  sk: string;
  sealedSecret: string;
  /** `kms:<key id>` or `file`: which sealer can open `sealedSecret`. */
  sealedWith: string;
}

function keyOf(item: Record<string, unknown>): AccessKey {
  const { accessKeyId, role, meshes, proxies, description, rateLimit, status, createdAt, revokedAt } = item as unknown as KeyItem;
  return {
    accessKeyId,
    role,
    meshes,
    ...(proxies !== undefined ? { proxies } : {}),
    ...(description !== undefined ? { description } : {}),
    ...(rateLimit !== undefined ? { rateLimit } : {}),
    status,
    createdAt,
    ...(revokedAt !== undefined ? { revokedAt } : {}),
  };
}

/** How long an opened secret is kept in memory, so KMS is not called per request. */
const SECRET_CACHE_MS = 5 * 60_000;

export interface AccessKeyStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  sealer: SecretSealer;
  now?: () => number;
}

/** The access keys in their table. */
export class AccessKeyStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly sealer: SecretSealer;
  private readonly now: () => number;
  /** Opened secrets by `<accessKeyId>\n<sealed secret>`: a re-sealed secret is a new entry. */
  private readonly secrets = new Map<string, { secret: string; until: number }>();
  /** The sealed secret of each key `get` or `list` returned, for `secretOf` (never exposed). */
  private readonly sealed = new WeakMap<AccessKey, { sealedSecret: string; sealedWith: string }>();

  constructor(options: AccessKeyStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.sealer = options.sealer;
    this.now = options.now ?? Date.now;
  }

  /**
   * Issues a key. The result is the only place its secret ever appears: show it once.
   * The id is random; the put is conditional so an (astronomically unlikely) id collision
   * is retried with a new id rather than overwriting another key.
   */
  async create(spec: AccessKeySpec): Promise<{ key: AccessKey; secretAccessKey: string }> {
    const fields = normalizeAccessKeySpec(spec);
    for (let attempt = 0; ; attempt += 1) {
      const accessKeyId = newAccessKeyId();
      const secretAccessKey = newSecretAccessKey();
      const key: AccessKey = { accessKeyId, ...fields, status: 'Active', createdAt: new Date(this.now()).toISOString() };
      const sealedSecret = await this.sealer.seal(secretAccessKey, { accessKeyId });
      const item: KeyItem = { pk: KEY_PARTITION, sk: accessKeyId, ...key, sealedSecret, sealedWith: this.sealer.name };
      try {
        await this.client.send(
          new PutCommand({
            TableName: this.tableName,
            Item: item,
            // Never overwrite a key: a new id that exists already is a collision, not an update.
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': KEYS_PARTITION_KEY },
          }),
        );
        return { key, secretAccessKey };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException) || attempt >= 2) throw error;
      }
    }
  }

  /** A key by id, read consistently (a revocation takes effect on the next request); undefined if unknown. */
  async get(accessKeyId: string): Promise<AccessKey | undefined> {
    if (!isAccessKeyId(accessKeyId)) return undefined;
    const { Item } = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { [KEYS_PARTITION_KEY]: KEY_PARTITION, [KEYS_SORT_KEY]: accessKeyId }, ConsistentRead: true }),
    );
    return Item ? this.remember(Item) : undefined;
  }

  /** Every key, active and revoked, by id. */
  async list(): Promise<AccessKey[]> {
    const keys: AccessKey[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': KEYS_PARTITION_KEY },
          ExpressionAttributeValues: { ':pk': KEY_PARTITION },
          ConsistentRead: true,
          ExclusiveStartKey,
        }),
      );
      for (const item of page.Items ?? []) keys.push(this.remember(item));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return keys;
  }

  /** Revokes a key. Revoking a revoked key changes nothing and returns it; an unknown id is a NotFoundError. */
  async revoke(accessKeyId: string): Promise<AccessKey> {
    try {
      const { Attributes } = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { [KEYS_PARTITION_KEY]: KEY_PARTITION, [KEYS_SORT_KEY]: accessKeyId },
          // Only an existing key that is still active: an unknown id must not create an item,
          // and a second revoke must keep the first revokedAt.
          ConditionExpression: 'attribute_exists(#pk) AND #status = :active',
          UpdateExpression: 'SET #status = :revoked, #revokedAt = :now',
          ExpressionAttributeNames: { '#pk': KEYS_PARTITION_KEY, '#status': 'status', '#revokedAt': 'revokedAt' },
          ExpressionAttributeValues: { ':active': 'Active', ':revoked': 'Revoked', ':now': new Date(this.now()).toISOString() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return keyOf(Attributes ?? {});
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const key = await this.get(accessKeyId);
      if (!key) throw new NotFoundError(`no access key ${accessKeyId}`);
      return key;
    }
  }

  /**
   * The plaintext secret of a key that `get` or `list` of this store returned, for verifying a
   * signature or a token. Opened secrets are cached in memory for 5 minutes per (id, sealed
   * value), so KMS is not called per request.
   */
  async secretOf(key: AccessKey): Promise<string> {
    // A key object this store did not return (a copy): read its item again.
    let sealed = this.sealed.get(key);
    if (sealed === undefined) {
      const fresh = await this.get(key.accessKeyId);
      sealed = fresh && this.sealed.get(fresh);
      if (sealed === undefined) throw new NotFoundError(`no access key ${key.accessKeyId}`);
    }
    const { sealedSecret, sealedWith } = sealed;
    // `kms:<key id>` against `kms:<alias>` is the same kind; a file-sealed secret cannot be opened by KMS.
    if (sealedWith.split(':')[0] !== this.sealer.name.split(':')[0]) {
      throw new Error(`the secret of access key ${key.accessKeyId} was sealed with ${sealedWith}, but this store opens secrets with ${this.sealer.name}`);
    }
    const cacheKey = `${key.accessKeyId}\n${sealedSecret}`;
    const cached = this.secrets.get(cacheKey);
    const now = this.now();
    if (cached && cached.until > now) return cached.secret;
    const secret = await this.sealer.open(sealedSecret, { accessKeyId: key.accessKeyId });
    for (const [k, v] of this.secrets) if (v.until <= now) this.secrets.delete(k);
    this.secrets.set(cacheKey, { secret, until: now + SECRET_CACHE_MS });
    return secret;
  }

  private remember(item: Record<string, unknown>): AccessKey {
    const key = keyOf(item);
    const { sealedSecret, sealedWith } = item as unknown as KeyItem;
    this.sealed.set(key, { sealedSecret, sealedWith });
    return key;
  }
}

/** The keys table as CreateTable takes it, minus the name. No stream: nothing may be triggered by it. */
export const keysTableDefinition: Omit<CreateTableCommandInput, 'TableName'> = {
  BillingMode: 'PAY_PER_REQUEST',
  AttributeDefinitions: [
    { AttributeName: KEYS_PARTITION_KEY, AttributeType: 'S' },
    { AttributeName: KEYS_SORT_KEY, AttributeType: 'S' },
  ],
  KeySchema: [
    { AttributeName: KEYS_PARTITION_KEY, KeyType: 'HASH' },
    { AttributeName: KEYS_SORT_KEY, KeyType: 'RANGE' },
  ],
};
