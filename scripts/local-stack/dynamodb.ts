import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DescribeTableCommand,
  ListTablesCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type TableDescription,
  type UpdateTimeToLiveCommandInput,
} from '@aws-sdk/client-dynamodb';
import { KEYS_TTL_ATTRIBUTE, keysTableDefinition } from '../../shared/auth/keys.js';
import { syncStatusTableDefinition, syncStatusTimeToLive } from '../../shared/store/sync-status.js';
import { trafficTableDefinition, trafficTimeToLive } from '../../shared/store/traffic.js';
import { rolloutTableDefinition } from '../../shared/store/rollouts.js';
import { meshTableDefinition } from '../../shared/store/table.js';
import type { StackLog } from './log.js';
import { awaitReady, pollUntil, spawnPart, StackError, type Part } from './processes.js';

/** DynamoDB Local 1.25 is built for Java 17. */
const MIN_JAVA = 17;

/** Fails with one actionable line unless `java` 17+ is on the PATH. */
export function assertJava(): void {
  const install =
    `install Java ${MIN_JAVA}+ (e.g. \`apt-get install openjdk-17-jre-headless\`, \`brew install openjdk@17\`) ` +
    'or point MESHLINE_AWS_ENDPOINT at a running LocalStack';
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new StackError(`DynamoDB Local needs Java, but \`java -version\` failed (${result.error?.message ?? `exit ${result.status}`}); ${install}`);
  }
  // `java -version` prints to stderr: `openjdk version "17.0.15"` or, before Java 9, `"1.8.0_412"`.
  const match = /version "(\d+)(?:\.(\d+))?/.exec(result.stderr);
  const major = match ? Number(match[1] === '1' ? match[2] : match[1]) : NaN;
  if (!(major >= MIN_JAVA)) {
    throw new StackError(`DynamoDB Local needs Java ${MIN_JAVA}+, found ${match ? `Java ${major}` : 'an unknown version'}; ${install}`);
  }
}

/** Fails with one actionable line unless the DynamoDB Local jar is where `npm ci` puts it. */
export function assertDynamoDbLocalJar(jarDir: string): void {
  if (!existsSync(join(jarDir, 'DynamoDBLocal.jar'))) {
    throw new StackError(
      `DynamoDB Local is missing (no ${join(jarDir, 'DynamoDBLocal.jar')}); run \`npm ci\`, whose postinstall puts it there`,
    );
  }
}

/**
 * Starts DynamoDB Local, adds it to `parts` (so a failed start can still stop it) and waits
 * until it answers ListTables. `-sharedDb` keeps one database for every access key and region,
 * so the stack, the functions and the tests all see one table.
 */
export async function startDynamoDbLocal(
  log: StackLog,
  parts: Part[],
  options: { dataDir: string; jarDir: string; port: number; dbPath: string | undefined; client: DynamoDBClient },
): Promise<void> {
  const storage = options.dbPath === undefined ? ['-inMemory'] : ['-dbPath', options.dbPath];
  const part = spawnPart(
    log,
    'dynamodb',
    'java',
    [
      // The native SQLite library sits next to the jar; without this it is looked up in java.library.path.
      `-Djava.library.path=${join(options.jarDir, 'DynamoDBLocal_lib')}`,
      '-jar',
      join(options.jarDir, 'DynamoDBLocal.jar'),
      '-port',
      String(options.port),
      '-sharedDb',
      // It would otherwise report usage to AWS from every developer machine and CI run.
      '-disableTelemetry',
      // It listens on every interface and allows any origin by default; no browser needs it.
      '-cors',
      'http://127.0.0.1',
      ...storage,
    ],
    // Its working directory gets a dynamodb-local-metadata.json: keep that in the data dir.
    { cwd: options.dataDir, env: process.env },
  );
  parts.push(part);
  await awaitReady('DynamoDB Local to answer', 60_000, part, (signal) =>
    pollUntil(async () => {
      await options.client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: signal });
      return true;
    }, signal),
  );
}

/** Waits until a DynamoDB endpoint we did not start (LocalStack) answers. */
export async function awaitDynamoDb(client: DynamoDBClient, endpoint: string): Promise<void> {
  await awaitReady(
    `DynamoDB at ${endpoint} (is LocalStack running? docker compose -f localstack/docker-compose.yml up -d)`,
    30_000,
    undefined,
    (signal) =>
      pollUntil(async () => {
        await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: signal });
        return true;
      }, signal),
  );
}

/**
 * Creates the mesh table unless it exists, waits until it is ACTIVE and checks that an existing
 * table has our keys and stream: a table from an older layout would fail later, obscurely.
 */
