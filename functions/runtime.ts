import { authSettingsFromEnv, createAccessKeyStore, createRateLimiter } from '../shared/auth/settings.js';
import { awsSettingsFromEnv, createDocumentClient, createS3Client } from '../shared/store/clients.js';
import { InstanceStore } from '../shared/store/instances.js';
import { MeshRepository } from '../shared/store/repository.js';
import { SnapshotStore } from '../shared/store/snapshots.js';
import type { AccountSettings } from '../shared/mesh/kinds.js';
import { DEFAULT_QUOTAS, quotaSettingName, type Quotas } from '../shared/mesh/quotas.js';
import type { SyncStatusSource } from '../shared/mesh/proxy-status.js';
import type { TrafficSource } from '../shared/mesh/traffic.js';
import { DEFAULT_TRAFFIC_RETENTION_SECONDS, DEFAULT_TRAFFIC_WINDOW_SECONDS, TrafficStore } from '../shared/store/traffic.js';
import { RolloutStore } from '../shared/store/rollouts.js';
import type { ApiAuth } from './api/auth.js';

/**
 * Everything a Lambda container needs, built once from its environment (serverless.yml sets
 * it; the local stack sets the same variables). Nothing below functions/ reads process.env.
 */
export interface Runtime {
  repository: MeshRepository;
  snapshots: SnapshotStore;
  account: AccountSettings;
  quotas: Quotas;
  /** The relays' sync status table (MESHLINE_SYNC_TABLE), read by the proxy status operation. */
  syncStatus: SyncStatusSource | undefined;
  /** Instances of Cloud Map services (registration API, resolver), in the mesh table. */
  instanceStore: InstanceStore;
  /** The rollouts table (MESHLINE_ROLLOUT_TABLE): the rollouts extension and the scheduler. */
  rollouts: RolloutStore | undefined;
  /** The relays' traffic table (MESHLINE_TRAFFIC_TABLE), read by the traffic operation and rollouts. */
  traffic: TrafficSource | undefined;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`Environment variable ${name} is not set`);
  return value;
}

/**
 * The quotas: DEFAULT_QUOTAS, each overridden by its `MESHLINE_QUOTA_*` variable when set
 * (`MESHLINE_QUOTA_VIRTUAL_NODES_PER_MESH=5000`). A value that is not a positive integer stops
 * the container at start, rather than leaving a quota silently at its default.
 */
export function quotasFromEnv(env: NodeJS.ProcessEnv): Quotas {
  const quotas: Quotas = { ...DEFAULT_QUOTAS };
  for (const quota of Object.keys(DEFAULT_QUOTAS) as (keyof Quotas)[]) {
    const name = quotaSettingName(quota);
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (!/^[1-9]\d{0,8}$/.test(value.trim())) throw new Error(`${name} must be a positive integer, got: ${JSON.stringify(value)}`);
    quotas[quota] = Number(value.trim());
  }
  return quotas;
}

/**
 * The API's authentication from MESHLINE_AUTH and the keys settings (only the API function has
 * them); undefined when auth is off.
 */
export function apiAuthFromEnv(env: NodeJS.ProcessEnv): ApiAuth | undefined {
  const settings = authSettingsFromEnv(env);
  if (!settings.enabled) return undefined;
  const aws = awsSettingsFromEnv(env);
  return {
    keys: createAccessKeyStore(settings, aws),
    rateLimiter: createRateLimiter(settings, aws),
    defaultRateLimit: settings.rateLimit,
    region: aws.region,
  };
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = env[name]?.trim();
  if (value === undefined || value === '') return fallback;
  if (!/^[1-9]\d{0,8}$/.test(value)) throw new Error(`${name} must be a positive integer, got: ${JSON.stringify(value)}`);
  return Number(value);
}

/** The traffic table and its settings, as the relays that write it have them; undefined without a table. */
export function trafficFromEnv(env: NodeJS.ProcessEnv): TrafficSource | undefined {
  const tableName = env.MESHLINE_TRAFFIC_TABLE;
  if (!tableName) return undefined;
  const retentionSeconds = positiveInteger(env, 'MESHLINE_TRAFFIC_RETENTION_SECONDS', DEFAULT_TRAFFIC_RETENTION_SECONDS);
  return {
    store: new TrafficStore(createDocumentClient(awsSettingsFromEnv(env)), tableName, { retentionSeconds }),
    windowSeconds: positiveInteger(env, 'MESHLINE_TRAFFIC_WINDOW_SECONDS', DEFAULT_TRAFFIC_WINDOW_SECONDS),
    retentionSeconds,
  };
}

/** Builds the runtime from the environment; called once per container by each handler module. */
export function runtimeFromEnv(env: NodeJS.ProcessEnv): Runtime {
  const settings = awsSettingsFromEnv(env);
  const db = createDocumentClient(settings);
  return {
    repository: new MeshRepository(db, required(env, 'MESHLINE_TABLE')),
    snapshots: new SnapshotStore(createS3Client(settings), required(env, 'MESHLINE_BUCKET')),
    account: {
      partition: env.MESHLINE_PARTITION ?? 'aws',
      region: settings.region,
      accountId: env.MESHLINE_ACCOUNT_ID ?? '111122223333',
    },
    quotas: quotasFromEnv(env),
    syncStatus: env.MESHLINE_SYNC_TABLE ? { client: createDocumentClient(settings), tableName: env.MESHLINE_SYNC_TABLE } : undefined,
    instanceStore: new InstanceStore(db, required(env, 'MESHLINE_TABLE')),
    rollouts: env.MESHLINE_ROLLOUT_TABLE ? new RolloutStore(db, env.MESHLINE_ROLLOUT_TABLE) : undefined,
    traffic: trafficFromEnv(env),
  };
}
