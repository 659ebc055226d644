/**
 * The rollout engine (shared/mesh/rollouts.ts) on DynamoDB Local, with a clock of its own: the
 * use cases run in this process on a mesh table and a rollouts table of their own (so the local
 * stack's scheduler never sees these rollouts), and read a real TrafficStore on the stack's
 * traffic table, into which each test writes the canary's windows as relays would.
 */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BadRequestError, ConflictError, NotFoundError } from '../../shared/errors.js';
import { abortRollout, advanceRollouts, describeRollout, listRollouts, parseRolloutSettings, startRollout, type AdvanceOutcome, type RolloutDeps } from '../../shared/mesh/rollouts.js';
import { createResource, describeResource, updateResource } from '../../shared/mesh/resources.js';
import { awsSettingsFromEnv, createDocumentClient } from '../../shared/store/clients.js';
import { MeshRepository } from '../../shared/store/repository.js';
import { RolloutStore, rolloutTableDefinition, type Rollout } from '../../shared/store/rollouts.js';
import { meshTableDefinition } from '../../shared/store/table.js';
import { TrafficStore, windowSettledAt, type EdgeWindow, type LatencyHistogram } from '../../shared/store/traffic.js';
import { nodeSpec, rejectsWith, routeSpec, routerSpec } from '../support/api-specs.js';

const stack = inject('stack');
const settings = awsSettingsFromEnv(stack.env);
const suffix = randomUUID().slice(0, 8);
const meshTable = `rollouts-mesh-${suffix}`;
const rolloutTable = `rollouts-${suffix}`;
const dynamodb = new DynamoDBClient({
  region: settings.region,
  endpoint: settings.dynamodbEndpoint,
  ...(settings.dynamodbCredentials ? { credentials: settings.dynamodbCredentials } : {}),
});
const db = createDocumentClient(settings);
const traffic = new TrafficStore(db, stack.env.MESHLINE_TRAFFIC_TABLE ?? '');
/** Window length of these tests: 10 s, so a step of 10 s spans one window. */
const W = 10;

beforeAll(async () => {
  await Promise.all([
    dynamodb.send(new CreateTableCommand({ ...meshTableDefinition, TableName: meshTable })),
    dynamodb.send(new CreateTableCommand({ ...rolloutTableDefinition, TableName: rolloutTable })),
  ]);
});

afterAll(async () => {
  await Promise.all([meshTable, rolloutTable].map((TableName) => dynamodb.send(new DeleteTableCommand({ TableName }))));
  dynamodb.destroy();
});

/** A clock the test moves. It starts at a window boundary plus 2 s. */
function clock() {
  let now = (Math.floor(Date.now() / 1000 / W) + 1) * W * 1000 + 2_000;
  return { now: () => now, set: (ms: number) => (now = ms), add: (ms: number) => (now += ms) };
}

function depsWith(time: ReturnType<typeof clock>): RolloutDeps {
  return {
    repository: new MeshRepository(db, meshTable),
    account: { partition: 'aws', region: 'us-east-1', accountId: '111122223333' },
    rollouts: new RolloutStore(db, rolloutTable),
    traffic,
    syncStatus: { client: db, tableName: stack.env.MESHLINE_SYNC_TABLE ?? '' },
    windowSeconds: W,
    now: time.now,
  };
}

const ROUTER = 'web';
const ROUTE = 'main';

/** A mesh with nodes blue, green and red and a route sending everything to blue. */
async function meshWithRoute(deps: RolloutDeps, targets: [string, number][] = [['blue', 100]]): Promise<string> {
  const meshName = `ro-${randomUUID().slice(0, 8)}`;
  await createResource(deps, { kind: 'mesh', meshName, name: meshName, spec: {} });
  for (const node of ['blue', 'green', 'red']) await createResource(deps, { kind: 'virtualNode', meshName, name: node, spec: nodeSpec(8080) });
  await createResource(deps, { kind: 'virtualRouter', meshName, name: ROUTER, spec: routerSpec(8080) });
  await createResource(deps, { kind: 'route', meshName, parentName: ROUTER, name: ROUTE, spec: routeSpec(targets) });
  return meshName;
}

