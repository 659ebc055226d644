/**
 * The local stack behind `npm start` and `npm test`: DynamoDB Local (with streams), s3rver,
 * the functions under serverless-offline (osls) and the relay, each a real process on a real
 * port, so every arrow of the architecture is exercised over the wire. With an `awsEndpoint`
 * (LocalStack) the two emulators are replaced by it and the rest stays the same.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { assertDynamoDbLocalJar, assertJava, awaitDynamoDb, ensureKeysTable, ensureSyncStatusTable, ensureRolloutTable, ensureTable, ensureTrafficTable, startDynamoDbLocal } from './dynamodb.js';
import { startRolloutTicker, type RolloutTicker } from './rollout-ticker.js';
import { createStackLog, type StackLog } from './log.js';
import {
  assertPortFree,
  awaitReady,
  freePort,
  guardTemporaryDir,
  killAllGroupsNow,
  removeTemporaryDir,
  pollUntil,
  spawnPart,
  stopPart,
  StackError,
  type Part,
} from './processes.js';
import { AccessKeyStore } from '../../shared/auth/keys.js';
import { FileSecretSealer } from '../../shared/auth/sealer.js';
import { awaitS3, ensureBucket, S3RVER_CREDENTIALS, startS3rver, type EmbeddedS3 } from './s3.js';

export { StackError } from './processes.js';

/** The TCP ports of the stack. 0 asks the OS for a free one. */
export interface StackPorts {
  api: number;
  /** serverless-offline's Lambda Invoke endpoint. */
  lambda: number;
  dynamodb: number;
  s3: number;
  /** The relay's gRPC ADS port. */
  relay: number;
  /** The relay's health and metrics port. */
  relayAdmin: number;
}

/** The ports `npm start` uses unless told otherwise. */
export const DEFAULT_PORTS: StackPorts = { api: 3000, lambda: 3002, dynamodb: 8000, s3: 4569, relay: 18000, relayAdmin: 18001 };

/** The environment variable that overrides each port (also named in port-conflict errors). */
export const PORT_ENV: Record<keyof StackPorts, string> = {
  api: 'MESHLINE_API_PORT',
  lambda: 'MESHLINE_LAMBDA_PORT',
  dynamodb: 'MESHLINE_DYNAMODB_PORT',
  s3: 'MESHLINE_S3_PORT',
  relay: 'MESHLINE_RELAY_PORT',
  relayAdmin: 'MESHLINE_RELAY_ADMIN_PORT',
};

export interface LocalStackOptions {
  /** Where tables, objects and the stream checkpoint persist. Default: `.meshline/` at the repo root. */
  dataDir?: string;
  /** Keep everything in a temporary directory (DynamoDB Local `-inMemory`), removed on stop. */
  inMemory?: boolean;
  /** Ports to listen on; missing ones come from DEFAULT_PORTS. */
  ports?: Partial<StackPorts>;
  /** Start the relay (relay/main.ts). Default true; skipped with a message if that file is absent. */
  relay?: boolean;
  /** A running LocalStack (e.g. http://localhost:4566) to use instead of DynamoDB Local and s3rver. */
  awsEndpoint?: string | undefined;
  /** Write child output only to the log file; print its tail if the start fails. For tests. */
  quiet?: boolean;
  /**
   * This process exists to run the stack (`npm start`): SIGINT/SIGTERM stop it and exit 0, and
   * a part that dies stops the rest and exits 1. Default false: a test runner or other host
   * keeps its own signal handling, and a part that dies only stops the stack.
   */
  ownsProcess?: boolean;
  /**
   * Verify SigV4 on the API and proxy identities at the relay (default true). Off is for
   * throwaway runs: anyone who reaches the ports can change the mesh.
   */
  auth?: boolean;
  /**
   * A file to write, once the stack is ready, with what a client needs (endpoints, the MESHLINE_*
   * environment, the admin key); removed on stop. `npm start` writes `.meshline/stack.json`, which
   * the `meshline` CLI reads. Mode 0600: it holds a secret.
   */
  stateFile?: string;
  tableName?: string;
  bucketName?: string;
  accountId?: string;
  /** The repository root (serverless.yml, node_modules, relay/). Default: this repository. */
  root?: string;
}

