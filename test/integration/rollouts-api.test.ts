/**
 * Rollouts over the wire: the API extension (signed, authorized like the other extensions), the
 * `meshline rollout` and `meshline shift --steps` commands, and the local stack's scheduler,
 * which runs the real scheduled handler every second. The canary's traffic here is written into
 * the traffic table as relays write it (test/e2e/rollouts.test.ts drives it with real clients).
 */
import { CreateMeshCommand, CreateRouteCommand, CreateVirtualNodeCommand, CreateVirtualRouterCommand, DescribeRouteCommand, UpdateRouteCommand } from '@aws-sdk/client-app-mesh';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { Rollout } from '../../shared/store/rollouts.js';
import { windowStartOf } from '../../shared/store/traffic.js';
import { adminCredentialsInEnvironment, apiFetch, appMeshClient, uniqueMeshName } from '../support/appmesh.js';
import { issueKey } from '../support/keys.js';
import { runCli as cli } from '../support/cli.js';
import { stackTrafficStore } from '../support/traffic-mesh.js';

const stack = inject('stack');
const appmesh = appMeshClient();
const windowSeconds = Number(stack.env.MESHLINE_TRAFFIC_WINDOW_SECONDS);
const store = stackTrafficStore();
adminCredentialsInEnvironment();

const ROUTER = 'web';
const ROUTE = 'main';

async function meshWithRoute(): Promise<string> {
  const meshName = uniqueMeshName('rollout');
  const node = { listeners: [{ portMapping: { port: 8080, protocol: 'http' as const } }], serviceDiscovery: { dns: { hostname: '127.0.0.1' } } };
  await appmesh.send(new CreateMeshCommand({ meshName }));
  await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'blue', spec: node }));
  await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'green', spec: node }));
  await appmesh.send(new CreateVirtualRouterCommand({ meshName, virtualRouterName: ROUTER, spec: { listeners: [{ portMapping: { port: 8080, protocol: 'http' } }] } }));
  await appmesh.send(
    new CreateRouteCommand({
      meshName,
      virtualRouterName: ROUTER,
      routeName: ROUTE,
      spec: { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: [{ virtualNode: 'blue', weight: 100 }] }, timeout: { perRequest: { unit: 'ms', value: 1500 } } } },
    }),
  );
  return meshName;
}

async function weightedTargets(meshName: string): Promise<unknown> {
  const { route } = await appmesh.send(new DescribeRouteCommand({ meshName, virtualRouterName: ROUTER, routeName: ROUTE }));
  return route?.spec?.httpRoute?.action?.weightedTargets;
}

