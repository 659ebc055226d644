/**
 * Telemetry from real traffic: proxyless gRPC clients (@grpc/grpc-js-xds) call real backends
 * through the local stack, report their load to the relay over LRS, and the traffic API shows
 * per edge what the clients did. The backends count what they received and failed: that is
 * what the API must show, exactly, once the last report (one interval) and its window are in.
 */
import { CreateVirtualNodeCommand } from '@aws-sdk/client-app-mesh';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { MeshTraffic } from '../../shared/mesh/traffic.js';
import { apiFetch, appMeshClient } from '../support/appmesh.js';
import { stackProxylessClient } from '../support/keys.js';
import { startTrafficBackend, type TrafficBackend } from '../support/traffic-backend.js';
import { call, grpcRoute, meshWith, untilInARow } from '../support/traffic-mesh.js';

const appmesh = appMeshClient();
let steady: TrafficBackend;
let flaky: TrafficBackend;

beforeAll(async () => {
  // flaky answers every 4th call it receives with UNAVAILABLE: a known fraction, 25 %.
  [steady, flaky] = await Promise.all([startTrafficBackend('steady'), startTrafficBackend('flaky', 4)]);
});

afterAll(async () => {
  await Promise.all([steady.close(), flaky.close()]);
});

async function traffic(meshName: string, seconds: number): Promise<MeshTraffic> {
  const response = await apiFetch(`/meshline/v1/meshes/${meshName}/traffic?seconds=${seconds}`);
  expect(response.status).toBe(200);
  return (await response.json()) as MeshTraffic;
}

/** `n` calls, 8 at a time; how many failed. */
async function calls(client: Parameters<typeof call>[0], n: number): Promise<number> {
  let left = n;
  let failed = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (left > 0) {
        left -= 1;
        await call(client).catch(() => (failed += 1));
      }
    }),
  );
  return failed;
}

describe('traffic reported by proxyless gRPC clients', () => {
  it("matches what two clients did per edge: requests, successes and errors of each backend's calls", async () => {
    const mesh = await meshWith('telemetry', [steady, flaky], { live: grpcRoute({ steady: 50, flaky: 50 }, { priority: 1 }) });
    onTestFinished(() => mesh.client.close());
    const service = `app.${mesh.meshName}.local`;
    await appmesh.send(new CreateVirtualNodeCommand({ meshName: mesh.meshName, virtualNodeName: 'client-b', spec: { backends: [{ virtualService: { virtualServiceName: service } }] } }));
    const second = await stackProxylessClient(service, `mesh/${mesh.meshName}/virtualNode/client-b`);
    onTestFinished(() => second.close());
    // Both clients have their configuration before anything is counted.
    await untilInARow(mesh.client.client, 1, (a) => a === 'steady' || a === 'flaky');
    await untilInARow(second.client, 1, (a) => a === 'steady' || a === 'flaky');
    const started = Date.now();
    const [failedA, failedB] = await Promise.all([calls(mesh.client.client, 300), calls(second.client, 200)]);
    const done = Date.now();
    // The backends serve this test alone: every call they received, warm-up included, was made
    // by these clients, and every one they failed is an error the clients saw.
    expect(failedA + failedB).toBeLessThanOrEqual(flaky.failures);
    const expected = {
      steady: { requests: steady.calls, errors: 0 },
      flaky: { requests: flaky.calls, errors: flaky.failures },
    };
    const seconds = Math.ceil((Date.now() - started) / 1000) + 60;
    let last: MeshTraffic | undefined;
    const sumTo = (t: MeshTraffic, target: string) =>
      t.edges.filter((e) => e.target === target).reduce((sum, e) => ({ requests: sum.requests + e.requests, errors: sum.errors + e.errors, successes: sum.successes + e.successes }), { requests: 0, errors: 0, successes: 0 });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      last = await traffic(mesh.meshName, seconds);
      const s = sumTo(last, 'virtualNode/steady');
      const f = sumTo(last, 'virtualNode/flaky');
      if (s.requests === expected.steady.requests && f.requests === expected.flaky.requests && f.errors === expected.flaky.errors) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const shownAfter = Date.now() - done;
    console.log(`traffic API matched the backends ${shownAfter} ms after the last call: ${JSON.stringify(last?.edges)}`);
    if (!last) throw new Error('no answer');
    // Every edge: the client that reported to the node behind the cluster.
    expect(new Set(last.edges.map((e) => `${e.source} -> ${e.target}`))).toEqual(
      new Set(['virtualNode/client -> virtualNode/steady', 'virtualNode/client -> virtualNode/flaky', 'virtualNode/client-b -> virtualNode/steady', 'virtualNode/client-b -> virtualNode/flaky']),
    );
    expect(sumTo(last, 'virtualNode/steady')).toEqual({ requests: expected.steady.requests, errors: 0, successes: expected.steady.requests });
    expect(sumTo(last, 'virtualNode/flaky')).toEqual({ requests: expected.flaky.requests, errors: expected.flaky.errors, successes: expected.flaky.requests - expected.flaky.errors });
    // 25 % of flaky's calls failed, as the backend was told.
    expect(expected.flaky.errors / expected.flaky.requests).toBeCloseTo(0.25, 1);
    for (const edge of last.edges) expect(edge.inProgress).toBe(0);
  });
});
