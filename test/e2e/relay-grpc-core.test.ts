/**
 * gRPC C-core (Debian's python3-grpcio 1.51) as a proxyless client of the local stack: a
 * second xDS client implementation next to @grpc/grpc-js-xds. It reads a GRPC_XDS_BOOTSTRAP
 * file, proves its identity with node metadata `meshline.proxyToken`, resolves `xds:///` through
 * the relay (listener, routes, clusters with `lrs_server: self`, endpoint assignments with their
 * one locality) and calls real gRPC servers on loopback.
 *
 * Skipped, saying why, only when python3-grpcio is not importable (`.ci/run` installs it).
 */
import {
  CreateMeshCommand,
  CreateRouteCommand,
  CreateVirtualNodeCommand,
  CreateVirtualRouterCommand,
  CreateVirtualServiceCommand,
} from '@aws-sdk/client-app-mesh';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { appMeshClient, uniqueMeshName } from '../support/appmesh.js';
import { issueProxyToken } from '../support/keys.js';
import { startTrafficBackend, type TrafficBackend } from '../support/traffic-backend.js';
import { coreClientMissing, startCoreClient, type CallTally, type CoreClient } from '../support/xds-core-client.js';

const appmesh = appMeshClient();
const missing = coreClientMissing();
const ROUTER = 'color';

let blue: TrafficBackend;
let green: TrafficBackend;
const clients: CoreClient[] = [];

beforeAll(async () => {
  if (missing) return;
  [blue, green] = await Promise.all([startTrafficBackend('blue'), startTrafficBackend('green')]);
});

afterAll(async () => {
  if (missing) return;
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([blue.close(), green.close()]);
});

/**
 * A mesh where a client node reaches `color.<mesh>.local`, a router splitting gRPC calls
 * between the blue and green nodes by the weights given; returns the service name.
 */
async function colorMesh(meshName: string, weights: { blue: number; green: number }): Promise<string> {
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
  await appmesh.send(new CreateVirtualRouterCommand({ meshName, virtualRouterName: ROUTER, spec: { listeners: [{ portMapping: { port: 50051, protocol: 'grpc' } }] } }));
  const weightedTargets = Object.entries(weights).map(([virtualNode, weight]) => ({ virtualNode, weight }));
  await appmesh.send(
    new CreateRouteCommand({ meshName, virtualRouterName: ROUTER, routeName: 'split', spec: { grpcRoute: { match: { serviceName: 'meshline.test.Backend' }, action: { weightedTargets } } } }),
  );
  await appmesh.send(new CreateVirtualServiceCommand({ meshName, virtualServiceName: service, spec: { provider: { virtualRouter: { virtualRouterName: ROUTER } } } }));
  await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'client', spec: { backends: [{ virtualService: { virtualServiceName: service } }] } }));
  return service;
}

/** A C-core client of the service as the mesh's client node, with a token issued for it. */
async function coreClientOf(meshName: string, service: string): Promise<CoreClient> {
  const relayAddress = inject('stack').endpoints.relayAds;
  if (!relayAddress) throw new Error('the local stack runs no relay');
  const nodeId = `mesh/${meshName}/virtualNode/client`;
  const client = await startCoreClient(service, { relayAddress, nodeId, proxyToken: await issueProxyToken(nodeId) });
  clients.push(client);
  return client;
}

/** Calls in batches until one batch succeeds whole (the mesh is compiled and on its way). */
async function untilServed(client: CoreClient, calls: number, deadlineMs = 30_000): Promise<CallTally> {
  const deadline = Date.now() + deadlineMs;
  let last: CallTally | undefined;
  while (Date.now() < deadline) {
    last = await client.call(calls, { deadlineMs: 2_000 });
    if (Object.keys(last.errors).length === 0) return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the C-core client was never served; last: ${JSON.stringify(last)}\n${client.stderr().slice(-2000)}`);
}

describe.skipIf(missing !== undefined)(`gRPC C-core through the relay${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('resolves xds:/// through the relay as its own node and splits calls between real backends', async () => {
    const meshName = uniqueMeshName('core');
    const service = await colorMesh(meshName, { blue: 1, green: 1 });
    const client = await coreClientOf(meshName, service);
    await untilServed(client, 5);
    const tally = await client.call(200);
    expect(tally.errors).toEqual({});
    // 200 calls at p = 0.5: each side well inside 25%..75% (over 7 standard deviations).
    expect(tally.answers.blue).toBeGreaterThan(50);
    expect(tally.answers.green).toBeGreaterThan(50);
    expect((tally.answers.blue ?? 0) + (tally.answers.green ?? 0)).toBe(200);
  });
});
