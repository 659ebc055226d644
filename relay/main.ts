/**
 * The relay process: `npx tsx relay/main.ts`.
 *
 * Environment: MESHLINE_BUCKET (required), MESHLINE_S3_ENDPOINT (emulators only),
 * MESHLINE_RELAY_HOST (127.0.0.1), MESHLINE_RELAY_PORT (18000), MESHLINE_RELAY_ADMIN_PORT
 * (18001), MESHLINE_MANIFEST_POLL_MS (250), MESHLINE_LOG_LEVEL (info). SIGTERM or SIGINT stops
 * accepting streams, ends the open ones and exits 0.
 */
import { awsSettingsFromEnv, createS3Client } from '../shared/store/clients.js';
import { SnapshotStore } from '../shared/store/snapshots.js';
import { jsonLogger, logLevel } from './log.js';
import { startRelay } from './server.js';

const env = process.env;
const logger = jsonLogger(logLevel(env.MESHLINE_LOG_LEVEL));

function fail(message: string): never {
  logger.error(message);
  process.exit(1);
}

function integer(name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) fail(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return value;
}

const bucket = env.MESHLINE_BUCKET || fail('MESHLINE_BUCKET must name the snapshot bucket');
const s3 = createS3Client(awsSettingsFromEnv(env));

const relay = await startRelay({
  store: new SnapshotStore(s3, bucket),
  host: env.MESHLINE_RELAY_HOST || '127.0.0.1',
  port: integer('MESHLINE_RELAY_PORT', 18000, 0, 65535),
  adminPort: integer('MESHLINE_RELAY_ADMIN_PORT', 18001, 0, 65535),
  pollIntervalMs: integer('MESHLINE_MANIFEST_POLL_MS', 250, 10, 3_600_000),
  logger,
}).catch((error: unknown) => fail(`relay failed to start: ${error instanceof Error ? error.message : String(error)}`));

let stopping = false;
function shutdown(signal: NodeJS.Signals): void {
  if (stopping) {
    logger.warn(`${signal} again: exiting now`);
    process.exit(1);
  }
  stopping = true;
  logger.info('shutting down', { signal });
  relay.close().then(
    () => {
      s3.destroy();
      process.exit(0);
    },
    (error: unknown) => fail(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`),
  );
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