export interface StackEndpoints {
  /** The App Mesh REST API, e.g. `http://127.0.0.1:3000`. */
  api: string;
  dynamodb: string;
  s3: string;
  /** The relay's gRPC ADS address (`host:port`, no scheme), when the relay runs. */
  relayAds?: string | undefined;
  /** The relay's health and metrics base URL, when the relay runs. */
  relayAdmin?: string | undefined;
}

export interface LocalStack {
  endpoints: StackEndpoints;
  /**
   * What a client of the stack needs: the MESHLINE_* names the functions read, the endpoints,
   * region and credentials. AWS_ACCESS_KEY_ID is s3rver's pair, which DynamoDB Local
   * (`-sharedDb`) and LocalStack accept too, so one default credential chain reaches both.
   */
  env: Record<string, string>;
  tableName: string;
  bucketName: string;
  region: string;
  /** Every line any part printed, prefixed with its name. */
  logFile: string;
  /** The admin key for all meshes the stack issued (or found from an earlier run); absent when auth is off. */
  adminKey: { accessKeyId: string; secretAccessKey: string } | undefined;
  /** The access keys table, next to the mesh table. */
  keysTableName: string;
  /** The local key file that seals the keys' secrets (what KMS does in AWS). */
  keyFile: string;
  /** Stops every part and waits until they are gone. Safe to call more than once. */
  stop(): Promise<void>;
}

const REGION = 'us-east-1';
const DEFAULT_ACCOUNT_ID = '111122223333';
const DEFAULT_NAME = 'meshline-local';
/** Any key works with DynamoDB Local under -sharedDb; a fixed one keeps the stack's requests recognisable. */
const DYNAMODB_LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Reads the stack options that `npm start` and `npm test` take from the environment. */
export function stackOptionsFromEnv(env: NodeJS.ProcessEnv): Pick<LocalStackOptions, 'ports' | 'awsEndpoint' | 'accountId' | 'auth'> {
  const ports: Partial<StackPorts> = {};
  for (const [part, name] of Object.entries(PORT_ENV) as [keyof StackPorts, string][]) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    const port = Number(value);
    if (!Number.isInteger(port) || port < 0 || port > 65_535) {
      throw new StackError(`${name} must be a port number between 0 and 65535, got: "${value}"`);
    }
    ports[part] = port;
  }
  const auth = env.MESHLINE_AUTH || 'on';
  if (auth !== 'on' && auth !== 'off') throw new StackError(`MESHLINE_AUTH must be on or off, got: "${auth}"`);
  return {
    ports,
    auth: auth === 'on',
    awsEndpoint: env.MESHLINE_AWS_ENDPOINT || undefined,
    ...(env.MESHLINE_ACCOUNT_ID ? { accountId: env.MESHLINE_ACCOUNT_ID } : {}),
  };
}

