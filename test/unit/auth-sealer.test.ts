/**
 * Sealing of access key secrets. The file sealer runs for real. The KMS sealer is checked only
 * for the requests it builds (captured from the SDK's middleware stack after serialization, so
 * nothing is sent): there is no KMS here, and it is untested against a real one.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KMSClient } from '@aws-sdk/client-kms';
import { afterAll, describe, expect, it } from 'vitest';
import { formatProxyToken, isAccessKeyId, newAccessKeyId, newSecretAccessKey, normalizeAccessKeySpec, parseProxyToken } from '../../shared/auth/keys.js';
import { FileSecretSealer, KmsSecretSealer, SealedSecretError } from '../../shared/auth/sealer.js';
import { authSettingsFromEnv } from '../../shared/auth/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'meshline-sealer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const keyFile = () => join(dir, `k${(files += 1)}`, 'keys.key');

const ID = 'MLAKABCDEFGHIJKLMNOP';
const OTHER_ID = 'MLAKQRSTUVWXYZ234567';
const SECRET = 'abcdefghijABCDEFGHIJ0123456789klmnopqrst';

describe('FileSecretSealer', () => {
  it('round-trips a secret, in the v1.<iv>.<ciphertext+tag> form, never containing the plaintext', async () => {
    const sealer = new FileSecretSealer(keyFile());
    const sealed = await sealer.seal(SECRET, { accessKeyId: ID });
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain(SECRET);
    expect(await sealer.open(sealed, { accessKeyId: ID })).toBe(SECRET);
    // A fresh IV each time.
    expect(await sealer.seal(SECRET, { accessKeyId: ID })).not.toBe(sealed);
  });

  it('creates the key file on first use: 32 bytes, mode 0600, and reuses it', async () => {
    const path = keyFile();
    const sealed = await new FileSecretSealer(path).seal(SECRET, { accessKeyId: ID });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path)).toHaveLength(32);
    expect(await new FileSecretSealer(path).open(sealed, { accessKeyId: ID })).toBe(SECRET);
  });

  it('refuses a tampered ciphertext', async () => {
    const sealer = new FileSecretSealer(keyFile());
    const sealed = await sealer.seal(SECRET, { accessKeyId: ID });
    const [v, iv, body] = sealed.split('.') as [string, string, string];
    const bytes = Buffer.from(body, 'base64url');
    bytes[0] = (bytes[0] ?? 0) ^ 1;
    await expect(sealer.open(`${v}.${iv}.${bytes.toString('base64url')}`, { accessKeyId: ID })).rejects.toThrow(SealedSecretError);
    await expect(sealer.open(`${v}.${iv}.${bytes.toString('base64url')}`, { accessKeyId: ID })).rejects.toThrow(/does not open.*tampered/);
    await expect(sealer.open('garbage', { accessKeyId: ID })).rejects.toThrow(/not a v1 file-sealed value/);
  });

  it("refuses a secret bound to another access key (another key's AAD)", async () => {
    const sealer = new FileSecretSealer(keyFile());
    const sealed = await sealer.seal(SECRET, { accessKeyId: ID });
    await expect(sealer.open(sealed, { accessKeyId: OTHER_ID })).rejects.toThrow(SealedSecretError);
  });

  it('refuses a secret sealed with another key file', async () => {
    const sealed = await new FileSecretSealer(keyFile()).seal(SECRET, { accessKeyId: ID });
    await expect(new FileSecretSealer(keyFile()).open(sealed, { accessKeyId: ID })).rejects.toThrow(SealedSecretError);
  });

  it('refuses a key file readable by group or others, and says how to fix it', async () => {
    const path = keyFile();
    await new FileSecretSealer(path).seal(SECRET, { accessKeyId: ID });
    chmodSync(path, 0o644);
    await expect(new FileSecretSealer(path).seal(SECRET, { accessKeyId: ID })).rejects.toThrow(`key file ${path} is readable or writable by group or others (mode 0644); it must be 0600: chmod 600 ${path}`);
  });

  it('refuses a key file of another length', async () => {
    const path = keyFile();
    await new FileSecretSealer(path).seal(SECRET, { accessKeyId: ID });
    writeFileSync(path, Buffer.alloc(16));
    await expect(new FileSecretSealer(path).seal(SECRET, { accessKeyId: ID })).rejects.toThrow(`key file ${path} holds 16 bytes, but a key file holds exactly 32`);
  });

  it('lets concurrent first uses agree on one key', async () => {
    const path = keyFile();
    const sealers = Array.from({ length: 8 }, () => new FileSecretSealer(path));
    const sealed = await Promise.all(sealers.map((s) => s.seal(SECRET, { accessKeyId: ID })));
    for (const s of sealed) expect(await new FileSecretSealer(path).open(s, { accessKeyId: ID })).toBe(SECRET);
  });
});

describe('KmsSecretSealer (requests only: untested against a real KMS)', () => {
  /** A KMS client that answers from `respond` after serializing each request, never sending it. */
  function capturingClient(respond: (target: string) => unknown): { client: KMSClient; requests: { target: string; body: Record<string, unknown> }[] } {
    const requests: { target: string; body: Record<string, unknown> }[] = [];
    const client = new KMSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example' } });
    client.middlewareStack.add(
      (_next) => async (args) => {
        const request = args.request as { headers: Record<string, string>; body: string | Uint8Array };
        const target = request.headers['x-amz-target'] ?? '';
        const text = typeof request.body === 'string' ? request.body : Buffer.from(request.body).toString('utf8');
        requests.push({ target, body: JSON.parse(text) as Record<string, unknown> });
        return { output: { $metadata: {}, ...(respond(target) as object) }, response: {} };
      },
      { step: 'build', name: 'captureKmsRequest' },
    );
    return { client, requests };
  }

  it('encrypts under the configured key with the access key id as encryption context, and decrypts naming the key and the same context', async () => {
    const ciphertext = Buffer.from('opaque-kms-ciphertext');
    const { client, requests } = capturingClient((target) =>
      target.endsWith('.Encrypt') ? { CiphertextBlob: new Uint8Array(ciphertext) } : { Plaintext: new Uint8Array(Buffer.from(SECRET)) },
    );
    const sealer = new KmsSecretSealer({ client, keyId: 'alias/meshline-prod-keys' });
    expect(sealer.name).toBe('kms:alias/meshline-prod-keys');
    const sealed = await sealer.seal(SECRET, { accessKeyId: ID });
    expect(sealed).toBe(ciphertext.toString('base64'));
    expect(await sealer.open(sealed, { accessKeyId: ID })).toBe(SECRET);
    expect(requests).toEqual([
      {
        target: 'TrentService.Encrypt',
        body: { KeyId: 'alias/meshline-prod-keys', Plaintext: Buffer.from(SECRET).toString('base64'), EncryptionContext: { 'meshline:accessKeyId': ID } },
      },
      {
        target: 'TrentService.Decrypt',
        body: { KeyId: 'alias/meshline-prod-keys', CiphertextBlob: ciphertext.toString('base64'), EncryptionContext: { 'meshline:accessKeyId': ID } },
      },
    ]);
  });

  it("turns KMS's refusal of a ciphertext into a SealedSecretError", async () => {
    const client = new KMSClient({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'example' } });
    client.middlewareStack.add(
      () => async () => {
        throw Object.assign(new Error('boom'), { name: 'InvalidCiphertextException' });
      },
      { step: 'build', name: 'refuse' },
    );
    await expect(new KmsSecretSealer({ client, keyId: 'k' }).open('AAAA', { accessKeyId: ID })).rejects.toThrow(SealedSecretError);
  });
});

