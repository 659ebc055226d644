import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { DescribeTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { awsSettingsFromEnv, createS3Client } from '../../shared/store/clients.js';
import { meshPartition } from '../../shared/store/repository.js';
import { SnapshotStore } from '../../shared/store/snapshots.js';
import { meshTableDefinition, PARTITION_KEY, SORT_KEY } from '../../shared/store/table.js';

const stack = inject('stack');
// The same settings the functions and the relay build from the environment the stack gives them.
const settings = awsSettingsFromEnv(stack.env);
const dynamodb = new DynamoDBClient({
  region: settings.region,
  endpoint: settings.dynamodbEndpoint,
  credentials: settings.dynamodbCredentials,
});
const s3 = createS3Client(settings);

afterAll(() => {
  dynamodb.destroy();
  s3.destroy();
});

describe('the local stack', () => {
  it('has the mesh table with its keys and a NEW_AND_OLD_IMAGES stream', async () => {
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: stack.tableName }));
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.KeySchema).toEqual(meshTableDefinition.KeySchema);
    expect(Table?.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(Table?.LatestStreamArn).toMatch(/^arn:aws:dynamodb:/);
  });

  it('has the snapshot bucket', async () => {
    const head = await s3.send(new HeadBucketCommand({ Bucket: stack.bucketName }));
    expect(head.$metadata.httpStatusCode).toBe(200);
  });

  it('answers HTTP on the API endpoint', async () => {
    const response = await fetch(`${stack.endpoints.api}/v20190125/meshes`);
    await response.body?.cancel();
    // Any answer from the function will do here; the API's own tests check what it says.
    // 502 is serverless-offline's answer when the function failed to load or threw.
    expect(response.status).not.toBe(502);
  });

  it('runs the compile function on the stream: a mesh item put into the table gets its manifest in S3', async () => {
    const meshName = `local-stack-${randomUUID().slice(0, 8)}`;
    // A mesh item as the repository writes it, put directly: only the stream can carry it on.
    await dynamodb.send(
      new PutItemCommand({
        TableName: stack.tableName,
        Item: {
          [PARTITION_KEY]: { S: meshPartition(meshName) },
          [SORT_KEY]: { S: 'mesh' },
          kind: { S: 'mesh' },
          meshName: { S: meshName },
          name: { S: meshName },
          spec: { S: '{}' },
          version: { N: '1' },
        },
      }),
    );
    const snapshots = new SnapshotStore(s3, stack.bucketName);
    // About 100 ms on this machine; the deadline leaves room for a slow CI runner.
    const deadline = Date.now() + 10_000;
    let manifest = await snapshots.getManifest(meshName);
    while (!manifest && Date.now() < deadline) {
      await delay(20);
      manifest = await snapshots.getManifest(meshName);
    }
    expect(manifest).toEqual({ mesh: meshName, proxies: {}, errors: {} });
  });

  it('runs the relay, ready', async () => {
    const response = await fetch(`${stack.endpoints.relayAdmin}/readyz`);
    await response.body?.cancel();
    expect(response.status).toBe(200);
  });
});

describe('the LocalStack init hook', () => {
  it('creates the table exactly as shared/store/table.ts defines it', () => {
    const hook = readFileSync(new URL('../../localstack/init/ready.d/10-meshline.sh', import.meta.url), 'utf8');
    // awslocal's shorthand: `Key=value,Key=value` per item, items separated by spaces.
    const pairs = (items: object[] | undefined) =>
      (items ?? []).map((item) => Object.entries(item).map(([key, value]) => `${key}=${String(value)}`).join(',')).join(' ');
    const stream = meshTableDefinition.StreamSpecification;
    expect(hook).toContain(`--attribute-definitions ${pairs(meshTableDefinition.AttributeDefinitions)}`);
    expect(hook).toContain(`--key-schema ${pairs(meshTableDefinition.KeySchema)}`);
    expect(hook).toContain(`--billing-mode ${meshTableDefinition.BillingMode}`);
    expect(hook).toContain(`--stream-specification StreamEnabled=${stream?.StreamEnabled},StreamViewType=${stream?.StreamViewType}`);
  });
});
