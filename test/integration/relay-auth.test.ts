/**
 * Proxy identities at the relay with Meshline access keys: a real relay over the stack's bucket,
 * a keys table of this file's own in the stack's DynamoDB Local (secrets sealed with a key file
 * in a temporary directory), and real clients: scripted ADS streams with call metadata, SigV4
 * signed by @smithy/signature-v4 exactly as Envoy's aws_iam gRPC credentials sign, and a real
 * @grpc/grpc-js-xds client carrying its token in bootstrap node metadata. A fuzz test (fixed
 * seed) throws malformed credentials at the relay.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sha256 } from '@aws-crypto/sha256-js';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as grpc from '@grpc/grpc-js';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { ensureKeysTable } from '../../scripts/local-stack/dynamodb.js';
import { AccessKeyStore, formatProxyToken, type AccessKeySpec } from '../../shared/auth/keys.js';
import { FileSecretSealer } from '../../shared/auth/sealer.js';
import { nodeIdOf, type ProxyId } from '../../shared/xds/node-id.js';
import { CLUSTER } from '../../shared/xds/type-urls.js';
import type { AccessKeyCheck } from '../../relay/access.js';
import { DELTA_AGGREGATED_RESOURCES, STREAM_AGGREGATED_RESOURCES } from '../../relay/protocol.js';
import { AdsTestClient, DeltaTestClient, resourceNames, type ConnectOptions, type StreamEnd } from '../support/xds-ads-client.js';
import { startTestBackend } from '../support/xds-backend.js';
import { proxylessClient } from '../support/xds-client.js';
import { proxySnapshot, publish, uniqueMesh, virtualNode } from '../support/xds-fixtures.js';
import { relayForTest, stackBucket, type TestRelay } from '../support/xds-relay.js';
import { spawnRelay } from '../support/xds-relay-process.js';

const REFUSED = 'meshline_relay_access_refused_total';

/** This file's keys: its own table in the stack's DynamoDB Local and its own key file. */
let keys: { store: AccessKeyStore; tableName: string; keyFile: string; dynamodb: DynamoDBClient; dir: string };

