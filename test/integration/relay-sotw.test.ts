/**
 * The relay's state-of-the-world ADS, driven step by step by a scripted client: an in-process
 * relay per test over the local stack's S3 bucket, each test on its own mesh.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { buildSnapshot, manifestKey, type Snapshot } from '../../shared/store/snapshots.js';
import { nodeIdOf, proxyKey, type ProxyId } from '../../shared/xds/node-id.js';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from '../../shared/xds/type-urls.js';
import { AdsTestClient, decodeResource, resourceNames } from '../support/xds-ads-client.js';
import { proxySnapshot, publish, virtualNode, uniqueMesh, localService } from '../support/xds-fixtures.js';
import { type TestRelay, relayForTest, requestsReceived } from '../support/xds-relay.js';

function connect(relay: TestRelay, proxy: ProxyId | string): AdsTestClient {
  const client = new AdsTestClient(relay.relay.adsAddress, typeof proxy === 'string' ? proxy : nodeIdOf(proxy));
  onTestFinished(() => client.close());
  return client;
}

/** Subscribes like Envoy (CDS and LDS by wildcard, EDS and RDS by name) and takes the four answers. */
async function syncLikeEnvoy(client: AdsTestClient, names: string[]) {
  client.subscribe(CLUSTER);
  const clusters = await client.next();
  client.ack(CLUSTER);
  client.subscribe(ENDPOINT, names);
  const endpoints = await client.next();
  client.ack(ENDPOINT, names);
  client.subscribe(LISTENER);
  const listeners = await client.next();
  client.ack(LISTENER);
  client.subscribe(ROUTE, names);
  const routes = await client.next();
  client.ack(ROUTE, names);
  return { clusters, endpoints, listeners, routes };
}

