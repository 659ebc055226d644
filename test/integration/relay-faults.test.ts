/**
 * The relay around faults: S3 failing or silent, snapshots missing or corrupt, and two relays
 * serving the same proxies. Both protocols; each test on its own mesh and relay.
 */
import { randomUUID } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { sha256Hex } from '../../shared/store/snapshots.js';
import { nodeIdOf, proxyKey, type ProxyId } from '../../shared/xds/node-id.js';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from '../../shared/xds/type-urls.js';
import { AdsTestClient, DeltaTestClient, decodeAny, decodeResource, type DeltaDiscoveryResponse } from '../support/xds-ads-client.js';
import { startFaultyS3 } from '../support/xds-faulty-s3.js';
import { proxySnapshot, publish, virtualNode, uniqueMesh, localService } from '../support/xds-fixtures.js';
import { eventually, type TestRelay, relayForTest } from '../support/xds-relay.js';

function sotw(relay: TestRelay, proxy: ProxyId): AdsTestClient {
  const client = new AdsTestClient(relay.relay.adsAddress, nodeIdOf(proxy));
  onTestFinished(() => client.close());
  return client;
}

function delta(relay: TestRelay, proxy: ProxyId): DeltaTestClient {
  const client = new DeltaTestClient(relay.relay.adsAddress, nodeIdOf(proxy));
  onTestFinished(() => client.close());
  return client;
}

/** The port of the endpoint in a ClusterLoadAssignment. */
function endpointPort(assignment: Record<string, unknown>): number {
  const { endpoints } = assignment as { endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { port_value: number } } } }[] }[] };
  return endpoints[0]?.lb_endpoints[0]?.endpoint.address.socket_address.port_value ?? -1;
}

/** Proves nothing was sent on a delta stream since the last response taken (see relay-delta.test.ts). */
async function expectNothingSent(client: DeltaTestClient): Promise<void> {
  expect(client.pending()).toEqual([]);
  const marker = `absent-${randomUUID().slice(0, 8)}`;
  client.subscribe(ROUTE, [marker]);
  expect(await client.next()).toMatchObject({ type_url: ROUTE, resources: [], removed_resources: [marker] });
}

/** The four state-of-the-world answers, subscribed like Envoy. */
async function syncSotw(client: AdsTestClient, names: string[]) {
  const responses = [];
  for (const [typeUrl, wildcard] of [[CLUSTER, true], [ENDPOINT, false], [LISTENER, true], [ROUTE, false]] as const) {
    client.subscribe(typeUrl, wildcard ? [] : names);
    responses.push(await client.next());
    client.ack(typeUrl, wildcard ? [] : names);
  }
  return responses;
}

/** The four delta answers, subscribed like Envoy (optionally with the versions it holds). */
async function syncDelta(client: DeltaTestClient, names: string[]): Promise<DeltaDiscoveryResponse[]> {
  const responses: DeltaDiscoveryResponse[] = [];
  for (const [typeUrl, wildcard] of [[CLUSTER, true], [ENDPOINT, false], [LISTENER, true], [ROUTE, false]] as const) {
    client.subscribe(typeUrl, wildcard ? [] : names);
    responses.push(await client.next());
    client.ack(typeUrl);
  }
  return responses;
}