/**
 * Starts the local stack and resolves once every part answers: DynamoDB Local and s3rver (or
 * LocalStack), the table and bucket (created if missing), the HTTP API with the stream trigger
 * attached, and the relay's /readyz. If any part fails, the ones already started are stopped
 * and a StackError (or the underlying error) is thrown.
 *
 * Children run in their own process groups and are stopped group-wide by `stop()`. If this
 * process exits or dies without stopping them, they are killed all the same (see processes.ts).
 * If a part dies on its own after the start, the rest of the stack is stopped.
 * With `ownsProcess`, SIGINT/SIGTERM stop the stack and exit the process (see the option).
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  try {
    return await startLocalStackOnce(options);
  } catch (error) {
    // A port the OS called free (ports of 0) can be taken by another socket before our child
    // binds it (an outgoing connection's ephemeral port, say): the part then dies at start.
    // Everything started was stopped; one more try with fresh ports.
    const askedFree = Object.values(options.ports ?? {}).includes(0);
    if (!askedFree || !(error instanceof StackError) || !/exited before/.test(error.message)) throw error;
    return startLocalStackOnce(options);
  }
}

async function startLocalStackOnce(options: LocalStackOptions): Promise<LocalStack> {
  const root = options.root ?? REPO_ROOT;
  const tableName = options.tableName ?? DEFAULT_NAME;
  const bucketName = options.bucketName ?? DEFAULT_NAME;
  const accountId = options.accountId ?? DEFAULT_ACCOUNT_ID;
  const awsEndpoint = options.awsEndpoint;
  const jarDir = join(root, 'node_modules', '.cache', 'meshline', 'dynamodb-local');
  const relayMain = join(root, 'relay', 'main.ts');
  const wantRelay = options.relay ?? true;
  const auth = options.auth ?? true;
  const keysTableName = `${tableName}-keys`;

  // Fail on what the user must fix before creating anything.
  if (!awsEndpoint) {
    assertJava();
    assertDynamoDbLocalJar(jarDir);
  }

  const dataDir = options.inMemory
    ? mkdtempSync(join(tmpdir(), 'meshline-stack-'))
    : (options.dataDir ?? join(root, '.meshline'));
  if (options.inMemory) guardTemporaryDir(dataDir);
  mkdirSync(dataDir, { recursive: true });
  const log = createStackLog(join(dataDir, 'local-stack.log'), options.quiet ?? false);
  const keyFile = join(dataDir, 'auth.key');

  // What has been started so far, so stop() works at any point, even halfway through a start.
  const emulators: Part[] = [];
  const functionsAndRelay: Part[] = [];
  let s3: EmbeddedS3 | undefined;
  let dynamodb: DynamoDBClient | undefined;
  let s3Client: S3Client | undefined;
  let rolloutTicker: RolloutTicker | undefined;

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      removeSignalHandlers();
      // The emulators' clients go first, so they do not log a burst of connection errors.
      await rolloutTicker?.stop();
      await Promise.all(functionsAndRelay.map((part) => stopPart(part)));
      await Promise.all([...emulators.map((part) => stopPart(part)), s3?.close()]);
      if (options.stateFile) rmSync(options.stateFile, { force: true });
      dynamodb?.destroy();
      s3Client?.destroy();
      await log.close();
      if (options.inMemory) removeTemporaryDir(dataDir);
    })());
  const stopAndExit = (code: number) =>
    stop().then(
      () => process.exit(code),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );

  let firstSignalAt: number | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (firstSignalAt === undefined) {
      firstSignalAt = Date.now();
      log.line('stack', `${signal}: stopping (press Ctrl-C again to kill everything at once)`);
      void stopAndExit(0);
    } else if (Date.now() - firstSignalAt > 1_000) {
      // Within the first second it is the same Ctrl-C again: tsx re-sends a signal to its child
      // when the child's acknowledgement is slow.
      log.line('stack', `${signal} again: killing every part now`);
      killAllGroupsNow();
      process.exit(130);
    }
  };
  const removeSignalHandlers = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  if (options.ownsProcess) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  try {
    const relayAvailable = wantRelay && existsSync(relayMain);
    if (wantRelay && !relayAvailable) log.line('relay', `${relayMain} does not exist yet; starting without the relay`);
    const ports = await resolvePorts({ ...DEFAULT_PORTS, ...options.ports }, {
      emulators: !awsEndpoint,
      relay: relayAvailable,
    });

    const dynamodbEndpoint = awsEndpoint ?? `http://127.0.0.1:${ports.dynamodb}`;
    dynamodb = new DynamoDBClient({ region: REGION, endpoint: dynamodbEndpoint, credentials: DYNAMODB_LOCAL_CREDENTIALS });

    let s3Endpoint: string;
    if (awsEndpoint) {
      s3Endpoint = awsEndpoint;
      s3Client = createS3Client(s3Endpoint);
      await Promise.all([awaitDynamoDb(dynamodb, awsEndpoint), awaitS3(s3Client, awsEndpoint)]);
    } else {
      const s3DataDir = join(dataDir, 's3');
      const dbPath = options.inMemory ? undefined : join(dataDir, 'dynamodb');
      mkdirSync(s3DataDir, { recursive: true });
      if (dbPath) mkdirSync(dbPath, { recursive: true });
      const client = dynamodb;
      // allSettled, not all: s3rver must be running (and so closable) or failed before we stop.
      await allSettled([
        startDynamoDbLocal(log, emulators, { dataDir, jarDir, port: ports.dynamodb, dbPath, client }).then(() =>
          log.line('dynamodb', `listening on ${dynamodbEndpoint}`),
        ),
        startS3rver(log, { directory: s3DataDir, port: ports.s3 }).then((server) => {
          s3 = server;
          log.line('s3', `listening on ${server.endpoint} (objects in ${s3DataDir})`);
        }),
      ]);
      if (!s3) throw new Error('unreachable: s3rver started without an endpoint');
      s3Endpoint = s3.endpoint;
      s3Client = createS3Client(s3Endpoint);
    }

    // The stream plugin looks the table up once, when it starts: it must exist by then.
    const syncTableName = `${tableName}-sync-status`;
    const trafficTableName = `${tableName}-traffic`;
    const rolloutTableName = `${tableName}-rollouts`;
    await Promise.all([
      ensureTable(dynamodb, tableName, log),
      ensureSyncStatusTable(dynamodb, syncTableName, log),
      ensureTrafficTable(dynamodb, trafficTableName, log),
      ensureRolloutTable(dynamodb, rolloutTableName, log),
      ensureKeysTable(dynamodb, keysTableName, log),
      ensureBucket(s3Client, bucketName, log),
    ]);
    const keys = new AccessKeyStore({ client: DynamoDBDocumentClient.from(dynamodb), tableName: keysTableName, sealer: new FileSecretSealer(keyFile) });
    const adminKey = auth ? await localAdminKey(keys, log) : undefined;

    const endpoints: StackEndpoints = {
      api: `http://127.0.0.1:${ports.api}`,
      dynamodb: dynamodbEndpoint,
      s3: s3Endpoint,
      relayAds: relayAvailable ? `127.0.0.1:${ports.relay}` : undefined,
      relayAdmin: relayAvailable ? `http://127.0.0.1:${ports.relayAdmin}` : undefined,
    };
    const env: Record<string, string> = {
      AWS_REGION: REGION,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      MESHLINE_TABLE: tableName,
      MESHLINE_SYNC_TABLE: syncTableName,
      MESHLINE_TRAFFIC_TABLE: trafficTableName,
      MESHLINE_ROLLOUT_TABLE: rolloutTableName,
      // Windows of 10 s rather than AWS's minute, so `meshline traffic` follows a local run
      // closely; MESHLINE_TRAFFIC_WINDOW_SECONDS overrides it (the suite uses 1 s).
      MESHLINE_TRAFFIC_WINDOW_SECONDS: process.env.MESHLINE_TRAFFIC_WINDOW_SECONDS || '10',
      MESHLINE_BUCKET: bucketName,
      MESHLINE_ACCOUNT_ID: accountId,
      MESHLINE_DYNAMODB_ENDPOINT: endpoints.dynamodb,
      MESHLINE_S3_ENDPOINT: endpoints.s3,
      MESHLINE_API_ENDPOINT: endpoints.api,
      MESHLINE_AUTH: auth ? 'on' : 'off',
      // Keys without a rate limit of their own are not throttled locally (the suite and the
      // benchmarks drive hundreds of requests a second with the admin key); a key created with
      // --rate-limit is, as in AWS, where the default is 50 per second.
      MESHLINE_AUTH_RATE_LIMIT: process.env.MESHLINE_AUTH_RATE_LIMIT || '1000000',
      MESHLINE_KEYS_TABLE: keysTableName,
      MESHLINE_KEY_FILE: keyFile,
      // Secrets are sealed with the key file here, never KMS: serverless.yml's default is the
      // stage's KMS alias, and exactly one of the two may be set.
      MESHLINE_KMS_KEY_ID: '',
      ...(endpoints.relayAds ? { MESHLINE_RELAY_ADS: endpoints.relayAds } : {}),
      ...(endpoints.relayAdmin ? { MESHLINE_RELAY_ADMIN: endpoints.relayAdmin } : {}),
    };
    const childEnv = childEnvironment(env);

    const started: Promise<void>[] = [
      startFunctions(log, functionsAndRelay, {
        root,
        api: endpoints.api,
        // serverless.yml takes auth from a parameter, never from the environment (see there).
        params: auth ? [] : ['auth=off'],
        env: {
          ...childEnv,
          MESHLINE_API_HOST: '127.0.0.1',
          MESHLINE_API_PORT: String(ports.api),
          MESHLINE_LAMBDA_PORT: String(ports.lambda),
          // Inside the data dir, so an in-memory run never resumes from a stale checkpoint.
          MESHLINE_STREAM_CHECKPOINT: join(dataDir, 'stream-checkpoint.json'),
        },
      }),
    ];
    if (relayAvailable && endpoints.relayAdmin) {
      started.push(
        startRelay(log, functionsAndRelay, {
          root,
          admin: endpoints.relayAdmin,
          env: {
            ...childEnv,
            MESHLINE_RELAY_PORT: String(ports.relay),
            MESHLINE_RELAY_ADMIN_PORT: String(ports.relayAdmin),
            // Locally a proxy's sync status may be written every second (5 s by default in AWS).
            MESHLINE_SYNC_INTERVAL_MS: process.env.MESHLINE_SYNC_INTERVAL_MS ?? '1000',
          },
        }),
      );
    }
    await Promise.all(started);
    // The scheduled rollouts function: once a minute in AWS, every second here (0 turns it off).
    const tickMs = Number(process.env.MESHLINE_ROLLOUT_TICK_MS || 1000);
    if (!Number.isInteger(tickMs) || tickMs < 0) throw new StackError(`MESHLINE_ROLLOUT_TICK_MS must be a whole number of ms, got: "${process.env.MESHLINE_ROLLOUT_TICK_MS}"`);
    if (tickMs > 0) rolloutTicker = startRolloutTicker(log, { lambda: `http://127.0.0.1:${ports.lambda}`, functionName: 'meshline-dev-rollouts', intervalMs: tickMs });

    // A part that dies now (a crash, an OOM kill) would leave a stack that half works.
    for (const part of [...emulators, ...functionsAndRelay]) {
      void part.exited.then(() => {
        if (stopping) return;
        log.line('stack', `${part.name} exited unexpectedly; stopping the stack`);
        if (options.quiet) process.stderr.write(`${log.tail()}\n`);
        if (options.ownsProcess) void stopAndExit(1);
        else void stop();
      });
    }

    if (options.stateFile) {
      mkdirSync(dirname(options.stateFile), { recursive: true });
      writeFileSync(options.stateFile, `${JSON.stringify({ endpoints, env, adminKey }, null, 2)}\n`, { mode: 0o600 });
    }
    return { endpoints, env, tableName, bucketName, region: REGION, logFile: log.file, adminKey, keysTableName, keyFile, stop };
  } catch (error) {
    // Ctrl-C during the start: the waits failed because we stopped the parts, and stopAndExit
    // is about to exit the process. That is no error to report.
    if (firstSignalAt !== undefined) await new Promise<never>(() => undefined);
    if (options.quiet) process.stderr.write(`${log.tail()}\n`);
    await stop();
    throw error;
  }
}

/** What marks the admin key the local stack issues for itself. */
const LOCAL_ADMIN_DESCRIPTION = 'local stack admin (npm start)';