async function routeTargets(deps: RolloutDeps, meshName: string): Promise<unknown> {
  const data = await describeResource(deps, { kind: 'route', meshName, parentName: ROUTER, name: ROUTE });
  return (data.spec as { httpRoute: { action: { weightedTargets: unknown } } }).httpRoute.action.weightedTargets;
}

const settingsFor = (overrides: Record<string, unknown> = {}) => ({
  virtualRouterName: ROUTER,
  routeName: ROUTE,
  to: 'green',
  steps: [10, 50, 100],
  intervalSeconds: W,
  maxErrorRate: 1,
  minRequests: 100,
  ...overrides,
});

/**
 * The canary's traffic in the window starting at `windowStart`, as two relays would write it:
 * two sources (a node and a gateway), the figures split between the relays.
 */
async function canaryTraffic(meshName: string, windowStart: number, figures: { requests: number; failed: number; latency?: LatencyHistogram }, target = 'virtualNode/green'): Promise<void> {
  const half = Math.floor(figures.requests / 2);
  const halfFailed = Math.floor(figures.failed / 2);
  const window = (source: string, relay: string, issued: number, failed: number): EdgeWindow => ({
    mesh: meshName,
    source,
    target,
    windowStart,
    windowSeconds: W,
    relay,
    issued,
    succeeded: issued - failed,
    failed,
    dropped: 0,
    inProgress: 0,
    ...(figures.latency ? { latency: figures.latency } : {}),
  });
  await traffic.putWindows([
    window('virtualNode/frontend', 'relay-a', half, halfFailed),
    window('virtualGateway/edge', 'relay-b', figures.requests - half, figures.failed - halfFailed),
    // The stable version's traffic never counts for the canary.
    { ...window('virtualNode/frontend', 'relay-a', 1_000, 1_000), target: 'virtualNode/blue' },
  ]);
}

/** One tick of the scheduler: what moved in this mesh (other tests' rollouts share the table). */
async function tick(deps: RolloutDeps, meshName: string): Promise<AdvanceOutcome[]> {
  return (await advanceRollouts(deps)).filter((o) => o.meshName === meshName && o.result !== 'unchanged');
}

/** The first whole window of the current step of a rollout. */
function stepWindow(rollout: Rollout): number {
  const step = rollout.history[rollout.history.length - 1];
  return Math.ceil(Date.parse(step?.startedAt ?? '') / 1000 / W) * W;
}

/** Moves the clock to when the step's window has settled. */
function settle(time: ReturnType<typeof clock>, rollout: Rollout): void {
  time.set(Math.max(time.now(), windowSettledAt(stepWindow(rollout), W) + 1));
}

