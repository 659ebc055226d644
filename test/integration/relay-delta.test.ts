/**
 * The relay's incremental (delta) ADS, driven step by step by a scripted client (protobufjs
 * codecs over Envoy's protos): an in-process relay per test over the local stack's S3 bucket,
 * each test on its own mesh. Each test names the rule of Envoy's xDS protocol document
 * ("Incremental xDS") it covers.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { buildSnapshot, type Snapshot } from '../../shared/store/snapshots.js';
import { nodeIdOf, type ProxyId } from '../../shared/xds/node-id.js';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from '../../shared/xds/type-urls.js';
import { DeltaTestClient, decodeAny, resourceName, type DeltaDiscoveryResponse } from '../support/xds-ads-client.js';
import { proxySnapshot, publish, virtualNode, uniqueMesh, localService } from '../support/xds-fixtures.js';
import { type TestRelay, relayForTest, requestsReceived } from '../support/xds-relay.js';

function connect(relay: TestRelay, proxy: ProxyId): DeltaTestClient {
  const client = new DeltaTestClient(relay.relay.adsAddress, nodeIdOf(proxy));
  onTestFinished(() => client.close());
  return client;
}

/**
 * Proves that nothing was sent on the stream since the last response taken: subscribes to a
 * name that exists nowhere and expects the very next response to be its removal (responses
 * on a stream arrive in order), so no timing is involved.
 */
async function expectNothingSent(client: DeltaTestClient, typeUrl: string): Promise<void> {
  expect(client.pending()).toEqual([]);
  const marker = `absent-${randomUUID().slice(0, 8)}`;
  client.subscribe(typeUrl, [marker]);
  const next = await client.next();
  expect(next).toMatchObject({ type_url: typeUrl, resources: [], removed_resources: [marker] });
  client.ack(typeUrl, next);
}

/** The names of a delta response's resources, from the resources themselves (not the Resource.name). */
function names(response: DeltaDiscoveryResponse): string[] {
  return response.resources.map((r) => {
    if (!r.resource) throw new Error(`resource ${r.name} has no body`);
    expect(resourceName(r.resource)).toBe(r.name);
    return r.name;
  });
}

/** Resource versions by name, as a client would keep them for initial_resource_versions. */
function versions(...responses: DeltaDiscoveryResponse[]): Record<string, string> {
  return Object.fromEntries(responses.flatMap((r) => r.resources.map((x) => [x.name, x.version])));
}

/** A snapshot whose listeners named in `byName` are served only by name (proxyless api listeners). */
function withOnlyByName(snapshot: Snapshot, byName: string[]): Snapshot {
  return buildSnapshot(snapshot.proxy, {
    ...snapshot.resources,
    [LISTENER]: snapshot.resources[LISTENER].map((r) => ({ ...r, ...(byName.includes(r.name) ? { onlyByName: true } : {}) })),
  });
}

/** Subscribes like Envoy over delta: CDS and LDS by the legacy wildcard, EDS and RDS by name; ACKs each. */
async function syncLikeEnvoy(client: DeltaTestClient, edsAndRds: string[]) {
  client.subscribe(CLUSTER);
  const clusters = await client.next();
  client.ack(CLUSTER);
  client.subscribe(ENDPOINT, edsAndRds);
  const endpoints = await client.next();
  client.ack(ENDPOINT);
  client.subscribe(LISTENER);
  const listeners = await client.next();
  client.ack(LISTENER);
  client.subscribe(ROUTE, edsAndRds);
  const routes = await client.next();
  client.ack(ROUTE);
  return { clusters, endpoints, listeners, routes };
}