describe('access key ids, secrets and tokens', () => {
  it('makes ids MLAK + 16 base32 characters and secrets of 40 alphanumerics, all different', () => {
    const ids = new Set(Array.from({ length: 500 }, newAccessKeyId));
    expect(ids.size).toBe(500);
    for (const id of ids) expect(id).toMatch(/^MLAK[A-Z2-7]{16}$/);
    for (let i = 0; i < 100; i += 1) expect(newSecretAccessKey()).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(isAccessKeyId('AKIAIOSFODNN7EXAMPLE')).toBe(false);
  });

  it('formats and parses proxy tokens, refusing anything else', () => {
    const token = formatProxyToken(ID, SECRET);
    expect(token).toBe(`${ID}.${SECRET}`);
    expect(parseProxyToken(token)).toEqual({ accessKeyId: ID, secretAccessKey: SECRET });
    for (const bad of ['', ID, `${ID}.`, `${ID}.${SECRET}x`, `${ID.toLowerCase()}.${SECRET}`, `${ID}.${SECRET}.x`]) expect(parseProxyToken(bad)).toBeUndefined();
  });

  it('checks specs with messages that name the field, the bound and the value', () => {
    expect(normalizeAccessKeySpec({ role: 'proxy', proxies: ['arn:aws:appmesh:eu-west-1:123456789012:mesh/m/virtualNode/a', 'mesh/m/virtualNode/a', 'mesh/n/virtualGateway/g'] })).toEqual({
      role: 'proxy',
      meshes: ['m', 'n'],
      proxies: ['mesh/m/virtualNode/a', 'mesh/n/virtualGateway/g'],
    });
    expect(() => normalizeAccessKeySpec({ role: 'proxy', proxies: ['m/a'] })).toThrow('proxies must be node ids mesh/<mesh>/virtualNode/<name> or mesh/<mesh>/virtualGateway/<name>, got: m/a');
    expect(() => normalizeAccessKeySpec({ role: 'proxy', proxies: [] })).toThrow('proxies must name at least 1 node id for role proxy, got: 0');
    expect(() => normalizeAccessKeySpec({ role: 'admin', meshes: [] })).toThrow("meshes must be '*' or at least 1 mesh name for role admin, got: 0");
    expect(() => normalizeAccessKeySpec({ role: 'admin', meshes: '*', proxies: ['mesh/m/virtualNode/a'] })).toThrow('proxies applies to role proxy only');
    expect(normalizeAccessKeySpec({ role: 'read-only', meshes: ['b', 'a', 'b'], description: 'x'.repeat(256) }).meshes).toEqual(['a', 'b']);
    expect(() => normalizeAccessKeySpec({ role: 'read-only', meshes: '*', description: 'x'.repeat(257) })).toThrow('description must be at most 256 characters, got: 257');
    expect(() => normalizeAccessKeySpec({ role: 'admin', meshes: '*', rateLimit: 0 })).toThrow('rateLimit must be a positive integer (requests per second), got: 0');
  });
});

