/**
 * A real proxyless gRPC client (@grpc/grpc-js-xds) resolves `xds:///backend.local` through the
 * relay and sends real RPCs to real servers; a new snapshot in S3 moves the traffic.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { nodeIdOf } from '../../shared/xds/node-id.js';
import { startTestBackend, type TestBackend } from '../support/xds-backend.js';
import { stackProxylessClient } from '../support/keys.js';
import { proxylessClient } from '../support/xds-client.js';
import { proxySnapshot, publish, virtualNode } from '../support/xds-fixtures.js';
import { eventually, stackBucket, startTestRelay } from '../support/xds-relay.js';

const TARGET = 'backend.local';

async function backend(name: string): Promise<TestBackend> {
  const server = await startTestBackend(name);
  onTestFinished(() => server.close());
  return server;
}

describe('relay: proxyless gRPC through grpc-js-xds', () => {
  it('routes RPCs to the endpoint in the snapshot, and moves them when the snapshot changes', async () => {
    const [blue, green] = [await backend('blue'), await backend('green')];
    const relay = await startTestRelay();
    onTestFinished(() => relay.close());
    const mesh = `xds-${randomUUID().slice(0, 8)}`;
    const node = virtualNode(mesh, 'client');
    await publish(relay.store, mesh, [proxySnapshot(node, [{ name: TARGET, endpoints: [{ host: blue.host, port: blue.port }] }])]);

    const client = proxylessClient(TARGET, { relayAddress: relay.relay.adsAddress, nodeId: nodeIdOf(node) });
    onTestFinished(() => client.close());
    // The first call waits for LDS, RDS, CDS and EDS to resolve.
    expect(await client.whoami(15_000)).toBe('blue');
    expect(blue.calls).toBe(1);

    await publish(relay.store, mesh, [proxySnapshot(node, [{ name: TARGET, endpoints: [{ host: green.host, port: green.port }] }])]);
    // The client switches once it has taken the new EDS response and connected to green; no
    // event of the client says so, so call until green answers (bounded).
    await eventually(async () => ((await client.whoami()) === 'green' ? true : undefined), 'traffic to move to green');
    const answers = await Promise.all([1, 2, 3, 4, 5].map(() => client.whoami()));
    expect(answers).toEqual(['green', 'green', 'green', 'green', 'green']);

    // grpc-js-xds validates every resource strictly: it accepted all of them.
    for (const type of ['clusters', 'endpoints', 'listeners', 'routes']) {
      expect(await relay.metric('meshline_relay_nacks_total', { type })).toBe(0);
      expect(await relay.metric('meshline_relay_acks_total', { type })).toBeGreaterThan(0);
    }
    expect(await relay.metric('meshline_relay_responses_total', { type: 'endpoints' })).toBe(2);
    expect(await relay.metric('meshline_relay_streams', { mesh })).toBe(1);
  });

  it('splits round-robin across the endpoints of a locality', async () => {
    const [blue, green] = [await backend('blue'), await backend('green')];
    const relay = await startTestRelay();
    onTestFinished(() => relay.close());
    const mesh = `xds-${randomUUID().slice(0, 8)}`;
    const node = virtualNode(mesh, 'client');
    const endpoints = [blue, green].map((b) => ({ host: b.host, port: b.port }));
    await publish(relay.store, mesh, [proxySnapshot(node, [{ name: TARGET, endpoints }])]);

    const client = proxylessClient(TARGET, { relayAddress: relay.relay.adsAddress, nodeId: nodeIdOf(node) });
    onTestFinished(() => client.close());
    await client.whoami(15_000);
    // Round robin starts picking both once both subchannels are ready.
    await eventually(async () => (new Set(await Promise.all([1, 2, 3, 4].map(() => client.whoami()))).size === 2 ? true : undefined), 'both backends to answer');
    expect(blue.calls).toBeGreaterThan(0);
    expect(green.calls).toBeGreaterThan(0);
  });

  it("works through the local stack's own relay process, as the end-to-end tests use it", async () => {
    const blue = await backend('blue');
    const { store, s3 } = stackBucket();
    onTestFinished(() => s3.destroy());
    const mesh = `xds-${randomUUID().slice(0, 8)}`;
    const node = virtualNode(mesh, 'client');
    await publish(store, mesh, [proxySnapshot(node, [{ name: TARGET, endpoints: [{ host: blue.host, port: blue.port }] }])]);

    const client = await stackProxylessClient(TARGET, `arn:aws:appmesh:us-east-1:111122223333:mesh/${mesh}/virtualNode/client`);
    onTestFinished(() => client.close());
    expect(await client.whoami(15_000)).toBe('blue');
  });
});