export async function ensureTable(client: DynamoDBClient, tableName: string, log: StackLog): Promise<void> {
  let table = await describeTable(client, tableName);
  if (table === undefined) {
    try {
      await client.send(new CreateTableCommand({ TableName: tableName, ...meshTableDefinition }));
      log.line('dynamodb', `created table ${tableName}`);
    } catch (error) {
      // LocalStack's init hook may be creating it at the same moment.
      if (!(error instanceof ResourceInUseException)) throw error;
    }
  }
  await awaitReady(`table ${tableName} to become ACTIVE`, 30_000, undefined, (signal) =>
    pollUntil(async () => {
      table = await describeTable(client, tableName);
      return table?.TableStatus === 'ACTIVE';
    }, signal),
  );
  assertTableMatches(tableName, table);
}

/**
 * Creates the relays' sync status table unless it exists, with DynamoDB's TTL on its expiry
 * attribute. It has no stream: what relays record must never wake the compiler.
 */
export function ensureSyncStatusTable(client: DynamoDBClient, tableName: string, log?: StackLog): Promise<void> {
  return ensureTableWithTimeToLive(client, { TableName: tableName, ...syncStatusTableDefinition }, syncStatusTimeToLive(tableName), log);
}

/** Creates the traffic table unless it exists (in AWS, serverless.yml does), with TTL. No stream. */
export function ensureTrafficTable(client: DynamoDBClient, tableName: string, log?: StackLog): Promise<void> {
  return ensureTableWithTimeToLive(client, { TableName: tableName, ...trafficTableDefinition }, trafficTimeToLive(tableName), log);
}

/**
 * Creates the access keys table unless it exists (in AWS, serverless.yml does), with TTL on
 * the expiry of its rate windows. No stream: issuing a key must never wake the compiler.
 */
export function ensureKeysTable(client: DynamoDBClient, tableName: string, log?: StackLog): Promise<void> {
  return ensureTableWithTimeToLive(
    client,
    { TableName: tableName, ...keysTableDefinition },
    { TableName: tableName, TimeToLiveSpecification: { Enabled: true, AttributeName: KEYS_TTL_ATTRIBUTE } },
    log,
  );
}

/**
 * Creates the rollouts table unless it exists (in AWS, serverless.yml does). No stream (rollouts
 * change routes only through UpdateRoute) and no TTL: a rollout's history is kept.
 */
export function ensureRolloutTable(client: DynamoDBClient, tableName: string, log?: StackLog): Promise<void> {
  return ensureTableWithTimeToLive(client, { TableName: tableName, ...rolloutTableDefinition }, undefined, log);
}

/** Creates a table unless it exists (another process may create it meanwhile), waits until it is ACTIVE, and enables its TTL (if it has one). */
async function ensureTableWithTimeToLive(
  client: DynamoDBClient,
  table: CreateTableCommandInput & { TableName: string },
  timeToLive: UpdateTimeToLiveCommandInput | undefined,
  log: StackLog | undefined,
): Promise<void> {
  const tableName = table.TableName;
  if (await describeTable(client, tableName)) return;
  try {
    await client.send(new CreateTableCommand(table));
    log?.line('dynamodb', `created table ${tableName}`);
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  await awaitReady(`table ${tableName} to become ACTIVE`, 30_000, undefined, (signal) =>
    pollUntil(async () => (await describeTable(client, tableName))?.TableStatus === 'ACTIVE', signal),
  );
  if (timeToLive) await client.send(new UpdateTimeToLiveCommand(timeToLive));
}

async function describeTable(client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  try {
    return (await client.send(new DescribeTableCommand({ TableName: tableName }))).Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

function assertTableMatches(tableName: string, table: TableDescription | undefined): void {
  const keys = (schema: { AttributeName?: string | undefined; KeyType?: string | undefined }[] | undefined) =>
    (schema ?? []).map((key) => `${key.AttributeName}:${key.KeyType}`).join(',');
  const wanted = meshTableDefinition.StreamSpecification;
  const stream = table?.StreamSpecification;
  const matches =
    keys(table?.KeySchema) === keys(meshTableDefinition.KeySchema) &&
    stream?.StreamEnabled === true &&
    stream.StreamViewType === wanted?.StreamViewType &&
    table?.LatestStreamArn !== undefined;
  if (!matches) {
    throw new StackError(
      `table ${tableName} exists with keys [${keys(table?.KeySchema)}] and stream ${stream?.StreamViewType ?? 'off'}, ` +
        `but Meshline needs keys [${keys(meshTableDefinition.KeySchema)}] and stream ${wanted?.StreamViewType}; ` +
        'delete the table (for the embedded stack: rm -rf .meshline/dynamodb) and start again',
    );
  }
}
