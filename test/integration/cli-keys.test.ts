/**
 * `meshline keys` as an operator runs it: the real binary, in a directory whose
 * `.meshline/stack.json` points at the test stack's DynamoDB Local, a keys table of this file's
 * own and a temporary key file.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveKeyStore } from '../../cli/keys.js';
import { apiCredentials } from '../../cli/main.js';
import { ensureKeysTable } from '../../scripts/local-stack/dynamodb.js';
import type { AccessKey } from '../../shared/auth/keys.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const stack = inject('stack');
const dynamodb = new DynamoDBClient({ endpoint: stack.endpoints.dynamodb, region: stack.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
const tableName = `meshline-test-cli-keys-${randomUUID().slice(0, 8)}`;
const cwd = mkdtempSync(join(tmpdir(), 'meshline-cli-keys-'));
const keyFile = join(cwd, '.meshline', 'keys.key');
const apiEndpoint = 'http://127.0.0.1:39999';

/** The environment of the operator's shell: nothing of the functions' MESHLINE_* or AWS credentials. */
function shellEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: cwd, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...extra };
  return env;
}

function meshline(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'bin', 'meshline.js'), ...args], { cwd: options.cwd ?? cwd, env: options.env ?? shellEnv() }, (error, out, err) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out, err });
    });
  });
}