describe('relay: delta ADS', () => {
  it('answers a first request with every subscribed resource, each with its own version, a system version and a nonce', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('delta');
    const front = virtualNode(mesh, 'front');
    const snapshot = proxySnapshot(front, [localService('alpha', 9001), localService('beta', 9002)]);
    await publish(relay.store, mesh, [snapshot]);

    const client = connect(relay, front);
    const { clusters, endpoints, listeners, routes } = await syncLikeEnvoy(client, ['alpha', 'beta']);
    expect([clusters, endpoints, listeners, routes].map((r) => r.type_url)).toEqual([CLUSTER, ENDPOINT, LISTENER, ROUTE]);
    for (const response of [clusters, endpoints, listeners, routes]) {
      expect(names(response)).toEqual(['alpha', 'beta']);
      expect(response.removed_resources).toEqual([]);
      expect(response.system_version_info).toMatch(/^[0-9a-f]{16}$/);
      expect(response.resources.every((r) => r.resource?.type_url === response.type_url)).toBe(true);
    }
    // A resource's version is its content hash from the snapshot: the same on every relay.
    expect(versions(clusters)).toEqual(Object.fromEntries(snapshot.resources[CLUSTER].map((r) => [r.name, r.version])));
    expect(new Set([clusters, endpoints, listeners, routes].map((r) => r.nonce)).size).toBe(4);
    expect(decodeAny(endpoints.resources[0]!.resource!)).toMatchObject({
      cluster_name: 'alpha',
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { port_value: 9001 } } } }] }],
    });
    expect(await relay.metric('meshline_relay_streams', { mesh, protocol: 'delta' })).toBe(1);
    expect(await relay.metric('meshline_relay_acks_total', { type: 'routes' })).toBe(1);
  });

  it('treats a first CDS/LDS request naming nothing (legacy) and "*" as a wildcard, leaving out onlyByName listeners; an empty first EDS request is nothing', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('delta');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [withOnlyByName(proxySnapshot(front, [localService('sidecar', 9001), localService('proxyless', 9002)]), ['proxyless'])]);

    const legacy = connect(relay, front);
    legacy.subscribe(LISTENER);
    expect(names(await legacy.next())).toEqual(['sidecar']);
    legacy.subscribe(ENDPOINT);
    await expectNothingSent(legacy, ENDPOINT);

    const explicit = connect(relay, front);
    explicit.subscribe(LISTENER, ['*']);
    expect(names(await explicit.next())).toEqual(['sidecar']);
    // "*" is a wildcard for any type.
    explicit.subscribe(ENDPOINT, ['*']);
    expect(names(await explicit.next())).toEqual(['proxyless', 'sidecar']);

    // The proxyless client names its listener and gets it.
    const proxyless = connect(relay, front);
    proxyless.subscribe(LISTENER, ['proxyless']);
    expect(names(await proxyless.next())).toEqual(['proxyless']);
  });

  it('answers a wildcard first request even when there is nothing to send (Envoy waits for it)', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('delta');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [])]);
    const client = connect(relay, front);
    client.subscribe(CLUSTER);
    const empty = await client.next();
    expect(empty).toMatchObject({ type_url: CLUSTER, resources: [], removed_resources: [] });
    expect(empty.nonce).not.toBe('');
  });

  it('sends nothing for an ACK, and ignores an ACK of a nonce it did not send', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('delta');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)])]);
    const client = connect(relay, front);
    const first = await syncLikeEnvoy(client, ['alpha']);

    client.ack(CLUSTER, first.clusters); // answered already
    client.send({ type_url: CLUSTER, response_nonce: 'not-a-nonce' });
    await expectNothingSent(client, ROUTE);
    expect(await relay.metric('meshline_relay_acks_total', { type: 'clusters' })).toBe(1);
    expect(await relay.metric('meshline_relay_responses_total', { type: 'clusters' })).toBe(1);
  });

  it('sends only the resources that changed, removals in removed_resources, and nothing when nothing it serves changed', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('delta');
    const front = virtualNode(mesh, 'front');
    const back = virtualNode(mesh, 'back');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001), localService('beta', 9002)]), proxySnapshot(back, [localService('gamma', 9003)])]);
    const client = connect(relay, front);
    const first = await syncLikeEnvoy(client, ['alpha', 'beta']);

    // One endpoint moves: one EDS response with that one resource.
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9009), localService('beta', 9002)]), proxySnapshot(back, [localService('gamma', 9003)])]);
    const moved = await client.next();
    expect(moved.type_url).toBe(ENDPOINT);
    expect(names(moved)).toEqual(['alpha']);
    expect(moved.removed_resources).toEqual([]);
    expect(moved.system_version_info).not.toBe(first.endpoints.system_version_info);
    client.ack(ENDPOINT);

    // Only another proxy changes: nothing for front (the manifest read that loads back's new
    // snapshot has compared front's entry too).
    const backClient = connect(relay, back);
    backClient.subscribe(CLUSTER);
    await backClient.next();
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9009), localService('beta', 9002)]), proxySnapshot(back, [localService('gamma', 9004)])]);
    await relay.logs.waitFor((e) => e.msg === 'snapshot loaded' && e.proxy === 'virtualNode/back' && e.previous !== undefined);
    await expectNothingSent(client, ROUTE);

    // beta is removed: each type says so, listeners and routes before clusters and endpoints.
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9009)]), proxySnapshot(back, [localService('gamma', 9004)])]);
    const removals = [await client.next(), await client.next(), await client.next(), await client.next()];
    expect(removals.map((r) => r.type_url)).toEqual([LISTENER, ROUTE, CLUSTER, ENDPOINT]);
    for (const response of removals) {
      expect(response.resources).toEqual([]);
      expect(response.removed_resources).toEqual(['beta']);
    }
  });

  it('pushes new resources in make-before-break order: CDS, EDS, LDS, RDS', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('delta');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)])]);
    const client = connect(relay, front);
    await syncLikeEnvoy(client, ['*']);

    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001), localService('beta', 9002)])]);
    const pushed = [await client.next(), await client.next(), await client.next(), await client.next()];
    expect(pushed.map((r) => r.type_url)).toEqual([CLUSTER, ENDPOINT, LISTENER, ROUTE]);
    for (const response of pushed) expect(names(response)).toEqual(['beta']);
  });

  it('counts a NACK by its error_detail, does not push the rejected resource again, and counts the ACK of the next change', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('delta');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)])]);
    const client = connect(relay, front);
    await syncLikeEnvoy(client, ['alpha']);

    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001, 'rejected')])]);
    const rejected = await client.next();
    expect(rejected.type_url).toBe(CLUSTER);
    client.nack(CLUSTER, 'cluster alpha: rejected by test');
    await expectNothingSent(client, ROUTE);
    expect(await relay.metric('meshline_relay_nacks_total', { type: 'clusters', code: 'INVALID_ARGUMENT' })).toBe(1);
    expect(await relay.metric('meshline_relay_rejecting_streams', { mesh, type: 'clusters' })).toBe(1);
    expect(relay.logs.entries.find((e) => e.msg.startsWith('NACK'))).toMatchObject({ type: 'clusters', version: rejected.system_version_info, error: 'cluster alpha: rejected by test' });

    // ACK after NACK: the fixed cluster goes out and is accepted.
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001, 'fixed')])]);
    const fixed = await client.next();
    expect(fixed.type_url).toBe(CLUSTER);
    expect(names(fixed)).toEqual(['alpha']);
    client.ack(CLUSTER);
    await requestsReceived(relay, 'clusters', 4);
    expect(await relay.metric('meshline_relay_acks_total', { type: 'clusters' })).toBe(2);
    expect(await relay.metric('meshline_relay_rejecting_streams', { mesh, type: 'clusters' })).toBe(0);
  });

  it('subscribes and unsubscribes by name: an unknown name is answered as removed, a subscribed name is always sent, an unsubscription sends nothing', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('delta');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001), localService('beta', 9002)])]);
    const client = connect(relay, front);

    client.subscribe(ROUTE, ['alpha', 'nothing']);
    const first = await client.next();
    expect(names(first)).toEqual(['alpha']);
    expect(first.removed_resources).toEqual(['nothing']);
    client.ack(ROUTE);

    // Subscribing again to what it holds: sent again (the client may have forgotten it).
    client.subscribe(ROUTE, ['alpha']);
    expect(names(await client.next())).toEqual(['alpha']);
    client.ack(ROUTE);

    // An unsubscription (and one from a name never subscribed) is answered with nothing.
    client.unsubscribe(ROUTE, ['alpha', 'never']);
    await expectNothingSent(client, ENDPOINT);

    // beta joins; alpha, once unsubscribed, comes back when named again.
    client.subscribe(ROUTE, ['beta', 'alpha']);
    const both = await client.next();
    expect(names(both).sort()).toEqual(['alpha', 'beta']);
    client.ack(ROUTE);

    // A resource that appears later is sent to a client that named it.
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001), localService('beta', 9002), localService('nothing', 9003)])]);
    const appeared = await client.next();
    expect(appeared.type_url).toBe(ROUTE);
    expect(names(appeared)).toEqual(['nothing']);
  });

  it('keeps the wildcard when a name is added; unsubscribing a name under a wildcard resends it if the wildcard covers it, else removes it', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('delta');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [withOnlyByName(proxySnapshot(front, [localService('sidecar', 9001), localService('proxyless', 9002)]), ['proxyless'])]);
    const client = connect(relay, front);
    client.subscribe(LISTENER);
    expect(names(await client.next())).toEqual(['sidecar']);
    client.ack(LISTENER);

    client.subscribe(LISTENER, ['proxyless', 'sidecar']);
    expect(names(await client.next()).sort()).toEqual(['proxyless', 'sidecar']);
    client.ack(LISTENER);

    client.unsubscribe(LISTENER, ['sidecar', 'proxyless']);
    const answer = await client.next();
    expect(names(answer)).toEqual(['sidecar']);
    expect(answer.removed_resources).toEqual(['proxyless']);
    client.ack(LISTENER);

    // Unsubscribing "*" ends the wildcard: nothing is sent, and a new listener is not pushed.
    client.unsubscribe(LISTENER, ['*']);
    await expectNothingSent(client, ROUTE);
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('sidecar', 9001), localService('other', 9003)])]);
    await relay.logs.waitFor((e) => e.msg === 'snapshot loaded' && e.previous !== undefined);
    await expectNothingSent(client, ROUTE);
  });

  it('honours a subscription change that carries a stale nonce', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('delta');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001), localService('beta', 9002)])]);
    const client = connect(relay, front);
    client.subscribe(ENDPOINT, ['alpha']);
    const first = await client.next();
    client.ack(ENDPOINT);
    client.send({ type_url: ENDPOINT, response_nonce: first.nonce, resource_names_subscribe: ['beta'] });
    expect(names(await client.next())).toEqual(['beta']);
    expect(await relay.metric('meshline_relay_acks_total', { type: 'endpoints' })).toBe(1);
  });

  it('on reconnect with initial_resource_versions sends only what differs, and removals of what is gone', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('delta');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001), localService('beta', 9002)])]);
    const before = connect(relay, front);
    const held = await syncLikeEnvoy(before, ['alpha', 'beta']);
    before.close();

    // While the client is away: alpha's endpoints move, beta goes, gamma comes.
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9009), localService('gamma', 9003)])]);
    const after = connect(relay, front);
    after.subscribe(CLUSTER, [], versions(held.clusters));
    // The snapshot arrives after the request: updates first, then (after every type's
    // updates, make-before-break) the removal.
    const clusters = await after.next();
    expect(names(clusters)).toEqual(['gamma']);
    expect(clusters.removed_resources).toEqual([]);
    const removal = await after.next();
    expect(removal).toMatchObject({ type_url: CLUSTER, resources: [], removed_resources: ['beta'] });
    after.ack(CLUSTER);
    after.subscribe(ENDPOINT, ['alpha', 'gamma'], { alpha: versions(held.endpoints).alpha! });
    const endpoints = await after.next();
    expect(names(endpoints).sort()).toEqual(['alpha', 'gamma']);
    after.ack(ENDPOINT);

    // Routes did not change for alpha: a reconnect that holds them is sent nothing.
    after.subscribe(ROUTE, ['alpha'], { alpha: versions(held.routes).alpha! });
    await expectNothingSent(after, LISTENER);

    // A wildcard that holds exactly the current state gets one empty response (Envoy waits for it).
    const again = connect(relay, front);
    again.subscribe(CLUSTER, ['*'], { alpha: versions(held.clusters).alpha!, ...versions(clusters) });
    const nothing = await again.next();
    expect(nothing).toMatchObject({ resources: [], removed_resources: [] });
  });

  it("never sends a proxy another proxy's resources: naming them is answered as removed", async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('delta');
    const front = virtualNode(mesh, 'front');
    const back = virtualNode(mesh, 'back');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)]), proxySnapshot(back, [localService('beta', 9002)])]);
    const client = connect(relay, front);
    client.subscribe(CLUSTER, ['alpha', 'beta']);
    const clusters = await client.next();
    expect(names(clusters)).toEqual(['alpha']);
    expect(clusters.removed_resources).toEqual(['beta']);
    client.subscribe(ENDPOINT, ['*']);
    expect(names(await client.next())).toEqual(['alpha']);
  });

  it('refuses a bad node id, an unknown proxy and an unknown mesh like the state-of-the-world service', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('delta');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)])]);
    const unknown = connect(relay, virtualNode(mesh, 'ghost'));
    unknown.subscribe(CLUSTER);
    expect(await unknown.end()).toMatchObject({ code: grpc.status.NOT_FOUND });
    const bad = new DeltaTestClient(relay.relay.adsAddress, 'not-a-node');
    onTestFinished(() => bad.close());
    bad.subscribe(CLUSTER);
    expect(await bad.end()).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });
});
