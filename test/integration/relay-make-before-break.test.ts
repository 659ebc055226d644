/**
 * Make-before-break for removals in state of the world: clusters a snapshot drops stay in the
 * stream's CDS state until it has ACKed the listeners and routes that no longer use them.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it, onTestFinished } from 'vitest';
import { nodeIdOf } from '../../shared/xds/node-id.js';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from '../../shared/xds/type-urls.js';
import { AdsTestClient, resourceNames } from '../support/xds-ads-client.js';
import { proxySnapshot, publish, virtualNode, localService } from '../support/xds-fixtures.js';
import { eventually, startTestRelay } from '../support/xds-relay.js';

describe('relay: state-of-the-world make-before-break for removals', () => {
  it('keeps a removed cluster in CDS until the new listeners are ACKed, then sends CDS without it', async () => {
    const relay = await startTestRelay();
    onTestFinished(() => relay.close());
    const mesh = `relay-${randomUUID().slice(0, 8)}`;
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001), localService('beta', 9002)])]);
    const client = new AdsTestClient(relay.relay.adsAddress, nodeIdOf(front));
    onTestFinished(() => client.close());
    const names = ['alpha', 'beta'];
    client.subscribe(CLUSTER);
    expect(resourceNames(await client.next())).toEqual(names);
    client.ack(CLUSTER);
    client.subscribe(ENDPOINT, names);
    await client.next();
    client.ack(ENDPOINT, names);
    client.subscribe(LISTENER);
    await client.next();
    client.ack(LISTENER);
    client.subscribe(ROUTE, names);
    await client.next();
    client.ack(ROUTE, names);

    // beta goes, alpha's cluster changes: CDS first, still carrying beta; then LDS without it.
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001, 'v2')])]);
    const clusters = await client.next();
    expect([clusters.type_url, resourceNames(clusters)]).toEqual([CLUSTER, names]);
    const listeners = await client.next();
    expect([listeners.type_url, resourceNames(listeners)]).toEqual([LISTENER, ['alpha']]);
    client.ack(CLUSTER);
    await eventually(async () => ((await relay.metric('meshline_relay_acks_total', { type: 'clusters' })) === 2 ? true : undefined), 'the CDS ACK');
    expect(client.pending()).toEqual([]);

    // The listeners ACKed: beta is no longer needed and CDS goes out without it.
    client.ack(LISTENER);
    const after = await client.next();
    expect([after.type_url, resourceNames(after)]).toEqual([CLUSTER, ['alpha']]);
    expect(after.version_info).not.toBe(clusters.version_info);
    client.ack(CLUSTER);
    await eventually(async () => ((await relay.metric('meshline_relay_acks_total', { type: 'clusters' })) === 3 ? true : undefined), 'the last CDS ACK');
    expect(client.pending()).toEqual([]);
  });
});
