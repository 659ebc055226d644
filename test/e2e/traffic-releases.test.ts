/**
 * Releases with real traffic: a proxyless gRPC client (@grpc/grpc-js-xds) of the local stack's
 * relay calls real gRPC servers on loopback, and the mesh is configured only through the App
 * Mesh API (SDK). Weighted splits, a blue/green switch under continuous load, a canary walk,
 * a metadata match, retries over a failing backend, and removal of a route and of a target.
 *
 * Not here: outlier detection. The compiler emits App Mesh's criterion, `consecutive_5xx`, with
 * success-rate ejection off (docs/compiler.md); @grpc/grpc-js-xds 1.14 implements only
 * success-rate and failure-percentage ejection (gRFC A50), so it ejects nothing for that
 * configuration, and a test of it would prove nothing.
 *
 * Statistics: weighted targets are picked at random per call, so a share of n calls at weight p
 * has standard deviation sqrt(p(1-p)/n). Every tolerance below is at least 4.5 of them (a false
 * failure about once in 150,000 checks).
 */
import type { GrpcRetryPolicy } from '@aws-sdk/client-app-mesh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTrafficBackend, type TrafficBackend } from '../support/traffic-backend.js';
import { call, grpcRoute, meshWith, tally, until, untilInARow, type Mesh } from '../support/traffic-mesh.js';
let blue: TrafficBackend;
let green: TrafficBackend;
let flaky: TrafficBackend;

beforeAll(async () => {
  [blue, green, flaky] = await Promise.all([startTrafficBackend('blue'), startTrafficBackend('green'), startTrafficBackend('flaky')]);
});

afterAll(async () => {
  await Promise.all([blue.close(), green.close(), flaky.close()]);
});

/**
 * Runs 16 callers, one call at a time each, from before UpdateRoute until 500 answers in a row
 * came from green; the route `live` goes from 100/0 to 0/100. Every failed RPC is kept.
 */