/**
 * The local stack's admin key: the one an earlier run of this data directory issued, or a new
 * one. Its secret is opened with the local key file, so a restart prints the same key.
 */
async function localAdminKey(keys: AccessKeyStore, log: StackLog): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const existing = (await keys.list()).find(
    (key) => key.status === 'Active' && key.role === 'admin' && key.meshes === '*' && key.description === LOCAL_ADMIN_DESCRIPTION,
  );
  if (existing) return { accessKeyId: existing.accessKeyId, secretAccessKey: await keys.secretOf(existing) };
  const issued = await keys.create({ role: 'admin', meshes: '*', description: LOCAL_ADMIN_DESCRIPTION });
  log.line('stack', `issued the admin access key ${issued.key.accessKeyId}`);
  return { accessKeyId: issued.key.accessKeyId, secretAccessKey: issued.secretAccessKey };
}

/** The environment of a child: ours, minus credentials meant for real AWS, plus the stack's. */
function childEnvironment(stackEnv: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...stackEnv };
  // A developer's real session must never be sent to, or mixed into requests for, an emulator.
  delete env.AWS_PROFILE;
  delete env.AWS_SESSION_TOKEN;
  // Node 20 is supported here on purpose (see ARCHITECTURE.md); the SDK's notice, printed by
  // every Lambda worker, would bury the output that matters.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  return env;
}

