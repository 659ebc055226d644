/**
 * Starts one local stack for the whole test run, on free ports and in memory, so runs never
 * collide with `npm start` or with each other and never see a previous run's data. Tests read
 * its endpoints with `inject('stack')`. MESHLINE_AWS_ENDPOINT points it at LocalStack instead.
 */
import type { TestProject } from 'vitest/node';
import { readFileSync } from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import { startLocalStack, type LocalStack, type StackPorts } from '../../scripts/local-stack/index.js';
import { issuedSecrets, scanBucket, scanLogFile } from './secret-scan.js';
import { keyStoreOf } from './stack-keys.js';

const ANY_FREE_PORT: StackPorts = { api: 0, lambda: 0, dynamodb: 0, s3: 0, relay: 0, relayAdmin: 0 };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Node 20 is supported on purpose (ARCHITECTURE.md); the SDK's notice would repeat per worker.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // Telemetry in short windows and frequent load reports, so traffic tests and rollouts see
  // what clients did within a second or two instead of AWS's minute and Envoy's 10 s.
  process.env.MESHLINE_TRAFFIC_WINDOW_SECONDS ??= '1';
  process.env.MESHLINE_LOAD_REPORT_INTERVAL_MS ??= '500';
  const stack = await startLocalStack({
    inMemory: true,
    ports: ANY_FREE_PORT,
    relay: true,
    quiet: true,
    awsEndpoint: process.env.MESHLINE_AWS_ENDPOINT || undefined,
  });
  project.provide('stack', {
    endpoints: stack.endpoints,
    env: stack.env,
    tableName: stack.tableName,
    bucketName: stack.bucketName,
    region: stack.region,
    logFile: stack.logFile,
    adminKey: stack.adminKey,
    keysTableName: stack.keysTableName,
    keyFile: stack.keyFile,
  });
  return async () => {
    try {
      await scanForSecrets(stack);
    } catch (error) {
      // vitest reports a teardown error but still exits 0: the run must fail.
      process.exitCode = 1;
      throw error;
    } finally {
      await stack.stop();
    }
  };
}

/**
 * The issue's "no secrets in logs": after the whole run, every line any part of the stack
 * logged and every object in the snapshot bucket is scanned for every secret issued during
 * the run and for key material. A finding fails the run (vitest reports a teardown error).
 */
async function scanForSecrets(stack: LocalStack): Promise<void> {
  const keys = keyStoreOf(stack);
  const s3 = new S3Client({
    region: stack.region,
    endpoint: stack.endpoints.s3,
    forcePathStyle: true,
    credentials: { accessKeyId: stack.env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: stack.env.AWS_SECRET_ACCESS_KEY ?? '' },
  });
  try {
    const secrets = await issuedSecrets(keys.store);
    const bucket = await scanBucket(s3, stack.bucketName, secrets).catch((error: unknown) => {
      const s3Errors = readFileSync(stack.logFile, 'utf8').split('\n').filter((line) => line.includes('[s3]') && line.includes('error'));
      throw new Error(`scanning the bucket failed; the emulator logged:\n${s3Errors.slice(-5).join('\n')}`, { cause: error });
    });
    const findings = [...scanLogFile(stack.logFile, secrets), ...bucket.findings];
    if (findings.length > 0) {
      throw new Error(`key material written during the run:\n${findings.map((f) => `  ${f.where}: ${f.what}`).join('\n')}`);
    }
    process.stdout.write(`secret scan: ${secrets.size} issued secrets, ${bucket.objects} objects and the stack log: clean\n`);
  } finally {
    keys.close();
    s3.destroy();
  }
}