beforeAll(async () => {
  const stack = inject('stack');
  const dynamodb = new DynamoDBClient({ region: stack.region, endpoint: stack.endpoints.dynamodb, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const tableName = `relay-keys-${randomUUID().slice(0, 8)}`;
  await ensureKeysTable(dynamodb, tableName);
  const dir = mkdtempSync(join(tmpdir(), 'meshline-relay-auth-'));
  const keyFile = join(dir, 'auth.key');
  const store = new AccessKeyStore({ client: DynamoDBDocumentClient.from(dynamodb), tableName, sealer: new FileSecretSealer(keyFile) });
  keys = { store, tableName, keyFile, dynamodb, dir };
});

afterAll(async () => {
  if (!keys) return;
  await keys.dynamodb.send(new DeleteTableCommand({ TableName: keys.tableName }));
  keys.dynamodb.destroy();
  rmSync(keys.dir, { recursive: true, force: true });
});

/** Issues a key; its id, secret and proxy token. */
async function issue(spec: AccessKeySpec): Promise<{ accessKeyId: string; secretAccessKey: string; token: string }> {
  const { key, secretAccessKey } = await keys.store.create(spec);
  return { accessKeyId: key.accessKeyId, secretAccessKey, token: formatProxyToken(key.accessKeyId, secretAccessKey) };
}

/**
 * A relay requiring identities (keys of this file, or `options.store` over them; region of the
 * stack), with two proxies of a fresh mesh published.
 */
async function relayWithProxies(
  options: { keyRecheckMs?: number; store?: AccessKeyCheck['store'] } = {},
): Promise<{ relay: TestRelay; front: ProxyId; back: ProxyId }> {
  const relay = await relayForTest({
    access: { keys: { store: options.store ?? keys.store, region: inject('stack').region } },
    ...(options.keyRecheckMs !== undefined ? { keyRecheckMs: options.keyRecheckMs } : {}),
  });
  const mesh = uniqueMesh('auth');
  const front = virtualNode(mesh, 'front');
  const back = virtualNode(mesh, 'back');
  await publish(relay.store, mesh, [
    proxySnapshot(front, [{ name: 'alpha', endpoints: [{ host: '127.0.0.1', port: 9001 }] }]),
    proxySnapshot(back, [{ name: 'beta', endpoints: [{ host: '127.0.0.1', port: 9002 }] }]),
  ]);
  return { relay, front, back };
}

function sotw(relay: TestRelay, nodeId: string, options: ConnectOptions = {}): AdsTestClient {
  const client = new AdsTestClient(relay.relay.adsAddress, nodeId, options);
  onTestFinished(() => client.close());
  client.subscribe(CLUSTER);
  return client;
}

function delta(relay: TestRelay, nodeId: string, options: ConnectOptions = {}): DeltaTestClient {
  const client = new DeltaTestClient(relay.relay.adsAddress, nodeId, options);
  onTestFinished(() => client.close());
  client.subscribe(CLUSTER);
  return client;
}

const bearer = (token: string): ConnectOptions => ({ metadata: { authorization: `Bearer ${token}` } });

/**
 * The metadata Envoy's `envoy.grpc_credentials.aws_iam` sends with an ADS call (see
 * grpcSignedRequest): it signs POST of the call's path to its `:authority` (as `host`), with an
 * empty payload whose hash it sets as `x-amz-content-sha256`, then sends every non-pseudo header
 * (authorization, x-amz-date, x-amz-content-sha256) as call metadata.
 */
async function envoyAwsIamMetadata(
  authority: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  options: { path?: string; region?: string; signingDate?: Date } = {},
): Promise<Record<string, string>> {
  const signer = new SignatureV4({ service: 'appmesh', region: options.region ?? inject('stack').region, credentials, sha256: Sha256 });
  const signed = await signer.sign(
    { method: 'POST', protocol: 'http:', hostname: authority, path: options.path ?? STREAM_AGGREGATED_RESOURCES, query: {}, headers: { host: authority } },
    { signingDate: options.signingDate ?? new Date() },
  );
  return Object.fromEntries(Object.entries(signed.headers).filter(([name]) => name !== 'host'));
}

/** How a refused stream ended, bounded so a hanging stream fails the test instead of stalling it. */
function ended(client: { end(): Promise<StreamEnd> }, timeoutMs = 5_000): Promise<StreamEnd> {
  return Promise.race([client.end(), new Promise<StreamEnd>((_, reject) => setTimeout(() => reject(new Error(`stream not ended within ${timeoutMs} ms`)), timeoutMs))]);
}

describe('relay: proxy identities with access keys', () => {
  it("serves a proxy with its own per-proxy bearer token only its own resources; that token claiming another proxy is PERMISSION_DENIED and counted in /metrics", async () => {
    const { relay, front, back } = await relayWithProxies();
    const frontKey = await issue({ role: 'proxy', proxies: [nodeIdOf(front)] });

    expect(resourceNames(await sotw(relay, nodeIdOf(front), bearer(frontKey.token)).next())).toEqual(['alpha']);
    expect((await delta(relay, nodeIdOf(front), bearer(frontKey.token)).next()).resources.map((r) => r.name)).toEqual(['alpha']);

    // A valid identity asking for another proxy's resources: refused on either protocol.
    const impostor = await ended(sotw(relay, nodeIdOf(back), bearer(frontKey.token)));
    expect(impostor).toMatchObject({ code: grpc.status.PERMISSION_DENIED, details: expect.stringContaining(`may not receive the configuration of ${nodeIdOf(back)}`) });
    expect(impostor.details).not.toContain(frontKey.secretAccessKey);
    expect(await ended(delta(relay, nodeIdOf(back), bearer(frontKey.token)))).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    expect(await relay.metric(REFUSED, { reason: 'identity_names_another_proxy' })).toBe(2);
    expect(await relay.metric('meshline_relay_stream_errors_total', { code: 'PERMISSION_DENIED' })).toBe(2);
    expect(relay.logs.entries.filter((e) => e.msg === 'stream refused').map((e) => e.reason)).toEqual(['identity_names_another_proxy', 'identity_names_another_proxy']);

    // An admin key of the mesh may stream any of its proxies; a read-only key none.
    const admin = await issue({ role: 'admin', meshes: [front.mesh] });
    expect(resourceNames(await sotw(relay, nodeIdOf(back), bearer(admin.token)).next())).toEqual(['beta']);
    const readOnly = await issue({ role: 'read-only', meshes: '*' });
    expect(await ended(sotw(relay, nodeIdOf(front), bearer(readOnly.token)))).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    expect(await relay.metric(REFUSED, { reason: 'identity_names_another_proxy' })).toBe(3);

    // Nothing of a credential reaches the logs.
    const logged = JSON.stringify(relay.logs.entries);
    for (const secret of [frontKey.secretAccessKey, admin.secretAccessKey, readOnly.secretAccessKey]) expect(logged).not.toContain(secret);
  });

  it('refuses a stream without credentials as UNAUTHENTICATED (missing_credentials), and a malformed, unknown, wrong or revoked token as UNAUTHENTICATED (invalid_credentials)', async () => {
    const { relay, front } = await relayWithProxies();
    const missing = await ended(sotw(relay, nodeIdOf(front)));
    expect(missing).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining('Bearer <accessKeyId>.<secret>') });
    expect(await relay.metric(REFUSED, { reason: 'missing_credentials' })).toBe(1);

    const frontKey = await issue({ role: 'proxy', proxies: [nodeIdOf(front)] });
    const wrongSecret = formatProxyToken(frontKey.accessKeyId, 'Z'.repeat(40));
    for (const token of ['garbage', wrongSecret, formatProxyToken('MLAKAAAAAAAAAAAAAAAA', 'Z'.repeat(40))]) {
      const end = await ended(sotw(relay, nodeIdOf(front), bearer(token)));
      expect(end.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(end.details).not.toContain('Z'.repeat(40));
    }

    // Revoked: refused on the next stream, while the key worked a moment before.
    expect(resourceNames(await sotw(relay, nodeIdOf(front), bearer(frontKey.token)).next())).toEqual(['alpha']);
    await keys.store.revoke(frontKey.accessKeyId);
    expect(await ended(sotw(relay, nodeIdOf(front), bearer(frontKey.token)))).toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
      details: expect.stringContaining('unknown or revoked'),
    });
    expect(await relay.metric(REFUSED, { reason: 'invalid_credentials' })).toBe(4);
    expect(await relay.metric('meshline_relay_stream_errors_total', { code: 'UNAUTHENTICATED' })).toBe(5);
  });

  it('ends the open streams of a revoked key (SotW and delta) with UNAUTHENTICATED key_revoked within keyRecheckMs and refuses its reconnect, while a stream of another key stays open and is still pushed updates', async () => {
    const { relay, front, back } = await relayWithProxies({ keyRecheckMs: 200 });
    const frontKey = await issue({ role: 'proxy', proxies: [nodeIdOf(front)] });
    const backKey = await issue({ role: 'proxy', proxies: [nodeIdOf(back)] });
    const frontSotw = sotw(relay, nodeIdOf(front), bearer(frontKey.token));
    const frontDelta = delta(relay, nodeIdOf(front), bearer(frontKey.token));
    const backSotw = sotw(relay, nodeIdOf(back), bearer(backKey.token));
    expect(resourceNames(await frontSotw.next())).toEqual(['alpha']);
    expect((await frontDelta.next()).resources.map((r) => r.name)).toEqual(['alpha']);
    expect(resourceNames(await backSotw.next())).toEqual(['beta']);
    backSotw.ack(CLUSTER);

    await keys.store.revoke(frontKey.accessKeyId);
    // Both streams of the key end in the next round (ended() fails the test after 5 s).
    for (const client of [frontSotw, frontDelta]) {
      const end = await ended(client);
      expect(end).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining(`access key ${frontKey.accessKeyId} was revoked`) });
      expect(end.details).not.toContain(frontKey.secretAccessKey);
    }
    expect(await relay.metric(REFUSED, { reason: 'key_revoked' })).toBe(2);
    expect(relay.logs.entries.filter((e) => e.msg === 'stream refused').map((e) => [e.reason, e.node])).toEqual([
      ['key_revoked', nodeIdOf(front)],
      ['key_revoked', nodeIdOf(front)],
    ]);

    // The same token on a new stream: refused at its start.
    expect(await ended(sotw(relay, nodeIdOf(front), bearer(frontKey.token)))).toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
      details: expect.stringContaining('unknown or revoked'),
    });
    expect(await relay.metric(REFUSED, { reason: 'invalid_credentials' })).toBe(1);

    // The round that ended the front streams read the back key too (it was open before the
    // revocation) and kept its stream: it is still served a change published after that round.
    await publish(relay.store, front.mesh, [
      proxySnapshot(front, [{ name: 'alpha', endpoints: [{ host: '127.0.0.1', port: 9001 }] }]),
      proxySnapshot(back, [
        { name: 'beta', endpoints: [{ host: '127.0.0.1', port: 9002 }] },
        { name: 'gamma', endpoints: [{ host: '127.0.0.1', port: 9003 }] },
      ]),
    ]);
    expect(resourceNames(await backSotw.next())).toEqual(['beta', 'gamma']);
    expect(await relay.metric('meshline_relay_streams', { mesh: front.mesh })).toBe(1);
    expect(await relay.metric(REFUSED, { reason: 'key_revoked' })).toBe(2);
    const logged = JSON.stringify(relay.logs.entries);
    for (const secret of [frontKey.secretAccessKey, backKey.secretAccessKey]) expect(logged).not.toContain(secret);
  });

  it('keeps the open streams of a key while the keys cannot be read (counted, logged once), and ends them once a read finds the key revoked', async () => {
    let down = false;
    const store: AccessKeyCheck['store'] = {
      get: (accessKeyId) => (down ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')) : keys.store.get(accessKeyId)),
      secretOf: (key) => keys.store.secretOf(key),
    };
    const { relay, front } = await relayWithProxies({ keyRecheckMs: 200, store });
    const frontKey = await issue({ role: 'proxy', proxies: [nodeIdOf(front)] });
    const frontSotw = sotw(relay, nodeIdOf(front), bearer(frontKey.token));
    expect(resourceNames(await frontSotw.next())).toEqual(['alpha']);

    down = true;
    await keys.store.revoke(frontKey.accessKeyId);
    // A round whose read failed has decided nothing against the stream.
    await relay.logs.waitFor((e) => e.msg.startsWith('access keys unreadable; streams they granted are kept'));
    expect(await relay.metric('meshline_relay_key_recheck_errors_total')).toBeGreaterThanOrEqual(1);
    expect(await relay.metric('meshline_relay_streams', { mesh: front.mesh })).toBe(1);
    expect(await relay.metric(REFUSED, { reason: 'key_revoked' })).toBe(0);

    down = false;
    expect(await ended(frontSotw)).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringContaining('was revoked') });
    expect(await relay.metric(REFUSED, { reason: 'key_revoked' })).toBe(1);
    expect(relay.logs.entries.filter((e) => e.msg.startsWith('access keys unreadable; streams'))).toHaveLength(1);
    expect(relay.logs.entries.some((e) => e.msg === 'access keys readable again')).toBe(true);
  });

  it("accepts SigV4 signed as Envoy's aws_iam gRPC credentials sign an ADS call, and refuses it expired, with a wrong secret, or for the other method", async () => {
    const { relay, front, back } = await relayWithProxies();
    const frontKey = await issue({ role: 'proxy', proxies: [nodeIdOf(front)] });
    const authority = relay.relay.adsAddress;
    const signed = (metadata: Record<string, string>): ConnectOptions => ({ metadata });

    expect(resourceNames(await sotw(relay, nodeIdOf(front), signed(await envoyAwsIamMetadata(authority, frontKey))).next())).toEqual(['alpha']);
    const deltaSigned = await envoyAwsIamMetadata(authority, frontKey, { path: DELTA_AGGREGATED_RESOURCES });
    expect((await delta(relay, nodeIdOf(front), signed(deltaSigned)).next()).resources.map((r) => r.name)).toEqual(['alpha']);

    const refusals: [Record<string, string>, RegExp][] = [
      [await envoyAwsIamMetadata(authority, frontKey, { signingDate: new Date(Date.now() - 16 * 60_000) }), /expired or not yet valid/],
      [await envoyAwsIamMetadata(authority, { ...frontKey, secretAccessKey: 'Y'.repeat(40) }), /does not match/],
      [await envoyAwsIamMetadata(authority, frontKey, { path: DELTA_AGGREGATED_RESOURCES }), /does not match/],
      [await envoyAwsIamMetadata(authority, frontKey, { region: 'ap-south-2' }), /scoped to region/],
    ];
    for (const [metadata, message] of refusals) {
      const end = await ended(sotw(relay, nodeIdOf(front), signed(metadata)));
      expect(end).toMatchObject({ code: grpc.status.UNAUTHENTICATED, details: expect.stringMatching(message) });
      expect(end.details).not.toContain(/Signature=(\w+)/.exec(metadata.authorization ?? '')?.[1] ?? 'never');
    }
    expect(await relay.metric(REFUSED, { reason: 'invalid_credentials' })).toBe(refusals.length);

    // A good signature of the front proxy's key for the back proxy: PERMISSION_DENIED.
    expect(await ended(sotw(relay, nodeIdOf(back), signed(await envoyAwsIamMetadata(authority, frontKey))))).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    expect(JSON.stringify(relay.logs.entries)).not.toMatch(/AWS4-HMAC-SHA256|Signature=/);
  });

  it('serves a real grpc-js-xds client its configuration with the token in bootstrap node metadata (a routed RPC completes), and refuses one claiming another node with it', async () => {
    const backendServer = await startTestBackend('blue');
    onTestFinished(() => backendServer.close());
    const relay = await relayForTest({ access: { keys: { store: keys.store, region: inject('stack').region } } });
    const mesh = uniqueMesh('auth-xds');
    const client = virtualNode(mesh, 'client');
    const other = virtualNode(mesh, 'other');
    const service = { name: 'backend.local', endpoints: [{ host: backendServer.host, port: backendServer.port }] };
    await publish(relay.store, mesh, [proxySnapshot(client, [service]), proxySnapshot(other, [service])]);
    const clientKey = await issue({ role: 'proxy', proxies: [nodeIdOf(client)] });

    const proxyless = proxylessClient(service.name, { relayAddress: relay.relay.adsAddress, nodeId: nodeIdOf(client), proxyToken: clientKey.token });
    onTestFinished(() => proxyless.close());
    expect(await proxyless.whoami(15_000)).toBe('blue');
    expect(await relay.metric('meshline_relay_streams', { mesh })).toBe(1);

    const impostor = proxylessClient(service.name, { relayAddress: relay.relay.adsAddress, nodeId: nodeIdOf(other), proxyToken: clientKey.token });
    onTestFinished(() => impostor.close());
    await expect(impostor.whoami(3_000)).rejects.toThrow();
    const refusal = await relay.logs.waitFor((e) => e.msg === 'stream refused' && e.node === nodeIdOf(other));
    expect(refusal.reason).toBe('identity_names_another_proxy');
    expect(await relay.metric(REFUSED, { reason: 'identity_names_another_proxy' })).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(relay.logs.entries)).not.toContain(clientKey.secretAccessKey);
  });

  it('answers UNAVAILABLE, not a refusal, while the keys cannot be read', async () => {
    const relay = await relayForTest({
      access: { keys: { region: inject('stack').region, store: { get: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')), secretOf: () => Promise.resolve('') } } },
    });
    const mesh = uniqueMesh('auth-down');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [{ name: 'alpha', endpoints: [{ host: '127.0.0.1', port: 9001 }] }])]);
    const token = formatProxyToken('MLAKAAAAAAAAAAAAAAAA', 'x'.repeat(40));
    expect(await ended(sotw(relay, nodeIdOf(front), bearer(token)))).toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect(await relay.metric('meshline_relay_stream_errors_total', { code: 'UNAVAILABLE' })).toBe(1);
    expect(await relay.metric(REFUSED, { reason: 'invalid_credentials' })).toBe(0);
  });

  it('fuzz (seed 20261125): malformed authorization metadata and node metadata tokens are refused with UNAUTHENTICATED, PERMISSION_DENIED or INVALID_ARGUMENT, never INTERNAL, and the relay still serves a good client', { timeout: 120_000 }, async () => {
    const { relay, front, back } = await relayWithProxies();
    const frontKey = await issue({ role: 'proxy', proxies: [nodeIdOf(front)] });
    // Header values grpc-js accepts: printable ASCII.
    const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 100 });
    const sigv4Part = fc.oneof(
      fc.constant(`Credential=${frontKey.accessKeyId}/20261125/${inject('stack').region}/appmesh/aws4_request`),
      printable.map((value) => `Credential=${value}`),
      fc.constantFrom('SignedHeaders=host;x-amz-content-sha256;x-amz-date', 'SignedHeaders=', 'SignedHeaders=;;'),
      fc.stringMatching(/^[0-9a-f]{0,70}$/).map((value) => `Signature=${value}`),
      printable,
    );
    const authorization = fc.oneof(
      printable,
      printable.map((value) => `Bearer ${value}`),
      fc.stringMatching(/^[A-Za-z0-9]{0,45}$/).map((secret) => `Bearer ${frontKey.accessKeyId}.${secret}`),
      fc.tuple(fc.stringMatching(/^MLAK[A-Z2-7]{16}$/), fc.stringMatching(/^[A-Za-z0-9]{40}$/)).map(([id, secret]) => `Bearer ${id}.${secret}`),
      fc.array(sigv4Part, { maxLength: 5 }).map((parts) => `AWS4-HMAC-SHA256 ${parts.join(', ')}`),
    );
    const nodeToken = fc.oneof(printable, fc.stringMatching(/^[A-Za-z0-9]{0,45}$/).map((secret) => `${frontKey.accessKeyId}.${secret}`), fc.double(), fc.boolean());
    const nodeId = fc.oneof(fc.constant(nodeIdOf(front)), fc.constant(nodeIdOf(back)), printable);
    const amzDate = fc.oneof(fc.constant(new Date().toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '')), printable);

    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        nodeId,
        fc.option(authorization, { nil: undefined }),
        fc.option(nodeToken, { nil: undefined }),
        fc.option(amzDate, { nil: undefined }),
        async (claimed, auth, token, date) => {
          const metadata: Record<string, string> = {
            ...(auth !== undefined ? { authorization: auth } : {}),
            ...(date !== undefined ? { 'x-amz-date': date } : {}),
          };
          const client = new AdsTestClient(relay.relay.adsAddress, claimed, {
            metadata,
            ...(token !== undefined ? { nodeMetadata: { 'meshline.proxyToken': token } } : {}),
          });
          try {
            client.subscribe(CLUSTER);
            const end = await ended(client);
            seen.set(end.code, (seen.get(end.code) ?? 0) + 1);
            expect([grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED, grpc.status.INVALID_ARGUMENT]).toContain(end.code);
            for (const value of [auth ?? '', typeof token === 'string' ? token : '']) {
              const secretPart = value.replace(/^(Bearer|AWS4-HMAC-SHA256)\s*/i, '');
              if (secretPart.length >= 12) expect(end.details).not.toContain(secretPart);
            }
          } finally {
            client.close();
          }
        },
      ),
      { seed: 20261125, numRuns: 200 },
    );
    expect(seen.get(grpc.status.UNAUTHENTICATED)).toBeGreaterThan(50);

    // Never crashed, never INTERNAL, and still serving.
    expect(await relay.metric('meshline_relay_stream_errors_total', { code: 'INTERNAL' })).toBe(0);
    expect(relay.logs.entries.filter((e) => e.msg === 'stream failed')).toEqual([]);
    expect(resourceNames(await sotw(relay, nodeIdOf(front), bearer(frontKey.token)).next())).toEqual(['alpha']);
    expect((await fetch(`${relay.relay.adminUrl}/readyz`)).status).toBe(200);
  });
});

