/**
 * Rollouts with real traffic: a proxyless gRPC client (@grpc/grpc-js-xds) of the local stack's
 * relay calls real gRPC backends on loopback and reports its load to the relay (LRS), which
 * writes per-edge windows to the traffic table; the local stack's scheduler runs the rollouts
 * function every second and judges each step on those windows. Nothing here writes traffic or
 * routes behind the stack's back: the mesh is configured through the App Mesh API, rollouts
 * through Meshline's API extension.
 */
import { DescribeRouteCommand } from '@aws-sdk/client-app-mesh';
import type * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Rollout } from '../../shared/store/rollouts.js';
import { apiFetch, appMeshClient } from '../support/appmesh.js';
import { startTrafficBackend, type TrafficBackend } from '../support/traffic-backend.js';
import { call, grpcRoute, meshWith, ROUTER, until, untilInARow } from '../support/traffic-mesh.js';

const appmesh = appMeshClient();
let blue: TrafficBackend;
let green: TrafficBackend;

beforeAll(async () => {
  [blue, green] = await Promise.all([startTrafficBackend('blue'), startTrafficBackend('green')]);
});

afterAll(async () => {
  await Promise.all([blue.close(), green.close()]);
});

/** Calls without pause from `concurrency` callers until stopped; counts answers by backend, and errors. */
function load(client: grpc.Client, concurrency = 10): { counts: Record<string, number>; stop: () => Promise<void> } {
  const counts: Record<string, number> = {};
  let stopped = false;
  const callers = Array.from({ length: concurrency }, async () => {
    while (!stopped) {
      const answer = await call(client, {}, 2_000).catch(() => 'error');
      counts[answer] = (counts[answer] ?? 0) + 1;
      // A little air, so the two cores also run the stack.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });
  return {
    counts,
    stop: async () => {
      stopped = true;
      await Promise.all(callers);
    },
  };
}

async function api<T>(path: string, method = 'GET', body?: unknown): Promise<T> {
  const response = await apiFetch(path, { method, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const answer = (await response.json()) as T & { message?: string };
  if (!response.ok) throw new Error(`${response.status} ${response.headers.get('x-amzn-errortype')}: ${answer.message}`);
  return answer;
}

const start = (meshName: string, settings: Record<string, unknown>) =>
  api<Rollout>(`/meshline/v1/meshes/${meshName}/rollouts`, 'POST', { virtualRouterName: ROUTER, routeName: 'live', to: 'green', ...settings });

/** Reads the rollout until `done` says so (or it ends), for at most `timeoutMs`. */
async function watch(meshName: string, rolloutId: string, done: (r: Rollout) => boolean, timeoutMs = 60_000): Promise<Rollout> {
  const deadline = Date.now() + timeoutMs;
  let rollout = await api<Rollout>(`/meshline/v1/meshes/${meshName}/rollouts/${rolloutId}`);
  while (!done(rollout) && rollout.state === 'RUNNING' && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    rollout = await api<Rollout>(`/meshline/v1/meshes/${meshName}/rollouts/${rolloutId}`);
  }
  return rollout;
}

async function weightedTargets(meshName: string): Promise<unknown> {
  const { route } = await appmesh.send(new DescribeRouteCommand({ meshName, virtualRouterName: ROUTER, routeName: 'live' }));
  return route?.spec?.grpcRoute?.action?.weightedTargets;
}

const summary = (r: Rollout) => r.history.map((s) => `${s.percent}%: ${s.decision ?? 'RUNNING'} (${s.requests ?? '-'} requests, ${s.errors ?? '-'} errors, ${s.errorRate ?? '-'}%)`).join('; ');

describe('a rollout on real traffic', () => {
  it('walks a healthy canary to 100 %, each step judged on the load its clients reported', async () => {
    const mesh = await meshWith('ro-healthy', [blue, green], { live: grpcRoute({ blue: 100, green: 0 }, { priority: 1 }) });
    const traffic = load(mesh.client.client);
    try {
      await until('calls flow', async () => (traffic.counts.blue ?? 0) > 50);
      const greenBefore = green.calls;
      const rollout = await start(mesh.meshName, { steps: [20, 60, 100], intervalSeconds: 2, maxErrorRate: 1, minRequests: 20 });
      const ended = await watch(mesh.meshName, rollout.rolloutId, () => false, 90_000);
      console.log(`healthy canary: ${ended.state}; ${summary(ended)}; the clients' calls meanwhile: ${JSON.stringify(traffic.counts)}`);
      expect(ended.state).toBe('SUCCEEDED');
      expect(ended.history.map((s) => s.decision)).toEqual(['ADVANCED', 'ADVANCED', 'SUCCEEDED']);
      for (const step of ended.history) {
        expect(step.requests).toBeGreaterThanOrEqual(20);
        expect(step.errors).toBe(0);
      }
      // What the steps counted, green served (the steps' windows are a part of what it served).
      const counted = ended.history.reduce((sum, s) => sum + (s.requests ?? 0), 0);
      expect(counted).toBeLessThanOrEqual(green.calls - greenBefore);
      expect(await weightedTargets(mesh.meshName)).toEqual([
        { virtualNode: 'blue', weight: 0 },
        { virtualNode: 'green', weight: 100 },
      ]);
      // Not asserted here: that every call of the client then reaches green. Now and then
      // (about one run in four, under this load) @grpc/grpc-js-xds 1.14 fails every later call
      // with UNAVAILABLE "No connection established" after one of the weight changes; such calls
      // never reach a locality, so its load reports do not carry them (the steps above counted
      // 0 errors). Reported; the rollout's part, the route's weights, is checked above.
    } finally {
      await traffic.stop();
      mesh.client.close();
    }
  });

  it('rolls a canary that starts failing halfway back to the original weights, naming the error rate', async () => {
    const mesh = await meshWith('ro-failing', [blue, green], { live: grpcRoute({ blue: 100 }, { priority: 1 }) });
    const traffic = load(mesh.client.client);
    try {
      await until('calls flow', async () => (traffic.counts.blue ?? 0) > 50);
      const rollout = await start(mesh.meshName, { steps: [25, 50, 75, 100], intervalSeconds: 2, maxErrorRate: 5, minRequests: 20 });
      // Healthy through the first step; then every other call to green fails.
      const halfway = await watch(mesh.meshName, rollout.rolloutId, (r) => r.history[0]?.decision === 'ADVANCED');
      expect(halfway.history[0]).toMatchObject({ decision: 'ADVANCED', errors: 0 });
      green.failEvery = 2;
      const ended = await watch(mesh.meshName, rollout.rolloutId, () => false, 60_000);
      console.log(`failing canary: ${ended.state}; ${summary(ended)}; ${ended.reason}`);
      expect(ended.state).toBe('ROLLED_BACK');
      expect(ended.reason).toMatch(/^Rolled back: error rate \d+(\.\d+)?% \(\d+ of \d+ requests to green\) in step \d+% is above maxErrorRate 5%/);
      const failed = ended.history[ended.history.length - 1];
      expect(failed?.decision).toBe('ROLLED_BACK');
      expect(failed?.errorRate).toBeGreaterThan(25);
      expect(ended.history.some((s) => s.decision === 'SUCCEEDED')).toBe(false);
      // The original weights: green, not in the route before, is gone from it, and from the calls.
      expect(await weightedTargets(mesh.meshName)).toEqual([{ virtualNode: 'blue', weight: 100 }]);
      await traffic.stop();
      await untilInARow(mesh.client.client, 100, (a) => a === 'blue');
    } finally {
      green.failEvery = 0;
      await traffic.stop();
      mesh.client.close();
    }
  });

  it('with no traffic, waits and then gives up without passing', async () => {
    const mesh = await meshWith('ro-idle', [blue, green], { live: grpcRoute({ blue: 100 }, { priority: 1 }) });
    try {
      const rollout = await start(mesh.meshName, { steps: [50, 100], intervalSeconds: 1, maxErrorRate: 1, minRequests: 20, maxWaitSeconds: 4 });
      const waiting = await watch(mesh.meshName, rollout.rolloutId, (r) => r.history[0]?.decision === 'WAITING', 30_000);
      expect(waiting.history[0]).toMatchObject({ decision: 'WAITING', requests: 0 });
      const ended = await watch(mesh.meshName, rollout.rolloutId, () => false, 30_000);
      console.log(`idle canary: ${ended.state}; ${ended.reason}`);
      expect(ended.state).toBe('ROLLED_BACK');
      expect(ended.reason).toMatch(/too little traffic: 0 requests to green in step 50%, fewer than minRequests 20, after waiting 4 s for more/);
      expect(ended.history.map((s) => s.decision)).toEqual(['ROLLED_BACK']);
      expect(await weightedTargets(mesh.meshName)).toEqual([{ virtualNode: 'blue', weight: 100 }]);
    } finally {
      mesh.client.close();
    }
  });

  it('aborts: the clients go back to the original weights', async () => {
    const mesh = await meshWith('ro-abort', [blue, green], { live: grpcRoute({ blue: 100 }, { priority: 1 }) });
    try {
      const rollout = await start(mesh.meshName, { steps: [50, 100], intervalSeconds: 600, maxErrorRate: 1, minRequests: 20 });
      await until('green takes calls', async () => (await call(mesh.client.client, {}, 2_000)) === 'green');
      const aborted = await api<Rollout>(`/meshline/v1/meshes/${mesh.meshName}/rollouts/${rollout.rolloutId}/abort`, 'POST');
      expect(aborted.state).toBe('ABORTED');
      await untilInARow(mesh.client.client, 100, (a) => a === 'blue');
    } finally {
      mesh.client.close();
    }
  });
});