/**
 * Starts `osls offline start` and waits until the HTTP API answers and the DynamoDB stream
 * plugin has attached to the table. The plugin logs "Starting Offline Dynamodb Streams" once
 * its shard readers run; with `startingPosition: TRIM_HORIZON` nothing written before is missed.
 */
async function startFunctions(
  log: StackLog,
  parts: Part[],
  options: { root: string; api: string; env: NodeJS.ProcessEnv; params: string[] },
): Promise<void> {
  const osls = join(options.root, 'node_modules', 'osls', 'bin', 'serverless.js');
  const args = [osls, 'offline', 'start', ...options.params.map((param) => `--param=${param}`)];
  const part = spawnPart(log, 'api', process.execPath, args, { cwd: options.root, env: options.env });
  parts.push(part);
  await awaitReady(`the API at ${options.api} and its stream trigger`, 120_000, part, async (signal) => {
    await Promise.all([
      part.waitForLine(/Starting Offline Dynamodb Streams/),
      // ListMeshes, unsigned: read-only, and it warms the API function's worker for the first
      // real request. Only the function's own answer counts (a mesh list, or an App Mesh error
      // such as the 403 MissingAuthenticationToken of an unsigned call): while the handler fails
      // to load, serverless-offline answers 200 with the exception, and that stack is not ready.
      pollUntil(async () => {
        const response = await fetch(`${options.api}/v20190125/meshes`, { signal });
        const body = await response.text();
        return response.headers.has('x-amzn-errortype') || (response.status === 200 && body.includes('"meshes"'));
      }, signal),
    ]);
  });
}

