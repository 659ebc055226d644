/**
 * Two state-of-the-world streams of one proxy on one relay, as in `npm run bench -- propagation`:
 * a raw client subscribed to RDS by name, and a second stream subscribed like grpc-js-xds (every
 * type by name, subscription changes re-sent with the latest nonce). Route configurations change
 * in quick succession while the streams ACK and resubscribe at different times.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { buildSnapshot, type Snapshot } from '../../shared/store/snapshots.js';
import { encodeResource } from '../../shared/xds/encode.js';
import { nodeIdOf, type ProxyId } from '../../shared/xds/node-id.js';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, type ResourceTypeUrl } from '../../shared/xds/type-urls.js';
import { AdsTestClient, decodeResource, type DiscoveryResponse } from '../support/xds-ads-client.js';
import { publish, serviceResources, virtualNode } from '../support/xds-fixtures.js';
import { eventually, startTestRelay, type TestRelay } from '../support/xds-relay.js';

const NAME = 'alpha';

/** A snapshot of one service whose route configuration carries `revision` (in its domains), so each revision is a new RDS version and nothing else changes. */
function snapshotAt(proxy: ProxyId, revision: number): Snapshot {
  const resources = serviceResources({ name: NAME, endpoints: [{ host: '127.0.0.1', port: 9001 }] });
  const route = resources[ROUTE] as { virtual_hosts: { domains: string[] }[] };
  route.virtual_hosts[0]!.domains = [NAME, `r${revision}.${NAME}`];
  const encoded = Object.fromEntries(
    Object.entries(resources).map(([typeUrl, value]) => [typeUrl, [{ name: NAME, value: encodeResource(typeUrl as ResourceTypeUrl, value) }]]),
  ) as Record<ResourceTypeUrl, { name: string; value: Uint8Array }[]>;
  return buildSnapshot(nodeIdOf(proxy), encoded);
}

function revisionOf(response: DiscoveryResponse): string {
  const config = decodeResource(response) as { virtual_hosts: { domains: string[] }[] };
  return config.virtual_hosts[0]?.domains[1] ?? '';
}

async function setup(options: { unknownProxyWaitMs?: number } = {}): Promise<{ relay: TestRelay; proxy: ProxyId; mesh: string }> {
  const relay = await startTestRelay(options);
  onTestFinished(() => relay.close());
  const mesh = `relay-${randomUUID().slice(0, 8)}`;
  return { relay, proxy: virtualNode(mesh, 'client'), mesh };
}

function connect(relay: TestRelay, proxy: ProxyId): AdsTestClient {
  const client = new AdsTestClient(relay.relay.adsAddress, nodeIdOf(proxy));
  onTestFinished(() => client.close());
  return client;
}

function routeCounter(relay: TestRelay, name: 'meshline_relay_responses_total' | 'meshline_relay_acks_total'): Promise<number> {
  return relay.metric(name, { type: 'routes' });
}

/** Subscribes like grpc-js-xds: LDS, RDS, CDS, EDS, each by name, ACKing each answer. */
async function syncLikeGrpcXds(client: AdsTestClient): Promise<void> {
  for (const typeUrl of [LISTENER, ROUTE, CLUSTER, ENDPOINT]) {
    client.subscribe(typeUrl, [NAME]);
    const response = await client.next();
    expect(response.type_url).toBe(typeUrl);
    client.ack(typeUrl, [NAME]);
  }
}

