/**
 * The relay process: `npx tsx relay/main.ts`, or `node relay/dist/main.mjs` once built with
 * `npm run build:relay`. Configured by environment; see relay/README.md for every variable.
 * SIGTERM or SIGINT stops accepting streams, ends the open ones and exits 0.
 */
import { authSettingsFromEnv, createAccessKeyStore } from '../shared/auth/settings.js';
import { awsSettingsFromEnv, createDocumentClient, createS3Client } from '../shared/store/clients.js';
import { SnapshotStore } from '../shared/store/snapshots.js';
import { DEFAULT_TRAFFIC_RETENTION_SECONDS, DEFAULT_TRAFFIC_WINDOW_SECONDS, TrafficStore } from '../shared/store/traffic.js';
import { jsonLogger, logLevel } from './log.js';
import type { AccessKeyCheck } from './access.js';
import { DEFAULT_LOAD_REPORT_INTERVAL_MS } from './lrs.js';
import { DEFAULT_CONNECTION, DEFAULT_KEY_RECHECK_MS, startRelay } from './server.js';

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
const settings = awsSettingsFromEnv(env);
const s3 = createS3Client(settings);

const tlsCert = env.MESHLINE_RELAY_TLS_CERT || undefined;
const tlsKey = env.MESHLINE_RELAY_TLS_KEY || undefined;
const clientCa = env.MESHLINE_RELAY_TLS_CLIENT_CA || undefined;
if ((tlsCert === undefined) !== (tlsKey === undefined)) fail('MESHLINE_RELAY_TLS_CERT and MESHLINE_RELAY_TLS_KEY must be set together');
if (clientCa && !tlsCert) fail('MESHLINE_RELAY_TLS_CLIENT_CA (mTLS) needs MESHLINE_RELAY_TLS_CERT and MESHLINE_RELAY_TLS_KEY');

/**
 * MESHLINE_RELAY_AUTH: `required` (every stream proves the proxy it claims with a Meshline access
 * key or a client certificate) or `off`. The default follows the API's MESHLINE_AUTH.
 */
function relayAccessKeys(): AccessKeyCheck | undefined {
  const apiAuth = env.MESHLINE_AUTH || undefined;
  if (apiAuth !== undefined && apiAuth !== 'on' && apiAuth !== 'off') fail(`MESHLINE_AUTH must be on or off, got ${JSON.stringify(apiAuth)}`);
  const mode = env.MESHLINE_RELAY_AUTH || (apiAuth === 'off' ? 'off' : 'required');
  if (mode !== 'required' && mode !== 'off') fail(`MESHLINE_RELAY_AUTH must be required or off, got ${JSON.stringify(mode)}`);
  if (mode === 'off') {
    logger.warn('MESHLINE_RELAY_AUTH is off: the relay serves any proxy that names itself');
    return undefined;
  }
  if (env.MESHLINE_RELAY_TOKEN) {
    fail('MESHLINE_RELAY_TOKEN (one token shared by every proxy) cannot be combined with MESHLINE_RELAY_AUTH=required, where each proxy proves its own identity: unset it, or set MESHLINE_RELAY_AUTH=off');
  }
  let auth: ReturnType<typeof authSettingsFromEnv>;
  try {
    // The relay's mode decides, whatever MESHLINE_AUTH says of the API.
    auth = authSettingsFromEnv({ ...env, MESHLINE_AUTH: 'on' });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const missing = 'MESHLINE_AUTH is on, but ';
    const reason = message.startsWith(missing) ? `, but ${message.slice(missing.length)}` : `: ${message}`;
    fail(`MESHLINE_RELAY_AUTH=required (the default unless MESHLINE_AUTH=off) needs the access keys table and sealer${reason}; or set MESHLINE_RELAY_AUTH=off`);
  }
  if (!auth.enabled) fail('MESHLINE_RELAY_AUTH=required needs the access keys table');
  return { store: createAccessKeyStore(auth, settings), region: settings.region };
}
const keys = relayAccessKeys();