describe('relay: state-of-the-world ADS', () => {
  it('answers the first request of each type with the proxy snapshot, a type version and a fresh nonce', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('relay');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001), localService('beta', 9002)])]);

    const client = connect(relay, front);
    const { clusters, endpoints, listeners, routes } = await syncLikeEnvoy(client, ['alpha', 'beta']);

    expect([clusters, endpoints, listeners, routes].map((r) => r.type_url)).toEqual([CLUSTER, ENDPOINT, LISTENER, ROUTE]);
    for (const response of [clusters, endpoints, listeners, routes]) {
      expect(resourceNames(response)).toEqual(['alpha', 'beta']);
      expect(response.resources.every((any) => any.type_url === response.type_url)).toBe(true);
      expect(response.version_info).toMatch(/^[0-9a-f]{16}$/);
    }
    expect(new Set([clusters, endpoints, listeners, routes].map((r) => r.nonce)).size).toBe(4);
    expect(decodeResource(endpoints, 0)).toMatchObject({
      cluster_name: 'alpha',
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 9001 } } } }] }],
    });
    expect(await relay.metric('meshline_relay_streams', { mesh })).toBe(1);
  });

  it('sends nothing for an ACK, and counts one ACK per response', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('relay');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)])]);
    const client = connect(relay, front);
    await syncLikeEnvoy(client, ['alpha']);

    // The same nonce again (as grpc-js-xds sends with every subscription change) with Envoy's
    // empty wildcard list: still a wildcard, nothing to send, and not another ACK.
    client.ack(CLUSTER);
    client.ack(LISTENER);
    await requestsReceived(relay, 'listeners', 3);
    expect(await relay.metric('meshline_relay_acks_total', { type: 'clusters' })).toBe(1);
    expect(await relay.metric('meshline_relay_acks_total', { type: 'routes' })).toBe(1);
    expect(await relay.metric('meshline_relay_responses_total', { type: 'clusters' })).toBe(1);
    expect(await relay.metric('meshline_relay_responses_total', { type: 'listeners' })).toBe(1);
    expect(client.pending()).toEqual([]);
  });

  it('counts a NACK (error_detail set, whatever the version) and re-pushes only once the snapshot changes', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('relay');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)])]);
    const client = connect(relay, front);
    const first = await syncLikeEnvoy(client, ['alpha']);
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001, 'rejected')])]);
    const rejected = await client.next();
    expect(rejected.type_url).toBe(CLUSTER);

    // A NACK that (wrongly) names the rejected version is still a NACK.
    client.send({
      type_url: CLUSTER,
      version_info: rejected.version_info,
      response_nonce: rejected.nonce,
      error_detail: { code: grpc.status.INVALID_ARGUMENT, message: 'cluster alpha: rejected by test' },
    });
    await requestsReceived(relay, 'clusters', 3);
    expect(await relay.metric('meshline_relay_nacks_total', { type: 'clusters' })).toBe(1);
    expect(await relay.metric('meshline_relay_responses_total', { type: 'clusters' })).toBe(2);
    expect(client.pending()).toEqual([]);
    const nack = relay.logs.entries.find((e) => e.msg.startsWith('NACK'));
    expect(nack).toMatchObject({ level: 'warn', type: 'clusters', node: nodeIdOf(front), error: 'cluster alpha: rejected by test' });

    expect(await relay.metric('meshline_relay_rejecting_streams', { mesh, type: 'clusters' })).toBe(1);

    // ACK after NACK: the next change goes out and is accepted.
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001, 'fixed')])]);
    const fixed = await client.next();
    expect(fixed.type_url).toBe(CLUSTER);
    expect(fixed.version_info).not.toBe(rejected.version_info);
    expect(fixed.version_info).not.toBe(first.clusters.version_info);
    client.ack(CLUSTER);
    await requestsReceived(relay, 'clusters', 4);
    expect(await relay.metric('meshline_relay_acks_total', { type: 'clusters' })).toBe(2);
    expect(await relay.metric('meshline_relay_nacks_total', { type: 'clusters' })).toBe(1);
    expect(await relay.metric('meshline_relay_rejecting_streams', { mesh, type: 'clusters' })).toBe(0);
    expect(relay.logs.entries.filter((e) => e.msg === 'ACK' && e.type === 'clusters').map((e) => e.version)).toEqual([
      first.clusters.version_info,
      fixed.version_info,
    ]);
  });

  it('answers a reconnecting client that names the versions it holds with the same versions, and counts its ACKs', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('relay');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)])]);
    const before = connect(relay, front);
    const held = await syncLikeEnvoy(before, ['alpha']);
    before.close();

    // A new stream starts from nothing: every type is answered, with the version the client
    // already holds (the versions are content hashes), and its ACKs count as on any stream.
    const after = connect(relay, front);
    after.subscribe(CLUSTER, [], held.clusters.version_info);
    const clusters = await after.next();
    expect(clusters.version_info).toBe(held.clusters.version_info);
    after.ack(CLUSTER);
    after.subscribe(ENDPOINT, ['alpha'], held.endpoints.version_info);
    const endpoints = await after.next();
    expect(endpoints.version_info).toBe(held.endpoints.version_info);
    expect(resourceNames(endpoints)).toEqual(['alpha']);
    after.ack(ENDPOINT, ['alpha']);
    await requestsReceived(relay, 'endpoints', 4);
    expect(await relay.metric('meshline_relay_acks_total', { type: 'endpoints' })).toBe(2);

    // Changed while away: the reconnecting client is sent the new state.
    after.close();
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9002)])]);
    const third = connect(relay, front);
    third.subscribe(ENDPOINT, ['alpha'], held.endpoints.version_info);
    const moved = await third.next();
    expect(moved.version_info).not.toBe(held.endpoints.version_info);
    expect(decodeResource(moved)).toMatchObject({ endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { port_value: 9002 } } } }] }] });
  });

  it('ignores a request whose nonce is not the latest sent for its type', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('relay');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001), localService('beta', 9002)])]);
    const client = connect(relay, front);
    const first = await syncLikeEnvoy(client, ['alpha']);

    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9003), localService('beta', 9002)])]);
    const update = await client.next();
    expect(update.type_url).toBe(ENDPOINT);

    // A late ACK of the replaced response, asking for more: neither an ACK nor a subscription.
    client.send({ type_url: ENDPOINT, version_info: first.endpoints.version_info, response_nonce: first.endpoints.nonce, resource_names: ['alpha', 'beta'] });
    await requestsReceived(relay, 'endpoints', 3);
    expect(await relay.metric('meshline_relay_acks_total', { type: 'endpoints' })).toBe(1);
    expect(client.pending()).toEqual([]);

    // The same request with the latest nonce is an ACK and subscribes to beta.
    client.ack(ENDPOINT, ['alpha', 'beta']);
    const both = await client.next();
    expect(both.type_url).toBe(ENDPOINT);
    expect(resourceNames(both)).toEqual(['alpha', 'beta']);
    expect(await relay.metric('meshline_relay_acks_total', { type: 'endpoints' })).toBe(2);
  });

  it('pushes only the types a manifest change touched, in the order CDS, EDS, LDS, RDS', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('relay');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)])]);
    const client = connect(relay, front);
    // "*" subscribes EDS and RDS to everything, so a new service changes all four types.
    const first = await syncLikeEnvoy(client, ['*']);
    const clustersSent = await relay.metric('meshline_relay_responses_total', { type: 'clusters' });

    // Only endpoints change: one EDS response, nothing else.
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9002)])]);
    const moved = await client.next();
    expect(moved.type_url).toBe(ENDPOINT);
    expect(moved.version_info).not.toBe(first.endpoints.version_info);
    client.ack(ENDPOINT, ['*']);
    await requestsReceived(relay, 'endpoints', 3);
    expect(client.pending()).toEqual([]);
    expect(await relay.metric('meshline_relay_responses_total', { type: 'clusters' })).toBe(clustersSent);

    // A new service changes every type: four responses, make-before-break.
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9002), localService('beta', 9003)])]);
    const pushed = [await client.next(), await client.next(), await client.next(), await client.next()];
    expect(pushed.map((r) => r.type_url)).toEqual([CLUSTER, ENDPOINT, LISTENER, ROUTE]);
    for (const response of pushed) expect(resourceNames(response)).toEqual(['alpha', 'beta']);
  });

  it('refuses an unknown mesh or proxy with NOT_FOUND and a bad node id with INVALID_ARGUMENT; a proxy added later connects', async () => {
    // A long poll interval: the proxy added later must be found by a fresh manifest read.
    const relay = await relayForTest({ pollIntervalMs: 60_000 });
    const mesh = uniqueMesh('relay');
    const front = virtualNode(mesh, 'front');
    const back = virtualNode(mesh, 'back');

    const noMesh = connect(relay, front);
    noMesh.subscribe(CLUSTER);
    expect(await noMesh.end()).toMatchObject({ code: grpc.status.NOT_FOUND, details: expect.stringContaining(`mesh ${mesh} has no manifest`) });

    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)])]);
    const frontClient = connect(relay, front);
    frontClient.subscribe(CLUSTER);
    await frontClient.next();

    const unknown = connect(relay, back);
    unknown.subscribe(CLUSTER);
    expect(await unknown.end()).toMatchObject({
      code: grpc.status.NOT_FOUND,
      details: expect.stringContaining(`virtualNode/back is not in the manifest of mesh ${mesh}`),
    });

    for (const nodeId of ['', 'not-a-node', `mesh/${mesh}/virtualService/front`]) {
      const bad = connect(relay, nodeId);
      bad.subscribe(CLUSTER);
      expect(await bad.end()).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    }

    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)]), proxySnapshot(back, [localService('beta', 9002)])]);
    const backClient = connect(relay, `arn:aws:appmesh:us-east-1:111122223333:mesh/${mesh}/virtualNode/back`);
    backClient.subscribe(CLUSTER);
    expect(resourceNames(await backClient.next())).toEqual(['beta']);
    expect(await relay.metric('meshline_relay_stream_errors_total', { code: 'NOT_FOUND' })).toBe(2);
    expect(await relay.metric('meshline_relay_stream_errors_total', { code: 'INVALID_ARGUMENT' })).toBe(3);
  });

  it("never sends a proxy another proxy's resources, not even by name", async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('relay');
    const front = virtualNode(mesh, 'front');
    const back = virtualNode(mesh, 'back');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)]), proxySnapshot(back, [localService('beta', 9002)])]);

    const frontClient = connect(relay, front);
    const backClient = connect(relay, back);
    const frontSync = await syncLikeEnvoy(frontClient, ['alpha']);
    const backSync = await syncLikeEnvoy(backClient, ['beta']);
    for (const response of Object.values(frontSync)) expect(resourceNames(response)).toEqual(['alpha']);
    for (const response of Object.values(backSync)) expect(resourceNames(response)).toEqual(['beta']);

    // front names back's route and endpoints: they are not in its snapshot, so nothing comes.
    frontClient.ack(ROUTE, ['alpha', 'beta']);
    frontClient.ack(ENDPOINT, ['alpha', 'beta']);
    await requestsReceived(relay, 'endpoints', 5);
    expect(frontClient.pending()).toEqual([]);

    // A manifest that points front at back's snapshot object is refused, not served.
    const backEntry = await relay.store.putSnapshot(mesh, proxySnapshot(back, [localService('beta', 9002)]), {});
    await relay.store.putManifest({ mesh, proxies: { [proxyKey(front)]: backEntry, [proxyKey(back)]: backEntry }, errors: {} });
    const refused = await relay.logs.waitFor((e) => e.msg.startsWith('snapshot load failed') && e.proxy === proxyKey(front));
    expect(refused.error).toContain(`is for ${nodeIdOf(back)}`);
    expect(frontClient.pending()).toEqual([]);
  });

  it('subscribes RDS and EDS by name: an empty list is nothing, unsubscribed names are sent again on resubscribe', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('relay');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001), localService('beta', 9002)])]);
    const client = connect(relay, front);

    client.subscribe(ROUTE, []);
    await requestsReceived(relay, 'routes', 1);
    expect(client.pending()).toEqual([]);

    client.subscribe(ROUTE, ['alpha']);
    expect(resourceNames(await client.next())).toEqual(['alpha']);
    client.ack(ROUTE, ['alpha', 'beta', 'missing']);
    expect(resourceNames(await client.next())).toEqual(['alpha', 'beta']);

    // Dropping alpha sends nothing (beta is unchanged); dropping all sends nothing either.
    client.ack(ROUTE, ['beta']);
    client.ack(ROUTE, []);
    await requestsReceived(relay, 'routes', 5);
    expect(client.pending()).toEqual([]);

    // Resubscribing gets alpha again, though it never changed.
    client.ack(ROUTE, ['alpha']);
    expect(resourceNames(await client.next())).toEqual(['alpha']);

    // An explicit "*" is a wildcard for any type.
    client.ack(ROUTE, ['*']);
    expect(resourceNames(await client.next())).toEqual(['alpha', 'beta']);
  });

  it('keeps serving the last good snapshot when the new snapshot is corrupt or the manifest unreadable', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('relay');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)])]);
    const client = connect(relay, front);
    const first = await syncLikeEnvoy(client, ['alpha']);

    // A manifest naming an object whose bytes fail the checksum it records.
    const next: Snapshot = proxySnapshot(front, [localService('alpha', 9002)]);
    const entry = await relay.store.putSnapshot(mesh, next, {});
    await relay.store.putManifest({ mesh, proxies: { [proxyKey(front)]: { ...entry, sha256: '0'.repeat(64) } }, errors: {} });
    const failed = await relay.logs.waitFor((e) => e.msg.startsWith('snapshot load failed'));
    expect(failed).toMatchObject({ level: 'error', mesh, proxy: proxyKey(front), key: entry.key, error: expect.stringContaining('fails its checksum') });
    expect(await relay.metric('meshline_relay_snapshot_load_errors_total', { mesh })).toBeGreaterThanOrEqual(1);
    expect(client.pending()).toEqual([]);

    // A second stream of the same proxy gets the last good snapshot meanwhile.
    const second = connect(relay, front);
    second.subscribe(ENDPOINT, ['alpha']);
    expect((await second.next()).version_info).toBe(first.endpoints.version_info);

    // An unreadable manifest: counted, and still the last good snapshot.
    await relay.s3.send(new PutObjectCommand({ Bucket: relay.bucket, Key: manifestKey(mesh), Body: 'not json' }));
    await relay.logs.waitFor((e) => e.msg.startsWith('manifest read failed') && e.mesh === mesh);
    expect(await relay.metric('meshline_relay_manifest_watch_errors_total', { mesh })).toBeGreaterThanOrEqual(1);
    expect(await relay.metric('meshline_relay_served_snapshot_age_seconds', { mesh })).toBeGreaterThan(0);
    // One EDS response per stream so far: nothing of the bad objects went out.
    expect(await relay.metric('meshline_relay_responses_total', { type: 'endpoints' })).toBe(2);

    // A good manifest again: the new snapshot goes out.
    await publish(relay.store, mesh, [next]);
    const recovered = await client.next();
    expect(recovered.type_url).toBe(ENDPOINT);
    expect(decodeResource(recovered)).toMatchObject({
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { port_value: 9002 } } } }] }],
    });
  });

  it('ends the streams of a proxy that leaves the manifest with NOT_FOUND', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('relay');
    const front = virtualNode(mesh, 'front');
    const back = virtualNode(mesh, 'back');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)]), proxySnapshot(back, [localService('beta', 9002)])]);
    const client = connect(relay, back);
    client.subscribe(CLUSTER);
    await client.next();

    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)])]);
    expect(await client.end()).toMatchObject({ code: grpc.status.NOT_FOUND, details: expect.stringContaining('virtualNode/back is no longer in the manifest') });
  });

  it('reports health, readiness and metrics, and ends open streams on close', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('relay');
    const front = virtualNode(mesh, 'front');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)])]);
    const client = connect(relay, front);
    client.subscribe(CLUSTER);
    await client.next();

    const admin = relay.relay.adminUrl;
    expect((await fetch(`${admin}/healthz`)).status).toBe(200);
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);
    const metrics = await fetch(`${admin}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const text = await metrics.text();
    expect(text).toContain(`meshline_relay_streams{mesh="${mesh}",protocol="sotw"} 1`);
    expect(text).toContain('# TYPE meshline_relay_responses_total counter');
    expect(text).toMatch(new RegExp(`meshline_relay_served_snapshot_age_seconds\\{mesh="${mesh}"\\} [0-9.]+`));

    await relay.relay.close();
    expect(await client.end()).toMatchObject({ code: grpc.status.OK });
  });
  it('keeps listeners marked onlyByName (proxyless api listeners) out of a wildcard answer, and serves them by name', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('relay');
    const front = virtualNode(mesh, 'front');
    const plain = proxySnapshot(front, [localService('sidecar', 9001), localService('proxyless', 9002)]);
    const marked = buildSnapshot(nodeIdOf(front), {
      ...plain.resources,
      [LISTENER]: plain.resources[LISTENER].map((r) => ({ ...r, ...(r.name === 'proxyless' ? { onlyByName: true } : {}) })),
    });
    await publish(relay.store, mesh, [marked]);

    const envoy = connect(relay, front);
    envoy.subscribe(LISTENER);
    expect(resourceNames(await envoy.next())).toEqual(['sidecar']);

    const grpcClient = connect(relay, front);
    grpcClient.subscribe(LISTENER, ['proxyless']);
    expect(resourceNames(await grpcClient.next())).toEqual(['proxyless']);
  });
});
