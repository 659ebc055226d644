import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AccessKeyStore, formatProxyToken } from '../../shared/auth/keys.js';
import { FileSecretSealer } from '../../shared/auth/sealer.js';
import type { LocalStack } from '../../scripts/local-stack/index.js';

/** What locates a local stack's keys: its DynamoDB, its keys table and its key file. */
export type StackKeysLocation = Pick<LocalStack, 'region' | 'keysTableName' | 'keyFile'> & { endpoints: Pick<LocalStack['endpoints'], 'dynamodb'> };

/**
 * A local stack's own access key store (its keys table, sealed with its key file), as
 * `meshline keys --local` reaches it. For tests, the global setup and the benchmarks; outside
 * vitest, so nothing here uses `inject`.
 */
export function keyStoreOf(stack: StackKeysLocation): { store: AccessKeyStore; close(): void } {
  const client = new DynamoDBClient({ region: stack.region, endpoint: stack.endpoints.dynamodb, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const store = new AccessKeyStore({ client: DynamoDBDocumentClient.from(client), tableName: stack.keysTableName, sealer: new FileSecretSealer(stack.keyFile) });
  return { store, close: () => client.destroy() };
}

/** Issues a per-proxy token for one node id (what `meshline keys create --role proxy` prints). */
export async function issueProxyTokenIn(store: AccessKeyStore, nodeId: string): Promise<string> {
  const { key, secretAccessKey } = await store.create({ role: 'proxy', proxies: [nodeId], description: 'test' });
  return formatProxyToken(key.accessKeyId, secretAccessKey);
}
