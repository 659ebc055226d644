/**
 * Starts one local stack for the whole test run, on free ports and in memory, so runs never
 * collide with `npm start` or with each other and never see a previous run's data. Tests read
 * its endpoints with `inject('stack')`. MESHLINE_AWS_ENDPOINT points it at LocalStack instead.
 */
import type { TestProject } from 'vitest/node';
import { startLocalStack, type StackPorts } from '../../scripts/local-stack/index.js';

const ANY_FREE_PORT: StackPorts = { api: 0, lambda: 0, dynamodb: 0, s3: 0, relay: 0, relayAdmin: 0 };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Node 20 is supported on purpose (ARCHITECTURE.md); the SDK's notice would repeat per worker.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
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
  });
  return () => stack.stop();
}
