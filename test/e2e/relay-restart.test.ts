/**
 * A relay restarting in the middle of traffic: a real proxyless client (@grpc/grpc-js-xds)
 * keeps the configuration it has, its RPCs to a real backend keep succeeding while no relay
 * runs, and it resumes with the next relay on the same address (which pushes it the next
 * change). Once with a graceful stop (SIGTERM, as in a rollout), once with a crash (SIGKILL).
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { nodeIdOf } from '../../shared/xds/node-id.js';
import { startTestBackend, type TestBackend } from '../support/xds-backend.js';
import { proxylessClient } from '../support/xds-client.js';
import { proxySnapshot, publish, virtualNode } from '../support/xds-fixtures.js';
import { eventually, readMetric, stackBucket } from '../support/xds-relay.js';
import { spawnRelay, type RelayProcess } from '../support/xds-relay-process.js';

const TARGET = 'backend.local';

async function backend(name: string): Promise<TestBackend> {
  const server = await startTestBackend(name);
  onTestFinished(() => server.close());
  return server;
}

async function streamsOf(admin: string, mesh: string): Promise<number> {
  return readMetric(await (await fetch(`${admin}/metrics`)).text(), 'meshline_relay_streams', { mesh });
}

describe('relay: restarts under traffic', () => {
  it('a proxyless client keeps its config and its RPCs through a graceful stop and a crash, and resumes with the next relay', { timeout: 120_000 }, async () => {
    const [blue, green] = [await backend('blue'), await backend('green')];
    const { store, s3 } = stackBucket();
    onTestFinished(() => s3.destroy());
    const mesh = `restart-${randomUUID().slice(0, 8)}`;
    const node = virtualNode(mesh, 'client');
    const serve = (b: TestBackend) => publish(store, mesh, [proxySnapshot(node, [{ name: TARGET, endpoints: [{ host: b.host, port: b.port }] }])]);
    await serve(blue);

    let relay: RelayProcess = spawnRelay({});
    const { ads } = await relay.listening();
    const port = ads.slice(ads.lastIndexOf(':') + 1);
    const client = proxylessClient(TARGET, { relayAddress: ads, nodeId: nodeIdOf(node) });
    onTestFinished(() => client.close());
    expect(await client.whoami(15_000)).toBe('blue');

    // Traffic all along: every RPC must succeed.
    const answers: string[] = [];
    const failures: unknown[] = [];
    let stopped = false;
    const traffic = (async () => {
      while (!stopped) {
        try {
          answers.push(await client.whoami(2_000));
        } catch (error) {
          failures.push(error);
        }
      }
    })();
    const moreAnswers = (count: number, what: string) => {
      const target = answers.length + count;
      return eventually(async () => (answers.length >= target ? true : undefined), what, 20_000);
    };

    for (const [signal, next] of [['SIGTERM', green], ['SIGKILL', blue]] as const) {
      relay.child.kill(signal);
      await relay.exited;
      // No relay at all: the client routes with the configuration it holds.
      await moreAnswers(20, `RPCs while no relay runs (after ${signal})`);

      relay = spawnRelay({ MESHLINE_RELAY_PORT: port });
      const { admin } = await relay.listening();
      // The client's xDS stream comes back (after its reconnect backoff) to the new relay...
      await eventually(async () => ((await streamsOf(admin, mesh)) === 1 ? true : undefined), `the client to reconnect after ${signal}`, 30_000);
      // ...which pushes it the next change.
      await serve(next);
      await eventually(async () => (answers.at(-1) === next.name ? true : undefined), `traffic to move to ${next.name} after ${signal}`, 20_000);
    }
    stopped = true;
    await traffic;
    expect(failures).toEqual([]);
    expect(new Set(answers)).toEqual(new Set(['blue', 'green']));
  });
});
