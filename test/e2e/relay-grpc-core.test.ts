/**
 * gRPC C-core (Debian's python3-grpcio 1.51) as a proxyless client of the local stack: a
 * second xDS client implementation next to @grpc/grpc-js-xds. It reads a GRPC_XDS_BOOTSTRAP
 * file, proves its identity with node metadata `meshline.proxyToken`, resolves `xds:///` through
 * the relay (listener, routes, clusters with `lrs_server: self`, endpoint assignments with their
 * one locality), calls real gRPC servers on loopback, and reports its load to the relay (LRS),
 * which adds it to the edges of the mesh: counted per attempt, exactly what the servers saw.
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
import type { MeshTraffic } from '../../shared/mesh/traffic.js';
import { apiFetch, appMeshClient, uniqueMeshName } from '../support/appmesh.js';
import { issueProxyToken } from '../support/keys.js';
import { startTrafficBackend, type TrafficBackend } from '../support/traffic-backend.js';
import { coreClientMissing, startCoreClient, type CallTally, type CoreClient } from '../support/xds-core-client.js';
import { eventually, readMetric } from '../support/xds-relay.js';

const appmesh = appMeshClient();
const missing = coreClientMissing();
const ROUTER = 'color';

let blue: TrafficBackend;
let green: TrafficBackend;
let steady: TrafficBackend;
/** Fails every 4th call it receives (UNAVAILABLE), which the route's default retry policy retries. */
let flaky: TrafficBackend;
const clients: CoreClient[] = [];

beforeAll(async () => {
  if (missing) return;
  [blue, green, steady, flaky] = await Promise.all([startTrafficBackend('blue'), startTrafficBackend('green'), startTrafficBackend('steady'), startTrafficBackend('flaky', 4)]);
});

afterAll(async () => {
  if (missing) return;
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([blue, green, steady, flaky].map((b) => b.close()));
});

/**
 * A mesh where a client node reaches `color.<mesh>.local`, a router splitting gRPC calls
 * between two nodes (one per backend) by the weights given; returns the service name. Nodes
 * are found at their backend's IP address (an EDS cluster), or by DNS name (`localhost`, a
 * LOGICAL_DNS cluster) when asked.
 */
async function colorMesh(meshName: string, weights: Record<string, number>, discovery: 'ip' | 'dns' = 'ip'): Promise<string> {
  const service = `color.${meshName}.local`;
  await appmesh.send(new CreateMeshCommand({ meshName }));
  for (const backend of [blue, green, steady, flaky].filter((b) => b.name in weights)) {
    await appmesh.send(
      new CreateVirtualNodeCommand({
        meshName,
        virtualNodeName: backend.name,
        spec: { listeners: [{ portMapping: { port: backend.port, protocol: 'grpc' } }], serviceDiscovery: { dns: { hostname: discovery === 'ip' ? backend.host : 'localhost' } } },
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
  }, 120_000);

  it.each(['ip', 'dns'] as const)('reports its load to the relay, which adds it to the edges: per attempt, as the servers saw it (%s discovery)', async (discovery) => {
    for (const backend of [steady, flaky]) {
      backend.calls = 0;
      backend.failures = 0;
    }
    const meshName = uniqueMeshName('core-lrs');
    const service = await colorMesh(meshName, { steady: 1, flaky: 1 }, discovery);
    const client = await coreClientOf(meshName, service);
    await untilServed(client, 5);
    const tally = await client.call(200);
    // Every failure of flaky was retried (UNAVAILABLE is in App Mesh's default retry events).
    expect(tally.errors).toEqual({});
    expect(flaky.failures).toBeGreaterThan(10);

    // While the channel is open (load not yet reported when it closes is lost), the relay's
    // App Mesh counters per edge reach exactly the attempts each server received and failed.
    const admin = inject('stack').endpoints.relayAdmin;
    if (!admin) throw new Error('the local stack runs no relay admin endpoint');
    const edge = (target: string) => ({ Mesh: meshName, VirtualNode: 'client', TargetVirtualNode: target });
    const expected = {
      steady: { requests: steady.calls, errors: 0 },
      flaky: { requests: flaky.calls, errors: flaky.failures },
    };
    const seen = await eventually(async () => {
      const text = await (await fetch(`${admin}/metrics`)).text();
      const now = Object.fromEntries(
        (['steady', 'flaky'] as const).map((t) => [
          t,
          { requests: readMetric(text, 'envoy_appmesh_RequestCountPerTarget', edge(t)), errors: readMetric(text, 'envoy_appmesh_HTTPCode_Target_5XX_Count', edge(t)) },
        ]),
      );
      return JSON.stringify(now) === JSON.stringify(expected) ? now : undefined;
    }, 'the relay to count what the C-core client did', 20_000).catch(async (error: Error) => {
      const text = await (await fetch(`${admin}/metrics`)).text();
      const lines = text.split('\n').filter((l) => l.includes(meshName) || l.startsWith('meshline_relay_load_reports'));
      throw new Error(`${error.message}; expected ${JSON.stringify(expected)}, the relay has:\n${lines.join('\n')}\n${client.stderr().slice(-2000)}`);
    });
    expect(seen).toEqual(expected);

    // The same figures come back from the traffic API once the relay has written its windows.
    const edges = await eventually(async () => {
      const response = await apiFetch(`/meshline/v1/meshes/${meshName}/traffic?seconds=300`);
      const body = (await response.json()) as MeshTraffic;
      const figures = Object.fromEntries(body.edges.map((e) => [`${e.source} -> ${e.target}`, { requests: e.requests, successes: e.successes, errors: e.errors }]));
      return Object.values(figures).reduce((sum, f) => sum + f.requests, 0) === steady.calls + flaky.calls ? figures : undefined;
    }, 'the traffic API to show every attempt', 20_000);
    expect(edges).toEqual({
      'virtualNode/client -> virtualNode/steady': { requests: steady.calls, successes: steady.calls, errors: 0 },
      'virtualNode/client -> virtualNode/flaky': { requests: flaky.calls, successes: flaky.calls - flaky.failures, errors: flaky.failures },
    });
  }, 120_000);
});