describe('authSettingsFromEnv', () => {
  it('defaults to on, with a rate limit of 50', () => {
    expect(authSettingsFromEnv({ MESHLINE_KEYS_TABLE: 't', MESHLINE_KMS_KEY_ID: 'alias/k' })).toEqual({
      enabled: true,
      keysTable: 't',
      sealer: { kind: 'kms', keyId: 'alias/k' },
      rateLimit: 50,
    });
    expect(authSettingsFromEnv({ MESHLINE_KEYS_TABLE: 't', MESHLINE_KEY_FILE: '/k', MESHLINE_KMS_KEY_ID: '', MESHLINE_AUTH_RATE_LIMIT: '7' })).toMatchObject({
      sealer: { kind: 'file', path: '/k' },
      rateLimit: 7,
    });
    expect(authSettingsFromEnv({ MESHLINE_AUTH: 'off' })).toEqual({ enabled: false });
  });

  it('names what is missing or wrong', () => {
    expect(() => authSettingsFromEnv({})).toThrow('MESHLINE_AUTH is on, but MESHLINE_KEYS_TABLE and MESHLINE_KMS_KEY_ID or MESHLINE_KEY_FILE are not set');
    expect(() => authSettingsFromEnv({ MESHLINE_KEYS_TABLE: 't' })).toThrow('MESHLINE_AUTH is on, but MESHLINE_KMS_KEY_ID or MESHLINE_KEY_FILE is not set');
    expect(() => authSettingsFromEnv({ MESHLINE_KEYS_TABLE: 't', MESHLINE_KMS_KEY_ID: 'k', MESHLINE_KEY_FILE: '/f' })).toThrow(/not both/);
    expect(() => authSettingsFromEnv({ MESHLINE_AUTH: 'yes' })).toThrow('MESHLINE_AUTH must be on or off, got: yes');
    for (const bad of ['0', '-1', '1.5', 'ten']) {
      expect(() => authSettingsFromEnv({ MESHLINE_KEYS_TABLE: 't', MESHLINE_KEY_FILE: '/f', MESHLINE_AUTH_RATE_LIMIT: bad })).toThrow(`MESHLINE_AUTH_RATE_LIMIT must be a positive integer (requests per second per key), got: ${bad}`);
    }
  });
});