describe('relay process: MESHLINE_RELAY_AUTH', () => {
  /** The relay's environment without any auth setting inherited from this process. */
  const noAuth = { MESHLINE_AUTH: undefined, MESHLINE_RELAY_AUTH: undefined, MESHLINE_KEYS_TABLE: undefined, MESHLINE_KEY_FILE: undefined, MESHLINE_KMS_KEY_ID: undefined, MESHLINE_RELAY_TOKEN: undefined };

  it('required by default: refuses to start without the keys settings, naming them', async () => {
    const relay = spawnRelay(noAuth);
    expect(await relay.exited).toBe(1);
    expect(relay.lines).toContainEqual(
      expect.objectContaining({ level: 'error', msg: expect.stringMatching(/MESHLINE_RELAY_AUTH=required .*MESHLINE_KEYS_TABLE.*MESHLINE_RELAY_AUTH=off/) }),
    );
  });

  it('required with MESHLINE_KEYS_TABLE and MESHLINE_KEY_FILE: serves a proxy with its token and refuses one without', async () => {
    const stack = inject('stack');
    const relay = spawnRelay({
      ...noAuth,
      MESHLINE_RELAY_AUTH: 'required',
      MESHLINE_KEYS_TABLE: keys.tableName,
      MESHLINE_KEY_FILE: keys.keyFile,
      MESHLINE_DYNAMODB_ENDPOINT: stack.endpoints.dynamodb,
    });
    const { ads } = await relay.listening();
    const mesh = uniqueMesh('auth-main');
    const front = virtualNode(mesh, 'front');
    const { store, s3 } = stackBucket();
    onTestFinished(() => s3.destroy());
    await publish(store, mesh, [proxySnapshot(front, [{ name: 'alpha', endpoints: [{ host: '127.0.0.1', port: 9001 }] }])]);
    const frontKey = await issue({ role: 'proxy', proxies: [nodeIdOf(front)] });

    const served = new AdsTestClient(ads, nodeIdOf(front), bearer(frontKey.token));
    onTestFinished(() => served.close());
    served.subscribe(CLUSTER);
    expect(resourceNames(await served.next(10_000))).toEqual(['alpha']);
    const refused = new AdsTestClient(ads, nodeIdOf(front));
    onTestFinished(() => refused.close());
    refused.subscribe(CLUSTER);
    expect(await ended(refused)).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect(relay.lines.some((line) => line.msg === 'relay listening' && line.accessKeys === true)).toBe(true);
    expect(JSON.stringify(relay.lines)).not.toContain(frontKey.secretAccessKey);
  });

  it('off (or MESHLINE_AUTH=off): warns once at start that any proxy naming itself is served', async () => {
    const relay = spawnRelay({ ...noAuth, MESHLINE_AUTH: 'off' });
    await relay.listening();
    const warnings = relay.lines.filter((line) => line.level === 'warn' && String(line.msg).includes('serves any proxy that names itself'));
    expect(warnings).toHaveLength(1);
  });

  it('refuses MESHLINE_RELAY_TOKEN together with MESHLINE_RELAY_AUTH=required', async () => {
    const relay = spawnRelay({ ...noAuth, MESHLINE_RELAY_AUTH: 'required', MESHLINE_RELAY_TOKEN: 'shared' });
    expect(await relay.exited).toBe(1);
    expect(relay.lines).toContainEqual(expect.objectContaining({ level: 'error', msg: expect.stringContaining('MESHLINE_RELAY_TOKEN') }));
  });
});
