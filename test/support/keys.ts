import { inject } from 'vitest';
import type { AccessKeySpec, AccessKeyStore } from '../../shared/auth/keys.js';
import { issueProxyTokenIn, keyStoreOf } from './stack-keys.js';
import { proxylessClient, type ProxylessClient } from './xds-client.js';

let store: AccessKeyStore | undefined;

/** The local stack's own access key store: tests issue and revoke keys through it. */
export function stackKeyStore(): AccessKeyStore {
  store ??= keyStoreOf(inject('stack')).store;
  return store;
}

/** Issues a key in the local stack; its credentials as the SDKs take them. */
export async function issueKey(spec: AccessKeySpec): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const { key, secretAccessKey } = await stackKeyStore().create({ description: 'test', ...spec });
  return { accessKeyId: key.accessKeyId, secretAccessKey };
}

/** A per-proxy token for one node id, issued in the local stack. */
export function issueProxyToken(nodeId: string): Promise<string> {
  return issueProxyTokenIn(stackKeyStore(), nodeId);
}

/**
 * A proxyless gRPC client of `xds:///<target>` through the local stack's relay as `nodeId`,
 * with a per-proxy token issued for it (the stack's relay requires proxy identities).
 */
export async function stackProxylessClient(target: string, nodeId: string): Promise<ProxylessClient> {
  const relayAddress = inject('stack').endpoints.relayAds;
  if (!relayAddress) throw new Error('the local stack runs no relay');
  return proxylessClient(target, { relayAddress, nodeId, proxyToken: await issueProxyToken(nodeId) });
}
