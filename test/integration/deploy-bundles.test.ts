/**
 * The Lambda zips that `osls package` builds, run as Lambda would run them: each unpacked alone
 * in a directory outside the repository (no node_modules to fall back on), its handler imported
 * and invoked, against the local stack's DynamoDB and S3. A mesh is created through the packaged
 * API function, compiled by the packaged compile function from a stream event, and reconciled
 * by the packaged reconcile function, in a table and a bucket of this test's own (so the local
 * stack's own compile trigger, which watches its table, plays no part).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { awsSettingsFromEnv, createS3Client } from '../../shared/store/clients.js';
import { meshPartition } from '../../shared/store/repository.js';
import { SnapshotStore } from '../../shared/store/snapshots.js';
import { meshTableDefinition } from '../../shared/store/table.js';
import { adminCredentials } from '../support/appmesh.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const stack = inject('stack');
const settings = awsSettingsFromEnv(stack.env);
const dynamodb = new DynamoDBClient({ region: settings.region, endpoint: settings.dynamodbEndpoint, credentials: settings.dynamodbCredentials });
const s3 = createS3Client(settings);

const work = mkdtempSync(join(tmpdir(), 'meshline-deploy-bundles-'));
const suffix = randomUUID().slice(0, 8);
const table = `deploy-bundles-${suffix}`;
const bucket = `deploy-bundles-${suffix}`;
const mesh = `packaged-${suffix}`;

/** Unpacks a zip (stored or deflated entries, as the packager writes them) into a directory. */
function unzip(file: string, into: string): void {
  const zip = readFileSync(file);
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  let at = zip.readUInt32LE(end + 16);
  for (let i = zip.readUInt16LE(end + 10); i > 0; i -= 1) {
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    const local = zip.readUInt32LE(at + 42);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + size);
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    if (name.endsWith('/')) continue;
    const target = join(into, name);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, method === 8 ? inflateRawSync(data) : data);
  }
}

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, options);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output}`))));
  });
}

/**
 * Imports a packaged handler in a fresh node process (a cold container) and invokes it with each
 * event in turn (then a warm one). The handler's own logs go to stdout; results go to a file.
 */
const INVOKE = `
import { writeFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
const [handlerFile, eventsFile, resultFile] = process.argv.slice(1);
let sdkResolvable = true;
try { createRequire(handlerFile).resolve('@aws-sdk/client-s3'); } catch { sdkResolvable = false; }
const started = performance.now();
const { handler } = await import(pathToFileURL(handlerFile).href);
const importMs = performance.now() - started;
const context = { functionName: 'packaged', awsRequestId: 'test', getRemainingTimeInMillis: () => 60000 };
const results = [];
for (const event of JSON.parse(readFileSync(eventsFile, 'utf8'))) results.push(await handler(event, context));
writeFileSync(resultFile, JSON.stringify({ importMs, sdkResolvable, results }));
`;

interface Invocation {
  importMs: number;
  sdkResolvable: boolean;
  results: unknown[];
}

let invocations = 0;
async function invoke(fn: string, handlerFile: string, events: unknown[]): Promise<Invocation> {
  invocations += 1;
  const eventsFile = join(work, `events-${invocations}.json`);
  const resultFile = join(work, `result-${invocations}.json`);
  writeFileSync(eventsFile, JSON.stringify(events));
  const cwd = join(work, fn);
  const env = {
    PATH: process.env.PATH ?? '',
    ...stack.env,
    MESHLINE_TABLE: table,
    MESHLINE_BUCKET: bucket,
    NODE_OPTIONS: '--enable-source-maps',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  await run(process.execPath, ['--input-type=module', '-e', INVOKE, join(cwd, handlerFile), eventsFile, resultFile], { cwd, env });
  return JSON.parse(readFileSync(resultFile, 'utf8')) as Invocation;
}

/**
 * An HTTP API event of a request the App Mesh SDK would send, signed with the local stack's
 * admin key: the packaged function verifies it against the stack's keys table and key file.
 */
async function apiEvent(method: string, rawPath: string, body?: unknown) {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const signer = new SignatureV4({ service: 'appmesh', region: stack.region, credentials: adminCredentials(), sha256: Sha256 });
  const signed = await signer.sign({
    method,
    protocol: 'https:',
    hostname: 'api.meshline.example',
    path: rawPath,
    headers: { host: 'api.meshline.example', 'content-type': 'application/json' },
    ...(text !== undefined ? { body: text } : {}),
  });
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: '',
    headers: signed.headers,
    body: text,
    isBase64Encoded: false,
    requestContext: { http: { method, path: rawPath }, stage: '$default' },
  };
}

beforeAll(async () => {
  // Packaged from a scratch service directory linking to the sources, so the running local
  // stack's .esbuild/ (serverless-offline serves from it) is left alone.
  const service = join(work, 'service');
  mkdirSync(service);
  for (const entry of ['functions', 'shared', 'node_modules', 'package.json', 'tsconfig.json']) symlinkSync(join(ROOT, entry), join(service, entry));
  cpSync(join(ROOT, 'serverless.yml'), join(service, 'serverless.yml'));
  const out = join(work, 'package');
  await run(process.execPath, [join(ROOT, 'node_modules', 'osls', 'bin', 'serverless.js'), 'package', '--stage', 'prod', '--region', 'eu-west-1', '--package', out], {
    cwd: service,
    env: { PATH: process.env.PATH ?? '', HOME: join(service, '.home'), HTTPS_PROXY: 'http://127.0.0.1:9', HTTP_PROXY: 'http://127.0.0.1:9' },
  });
  for (const fn of ['api', 'compile', 'reconcile']) unzip(join(out, `${fn}.zip`), join(work, fn));

  await dynamodb.send(new CreateTableCommand({ TableName: table, ...meshTableDefinition }));
  await waitUntilTableExists({ client: dynamodb, maxWaitTime: 30 }, { TableName: table });
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
}, 120_000);

afterAll(async () => {
  await dynamodb.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
  dynamodb.destroy();
  s3.destroy();
  rmSync(work, { recursive: true, force: true });
});

describe('the packaged functions, each run from its zip alone', () => {
  it('api: creates a mesh and a virtual node and lists the mesh', async () => {
    const { results, sdkResolvable, importMs } = await invoke('api', 'functions/api/handler.mjs', [
      await apiEvent('PUT', '/v20190125/meshes', { meshName: mesh }),
      await apiEvent('PUT', `/v20190125/meshes/${mesh}/virtualNodes`, {
        virtualNodeName: 'web',
        spec: { listeners: [{ portMapping: { port: 8080, protocol: 'http' } }], serviceDiscovery: { dns: { hostname: 'web.local' } } },
      }),
      await apiEvent('GET', '/v20190125/meshes'),
      { ...(await apiEvent('GET', '/v20190125/meshes')), headers: { host: 'api.meshline.example' } },
    ]);
    // Nothing outside the zip could have been loaded: the SDK is not resolvable from there.
    expect(sdkResolvable).toBe(false);
    const [createMesh, createNode, list, unsigned] = results as { statusCode: number; body: string; headers?: Record<string, string> }[];
    expect([unsigned?.statusCode, unsigned?.headers?.['x-amzn-ErrorType']]).toEqual([403, 'MissingAuthenticationTokenException']);
    expect(createMesh?.statusCode).toBe(200);
    expect(createNode?.statusCode).toBe(200);
    expect(JSON.parse(createNode?.body ?? '{}')).toMatchObject({ virtualNodeName: 'web', meshName: mesh });
    expect(list?.statusCode).toBe(200);
    expect((JSON.parse(list?.body ?? '{}') as { meshes: { meshName: string }[] }).meshes.map((m) => m.meshName)).toContain(mesh);
    console.log(`packaged api handler: import ${importMs.toFixed(0)} ms`);
  });

  it('compile: compiles the mesh from a stream record, with the Envoy protos of its zip, into snapshots and a manifest', async () => {
    const record = {
      eventID: '1',
      eventName: 'INSERT',
      eventSource: 'aws:dynamodb',
      dynamodb: { Keys: { pk: { S: meshPartition(mesh) }, sk: { S: 'mesh' } }, SequenceNumber: '100000000000000000001', StreamViewType: 'NEW_AND_OLD_IMAGES' },
    };
    const { results, sdkResolvable, importMs } = await invoke('compile', 'functions/compile/handler.mjs', [{ Records: [record] }]);
    expect(sdkResolvable).toBe(false);
    expect(results).toEqual([{ batchItemFailures: [] }]);
    const store = new SnapshotStore(s3, bucket);
    const manifest = await store.getManifest(mesh);
    expect(manifest?.errors).toEqual({});
    const entry = manifest?.proxies['virtualNode/web'];
    expect(entry?.key).toMatch(new RegExp(`^snapshots/${mesh}/[0-9a-f]{64}\\.json$`));
    // The snapshot is there and matches its manifest entry's checksum.
    const snapshot = await store.getSnapshot(entry ?? { key: '', version: '', sha256: '' });
    expect(snapshot.version).toBe(entry?.version);
    console.log(`packaged compile handler: import ${importMs.toFixed(0)} ms`);
  });

  it('reconcile: recompiles every mesh of the table and finds nothing to change', async () => {
    const { results, sdkResolvable, importMs } = await invoke('reconcile', 'functions/compile/reconcile.mjs', [{}]);
    expect(sdkResolvable).toBe(false);
    expect(results).toEqual([{ meshes: 1, failed: [], written: 0 }]);
    console.log(`packaged reconcile handler: import ${importMs.toFixed(0)} ms`);
  });
});