/** Starts the relay and waits until its /readyz answers 200. */
async function startRelay(
  log: StackLog,
  parts: Part[],
  options: { root: string; admin: string; env: NodeJS.ProcessEnv },
): Promise<void> {
  const part = spawnPart(log, 'relay', process.execPath, ['--import', 'tsx', join('relay', 'main.ts')], {
    cwd: options.root,
    env: options.env,
  });
  parts.push(part);
  await awaitReady(`the relay's ${options.admin}/readyz`, 60_000, part, (signal) =>
    pollUntil(async () => {
      const response = await fetch(`${options.admin}/readyz`, { signal });
      await response.body?.cancel();
      return response.status === 200;
    }, signal),
  );
}

/** Like Promise.all, but waits for every promise to settle before throwing the first failure. */
async function allSettled(promises: Promise<unknown>[]): Promise<void> {
  for (const result of await Promise.allSettled(promises)) {
    if (result.status === 'rejected') throw result.reason;
  }
}

function createS3Client(endpoint: string): S3Client {
  return new S3Client({
    region: REGION,
    endpoint,
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    // s3rver corrupts uploads sent with the SDK's default flexible checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/**
 * Turns each 0 into a free port and checks that fixed ports are free, for the parts this run
 * starts. s3rver binds port 0 itself and reports the port it got, so its 0 stays 0.
 */
async function resolvePorts(wanted: StackPorts, starts: { emulators: boolean; relay: boolean }): Promise<StackPorts> {
  const labels: Record<keyof StackPorts, string> = {
    api: 'the HTTP API',
    lambda: 'the Lambda invoke endpoint',
    dynamodb: 'DynamoDB Local',
    s3: 'S3 (s3rver)',
    relay: 'relay ADS',
    relayAdmin: 'relay health/metrics',
  };
  const used = new Set<number>();
  const resolved = { ...wanted };
  for (const part of Object.keys(wanted) as (keyof StackPorts)[]) {
    if (!starts.emulators && (part === 'dynamodb' || part === 's3')) continue;
    if (!starts.relay && (part === 'relay' || part === 'relayAdmin')) continue;
    const port = wanted[part];
    if (port === 0 && part === 's3') continue;
    if (port === 0) {
      // Asked one after another, the OS could hand out a port twice; ask again if it does.
      let free = await freePort();
      while (used.has(free)) free = await freePort();
      resolved[part] = free;
    } else {
      if (used.has(port)) throw new StackError(`port ${port} is configured for two parts (${labels[part]} and another)`);
      await assertPortFree(port, labels[part], PORT_ENV[part]);
    }
    used.add(resolved[part]);
  }
  return resolved;
}