/** Writes the canary's traffic, as a relay would, for every window until stopped. */
const writers: (() => void)[] = [];
function canaryTraffic(meshName: string, perWindow: { requests: number; failed: number }): () => void {
  let stopped = false;
  let last = 0;
  const loop = async () => {
    while (!stopped) {
      const windowStart = windowStartOf(Date.now(), windowSeconds);
      if (windowStart !== last) {
        last = windowStart;
        await store.putWindows([
          {
            mesh: meshName,
            source: 'virtualNode/frontend',
            target: 'virtualNode/green',
            windowStart,
            windowSeconds,
            relay: 'test-relay',
            issued: perWindow.requests,
            succeeded: perWindow.requests - perWindow.failed,
            failed: perWindow.failed,
            dropped: 0,
            inProgress: 0,
          },
        ]);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  void loop();
  const stop = () => void (stopped = true);
  writers.push(stop);
  return stop;
}
afterEach(() => writers.splice(0).forEach((stop) => stop()));

async function api(path: string, init: { method?: string; body?: unknown } = {}, credentials?: { accessKeyId: string; secretAccessKey: string }) {
  const response = await apiFetch(path, { method: init.method ?? 'GET', ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}) }, credentials);
  return { status: response.status, type: response.headers.get('x-amzn-errortype'), body: (await response.json()) as Rollout & { message?: string; rollouts?: Rollout[] } };
}

const body = (overrides: Record<string, unknown> = {}) => ({ virtualRouterName: ROUTER, routeName: ROUTE, to: 'green', steps: [50, 100], intervalSeconds: 1, maxErrorRate: 1, minRequests: 10, ...overrides });

describe('the rollouts API', () => {
  it('refuses bad settings with BadRequestException naming the field, the bound and the value', async () => {
    const meshName = await meshWithRoute();
    const path = `/meshline/v1/meshes/${meshName}/rollouts`;
    for (const [overrides, message] of [
      [{ steps: [10, 5, 100] }, 'steps must be ascending: steps[1] must be greater than 10, got: 5'],
      [{ steps: [10, 50] }, 'steps must end at 100, got: [10,50]'],
      [{ maxErrorRate: 101 }, 'maxErrorRate must be a number between 0 and 100, got: 101'],
      [{ intervalSeconds: 0 }, 'intervalSeconds must be a number between 1 and 86400, got: 0'],
      [{ minRequests: -5 }, 'minRequests must be an integer between 0 and 1000000000, got: -5'],
    ] as const) {
      const answer = await api(path, { method: 'POST', body: body(overrides) });
      expect({ status: answer.status, type: answer.type, message: answer.body.message }).toEqual({ status: 400, type: 'BadRequestException', message });
    }
    const missing = await api(path, { method: 'POST', body: body({ routeName: 'nope' }) });
    expect([missing.status, missing.type]).toEqual([404, 'NotFoundException']);
    const unknown = await api(`${path}/ro-nope`);
    expect([unknown.status, unknown.type, unknown.body.message]).toEqual([404, 'NotFoundException', `Rollout ro-nope does not exist in mesh ${meshName}.`]);
    const state = await api(`${path}?state=DONE`);
    expect([state.status, state.body.message]).toEqual([400, 'state must be one of RUNNING, PAUSED, SUCCEEDED, ROLLED_BACK, ABORTED or all, got: "DONE"']);
    // Nothing was written.
    expect(await weightedTargets(meshName)).toEqual([{ virtualNode: 'blue', weight: 100 }]);
  });

  it('lets a read-only key of the mesh read rollouts, and only an admin start or abort one', async () => {
    const meshName = await meshWithRoute();
    const path = `/meshline/v1/meshes/${meshName}/rollouts`;
    const reader = await issueKey({ role: 'read-only', meshes: [meshName] });
    const started = await api(path, { method: 'POST', body: body({ intervalSeconds: 600 }) });
    expect(started.status).toBe(200);
    expect((await api(path, {}, reader)).body.rollouts?.map((r) => r.rolloutId)).toEqual([started.body.rolloutId]);
    expect((await api(`${path}/${started.body.rolloutId}`, {}, reader)).body.state).toBe('RUNNING');
    const refused = await api(path, { method: 'POST', body: body() }, reader);
    expect([refused.status, refused.type]).toEqual([403, 'AccessDeniedException']);
    expect(refused.body.message).toMatch(/not authorized to perform: meshline:StartRollout/);
    const abort = await api(`${path}/${started.body.rolloutId}/abort`, { method: 'POST' }, reader);
    expect(abort.body.message).toMatch(/meshline:AbortRollout/);
    const other = await issueKey({ role: 'read-only', meshes: [uniqueMeshName('other')] });
    expect((await api(path, {}, other)).type).toBe('AccessDeniedException');
    // One rollout per route.
    const second = await api(path, { method: 'POST', body: body() });
    expect([second.status, second.type]).toEqual([409, 'ConflictException']);
    expect(second.body.message).toContain(started.body.rolloutId);
    expect((await api(`${path}/${started.body.rolloutId}/abort`, { method: 'POST' })).body.state).toBe('ABORTED');
  });
});

describe('meshline rollout', () => {
  it('starts a rollout that the scheduler walks to 100 % while the canary is healthy, and shows every step', async () => {
    const meshName = await meshWithRoute();
    canaryTraffic(meshName, { requests: 30, failed: 0 });
    const start = await cli(['rollout', 'start', meshName, ROUTER, ROUTE, '--to', 'green', '--steps', '50,100', '--interval', '1s', '--max-error-rate', '1', '--min-requests', '10', '--json']);
    expect(start.err).toBe('');
    expect(start.code).toBe(0);
    const rollout = JSON.parse(start.out) as Rollout;
    expect(rollout).toMatchObject({ state: 'RUNNING', steps: [50, 100], intervalSeconds: 1, maxErrorRate: 1, minRequests: 10, maxWaitSeconds: 3 });
    expect(await weightedTargets(meshName)).toEqual([
      { virtualNode: 'blue', weight: 50 },
      { virtualNode: 'green', weight: 50 },
    ]);
    let status: Rollout = rollout;
    const deadline = Date.now() + 30_000;
    while (status.state === 'RUNNING' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      status = JSON.parse((await cli(['rollout', 'status', meshName, rollout.rolloutId, '--json'])).out) as Rollout;
    }
    expect(status.state).toBe('SUCCEEDED');
    expect(status.history.map((s) => s.decision)).toEqual(['ADVANCED', 'SUCCEEDED']);
    for (const step of status.history) expect(step.requests).toBeGreaterThanOrEqual(10);
    expect(await weightedTargets(meshName)).toEqual([
      { virtualNode: 'blue', weight: 0 },
      { virtualNode: 'green', weight: 100 },
    ]);
    const human = await cli(['rollout', 'status', meshName, rollout.rolloutId]);
    expect(human.out).toMatch(new RegExp(`rollout ${rollout.rolloutId}: SUCCEEDED`));
    expect(human.out).toMatch(/step 50% \(blue=50,green=50, route version 2\): ADVANCED, \d+ requests, 0 errors \(0%\)/);
    const list = await cli(['rollout', 'status', meshName, '--state', 'SUCCEEDED']);
    expect(list.out).toContain(`${rollout.rolloutId}  SUCCEEDED`);
  });

  it('aborts: the original weights come back', async () => {
    const meshName = await meshWithRoute();
    const start = await cli(['rollout', 'start', meshName, ROUTER, ROUTE, '--to', 'green', '--steps', '10,100', '--interval', '10m', '--max-error-rate', '0.5', '--max-p99', '250ms', '--max-wait', '5m', '--json']);
    const rollout = JSON.parse(start.out) as Rollout;
    expect(rollout).toMatchObject({ maxErrorRate: 0.5, maxP99Ms: 250, maxWaitSeconds: 300, minRequests: 100, intervalSeconds: 600 });
    const abort = await cli(['rollout', 'abort', meshName, rollout.rolloutId, '--json']);
    expect(abort.code).toBe(0);
    expect(JSON.parse(abort.out)).toMatchObject({ state: 'ABORTED' });
    expect(await weightedTargets(meshName)).toEqual([{ virtualNode: 'blue', weight: 100 }]);
    expect((await cli(['rollout', 'abort', meshName, rollout.rolloutId])).err).toMatch(/ConflictException: Rollout .* already ended \(ABORTED\)/);
  });

  it('pauses when the route is changed by hand, and says so', async () => {
    const meshName = await meshWithRoute();
    const rollout = JSON.parse((await cli(['rollout', 'start', meshName, ROUTER, ROUTE, '--to', 'green', '--steps', '10,100', '--interval', '10m', '--max-error-rate', '1', '--json'])).out) as Rollout;
    const manual = { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: [{ virtualNode: 'blue', weight: 80 }, { virtualNode: 'green', weight: 20 }] } } };
    await appmesh.send(new UpdateRouteCommand({ meshName, virtualRouterName: ROUTER, routeName: ROUTE, spec: manual }));
    let status = rollout;
    const deadline = Date.now() + 15_000;
    while (status.state === 'RUNNING' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      status = JSON.parse((await cli(['rollout', 'status', meshName, rollout.rolloutId, '--json'])).out) as Rollout;
    }
    expect(status.state).toBe('PAUSED');
    expect(status.reason).toMatch(/route main is at version 3, but the rollout last wrote version 2/);
    const aborted = JSON.parse((await cli(['rollout', 'abort', meshName, rollout.rolloutId, '--json'])).out) as Rollout;
    expect(aborted.reason).toMatch(/the route keeps the change made by someone else/);
    expect(await weightedTargets(meshName)).toEqual(manual.httpRoute.action.weightedTargets);
  });

  it('refuses a command line without the gate', async () => {
    const meshName = await meshWithRoute();
    const missing = await cli(['rollout', 'start', meshName, ROUTER, ROUTE, '--to', 'green', '--steps', '50,100', '--interval', '1s']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--max-error-rate is required/);
    const over = await cli(['rollout', 'start', meshName, ROUTER, ROUTE, '--to', 'green', '--steps', '50,100', '--interval', '1s', '--max-error-rate', '200']);
    expect(over.code).toBe(1);
    expect(over.err).toMatch(/BadRequestException: maxErrorRate must be a number between 0 and 100, got: 200/);
  });
});