describe('relay: faults', () => {
  it('keeps serving the last good snapshots, to open and new streams, while S3 errors or stops answering, and resumes after', async () => {
    const s3 = await startFaultyS3();
    onTestFinished(() => s3.close());
    const relay = await relayForTest({ store: s3.store });
    const mesh = uniqueMesh('faults');
    const front = virtualNode(mesh, 'front');
    const late = virtualNode(mesh, 'late');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)]), proxySnapshot(late, [localService('beta', 9002)])]);
    const sotwClient = sotw(relay, front);
    const [, endpoints] = await syncSotw(sotwClient, ['alpha']);
    const deltaClient = delta(relay, front);
    await syncDelta(deltaClient, ['alpha']);

    // S3 answers 503: every poll fails, is counted, and changes nothing served.
    s3.mode = 'error';
    await relay.logs.waitFor((e) => e.msg.startsWith('manifest read failed') && e.mesh === mesh);
    const errors = await relay.metric('meshline_relay_manifest_watch_errors_total', { mesh });
    expect(errors).toBeGreaterThanOrEqual(1);
    const second = sotw(relay, front);
    second.subscribe(ENDPOINT, ['alpha']);
    expect((await second.next()).version_info).toBe(endpoints?.version_info);

    // S3 stops answering: reads time out, and new streams are still served from memory.
    s3.mode = 'hang';
    await eventually(async () => ((await relay.metric('meshline_relay_manifest_watch_errors_total', { mesh })) > errors + 1 ? true : undefined), 'timed-out manifest reads');
    const third = delta(relay, front);
    third.subscribe(CLUSTER);
    expect((await third.next()).resources.map((r) => r.name)).toEqual(['alpha']);
    // A proxy whose snapshot was never loaded cannot be served yet: UNAVAILABLE, so it retries.
    const never = sotw(relay, late);
    never.subscribe(CLUSTER);
    expect(await never.end()).toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect(await relay.metric('meshline_relay_served_snapshot_age_seconds', { mesh })).toBeGreaterThan(0);
    expect(sotwClient.pending()).toEqual([]);
    await expectNothingSent(deltaClient);

    // S3 is back: the change made meanwhile goes out.
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9009)]), proxySnapshot(late, [localService('beta', 9002)])]);
    s3.mode = 'forward';
    const moved = await sotwClient.next();
    expect(moved.type_url).toBe(ENDPOINT);
    expect(endpointPort(decodeResource(moved))).toBe(9009);
    const movedDelta = await deltaClient.next();
    expect(movedDelta.type_url).toBe(ENDPOINT);
    expect(endpointPort(decodeAny(movedDelta.resources[0]!.resource!))).toBe(9009);
    await relay.logs.waitFor((e) => e.msg === 'manifest readable again' && e.mesh === mesh);
    expect(s3.requests.error).toBeGreaterThan(0);
    expect(s3.requests.hang).toBeGreaterThan(0);
  });

  it('keeps the last good snapshot when the next one is missing or corrupt, and refuses a proxy with nothing good as UNAVAILABLE', async () => {
    const relay = await relayForTest();
    const mesh = uniqueMesh('faults');
    const front = virtualNode(mesh, 'front');
    const ghost = virtualNode(mesh, 'ghost');
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9001)])]);
    const sotwClient = sotw(relay, front);
    await syncSotw(sotwClient, ['alpha']);
    const deltaClient = delta(relay, front);
    await syncDelta(deltaClient, ['alpha']);

    // A manifest naming objects that are not there (the compiler never writes one; a lost
    // object or a bucket restored from an old backup can).
    const missing = { key: `snapshots/${mesh}/${'a'.repeat(64)}.json`, version: '0123456789abcdef', sha256: 'a'.repeat(64) };
    await relay.store.putManifest({ mesh, proxies: { [proxyKey(front)]: missing, [proxyKey(ghost)]: missing }, errors: {} });
    const failed = await relay.logs.waitFor((e) => e.msg.startsWith('snapshot load failed') && e.proxy === proxyKey(front));
    expect(failed.error).toContain('is missing');
    const refused = sotw(relay, ghost);
    refused.subscribe(CLUSTER);
    expect(await refused.end()).toMatchObject({ code: grpc.status.UNAVAILABLE, details: expect.stringContaining('is missing') });

    // An object whose checksum matches its entry but is not a snapshot.
    const garbage = '{"format":"something else"}';
    const key = `snapshots/${mesh}/${sha256Hex(garbage)}.json`;
    await relay.s3.send(new PutObjectCommand({ Bucket: relay.bucket, Key: key, Body: garbage }));
    await relay.store.putManifest({ mesh, proxies: { [proxyKey(front)]: { key, version: 'fedcba9876543210', sha256: sha256Hex(garbage) } }, errors: {} });
    const corrupt = await relay.logs.waitFor((e) => e.msg.startsWith('snapshot load failed') && e.key === key);
    expect(corrupt.error).toContain('not in format');
    expect(await relay.metric('meshline_relay_snapshot_load_errors_total', { mesh })).toBeGreaterThanOrEqual(2);

    // Open streams saw nothing of it; a new stream gets the last good snapshot.
    expect(sotwClient.pending()).toEqual([]);
    await expectNothingSent(deltaClient);
    const fresh = sotw(relay, front);
    fresh.subscribe(ENDPOINT, ['alpha']);
    expect(endpointPort(decodeResource(await fresh.next()))).toBe(9001);

    // A good snapshot again goes out.
    await publish(relay.store, mesh, [proxySnapshot(front, [localService('alpha', 9002)])]);
    expect(endpointPort(decodeResource(await sotwClient.next()))).toBe(9002);
  });

  it('two relays serve the same proxy the same versions, so a client can move between them', async () => {
    const [a, b] = [await relayForTest(), await relayForTest()];
    const mesh = uniqueMesh('faults');
    const front = virtualNode(mesh, 'front');
    await publish(a.store, mesh, [proxySnapshot(front, [localService('alpha', 9001), localService('beta', 9002)])]);

    const [fromA, fromB] = await Promise.all([syncSotw(sotw(a, front), ['alpha', 'beta']), syncSotw(sotw(b, front), ['alpha', 'beta'])]);
    expect(fromA.map((r) => r.version_info)).toEqual(fromB.map((r) => r.version_info));
    expect(fromA.map((r) => r.resources.map((x) => Buffer.from(x.value).toString('base64')))).toEqual(
      fromB.map((r) => r.resources.map((x) => Buffer.from(x.value).toString('base64'))),
    );
    const deltaA = delta(a, front);
    const [deltaFromA, deltaFromB] = await Promise.all([syncDelta(deltaA, ['alpha', 'beta']), syncDelta(delta(b, front), ['alpha', 'beta'])]);
    const versionsOf = (responses: DeltaDiscoveryResponse[]) => responses.map((r) => [r.system_version_info, r.resources.map((x) => `${x.name}@${x.version}`)]);
    expect(versionsOf(deltaFromA)).toEqual(versionsOf(deltaFromB));
    // Both protocols name a type's state with the same version.
    expect(deltaFromA.map((r) => r.system_version_info)).toEqual(fromA.map((r) => r.version_info));

    // A delta client leaves relay A and reconnects to B with what it holds: nothing to send
    // but the wildcard's first (empty) answer.
    deltaA.close();
    const moved = delta(b, front);
    const held = (index: number) => Object.fromEntries(deltaFromA[index]!.resources.map((r) => [r.name, r.version]));
    moved.subscribe(CLUSTER, [], held(0));
    expect(await moved.next()).toMatchObject({ type_url: CLUSTER, resources: [], removed_resources: [] });
    moved.subscribe(ENDPOINT, ['alpha', 'beta'], held(1));
    await expectNothingSent(moved);
  });
});