describe('a rollout', () => {
  it('walks a healthy canary through every step, judging each on its own traffic, and keeps the figures', async () => {
    const time = clock();
    const deps = depsWith(time);
    const meshName = await meshWithRoute(deps);
    let rollout = await startRollout(deps, meshName, settingsFor());
    expect(rollout).toMatchObject({ state: 'RUNNING', originalTargets: [{ virtualNode: 'blue', weight: 100 }], originalVersion: 1, routeVersion: 2 });
    expect(await routeTargets(deps, meshName)).toEqual([
      { virtualNode: 'blue', weight: 90 },
      { virtualNode: 'green', weight: 10 },
    ]);

    // Not yet: the interval has not passed.
    time.add(5_000);
    expect(await tick(deps, meshName)).toEqual([]);
    for (const [percent, next] of [
      [10, [{ virtualNode: 'blue', weight: 50 }, { virtualNode: 'green', weight: 50 }]],
      [50, [{ virtualNode: 'blue', weight: 0 }, { virtualNode: 'green', weight: 100 }]],
    ] as const) {
      await canaryTraffic(meshName, stepWindow(rollout), { requests: 200, failed: 1 });
      // Interval passed, window not settled yet: nothing moves.
      time.set(windowSettledAt(stepWindow(rollout), W) - 100);
      expect(await tick(deps, meshName)).toEqual([]);
      settle(time, rollout);
      expect(await tick(deps, meshName)).toEqual([{ meshName, rolloutId: rollout.rolloutId, result: 'ADVANCED' }]);
      rollout = await describeRollout(deps, meshName, rollout.rolloutId);
      expect(rollout.history.find((s) => s.percent === percent)).toMatchObject({ requests: 200, errors: 1, errorRate: 0.5, decision: 'ADVANCED' });
      expect(await routeTargets(deps, meshName)).toEqual(next);
    }
    await canaryTraffic(meshName, stepWindow(rollout), { requests: 400, failed: 0 });
    settle(time, rollout);
    expect(await tick(deps, meshName)).toEqual([{ meshName, rolloutId: rollout.rolloutId, result: 'SUCCEEDED' }]);
    rollout = await describeRollout(deps, meshName, rollout.rolloutId);
    expect(rollout.state).toBe('SUCCEEDED');
    expect(rollout.history.map((s) => [s.percent, s.decision, s.requests])).toEqual([
      [10, 'ADVANCED', 200],
      [50, 'ADVANCED', 200],
      [100, 'SUCCEEDED', 400],
    ]);
    for (const step of rollout.history) expect(step.window).toEqual({ from: Math.ceil(Date.parse(step.startedAt) / 1000 / W) * W, to: expect.any(Number), windowSeconds: W });
    // It let go of the route: another rollout may start.
    const next = await startRollout(deps, meshName, settingsFor({ to: 'red', steps: [100] }));
    expect(next.state).toBe('RUNNING');
    expect((await listRollouts(deps, meshName)).rollouts.map((r) => r.rolloutId)).toEqual([next.rolloutId, rollout.rolloutId]);
    expect((await listRollouts(deps, meshName, 'SUCCEEDED')).rollouts.map((r) => r.rolloutId)).toEqual([rollout.rolloutId]);
  });

  it('rolls back to the original weights when the canary fails, and names the figure', async () => {
    const time = clock();
    const deps = depsWith(time);
    const meshName = await meshWithRoute(deps, [['blue', 70], ['red', 30]]);
    let rollout = await startRollout(deps, meshName, settingsFor({ steps: [20, 60, 100] }));
    expect(await routeTargets(deps, meshName)).toEqual([
      { virtualNode: 'blue', weight: 56 },
      { virtualNode: 'red', weight: 24 },
      { virtualNode: 'green', weight: 20 },
    ]);
    await canaryTraffic(meshName, stepWindow(rollout), { requests: 300, failed: 0 });
    settle(time, rollout);
    expect((await tick(deps, meshName))[0]?.result).toBe('ADVANCED');
    rollout = await describeRollout(deps, meshName, rollout.rolloutId);
    // Halfway, the canary starts failing: 6 of 300 is 2 %, above 1 %.
    await canaryTraffic(meshName, stepWindow(rollout), { requests: 300, failed: 6 });
    settle(time, rollout);
    expect((await tick(deps, meshName))[0]?.result).toBe('ROLLED_BACK');
    rollout = await describeRollout(deps, meshName, rollout.rolloutId);
    expect(rollout.state).toBe('ROLLED_BACK');
    expect(rollout.reason).toMatch(/error rate 2% \(6 of 300 requests to green\) in step 60% is above maxErrorRate 1%/);
    expect(rollout.history.map((s) => s.decision)).toEqual(['ADVANCED', 'ROLLED_BACK']);
    expect(await routeTargets(deps, meshName)).toEqual([
      { virtualNode: 'blue', weight: 70 },
      { virtualNode: 'red', weight: 30 },
    ]);
  });

  it('rolls a failing canary back before the end of its interval, once its settled windows hold enough requests', async () => {
    const time = clock();
    const deps = depsWith(time);
    const meshName = await meshWithRoute(deps);
    let rollout = await startRollout(deps, meshName, settingsFor({ intervalSeconds: 6 * W }));
    const first = stepWindow(rollout);
    // Healthy so far: nothing moves before the interval.
    await canaryTraffic(meshName, first, { requests: 200, failed: 0 });
    time.set(windowSettledAt(first, W) + 1);
    expect(await tick(deps, meshName)).toEqual([]);
    // Too few requests in the next window to judge on alone, but the step's windows add up.
    await canaryTraffic(meshName, first + W, { requests: 50, failed: 40 });
    time.set(windowSettledAt(first + W, W) + 1);
    expect(await tick(deps, meshName)).toEqual([{ meshName, rolloutId: rollout.rolloutId, result: 'ROLLED_BACK' }]);
    rollout = await describeRollout(deps, meshName, rollout.rolloutId);
    expect(time.now()).toBeLessThan(Date.parse(rollout.history[0]?.startedAt ?? '') + 6 * W * 1000);
    expect(rollout.reason).toMatch(/error rate 16% \(40 of 250 requests to green\) in step 10% is above maxErrorRate 1%, before the end of its interval/);
    expect(rollout.history[0]).toMatchObject({ requests: 250, errors: 40, decision: 'ROLLED_BACK', window: { from: first, to: first + 2 * W } });
    expect(await routeTargets(deps, meshName)).toEqual([{ virtualNode: 'blue', weight: 100 }]);
  });

  it('rolls back on p99 latency where proxies report it', async () => {
    const time = clock();
    const deps = depsWith(time);
    const meshName = await meshWithRoute(deps);
    let rollout = await startRollout(deps, meshName, settingsFor({ maxP99Ms: 250 }));
    // 100 requests: 90 under 100 ms, 10 between 500 and 1000 ms: p99 is 950 ms.
    const latency = { buckets: [{ le: 100, count: 90 }, { le: 500, count: 0 }, { le: 1000, count: 10 }, { le: Infinity, count: 0 }], count: 100, sumMs: 12_000 };
    await canaryTraffic(meshName, stepWindow(rollout), { requests: 200, failed: 0, latency });
    settle(time, rollout);
    expect((await tick(deps, meshName))[0]?.result).toBe('ROLLED_BACK');
    rollout = await describeRollout(deps, meshName, rollout.rolloutId);
    expect(rollout.history[0]?.p99Ms).toBe(950);
    expect(rollout.reason).toMatch(/p99 latency 950 ms of green in step 10% is above maxP99Ms 250 ms/);
    expect(await routeTargets(deps, meshName)).toEqual([{ virtualNode: 'blue', weight: 100 }]);
  });

  it('waits while a step has too little traffic, then gives up without passing', async () => {
    const time = clock();
    const deps = depsWith(time);
    const meshName = await meshWithRoute(deps);
    let rollout = await startRollout(deps, meshName, settingsFor({ maxWaitSeconds: 30 }));
    await canaryTraffic(meshName, stepWindow(rollout), { requests: 40, failed: 0 });
    settle(time, rollout);
    expect((await tick(deps, meshName))[0]?.result).toBe('WAITING');
    rollout = await describeRollout(deps, meshName, rollout.rolloutId);
    expect(rollout.state).toBe('RUNNING');
    expect(rollout.history[0]).toMatchObject({ decision: 'WAITING', requests: 40 });
    expect(rollout.history[0]?.reason).toMatch(/too little traffic so far: 40 requests to green, fewer than minRequests 100/);
    // More traffic in the next window: the step counts both, and 80 is still too little.
    await canaryTraffic(meshName, stepWindow(rollout) + W, { requests: 40, failed: 0 });
    time.set(windowSettledAt(stepWindow(rollout) + W, W) + 1);
    expect((await tick(deps, meshName))[0]?.result).toBe('WAITING');
    expect((await describeRollout(deps, meshName, rollout.rolloutId)).history[0]).toMatchObject({ requests: 80, window: { from: stepWindow(rollout), to: stepWindow(rollout) + 2 * W } });
    // 30 s after the step could first be judged (its one window settled): too little traffic never passes.
    time.set(windowSettledAt(stepWindow(rollout), W) + 30_000 - 1);
    expect((await tick(deps, meshName)).map((o) => o.result)).toEqual(['WAITING']);
    time.add(2);
    expect((await tick(deps, meshName))[0]?.result).toBe('ROLLED_BACK');
    rollout = await describeRollout(deps, meshName, rollout.rolloutId);
    expect(rollout.reason).toMatch(/too little traffic: 80 requests to green in step 10%, fewer than minRequests 100, after waiting 30 s for more/);
    expect(rollout.history.map((s) => s.decision)).toEqual(['ROLLED_BACK']);
    expect(await routeTargets(deps, meshName)).toEqual([{ virtualNode: 'blue', weight: 100 }]);
  });

  it('rolls back when a proxy of the mesh NACKs after the step began', async () => {
    const time = clock();
    const deps = depsWith(time);
    const meshName = await meshWithRoute(deps);
    let rollout = await startRollout(deps, meshName, settingsFor());
    await canaryTraffic(meshName, stepWindow(rollout), { requests: 200, failed: 0 });
    const at = new Date(Date.parse(rollout.history[0]?.startedAt ?? '') + 1_000).toISOString();
    await db.send(
      new PutCommand({
        TableName: stack.env.MESHLINE_SYNC_TABLE,
        Item: {
          pk: meshName,
          sk: 'virtualNode/frontend#relay-a/1',
          mesh: meshName,
          proxy: 'virtualNode/frontend',
          nodeId: `mesh/${meshName}/virtualNode/frontend`,
          instance: 'relay-a/1',
          relay: 'relay-a',
          protocol: 'sotw',
          peer: '127.0.0.1:1',
          connectedAt: at,
          types: { clusters: { sent: 'v2', acked: 'v1', nack: { version: 'v2', code: 3, message: 'cluster green: bad weight', at } } },
          updatedAt: at,
        },
      }),
    );
    settle(time, rollout);
    expect((await tick(deps, meshName))[0]?.result).toBe('ROLLED_BACK');
    rollout = await describeRollout(deps, meshName, rollout.rolloutId);
    expect(rollout.reason).toMatch(/virtualNode\/frontend NACKed clusters version v2: cluster green: bad weight/);
    expect(rollout.history[0]?.nacks).toHaveLength(1);
  });

  it('pauses when someone else changes the route, and an abort then leaves their change in place', async () => {
    const time = clock();
    const deps = depsWith(time);
    const meshName = await meshWithRoute(deps);
    let rollout = await startRollout(deps, meshName, settingsFor());
    const manual = routeSpec([['blue', 100], ['red', 0]]);
    await updateResource(deps, { kind: 'route', meshName, parentName: ROUTER, name: ROUTE, spec: manual });
    await canaryTraffic(meshName, stepWindow(rollout), { requests: 200, failed: 0 });
    time.add(1_000);
    expect((await tick(deps, meshName))[0]?.result).toBe('PAUSED');
    rollout = await describeRollout(deps, meshName, rollout.rolloutId);
    expect(rollout.state).toBe('PAUSED');
    expect(rollout.reason).toMatch(/route main is at version 3, but the rollout last wrote version 2: someone else changed it/);
    // Paused: later ticks touch nothing.
    settle(time, rollout);
    expect(await tick(deps, meshName)).toEqual([]);
    // Still holds the route.
    await rejectsWith(startRollout(deps, meshName, settingsFor()), ConflictError);
    rollout = await abortRollout(deps, meshName, rollout.rolloutId);
    expect(rollout.state).toBe('ABORTED');
    expect(rollout.reason).toMatch(/the route keeps the change made by someone else; the original weights were not restored/);
    expect(await routeTargets(deps, meshName)).toEqual(manual.httpRoute.action.weightedTargets);
  });

  it('aborts a running rollout by restoring the original weights; an ended one cannot be aborted', async () => {
    const time = clock();
    const deps = depsWith(time);
    const meshName = await meshWithRoute(deps, [['blue', 100], ['green', 0]]);
    let rollout = await startRollout(deps, meshName, settingsFor({ steps: [50, 100] }));
    expect(await routeTargets(deps, meshName)).toEqual([
      { virtualNode: 'blue', weight: 50 },
      { virtualNode: 'green', weight: 50 },
    ]);
    rollout = await abortRollout(deps, meshName, rollout.rolloutId);
    expect(rollout).toMatchObject({ state: 'ABORTED', routeVersion: 3 });
    expect(rollout.reason).toMatch(/original weights are restored \(route version 3\)/);
    expect(rollout.history.map((s) => s.decision)).toEqual(['ABORTED']);
    expect(await routeTargets(deps, meshName)).toEqual([
      { virtualNode: 'blue', weight: 100 },
      { virtualNode: 'green', weight: 0 },
    ]);
    expect(await rejectsWith(abortRollout(deps, meshName, rollout.rolloutId), ConflictError)).toMatch(/already ended \(ABORTED\)/);
  });

  it('allows one rollout per route at a time, even when two start at once', async () => {
    const time = clock();
    const deps = depsWith(time);
    const meshName = await meshWithRoute(deps);
    const results = await Promise.allSettled([startRollout(deps, meshName, settingsFor()), startRollout(deps, meshName, settingsFor({ to: 'red' }))]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = results.find((r) => r.status === 'rejected');
    expect(refused?.reason).toBeInstanceOf(ConflictError);
    expect((refused?.reason as Error).message).toMatch(/already has a rollout in progress \(ro-/);
  });

  it('refuses a route without weighted targets to shift from, and names that do not exist', async () => {
    const time = clock();
    const deps = depsWith(time);
    const meshName = await meshWithRoute(deps, [['green', 100]]);
    expect(await rejectsWith(startRollout(deps, meshName, settingsFor()), BadRequestError)).toMatch(/no target other than green/);
    expect(await rejectsWith(startRollout(deps, meshName, settingsFor({ to: 'purple' })), NotFoundError)).toMatch(/virtual node purple does not exist/);
    expect(await rejectsWith(startRollout(deps, meshName, settingsFor({ routeName: 'nope' })), NotFoundError)).toMatch(/Route nope/);
    expect(await rejectsWith(startRollout(deps, 'no-such-mesh', settingsFor()), NotFoundError)).toMatch(/Mesh no-such-mesh/);
  });
});

describe('rollout settings', () => {
  const parse = (overrides: Record<string, unknown>) => () => parseRolloutSettings('m', settingsFor(overrides));
  it.each([
    [{ steps: [] }, 'steps must be a list of 1 to 20 percentages, got: []'],
    [{ steps: [0, 100] }, 'steps[0] must be an integer between 1 and 100, got: 0'],
    [{ steps: [10, 101] }, 'steps[1] must be an integer between 1 and 100, got: 101'],
    [{ steps: [50, 50, 100] }, 'steps must be ascending: steps[1] must be greater than 50, got: 50'],
    [{ steps: [10, 50] }, 'steps must end at 100, got: [10,50]'],
    [{ intervalSeconds: 0 }, 'intervalSeconds must be a number between 1 and 86400, got: 0'],
    [{ intervalSeconds: 86_401 }, 'intervalSeconds must be a number between 1 and 86400, got: 86401'],
    [{ maxErrorRate: -1 }, 'maxErrorRate must be a number between 0 and 100, got: -1'],
    [{ maxErrorRate: 100.5 }, 'maxErrorRate must be a number between 0 and 100, got: 100.5'],
    [{ minRequests: -1 }, 'minRequests must be an integer between 0 and 1000000000, got: -1'],
    [{ minRequests: 1.5 }, 'minRequests must be an integer between 0 and 1000000000, got: 1.5'],
    [{ maxP99Ms: 0 }, 'maxP99Ms must be a number between 1 and 3600000, got: 0'],
    [{ maxWaitSeconds: -1 }, 'maxWaitSeconds must be a number between 0 and 604800, got: -1'],
    [{ to: '' }, 'to must be a string of 1 to 255 characters, got: ""'],
    [{ color: 'blue' }, 'Unknown member: color.'],
  ])('refuses %j', (overrides, message) => {
    expect(parse(overrides)).toThrow(new BadRequestError(message));
  });

  it('takes the bounds themselves, and waits three intervals by default', () => {
    expect(parseRolloutSettings('m', settingsFor({ steps: [1, 100], intervalSeconds: 1, maxErrorRate: 0, minRequests: 0 }))).toMatchObject({ maxWaitSeconds: 3 });
    expect(parseRolloutSettings('m', settingsFor({ steps: [100], intervalSeconds: 86_400, maxErrorRate: 100, maxP99Ms: 1, maxWaitSeconds: 0 }))).toMatchObject({ maxWaitSeconds: 0, maxP99Ms: 1 });
  });
});
