/**
 * `meshline keys`: issue, list and revoke Meshline access keys. Key management talks straight
 * to the keys table (and KMS) with the operator's own AWS credentials: IAM is the root of trust,
 * and the App Mesh API stays exactly App Mesh's, with no key management operations of its own.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { formatProxyToken, type AccessKey, type AccessKeySpec, type AccessKeyStore } from '../shared/auth/keys.js';
import { authSettingsFromEnv, createAccessKeyStore } from '../shared/auth/settings.js';
import { awsSettingsFromEnv } from '../shared/store/clients.js';

/** What `npm start` writes to `.meshline/stack.json`: what a client of the local stack needs. */
export interface LocalStackFile {
  env: Record<string, string>;
  adminKey?: { accessKeyId: string; secretAccessKey: string };
  endpoints?: Record<string, string | undefined>;
}

/** The path of the local stack's file under a directory. */
export function localStackFilePath(cwd: string): string {
  return join(cwd, '.meshline', 'stack.json');
}

/** The local stack's file in `cwd`, or undefined when no stack has written one there. */
export function readLocalStackFile(cwd: string): LocalStackFile | undefined {
  let text: string;
  try {
    text = readFileSync(localStackFilePath(cwd), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const parsed = JSON.parse(text) as LocalStackFile;
  if (typeof parsed !== 'object' || parsed === null || typeof parsed.env !== 'object') {
    throw new Error(`${localStackFilePath(cwd)} has no "env" object; restart the local stack (npm start)`);
  }
  return parsed;
}

/** Where the keys are: a deployed stage, the local stack of a directory, or the MESHLINE_* environment. */
export interface KeyStoreOptions {
  stage?: string | undefined;
  region?: string | undefined;
  local?: boolean | undefined;
}

/**
 * The key store the options and environment point at:
 *  - `stage`: the stage's table `meshline-<stage>-keys` and KMS alias `alias/meshline-<stage>-keys`,
 *    in `region` (else AWS_REGION / AWS_DEFAULT_REGION), with the default AWS credential chain;
 *  - `local`, or neither a stage nor MESHLINE_KEYS_TABLE: the local stack whose
 *    `.meshline/stack.json` is in `cwd`;
 *  - otherwise the MESHLINE_* variables as the functions read them (MESHLINE_KEYS_TABLE,
 *    MESHLINE_KMS_KEY_ID or MESHLINE_KEY_FILE, MESHLINE_DYNAMODB_ENDPOINT, AWS_REGION).
 * `where` says which, for a person.
 */
export function resolveKeyStore(options: KeyStoreOptions, env: NodeJS.ProcessEnv, cwd: string): { store: AccessKeyStore; where: string } {
  if (options.stage !== undefined && options.local) throw new KeysUsageError('--stage and --local exclude each other');
  if (options.stage !== undefined) {
    if (!/^[A-Za-z0-9-]+$/.test(options.stage)) throw new KeysUsageError(`--stage takes a stage name of letters, digits and -, got: ${options.stage}`);
    const region = options.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined);
    if (!region) throw new KeysUsageError('--stage needs --region (or AWS_REGION)');
    const keysTable = `meshline-${options.stage}-keys`;
    const keyId = `alias/meshline-${options.stage}-keys`;
    const store = createAccessKeyStore({ enabled: true, keysTable, sealer: { kind: 'kms', keyId }, rateLimit: 1 }, { region });
    return { store, where: `stage ${options.stage}: table ${keysTable} in ${region}, sealed with KMS ${keyId}` };
  }
  if (options.local || !env.MESHLINE_KEYS_TABLE) {
    const stack = readLocalStackFile(cwd);
    if (!stack) throw new Error(`no local stack is running here (start it with npm start): ${localStackFilePath(cwd)} does not exist`);
    const stackEnv: NodeJS.ProcessEnv = { ...stack.env, MESHLINE_AUTH: 'on' };
    if (stackEnv.MESHLINE_KEY_FILE && !isAbsolute(stackEnv.MESHLINE_KEY_FILE)) stackEnv.MESHLINE_KEY_FILE = resolve(cwd, stackEnv.MESHLINE_KEY_FILE);
    if (options.region) stackEnv.AWS_REGION = options.region;
    const { store, where } = storeOf(stackEnv, localStackFilePath(cwd));
    return { store, where: `the local stack (${where})` };
  }
  return storeOf({ ...env, MESHLINE_AUTH: 'on', ...(options.region ? { AWS_REGION: options.region } : {}) }, 'the MESHLINE_* environment');
}

function storeOf(env: NodeJS.ProcessEnv, source: string): { store: AccessKeyStore; where: string } {
  let settings;
  try {
    settings = authSettingsFromEnv(env);
  } catch (error) {
    throw new Error(`${source}: ${(error as Error).message}`, { cause: error });
  }
  if (!settings.enabled) throw new Error(`${source}: authentication is off`);
  const aws = awsSettingsFromEnv(env);
  const sealedWith = settings.sealer.kind === 'kms' ? `KMS ${settings.sealer.keyId}` : `key file ${settings.sealer.path}`;
  return {
    store: createAccessKeyStore(settings, aws),
    where: `table ${settings.keysTable}${aws.dynamodbEndpoint ? ` at ${aws.dynamodbEndpoint}` : ` in ${aws.region}`}, sealed with ${sealedWith}`,
  };
}

/** A mistake in the command line (the CLI prints the usage after it). */
export class KeysUsageError extends Error {}

export const KEYS_USAGE = `meshline keys create [--role admin|read-only|proxy] [--mesh NAME ...] [--proxy NODE_ID ...]
                     [--description TEXT] [--rate-limit N]
meshline keys list
meshline keys revoke ACCESS_KEY_ID

  Issues, lists and revokes the access keys that callers sign Meshline's App Mesh API with
  (SigV4, like any AWS access key) and that proxies present to the relay as a token.

  create               a new key; its secret is printed once and cannot be shown again
    --role ROLE        admin (default), read-only, or proxy
    --mesh NAME        a mesh the key may act on (repeat, or comma-separate); '*' for every mesh
                       (the default for admin and read-only)
    --proxy NODE_ID    role proxy: a proxy it may fetch configuration for (repeat, or comma-separate),
                       mesh/<mesh>/virtualNode/<name> or mesh/<mesh>/virtualGateway/<name>
    --description TEXT at most 256 characters
    --rate-limit N     requests per second for this key (default: the deployment's MESHLINE_AUTH_RATE_LIMIT)
  list                 every key, active and revoked (never a secret)
  revoke ID            revokes a key at once; revoking twice is harmless

  Where the keys are, with your own AWS credentials (IAM decides who may manage keys):
    --stage S [--region R]   a deployed stage: table meshline-S-keys, KMS alias/meshline-S-keys
    --local                  the local stack of this directory (.meshline/stack.json, written by npm start);
                             the default unless MESHLINE_KEYS_TABLE is set
    (neither)                with MESHLINE_KEYS_TABLE set: MESHLINE_KEYS_TABLE, MESHLINE_KMS_KEY_ID or
                             MESHLINE_KEY_FILE, MESHLINE_DYNAMODB_ENDPOINT and AWS_REGION, as the functions read them`;

export const KEYS_OPTIONS = {
  role: { type: 'string' },
  mesh: { type: 'string', multiple: true },
  proxy: { type: 'string', multiple: true },
  description: { type: 'string' },
  'rate-limit': { type: 'string' },
  stage: { type: 'string' },
  region: { type: 'string' },
  local: { type: 'boolean', default: false },
} as const;

/** What `keys create` answers: the only time a secret is shown. */
export interface CreatedKeyResult {
  key: AccessKey;
  secretAccessKey: string;
  /** Role proxy: the relay token `<accessKeyId>.<secret>`. */
  proxyToken?: string;
}

/** create: the new key and its secret; list: every key; revoke: the revoked key. */
export type KeysResult = CreatedKeyResult | { keys: AccessKey[] } | { key: AccessKey };

type Values = Record<string, string | boolean | string[] | undefined>;

/** Runs `meshline keys <subcommand>`. */
export async function runKeys(values: Values, positionals: string[], progress: (line: string) => void, env = process.env, cwd = process.cwd()): Promise<KeysResult> {
  const [action, ...rest] = positionals;
  if (action !== 'create' && action !== 'list' && action !== 'revoke') {
    throw new KeysUsageError(action ? `unknown keys subcommand ${action}: create, list or revoke` : 'keys needs a subcommand: create, list or revoke');
  }
  const createOnly = ['role', 'mesh', 'proxy', 'description', 'rate-limit'].filter((name) => values[name] !== undefined);
  if (action !== 'create' && createOnly.length) throw new KeysUsageError(`--${createOnly[0]} is an option of keys create`);
  if (action === 'revoke' ? rest.length !== 1 : rest.length !== 0) {
    throw new KeysUsageError(action === 'revoke' ? 'keys revoke needs exactly one ACCESS_KEY_ID' : `keys ${action} takes no arguments, got: ${rest.join(' ')}`);
  }
  const spec = action === 'create' ? createSpec(values) : undefined;
  const { store, where } = resolveKeyStore(
    { stage: stringOption(values, 'stage'), region: stringOption(values, 'region'), local: values.local === true },
    env,
    cwd,
  );
  progress(`keys: ${where}`);
  if (spec) {
    const { key, secretAccessKey } = await store.create(spec);
    return { key, secretAccessKey, ...(key.role === 'proxy' ? { proxyToken: formatProxyToken(key.accessKeyId, secretAccessKey) } : {}) };
  }
  if (action === 'list') return { keys: await store.list() };
  return { key: await store.revoke(rest[0] as string) };
}

function stringOption(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

/** Repeated and comma-separated values, as one list. */
function listOption(values: Values, name: string): string[] | undefined {
  const value = values[name];
  if (value === undefined || typeof value === 'boolean') return undefined;
  return [value]
    .flat()
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

function createSpec(values: Values): AccessKeySpec {
  const role = stringOption(values, 'role') ?? 'admin';
  if (role !== 'admin' && role !== 'read-only' && role !== 'proxy') throw new KeysUsageError(`--role must be admin, read-only or proxy, got: ${role}`);
  const meshes = listOption(values, 'mesh');
  const proxies = listOption(values, 'proxy');
  const rateLimitText = stringOption(values, 'rate-limit');
  let rateLimit: number | undefined;
  if (rateLimitText !== undefined) {
    rateLimit = Number(rateLimitText);
    if (!/^\d+$/.test(rateLimitText) || !Number.isSafeInteger(rateLimit) || rateLimit < 1) {
      throw new KeysUsageError(`--rate-limit takes a positive integer (requests per second), got: ${rateLimitText}`);
    }
  }
  if (role === 'proxy') {
    if (meshes !== undefined) throw new KeysUsageError('--mesh does not apply to --role proxy: its --proxy node ids name their meshes');
    if (!proxies?.length) throw new KeysUsageError('--role proxy needs at least one --proxy NODE_ID');
  } else if (proxies !== undefined) {
    throw new KeysUsageError('--proxy applies to --role proxy only');
  }
  if (meshes !== undefined && meshes.length === 0) throw new KeysUsageError("--mesh takes a mesh name, or '*' for every mesh");
  if (meshes?.includes('*') && meshes.length > 1) throw new KeysUsageError("--mesh '*' means every mesh; do not combine it with mesh names");
  return {
    role,
    ...(role === 'proxy' ? { proxies } : { meshes: !meshes || meshes[0] === '*' ? '*' : meshes }),
    ...(stringOption(values, 'description') !== undefined ? { description: stringOption(values, 'description') } : {}),
    ...(rateLimit !== undefined ? { rateLimit } : {}),
  };
}

function scope(key: AccessKey): string {
  if (key.proxies) return key.proxies.join(',');
  return key.meshes === '*' ? '*' : key.meshes.join(',');
}

/** Human output of `meshline keys`. Never a secret, except the one `create` just made. */
export function formatKeysResult(result: KeysResult): string {
  if ('secretAccessKey' in result) {
    const { key, secretAccessKey, proxyToken } = result;
    const rows: [string, string][] = [
      ['access key id', key.accessKeyId],
      ['secret access key', secretAccessKey],
      ...(proxyToken ? ([['proxy token', proxyToken]] as [string, string][]) : []),
      ['role', key.role],
      [key.proxies ? 'proxies' : 'meshes', scope(key)],
      ...(key.rateLimit !== undefined ? ([['rate limit', `${key.rateLimit}/s`]] as [string, string][]) : []),
      ...(key.description !== undefined ? ([['description', key.description]] as [string, string][]) : []),
    ];
    const width = Math.max(...rows.map(([label]) => label.length));
    return [
      ...rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`),
      '',
      `The secret access key${proxyToken ? ' (and the proxy token, which contains it)' : ''} cannot be shown again: store it now.`,
    ].join('\n');
  }
  if ('key' in result) return `revoked ${result.key.accessKeyId} (${result.key.revokedAt ?? 'already revoked'})`;
  if (result.keys.length === 0) return 'no access keys (create one with: meshline keys create)';
  const header = ['ACCESS KEY ID', 'ROLE', 'MESHES / PROXIES', 'STATUS', 'CREATED', 'RATE', 'DESCRIPTION'];
  const rows = [...result.keys]
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.accessKeyId.localeCompare(b.accessKeyId))
    .map((key) => [
      key.accessKeyId,
      key.role,
      scope(key),
      key.status,
      key.createdAt.replace(/\.\d+Z$/, 'Z'),
      key.rateLimit === undefined ? '-' : `${key.rateLimit}/s`,
      key.description ?? '',
    ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  return [header, ...rows].map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n');
}
