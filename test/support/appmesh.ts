import { randomUUID } from 'node:crypto';
import { AppMeshClient } from '@aws-sdk/client-app-mesh';
import { inject } from 'vitest';

/** An App Mesh SDK client pointed at the local stack's API. */
export function appMeshClient(): AppMeshClient {
  const stack = inject('stack');
  return new AppMeshClient({
    endpoint: stack.endpoints.api,
    region: stack.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

/** A mesh name no other test uses, so tests never depend on one another. */
export function uniqueMeshName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}
