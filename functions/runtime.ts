import { awsSettingsFromEnv, createDocumentClient, createS3Client } from '../shared/store/clients.js';
import { MeshRepository } from '../shared/store/repository.js';
import { SnapshotStore } from '../shared/store/snapshots.js';
import type { AccountSettings } from '../shared/mesh/kinds.js';

/**
 * Everything a Lambda container needs, built once from its environment (serverless.yml sets
 * it; the local stack sets the same variables). Nothing below functions/ reads process.env.
 */
export interface Runtime {
  repository: MeshRepository;
  snapshots: SnapshotStore;
  account: AccountSettings;
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`Environment variable ${name} is not set`);
  return value;
}

export function runtimeFromEnv(env: NodeJS.ProcessEnv): Runtime {
  const settings = awsSettingsFromEnv(env);
  return {
    repository: new MeshRepository(createDocumentClient(settings), required(env, 'MESHLINE_TABLE')),
    snapshots: new SnapshotStore(createS3Client(settings), required(env, 'MESHLINE_BUCKET')),
    account: {
      partition: env.MESHLINE_PARTITION ?? 'aws',
      region: settings.region,
      accountId: env.MESHLINE_ACCOUNT_ID ?? '111122223333',
    },
  };
}
