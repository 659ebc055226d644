import { randomUUID } from 'node:crypto';
import { AppMeshClient } from '@aws-sdk/client-app-mesh';
import { afterAll, beforeAll, inject, vi } from 'vitest';
import { signedFetch, type Credentials, type SignedFetchInit } from '../../cli/signed-fetch.js';

/** The local stack's admin key (printed by `npm start`), which the suite's clients sign with. */
export function adminCredentials(): Credentials {
  const { adminKey } = inject('stack');
  if (!adminKey) throw new Error('the local stack runs with auth off: it issued no admin key');
  return adminKey;
}

/** An App Mesh SDK client pointed at the local stack's API, signing with the given key (default: the admin key). */
export function appMeshClient(credentials: Credentials = adminCredentials()): AppMeshClient {
  const stack = inject('stack');
  return new AppMeshClient({ endpoint: stack.endpoints.api, region: stack.region, credentials, maxAttempts: 1 });
}

/**
 * fetch against the local stack's API (`path` from its root), signed with SigV4 by the admin key
 * unless other credentials, or `null` for an unsigned request, are given.
 */
export function apiFetch(path: string, init: SignedFetchInit = {}, credentials: Credentials | null = adminCredentials()): Promise<Response> {
  const stack = inject('stack');
  return signedFetch(`${stack.endpoints.api}${path}`, init, credentials ? { credentials, region: stack.region } : undefined);
}

/** A mesh name no other test uses, so tests never depend on one another. */
export function uniqueMeshName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/**
 * Puts the admin key into this file's environment (AWS_ACCESS_KEY_ID etc.) for its tests: the
 * `meshline` CLI signs with the default credential chain, as a user would have it configured.
 */
export function adminCredentialsInEnvironment(): void {
  beforeAll(() => {
    const { accessKeyId, secretAccessKey } = adminCredentials();
    vi.stubEnv('AWS_ACCESS_KEY_ID', accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', secretAccessKey);
    vi.stubEnv('AWS_REGION', inject('stack').region);
  });
  afterAll(() => vi.unstubAllEnvs());
}