describe('relay: two state-of-the-world streams of one proxy', () => {
  it('pushes every route change to both streams, whatever order their ACKs and resubscriptions arrive in', async () => {
    const { relay, proxy, mesh } = await setup();
    await publish(relay.store, mesh, [snapshotAt(proxy, 0)]);
    const raw = connect(relay, proxy);
    raw.subscribe(ROUTE, [NAME]);
    expect(revisionOf(await raw.next())).toBe('r0.alpha');
    raw.ack(ROUTE, [NAME]);
    const xds = connect(relay, proxy);
    await syncLikeGrpcXds(xds);

    for (let revision = 1; revision <= 12; revision++) {
      const pushes = await routeCounter(relay, 'meshline_relay_responses_total');
      await publish(relay.store, mesh, [snapshotAt(proxy, revision)]);
      const [a, b] = [await raw.next(), await xds.next()];
      expect([a.type_url, revisionOf(a), b.type_url, revisionOf(b)]).toEqual([ROUTE, `r${revision}.alpha`, ROUTE, `r${revision}.alpha`]);
      // The same encoded response (the delivery's nonce) on both streams.
      expect(a.nonce).toBe(b.nonce);
      expect(await routeCounter(relay, 'meshline_relay_responses_total')).toBe(pushes + 2);
      // Vary who answers first, and let the grpc-js-xds-like stream repeat its latest nonce
      // with its (unchanged) names, as it does on every subscription change elsewhere.
      if (revision % 2 === 0) {
        xds.ack(ROUTE, [NAME]);
        xds.ack(ROUTE, [NAME]);
        raw.ack(ROUTE, [NAME]);
      } else {
        raw.ack(ROUTE, [NAME]);
        xds.ack(ROUTE, [NAME]);
      }
      if (revision % 3 === 0) xds.ack(CLUSTER, [NAME]);
    }
    expect(raw.pending()).toEqual([]);
    expect(xds.pending()).toEqual([]);
  });

  it('stops pushing a route configuration to the stream that unsubscribed from it (the bench "misses"), and resends it at once on resubscription', async () => {
    const { relay, proxy, mesh } = await setup();
    await publish(relay.store, mesh, [snapshotAt(proxy, 0)]);
    const raw = connect(relay, proxy);
    raw.subscribe(ROUTE, [NAME]);
    await raw.next();
    raw.ack(ROUTE, [NAME]);
    const xds = connect(relay, proxy);
    await syncLikeGrpcXds(xds);

    await publish(relay.store, mesh, [snapshotAt(proxy, 1)]);
    await raw.next();
    await xds.next();
    const acks = await routeCounter(relay, 'meshline_relay_acks_total');
    xds.ack(ROUTE, [NAME]);
    raw.ack(ROUTE, [NAME]);
    // What grpc-js-xds 1.14 sends when its LDS does-not-exist timer fires (see relay/README.md):
    // the latest RDS nonce again, with no names. The relay logs it at debug level.
    xds.ack(ROUTE, []);
    await relay.logs.waitFor((e) => e.msg === 'subscription changed' && e.type === 'routes' && e.count === 0);
    expect(await eventually(async () => ((await routeCounter(relay, 'meshline_relay_acks_total')) === acks + 2 ? true : undefined), '2 ACKs')).toBe(true);

    // The next change goes to the raw client only: one push, one ACK, as the bench reported.
    const pushes = await routeCounter(relay, 'meshline_relay_responses_total');
    await publish(relay.store, mesh, [snapshotAt(proxy, 2)]);
    expect(revisionOf(await raw.next())).toBe('r2.alpha');
    expect(await routeCounter(relay, 'meshline_relay_responses_total')).toBe(pushes + 1);
    raw.ack(ROUTE, [NAME]);

    // Subscribing again (same nonce, the name back) is answered at once with the current state.
    xds.ack(ROUTE, [NAME]);
    const again = await xds.next();
    expect([again.type_url, revisionOf(again)]).toEqual([ROUTE, 'r2.alpha']);
    xds.ack(ROUTE, [NAME]);
    expect(await eventually(async () => ((await routeCounter(relay, 'meshline_relay_acks_total')) === acks + 4 ? true : undefined), '4 ACKs')).toBe(true);
  });

  it('serves a proxy compiled while its first stream waits on that very stream, so no stream of it ends before its first response', async () => {
    // The bench's grpc-js-xds client connects before the proxy is compiled. Refused at once
    // (NOT_FOUND), grpc-js-xds 1.14 keeps the does-not-exist timer of the refused stream
    // running: 15 s later it drops the listener and unsubscribes from RDS on its new stream.
    const { relay, proxy, mesh } = await setup({ unknownProxyWaitMs: 10_000 });
    const early = connect(relay, proxy);
    early.subscribe(LISTENER, [NAME]);
    early.subscribe(ROUTE, [NAME]);
    await Promise.race([
      relay.logs.waitFor((e) => e.msg === 'proxy not in its manifest yet; waiting for it'),
      early.end().then((end) => {
        throw new Error(`the stream ended before its proxy was listed: ${grpc.status[end.code]} ${end.details}`);
      }),
    ]);
    await publish(relay.store, mesh, [snapshotAt(proxy, 0)]);
    const [listeners, routes] = [await early.next(), await early.next()];
    expect([listeners.type_url, routes.type_url, revisionOf(routes)]).toEqual([LISTENER, ROUTE, 'r0.alpha']);
    expect(await relay.metric('meshline_relay_stream_errors_total', { code: 'NOT_FOUND' })).toBe(0);
  });

  it('still refuses a proxy its manifest does not list once the wait is over', async () => {
    const { relay, proxy } = await setup({ unknownProxyWaitMs: 300 });
    const unknown = connect(relay, proxy);
    unknown.subscribe(LISTENER, [NAME]);
    expect(await unknown.end()).toMatchObject({ code: grpc.status.NOT_FOUND });
  });
});