beforeAll(async () => {
  await ensureKeysTable(dynamodb, tableName);
  mkdirSync(join(cwd, '.meshline'), { recursive: true });
  const stackFile = {
    env: {
      MESHLINE_KEYS_TABLE: tableName,
      MESHLINE_KEY_FILE: keyFile,
      MESHLINE_DYNAMODB_ENDPOINT: stack.endpoints.dynamodb,
      AWS_REGION: stack.region,
    },
    adminKey: { accessKeyId: 'MLAKADMINADMINADMINA', secretAccessKey: 'a'.repeat(40) },
    endpoints: { api: apiEndpoint, dynamodb: stack.endpoints.dynamodb },
  };
  writeFileSync(join(cwd, '.meshline', 'stack.json'), JSON.stringify(stackFile));
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

describe('meshline keys', () => {
  it('creates an admin key, printing its secret once with a warning, and lists it without the secret', async () => {
    const created = await meshline(['keys', 'create', '--description', 'ops team']);
    expect(created.err).toContain(`keys: the local stack (table ${tableName} at ${stack.endpoints.dynamodb}, sealed with key file ${keyFile})`);
    expect(created.code).toBe(0);
    const id = /^access key id\s+(MLAK[A-Z2-7]{16})$/m.exec(created.out)?.[1];
    const secret = /^secret access key\s+([A-Za-z0-9]{40})$/m.exec(created.out)?.[1];
    expect(id).toBeDefined();
    expect(secret).toBeDefined();
    expect(created.out).toMatch(/^role\s+admin$/m);
    expect(created.out).toMatch(/^meshes\s+\*$/m);
    expect(created.out).toContain('The secret access key cannot be shown again: store it now.');
    expect(created.out).not.toContain('proxy token');

    const listed = await meshline(['keys', 'list']);
    expect(listed.code).toBe(0);
    const [header, ...rows] = listed.out.trimEnd().split('\n');
    expect(header).toMatch(/^ACCESS KEY ID\s+ROLE\s+MESHES \/ PROXIES\s+STATUS\s+CREATED\s+RATE\s+DESCRIPTION$/);
    const row = rows.find((r) => r.startsWith(id!));
    expect(row).toMatch(new RegExp(`^${id}\\s+admin\\s+\\*\\s+Active\\s+\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\s+-\\s+ops team$`));
    expect(listed.out).not.toContain(secret);

    // Sealed in the table, never in the clear.
    const { Items } = await DynamoDBDocumentClient.from(dynamodb).send(new ScanCommand({ TableName: tableName }));
    expect(JSON.stringify(Items)).not.toContain(secret);
  });

  it('creates a proxy key with its token, as JSON', async () => {
    const created = await meshline(['keys', 'create', '--role', 'proxy', '--proxy', 'mesh/shop/virtualNode/web', '--proxy', 'mesh/shop/virtualGateway/edge', '--json']);
    expect(created.code).toBe(0);
    const result = JSON.parse(created.out) as { key: AccessKey; secretAccessKey: string; proxyToken: string };
    expect(result.key).toMatchObject({
      role: 'proxy',
      meshes: ['shop'],
      proxies: ['mesh/shop/virtualGateway/edge', 'mesh/shop/virtualNode/web'],
      status: 'Active',
    });
    expect(result.proxyToken).toBe(`${result.key.accessKeyId}.${result.secretAccessKey}`);

    const human = await meshline(['keys', 'create', '--role', 'proxy', '--proxy', 'mesh/shop/virtualNode/db']);
    expect(human.out).toMatch(/^proxy token\s+MLAK[A-Z2-7]{16}\.[A-Za-z0-9]{40}$/m);
    expect(human.out).toContain('The secret access key (and the proxy token, which contains it) cannot be shown again: store it now.');
  });

  it('creates a read-only key for named meshes', async () => {
    const created = await meshline(['keys', 'create', '--role', 'read-only', '--mesh', 'b', '--mesh', 'a,c', '--json']);
    expect((JSON.parse(created.out) as { key: AccessKey }).key).toMatchObject({ role: 'read-only', meshes: ['a', 'b', 'c'] });
  });

  it('revokes a key, and lists it Revoked; revoking twice is harmless, an unknown id fails', async () => {
    const { key } = JSON.parse((await meshline(['keys', 'create', '--json'])).out) as { key: AccessKey };
    const revoked = await meshline(['keys', 'revoke', key.accessKeyId]);
    expect(revoked.code).toBe(0);
    expect(revoked.out).toMatch(new RegExp(`^revoked ${key.accessKeyId} \\(\\d{4}-.+Z\\)$`, 'm'));
    const again = await meshline(['keys', 'revoke', key.accessKeyId, '--json']);
    expect(again.code).toBe(0);
    expect((JSON.parse(again.out) as { key: AccessKey }).key).toMatchObject({ status: 'Revoked' });
    const listed = JSON.parse((await meshline(['keys', 'list', '--json'])).out) as { keys: AccessKey[] };
    expect(listed.keys.find((k) => k.accessKeyId === key.accessKeyId)?.status).toBe('Revoked');
    expect(JSON.stringify(listed)).not.toMatch(/secret|sealed/i);

    const unknown = await meshline(['keys', 'revoke', 'MLAKAAAAAAAAAAAAAAAA']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('meshline keys: no access key MLAKAAAAAAAAAAAAAAAA');
  });

  it('refuses bad command lines with the usage', async () => {
    const cases: [string[], string][] = [
      [['keys'], 'keys needs a subcommand: create, list or revoke'],
      [['keys', 'rotate'], 'unknown keys subcommand rotate: create, list or revoke'],
      [['keys', 'create', '--role', 'owner'], '--role must be admin, read-only or proxy, got: owner'],
      [['keys', 'create', '--role', 'proxy'], '--role proxy needs at least one --proxy NODE_ID'],
      [['keys', 'create', '--role', 'proxy', '--proxy', 'web'], 'proxies must be node ids mesh/<mesh>/virtualNode/<name> or mesh/<mesh>/virtualGateway/<name>, got: web'],
      [['keys', 'create', '--mesh', 'a', '--proxy', 'mesh/a/virtualNode/b'], '--proxy applies to --role proxy only'],
      [['keys', 'create', '--rate-limit', '0'], '--rate-limit takes a positive integer (requests per second), got: 0'],
      [['keys', 'list', '--role', 'admin'], '--role is an option of keys create'],
      [['keys', 'revoke'], 'keys revoke needs exactly one ACCESS_KEY_ID'],
    ];
    for (const [args, message] of cases) {
      const { code, err } = await meshline(args);
      expect(err, args.join(' ')).toContain(message);
      // Validation by the store (a bad node id) is an error, not a usage mistake.
      expect(code, args.join(' ')).toBe(message.startsWith('proxies must') ? 1 : 2);
    }
    const help = await meshline(['keys', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('meshline keys create [--role admin|read-only|proxy]');
    expect((await meshline(['--help'])).out).toMatch(/^\s+keys\s+issue, list and revoke/m);
  });

  it('says so when no local stack is running in the directory', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'meshline-cli-keys-empty-'));
    try {
      const { code, err } = await meshline(['keys', 'list'], { cwd: empty });
      expect(code).toBe(1);
      expect(err).toContain('no local stack is running here (start it with npm start)');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('uses the MESHLINE_* environment when MESHLINE_KEYS_TABLE is set, as the functions read it', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'meshline-cli-keys-env-'));
    try {
      const env = shellEnv({ MESHLINE_KEYS_TABLE: tableName, MESHLINE_KEY_FILE: keyFile, MESHLINE_DYNAMODB_ENDPOINT: stack.endpoints.dynamodb, AWS_REGION: stack.region });
      const { code, out, err } = await meshline(['keys', 'list', '--json'], { cwd: empty, env });
      expect(err).toContain(`keys: table ${tableName} at ${stack.endpoints.dynamodb}, sealed with key file ${keyFile}`);
      expect(code).toBe(0);
      expect((JSON.parse(out) as { keys: AccessKey[] }).keys.length).toBeGreaterThan(0);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('where the keys and the API credentials come from', () => {
  it('resolves a stage to its table and KMS alias, with the default credential chain', () => {
    const { where } = resolveKeyStore({ stage: 'prod', region: 'eu-west-1' }, {}, cwd);
    expect(where).toBe('stage prod: table meshline-prod-keys in eu-west-1, sealed with KMS alias/meshline-prod-keys');
    expect(() => resolveKeyStore({ stage: 'prod' }, {}, cwd)).toThrow('--stage needs --region (or AWS_REGION)');
    expect(() => resolveKeyStore({ stage: 'prod', local: true }, {}, cwd)).toThrow('--stage and --local exclude each other');
  });

  it("signs API calls with the local stack's admin key for its endpoint, and with the default chain when AWS credentials are named", () => {
    expect(apiCredentials(apiEndpoint, {}, cwd)).toEqual({ accessKeyId: 'MLAKADMINADMINADMINA', secretAccessKey: 'a'.repeat(40) });
    expect(apiCredentials(apiEndpoint, { AWS_PROFILE: 'ops' }, cwd)).toBeUndefined();
    expect(apiCredentials(apiEndpoint, { AWS_ACCESS_KEY_ID: 'AKIA' }, cwd)).toBeUndefined();
    expect(apiCredentials('https://api.example.com', {}, cwd)).toBeUndefined();
    // Another local endpoint than the stack's: not its admin key.
    expect(apiCredentials('http://127.0.0.1:1', {}, cwd)).toEqual({ accessKeyId: 'local', secretAccessKey: 'local' });
  });
});
