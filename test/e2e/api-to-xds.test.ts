import {
  CreateMeshCommand,
  CreateVirtualNodeCommand,
  CreateVirtualServiceCommand,
  UpdateVirtualServiceCommand,
} from '@aws-sdk/client-app-mesh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appMeshClient, uniqueMeshName } from '../support/appmesh.js';
import { stackProxylessClient } from '../support/keys.js';
import { startTestBackend, type TestBackend } from '../support/xds-backend.js';

const appmesh = appMeshClient();
let blue: TestBackend;
let green: TestBackend;

beforeAll(async () => {
  [blue, green] = await Promise.all([startTestBackend('blue'), startTestBackend('green')]);
});

afterAll(async () => {
  await Promise.all([blue.close(), green.close()]);
});

/** Calls until `expected` answers (the configuration is still on its way), or the deadline passes. */
async function untilAnswer(call: () => Promise<string>, expected: string, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let last = '';
  while (Date.now() < deadline) {
    last = await call().catch((error: unknown) => `error: ${(error as Error).message}`);
    if (last === expected) return;
  }
  throw new Error(`no answer from ${expected} within ${deadlineMs} ms; last: ${last}`);
}

function backendNode(backend: TestBackend) {
  return {
    listeners: [{ portMapping: { port: backend.port, protocol: 'grpc' as const } }],
    serviceDiscovery: { dns: { hostname: backend.host } },
  };
}

describe('from an App Mesh API call to a proxyless xDS client', () => {
  it('serves a new virtual node its configuration, then moves its traffic when the service changes provider', async () => {
    const meshName = uniqueMeshName('e2e');
    const service = `backend.${meshName}.local`;
    await appmesh.send(new CreateMeshCommand({ meshName }));
    await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'blue', spec: backendNode(blue) }));
    await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'green', spec: backendNode(green) }));
    await appmesh.send(
      new CreateVirtualServiceCommand({ meshName, virtualServiceName: service, spec: { provider: { virtualNode: { virtualNodeName: 'blue' } } } }),
    );
    await appmesh.send(
      new CreateVirtualNodeCommand({
        meshName,
        virtualNodeName: 'frontend',
        spec: { backends: [{ virtualService: { virtualServiceName: service } }] },
      }),
    );

    const client = await stackProxylessClient(service, `mesh/${meshName}/virtualNode/frontend`);
    try {
      await untilAnswer(() => client.whoami(2_000), 'blue');
      expect(blue.calls).toBeGreaterThan(0);

      // Blue/green: point the service at the green node; the client follows without a restart.
      await appmesh.send(
        new UpdateVirtualServiceCommand({ meshName, virtualServiceName: service, spec: { provider: { virtualNode: { virtualNodeName: 'green' } } } }),
      );
      await untilAnswer(() => client.whoami(2_000), 'green');
      const greenBefore = green.calls;
      for (let i = 0; i < 10; i++) expect(await client.whoami(2_000)).toBe('green');
      expect(green.calls).toBe(greenBefore + 10);
    } finally {
      client.close();
    }
  });
});