describe('meshline shift --steps', () => {
  it('runs the same gate on the server and follows it: exit 0 when the canary takes everything', async () => {
    const meshName = await meshWithRoute();
    canaryTraffic(meshName, { requests: 200, failed: 0 });
    const { code, out, err } = await cli(['shift', meshName, ROUTER, ROUTE, '--to', 'green', '--steps', '50,100', '--interval', '1s', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ state: 'SUCCEEDED', minRequests: 100, maxErrorRate: 1 });
    expect(err).toMatch(/step 50% \(blue=50,green=50, route version 2\): ADVANCED/);
  });

  it('rolls back a failing canary to the original weights and exits 1, naming the figure', async () => {
    const meshName = await meshWithRoute();
    canaryTraffic(meshName, { requests: 200, failed: 20 });
    const { code, out } = await cli(['shift', meshName, ROUTER, ROUTE, '--to', 'green', '--steps', '50,100', '--interval', '1s', '--max-error-rate', '5']);
    expect(code).toBe(1);
    expect(out).toMatch(/ROLLED_BACK/);
    expect(out).toMatch(/error rate 10% \(\d+ of \d+ requests to green\) in step 50% is above maxErrorRate 5%/);
    expect(await weightedTargets(meshName)).toEqual([{ virtualNode: 'blue', weight: 100 }]);
    // Reading a rolled back rollout is no failure.
    const status = await cli(['rollout', 'status', meshName]);
    expect([status.code, status.out]).toEqual([0, expect.stringMatching(/ROLLED_BACK/)]);
  });
});