async function blueGreenSwitch(mesh: Mesh): Promise<void> {
  await untilInARow(mesh.client.client, 20, (a) => a === 'blue');
  const answers: string[] = [];
  const failures: string[] = [];
  let stop = false;
  let greenRun = 0;
  // 16 callers, each one call at a time, from before the switch until 500 answers in a row came from green.
  const load = Promise.all(
    Array.from({ length: 16 }, async () => {
      while (!stop) {
        try {
          const answer = await call(mesh.client.client);
          answers.push(answer);
          greenRun = answer === 'green' ? greenRun + 1 : 0;
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    }),
  );
  await until('some traffic before the switch', async () => answers.length >= 200);
  const before = answers.length;
  await mesh.updateRoute('live', grpcRoute({ blue: 0, green: 100 }, { priority: 2 }));
  const switched = Date.now();
  try {
    await until('all traffic on green', async () => greenRun >= 500);
  } finally {
    stop = true;
    await load;
  }
  const firstGreen = answers.indexOf('green');
  const lastBlue = answers.lastIndexOf('blue');
  console.log(
    `blue/green: ${answers.length} RPCs (${before} before UpdateRoute returned), ${failures.length} failed; ` +
      `all on green ${Date.now() - switched} ms after UpdateRoute (overlap of ${Math.max(0, lastBlue - firstGreen)} RPCs while 16 callers ran)`,
  );
  expect(failures).toEqual([]);
  expect(answers.slice(0, before).every((a) => a === 'blue')).toBe(true);
  expect(answers.slice(-500).every((a) => a === 'green')).toBe(true);
}

const share = (counts: Record<string, number>, name: string) => (counts[name] ?? 0) / Object.values(counts).reduce((a, b) => a + b, 0);

describe('releases, as a proxyless gRPC client sends real traffic', () => {
  it('splits 2,000 RPCs 75/25 within 5 percentage points', async () => {
    const mesh = await meshWith('split', [blue, green], { split: grpcRoute({ blue: 3, green: 1 }, { priority: 1 }) });
    try {
      await untilInARow(mesh.client.client, 1, (a) => a === 'blue' || a === 'green');
      const counts = await tally(mesh.client.client, 2_000);
      console.log(`75/25 split of 2,000 RPCs: ${JSON.stringify(counts)}`);
      expect((counts.blue ?? 0) + (counts.green ?? 0)).toBe(2_000);
      // sd = sqrt(0.75 * 0.25 / 2000) = 0.97 pp: 5 pp is 5.2 sd.
      expect(Math.abs(share(counts, 'blue') - 0.75)).toBeLessThan(0.05);
    } finally {
      mesh.client.close();
    }
  });

  // The compiler keeps a zero-weight target's cluster in the snapshot, so the switch never
  // removes blue's cluster before the client holds the route that stops using it.
  it('switches blue/green (100/0 to 0/100) with zero failed RPCs while RPCs run continuously', async () => {
    const mesh = await meshWith('bluegreen', [blue, green], { live: grpcRoute({ blue: 100, green: 0 }, { priority: 2 }) });
    try {
      await blueGreenSwitch(mesh);
    } finally {
      mesh.client.close();
    }
  });

  it('switches blue/green (100/0 to 0/100) with zero failed RPCs under continuous load while blue stays reachable', async () => {
    // A metadata route to blue keeps blue reachable for marked requests, as a route pinned to
    // the old version would.
    const mesh = await meshWith('bluegreen', [blue, green], {
      pinned: grpcRoute({ blue: 1 }, { priority: 1, metadata: { 'x-version': 'blue' } }),
      live: grpcRoute({ blue: 100, green: 0 }, { priority: 2 }),
    });
    try {
      await blueGreenSwitch(mesh);
    } finally {
      mesh.client.close();
    }
  });

  it('walks a canary through 0, 10, 25, 50 and 100 percent, each step within tolerance', async () => {
    // A probe route on `x-probe` moves between blue and green with every step, and is updated after
    // the split: once a probe answers from the step's probe target, the client holds a route
    // configuration that already has the step's weights (one route configuration holds both).
    const probeTarget = (step: number) => (step % 2 === 0 ? 'blue' : 'green');
    const weights = (canary: number) => ({ blue: 100 - canary, green: canary });
    const mesh = await meshWith('canary', [blue, green], {
      probe: grpcRoute({ [probeTarget(0)]: 1 }, { priority: 1, metadata: { 'x-probe': '1' } }),
      canary: grpcRoute(weights(0), { priority: 2 }),
    });
    const n = 2_000;
    const steps = [0, 10, 25, 50, 100];
    try {
      const results: string[] = [];
      for (const [i, canary] of steps.entries()) {
        if (i > 0) {
          await mesh.updateRoute('canary', grpcRoute(weights(canary), { priority: 2 }));
          await mesh.updateRoute('probe', grpcRoute({ [probeTarget(i)]: 1 }, { priority: 1, metadata: { 'x-probe': '1' } }));
        }
        await until(`step ${canary}% applied`, async () => (await call(mesh.client.client, { 'x-probe': '1' }, 2_000)) === probeTarget(i));
        const counts = await tally(mesh.client.client, n);
        const p = canary / 100;
        const observed = share(counts, 'green');
        // 0 and 100 are exact; otherwise 4.5 sd of a binomial share of n calls.
        const tolerance = p === 0 || p === 1 ? 0 : 4.5 * Math.sqrt((p * (1 - p)) / n);
        results.push(`${canary}%: ${(observed * 100).toFixed(2)}% green (tolerance ±${(tolerance * 100).toFixed(2)} pp)`);
        expect((counts.blue ?? 0) + (counts.green ?? 0)).toBe(n);
        expect(Math.abs(observed - p)).toBeLessThanOrEqual(tolerance);
      }
      console.log(`canary, ${n} RPCs per step: ${results.join('; ')}`);
    } finally {
      mesh.client.close();
    }
  });

  it('sends calls marked with gRPC metadata to the canary only, and the rest by weight', async () => {
    const mesh = await meshWith('marked', [blue, green], {
      marked: grpcRoute({ green: 1 }, { priority: 1, metadata: { 'x-canary': 'yes' } }),
      rest: grpcRoute({ blue: 9, green: 1 }, { priority: 2 }),
    });
    try {
      await untilInARow(mesh.client.client, 1, (a) => a === 'green', { 'x-canary': 'yes' });
      const marked = await tally(mesh.client.client, 1_000, { 'x-canary': 'yes' });
      const otherValue = await tally(mesh.client.client, 1_000, { 'x-canary': 'no' });
      const unmarked = await tally(mesh.client.client, 1_000);
      console.log(`metadata match: marked ${JSON.stringify(marked)}, x-canary=no ${JSON.stringify(otherValue)}, unmarked ${JSON.stringify(unmarked)}`);
      expect(marked).toEqual({ green: 1_000 });
      // The others follow the 90/10 route: sd 0.95 pp at n = 1,000; 4.5 pp is 4.7 sd.
      expect(Math.abs(share(otherValue, 'blue') - 0.9)).toBeLessThan(0.045);
      expect(Math.abs(share(unmarked, 'blue') - 0.9)).toBeLessThan(0.045);
    } finally {
      mesh.client.close();
    }
  });

  it('hides a backend that fails every other call behind the route retry policy', async () => {
    const noRetries: GrpcRetryPolicy = { maxRetries: 0, perRetryTimeout: { unit: 'ms', value: 2_000 }, grpcRetryEvents: ['unavailable'] };
    const retries: GrpcRetryPolicy = { maxRetries: 2, perRetryTimeout: { unit: 'ms', value: 2_000 }, grpcRetryEvents: ['unavailable'] };
    const mesh = await meshWith('retries', [flaky], { only: grpcRoute({ flaky: 1 }, { priority: 1, retryPolicy: noRetries }) });
    try {
      await untilInARow(mesh.client.client, 1, (a) => a === 'flaky');
      flaky.failEvery = 2;
      // Without retries (maxRetries 0 compiles to no policy) half the calls fail.
      let failedWithout = 0;
      for (let i = 0; i < 100; i++) if ((await call(mesh.client.client).catch(() => '')) !== 'flaky') failedWithout += 1;
      await mesh.updateRoute('only', grpcRoute({ flaky: 1 }, { priority: 1, retryPolicy: retries }));
      // Without the retry policy, no two calls in a row succeed: 50 in a row means it arrived.
      await untilInARow(mesh.client.client, 50, (a) => a === 'flaky');
      const failuresBefore = flaky.failures;
      const callsBefore = flaky.calls;
      let failedWith = 0;
      for (let i = 0; i < 300; i++) if ((await call(mesh.client.client).catch(() => '')) !== 'flaky') failedWith += 1;
      const served = flaky.failures - failuresBefore;
      console.log(
        `retries: without a policy ${failedWithout}/100 RPCs failed; with maxRetries 2, ${failedWith}/300 failed while the backend ` +
          `answered UNAVAILABLE ${served} times in ${flaky.calls - callsBefore} attempts`,
      );
      expect(failedWithout).toBeGreaterThanOrEqual(40);
      expect(failedWith).toBe(0);
      expect(served).toBeGreaterThanOrEqual(250);
    } finally {
      flaky.failEvery = 0;
      mesh.client.close();
    }
  });

  it('stops sending traffic to a deleted route and to a removed target', async () => {
    const mesh = await meshWith('removal', [blue, green], {
      marked: grpcRoute({ green: 1 }, { priority: 1, metadata: { 'x-canary': 'yes' } }),
      rest: grpcRoute({ blue: 1, green: 1 }, { priority: 2 }),
    });
    try {
      await untilInARow(mesh.client.client, 1, (a) => a === 'green', { 'x-canary': 'yes' });
      const splitBefore = await tally(mesh.client.client, 400);
      expect(splitBefore.green).toBeGreaterThan(100);

      // The route: marked calls fall through to the weighted route.
      await mesh.deleteRoute('marked');
      await untilInARow(mesh.client.client, 1, (a) => a === 'blue', { 'x-canary': 'yes' });
      const markedAfter = await tally(mesh.client.client, 1_000, { 'x-canary': 'yes' });
      // Under the deleted route all 1,000 would be green; under the 50/50 route, 500 ± 71 (4.5 sd).
      expect(Math.abs(share(markedAfter, 'green') - 0.5)).toBeLessThan(0.071);

      // The target: green leaves the weighted route and gets nothing more.
      await mesh.updateRoute('rest', grpcRoute({ blue: 1 }, { priority: 2 }));
      await untilInARow(mesh.client.client, 100, (a) => a === 'blue');
      const greenCalls = green.calls;
      const after = await tally(mesh.client.client, 1_000, { 'x-canary': 'yes' });
      console.log(`removal: before ${JSON.stringify(splitBefore)}; marked after route delete ${JSON.stringify(markedAfter)}; after target removal ${JSON.stringify(after)}`);
      expect(after).toEqual({ blue: 1_000 });
      expect(green.calls).toBe(greenCalls);
    } finally {
      mesh.client.close();
    }
  });
});
