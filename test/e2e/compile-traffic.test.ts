/**
 * What compiled routing does to real traffic: App Mesh API calls, the stream-triggered compile,
 * the relay of the local stack, and a proxyless gRPC client (@grpc/grpc-js-xds) calling real
 * servers. A gRPC route on metadata sends matching calls to one node; a weighted route splits
 * the others by App Mesh's relative weights; a weight change moves the split.
 */
import {
  CreateMeshCommand,
  CreateRouteCommand,
  CreateVirtualNodeCommand,
  CreateVirtualRouterCommand,
  CreateVirtualServiceCommand,
  UpdateRouteCommand,
  type RouteSpec,
} from '@aws-sdk/client-app-mesh';
import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appMeshClient, uniqueMeshName } from '../support/appmesh.js';
import { stackProxylessClient } from '../support/keys.js';
import { startTestBackend, type TestBackend } from '../support/xds-backend.js';
import { call } from '../support/traffic-mesh.js';

const appmesh = appMeshClient();
let blue: TestBackend;
let green: TestBackend;

beforeAll(async () => {
  [blue, green] = await Promise.all([startTestBackend('blue'), startTestBackend('green')]);
});

afterAll(async () => {
  await Promise.all([blue.close(), green.close()]);
});

async function tally(client: grpc.Client, calls: number): Promise<Record<string, number>> {
  const answers = await Promise.all(Array.from({ length: calls }, () => call(client)));
  const counts: Record<string, number> = {};
  for (const a of answers) counts[a] = (counts[a] ?? 0) + 1;
  return counts;
}

/** Calls until `done` holds for a tally of the answers (the configuration is on its way). */
async function untilTally(client: grpc.Client, calls: number, done: (counts: Record<string, number>) => boolean, deadlineMs = 30_000): Promise<Record<string, number>> {
  const deadline = Date.now() + deadlineMs;
  let last: Record<string, number> | string = {};
  while (Date.now() < deadline) {
    last = await tally(client, calls).catch((error: Error) => error.message);
    if (typeof last !== 'string' && done(last)) return last;
    // Nothing signals that the new configuration has reached the client: try again shortly.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`traffic never settled; last: ${JSON.stringify(last)}`);
}

function split(blueWeight: number, greenWeight: number): RouteSpec {
  return {
    priority: 2,
    grpcRoute: { match: { serviceName: 'meshline.test.Backend' }, action: { weightedTargets: [{ virtualNode: 'blue', weight: blueWeight }, { virtualNode: 'green', weight: greenWeight }] } },
  };
}

describe('compiled routing, as a proxyless gRPC client sends traffic', () => {
  it('routes on gRPC metadata, splits by relative weights, and follows a weight change', async () => {
    const meshName = uniqueMeshName('traffic');
    const service = `color.${meshName}.local`;
    await appmesh.send(new CreateMeshCommand({ meshName }));
    for (const backend of [blue, green]) {
      await appmesh.send(
        new CreateVirtualNodeCommand({
          meshName,
          virtualNodeName: backend.name,
          spec: { listeners: [{ portMapping: { port: backend.port, protocol: 'grpc' } }], serviceDiscovery: { dns: { hostname: backend.host } } },
        }),
      );
    }
    await appmesh.send(new CreateVirtualRouterCommand({ meshName, virtualRouterName: 'color', spec: { listeners: [{ portMapping: { port: 50051, protocol: 'grpc' } }] } }));
    await appmesh.send(
      new CreateRouteCommand({
        meshName,
        virtualRouterName: 'color',
        routeName: 'by-metadata',
        spec: {
          priority: 1,
          grpcRoute: {
            match: { serviceName: 'meshline.test.Backend', methodName: 'Whoami', metadata: [{ name: 'x-color', match: { exact: 'green' } }] },
            action: { weightedTargets: [{ virtualNode: 'green', weight: 1 }] },
          },
        },
      }),
    );
    // App Mesh weights are relative: 1 and 3 are 25% and 75%.
    await appmesh.send(new CreateRouteCommand({ meshName, virtualRouterName: 'color', routeName: 'split', spec: split(1, 3) }));
    await appmesh.send(new CreateVirtualServiceCommand({ meshName, virtualServiceName: service, spec: { provider: { virtualRouter: { virtualRouterName: 'color' } } } }));
    await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'client', spec: { backends: [{ virtualService: { virtualServiceName: service } }] } }));

    const client = await stackProxylessClient(service, `mesh/${meshName}/virtualNode/client`);
    try {
      const first = await untilTally(client.client, 400, (c) => (c.blue ?? 0) + (c.green ?? 0) === 400);
      // 400 calls at p = 0.75: green well inside 60%..90% (more than 5 standard deviations).
      expect(first.green).toBeGreaterThan(240);
      expect(first.green).toBeLessThan(360);

      const pinned = await Promise.all(Array.from({ length: 50 }, () => call(client.client, { 'x-color': 'green' })));
      expect(new Set(pinned)).toEqual(new Set(['green']));

      await appmesh.send(new UpdateRouteCommand({ meshName, virtualRouterName: 'color', routeName: 'split', spec: split(1, 0) }));
      const moved = await untilTally(client.client, 100, (c) => c.blue === 100);
      expect(moved).toEqual({ blue: 100 });
      // The metadata route is untouched by the change.
      expect(await call(client.client, { 'x-color': 'green' })).toBe('green');
    } finally {
      client.close();
    }
  });
});