const syncTable = env.MESHLINE_SYNC_TABLE || undefined;
const trafficTable = env.MESHLINE_TRAFFIC_TABLE || undefined;
const dynamodb = syncTable || trafficTable ? createDocumentClient(settings) : undefined;

/** MESHLINE_TRAFFIC_EMF: `on` prints one CloudWatch Embedded Metric Format line per edge per closed window on stdout. */
const emf = env.MESHLINE_TRAFFIC_EMF || 'off';
if (emf !== 'on' && emf !== 'off') fail(`MESHLINE_TRAFFIC_EMF must be on or off, got ${JSON.stringify(emf)}`);

const relay = await startRelay({
  store: new SnapshotStore(s3, bucket),
  host: env.MESHLINE_RELAY_HOST || '127.0.0.1',
  port: integer('MESHLINE_RELAY_PORT', 18000, 0, 65535),
  adminPort: integer('MESHLINE_RELAY_ADMIN_PORT', 18001, 0, 65535),
  pollIntervalMs: integer('MESHLINE_MANIFEST_POLL_MS', 250, 10, 3_600_000),
  unknownProxyWaitMs: integer('MESHLINE_RELAY_UNKNOWN_PROXY_WAIT_MS', 0, 0, 3_600_000),
  logger,
  tls: tlsCert && tlsKey ? { certFile: tlsCert, keyFile: tlsKey, clientCaFile: clientCa } : undefined,
  access: { bearerToken: env.MESHLINE_RELAY_TOKEN || undefined, keys },
  keyRecheckMs: integer('MESHLINE_RELAY_KEY_RECHECK_MS', DEFAULT_KEY_RECHECK_MS, 1_000, 2_147_483_647),
  syncStatus:
    syncTable && dynamodb
      ? {
          client: dynamodb,
          tableName: syncTable,
          minIntervalMs: integer('MESHLINE_SYNC_INTERVAL_MS', 5_000, 100, 3_600_000),
          ttlSeconds: integer('MESHLINE_SYNC_TTL_SECONDS', 600, 10, 86_400),
        }
      : undefined,
  relayId: env.MESHLINE_RELAY_ID || undefined,
  telemetry: {
    loadReportIntervalMs: integer('MESHLINE_LOAD_REPORT_INTERVAL_MS', DEFAULT_LOAD_REPORT_INTERVAL_MS, 100, 3_600_000),
    windowSeconds: integer('MESHLINE_TRAFFIC_WINDOW_SECONDS', DEFAULT_TRAFFIC_WINDOW_SECONDS, 1, 86_400),
    store:
      trafficTable && dynamodb
        ? new TrafficStore(dynamodb, trafficTable, {
            retentionSeconds: integer('MESHLINE_TRAFFIC_RETENTION_SECONDS', DEFAULT_TRAFFIC_RETENTION_SECONDS, 60, 366 * 86_400),
          })
        : undefined,
    emf: emf === 'on' ? (line) => process.stdout.write(line + '\n') : undefined,
  },
  connection: {
    maxAgeMs: integer('MESHLINE_RELAY_MAX_CONNECTION_AGE_MS', DEFAULT_CONNECTION.maxAgeMs, 1_000, 2_147_483_647),
    maxAgeGraceMs: integer('MESHLINE_RELAY_MAX_CONNECTION_AGE_GRACE_MS', DEFAULT_CONNECTION.maxAgeGraceMs, 0, 2_147_483_647),
    keepaliveTimeMs: integer('MESHLINE_RELAY_KEEPALIVE_MS', DEFAULT_CONNECTION.keepaliveTimeMs, 1_000, 2_147_483_647),
  },
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
      dynamodb?.destroy();
      process.exit(0);
    },
    (error: unknown) => fail(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`),
  );
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
