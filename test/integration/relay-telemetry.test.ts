/**
 * Telemetry at the relay: load reports (LRS) and Envoy's metrics service on the ADS port, with
 * the identity checks of ADS, added up per edge and window into the traffic table of the
 * stack's DynamoDB Local, and on /metrics under App Mesh's metrics-extension names. Clients are
 * raw gRPC streams whose messages protobufjs builds from Envoy's protos (telemetry-codecs.ts),
 * so every message checks the relay's hand-written codecs.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { STREAM_LOAD_STATS } from '../../relay/lrs.js';
import { STREAM_METRICS } from '../../relay/metrics-service.js';
import { ensureKeysTable } from '../../scripts/local-stack/dynamodb.js';
import { AccessKeyStore, formatProxyToken } from '../../shared/auth/keys.js';
import { FileSecretSealer } from '../../shared/auth/sealer.js';
import { createDocumentClient } from '../../shared/store/clients.js';
import { buildSnapshot, type Snapshot } from '../../shared/store/snapshots.js';
import { TrafficStore, trafficTableDefinition, type EdgeWindow } from '../../shared/store/traffic.js';
import { nodeIdOf, type ProxyId } from '../../shared/xds/node-id.js';
import { encodeResource } from '../../shared/xds/encode.js';
import { CLUSTER, RESOURCE_TYPE_URLS, type ResourceTypeUrl } from '../../shared/xds/type-urls.js';
import { createTestCa, tlsCredentials } from '../support/xds-certs.js';
import { AdsTestClient } from '../support/xds-ads-client.js';
import { startTestBackend } from '../support/xds-backend.js';
import { proxylessClient } from '../support/xds-client.js';
import { localService, proxySnapshot, publish, serviceResources, uniqueMesh, virtualNode } from '../support/xds-fixtures.js';
import { spawnRelay } from '../support/xds-relay-process.js';
import { eventually, relayForTest, stackBucket, startTestRelay, type TestRelay } from '../support/xds-relay.js';
import {
  decodeLoadStatsResponse,
  encodeLoadStatsRequest,
  encodeStreamMetricsMessage,
  envoyCounter,
  envoyHistogram,
  type ClusterStatsMessage,
  type LoadStatsRequestMessage,
  type LoadStatsResponseMessage,
  type StreamMetricsMessageObject,
} from '../support/telemetry-codecs.js';

const stack = inject('stack');
const WINDOW_SECONDS = 1;
const INTERVAL_MS = 300;

const db: DynamoDBDocumentClient = createDocumentClient({
  region: stack.region,
  dynamodbEndpoint: stack.endpoints.dynamodb,
  dynamodbCredentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});

/** The stack's traffic table, or (on a stack without one) a table of the same definition for this file. */
const trafficTable = (async () => {
  const existing = stack.env.MESHLINE_TRAFFIC_TABLE;
  if (existing) return existing;
  const tableName = `traffic-${randomUUID().slice(0, 8)}`;
  await db.send(new CreateTableCommand({ ...trafficTableDefinition, TableName: tableName }));
  afterAll(async () => {
    await db.send(new DeleteTableCommand({ TableName: tableName }));
  });
  return tableName;
})();

afterAll(() => db.destroy());

async function trafficStore(): Promise<TrafficStore> {
  return new TrafficStore(db, await trafficTable);
}

/** A proxy's snapshot with its services and the targets behind its clusters. */
function snapshotWithTargets(proxy: ProxyId, services: string[], targets: Record<string, string>): Snapshot {
  const base = proxySnapshot(proxy, services.map((name, i) => localService(name, 9000 + i)));
  return buildSnapshot(base.proxy, Object.fromEntries(RESOURCE_TYPE_URLS.map((t) => [t, base.resources[t]])), targets);
}

/** A mesh whose proxy `front` reaches `back` (behind virtual node back-v1) and `local-app` (no virtual node behind it). */
async function publishMesh(relay: TestRelay): Promise<{ mesh: string; front: ProxyId; other: ProxyId }> {
  const mesh = uniqueMesh('telemetry');
  const front = virtualNode(mesh, 'front');
  const other = virtualNode(mesh, 'other');
  await publish(relay.store, mesh, [
    snapshotWithTargets(front, ['back', 'local-app'], { back: 'virtualNode/back-v1' }),
    snapshotWithTargets(other, ['back'], { back: 'virtualNode/back-v1' }),
  ]);
  return { mesh, front, other };
}

/** A raw LRS stream: requests written as given, responses and the end awaited. */
class LrsTestClient {
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<LoadStatsRequestMessage, LoadStatsResponseMessage>;
  readonly responses: LoadStatsResponseMessage[] = [];
  readonly ended: Promise<{ code: grpc.status; details: string }>;

  constructor(address: string, credentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}, metadata: Record<string, string> = {}) {
    this.client = new grpc.Client(address, credentials, options);
    const callMetadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(metadata)) callMetadata.set(key, value);
    this.call = this.client.makeBidiStreamRequest(STREAM_LOAD_STATS, encodeLoadStatsRequest, decodeLoadStatsResponse, callMetadata);
    this.call.on('data', (response: LoadStatsResponseMessage) => this.responses.push(response));
    this.ended = new Promise((resolve) => {
      this.call.on('status', (status: grpc.StatusObject) => resolve({ code: status.code, details: status.details }));
    });
    this.call.on('error', () => undefined);
  }

  send(request: LoadStatsRequestMessage): void {
    this.call.write(request);
  }

  /** The first response, once the stream is granted. */
  answered(): Promise<LoadStatsResponseMessage> {
    return eventually(async () => this.responses[0], 'a LoadStatsResponse');
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

function lrsClient(relay: TestRelay, credentials?: grpc.ChannelCredentials, options?: grpc.ChannelOptions, metadata?: Record<string, string>): LrsTestClient {
  const client = new LrsTestClient(relay.relay.adsAddress, credentials, options, metadata);
  onTestFinished(() => client.close());
  return client;
}

/** A report of `back` in two localities, as gRPC splits one: deltas since the last. */
function backReport(issued: number, succeeded: number, failed: number, inProgress: number): ClusterStatsMessage {
  const half = (n: number) => Math.floor(n / 2);
  return {
    cluster_name: 'back',
    upstream_locality_stats: [
      { locality: { region: 'r', zone: 'a' }, total_issued_requests: half(issued), total_successful_requests: half(succeeded), total_error_requests: half(failed), total_requests_in_progress: half(inProgress) },
      {
        locality: { region: 'r', zone: 'b' },
        total_issued_requests: issued - half(issued),
        total_successful_requests: succeeded - half(succeeded),
        total_error_requests: failed - half(failed),
        total_requests_in_progress: inProgress - half(inProgress),
      },
    ],
    load_report_interval: { nanos: INTERVAL_MS * 1e6 },
  };
}

async function telemetryRelay(store: TrafficStore | undefined, relayId?: string, extra: Parameters<typeof relayForTest>[0] = {}): Promise<TestRelay> {
  return relayForTest({ relayId, telemetry: { loadReportIntervalMs: INTERVAL_MS, windowSeconds: WINDOW_SECONDS, store }, ...extra });
}

/** Every window of the mesh written around now. */
async function storedWindows(store: TrafficStore, mesh: string): Promise<EdgeWindow[]> {
  const now = Math.floor(Date.now() / 1000);
  return store.windows(mesh, now - 120, now + 60);
}

function sum(windows: EdgeWindow[], field: 'issued' | 'succeeded' | 'failed' | 'dropped'): number {
  return windows.reduce((total, window) => total + window[field], 0);
}

const edgeLabels = (mesh: string) => ({ Mesh: mesh, VirtualNode: 'front', TargetVirtualNode: 'back-v1' });

describe('load reporting (LRS) at the relay', () => {
  it('answers a raw LRS client with the interval and send_all_clusters, and adds its reports per edge into the traffic table and /metrics', async () => {
    const store = await trafficStore();
    const relay = await telemetryRelay(store);
    const { mesh, front } = await publishMesh(relay);
    const client = lrsClient(relay);
    client.send({ node: { id: nodeIdOf(front) } });
    const response = await client.answered();
    // gRPC C-core crashes without the interval, and reports nothing without send_all_clusters.
    expect(response).toEqual({ clusters: [], send_all_clusters: true, load_reporting_interval: { seconds: 0, nanos: INTERVAL_MS * 1e6 }, report_endpoint_granularity: false });

    // Deltas (no node after the first request), per locality, and a cluster with no virtual node behind it.
    client.send({ cluster_stats: [backReport(10, 7, 2, 1)] });
    client.send({ cluster_stats: [backReport(5, 5, 1, 0), { cluster_name: 'local-app', upstream_locality_stats: [{ total_issued_requests: 4 }] }] });
    client.send({ cluster_stats: [{ ...backReport(6, 3, 3, 2), total_dropped_requests: 2, dropped_requests: [{ category: 'throttle', dropped_count: 2 }] }] });
    // A second instance of the same proxy on its own stream.
    const second = lrsClient(relay);
    second.send({ node: { id: nodeIdOf(front) }, cluster_stats: [backReport(4, 4, 0, 3)] });
    await second.answered();

    const labels = edgeLabels(mesh);
    await eventually(async () => ((await relay.metric('envoy_appmesh_RequestCountPerTarget', labels)) === 25 ? true : undefined), '25 requests on /metrics');
    expect(await relay.metric('envoy_appmesh_HTTPCode_Target_5XX_Count', labels)).toBe(6);
    expect(await relay.metric('meshline_relay_load_reports_total')).toBe(4);
    expect(await relay.metric('meshline_relay_load_reports_unattributed_total')).toBe(1);
    expect(await relay.metric('meshline_relay_reporting_streams', { service: 'lrs' })).toBe(2);

    await relay.close();
    const windows = await storedWindows(store, mesh);
    expect(windows.every((w) => w.source === 'virtualNode/front' && w.target === 'virtualNode/back-v1' && w.windowSeconds === WINDOW_SECONDS)).toBe(true);
    expect({ issued: sum(windows, 'issued'), succeeded: sum(windows, 'succeeded'), failed: sum(windows, 'failed'), dropped: sum(windows, 'dropped') }).toEqual({
      issued: 25,
      succeeded: 19,
      failed: 6,
      dropped: 2,
    });
    // One item per edge per window per relay.
    expect(new Set(windows.map((w) => `${w.windowStart}/${w.relay}`)).size).toBe(windows.length);
  });

  it('counts the calls of a real @grpc/grpc-js-xds client whose cluster names the relay as its lrs_server, within one report interval', async () => {
    const store = await trafficStore();
    const relay = await telemetryRelay(store);
    const backend = await startTestBackend('back-v1');
    onTestFinished(() => backend.close());
    const mesh = uniqueMesh('telemetry-xds');
    const front = virtualNode(mesh, 'front');
    const resources = serviceResources(localService('back', backend.port));
    // grpc-js-xds reports the load of a cluster whose lrs_server is `self` to its xDS server.
    (resources[CLUSTER] as Record<string, unknown>).lrs_server = { self: {} };
    const encoded = Object.fromEntries(Object.entries(resources).map(([typeUrl, resource]) => [typeUrl, [{ name: 'back', value: encodeResource(typeUrl as ResourceTypeUrl, resource) }]]));
    await publish(relay.store, mesh, [buildSnapshot(nodeIdOf(front), encoded, { back: 'virtualNode/back-v1' })]);

    const client = proxylessClient('back', { relayAddress: relay.relay.adsAddress, nodeId: nodeIdOf(front) });
    onTestFinished(() => client.close());
    const calls = 12;
    for (let i = 0; i < calls; i++) expect(await client.whoami()).toBe('back-v1');
    const labels = edgeLabels(mesh);
    await eventually(async () => ((await relay.metric('envoy_appmesh_RequestCountPerTarget', labels)) === calls ? true : undefined), `${calls} calls reported`, 5_000);
    expect(await relay.metric('envoy_appmesh_HTTPCode_Target_5XX_Count', labels)).toBe(0);
    // A report carries completed calls too, at most one interval later.
    await eventually(async () => {
      await relay.close();
      const windows = await storedWindows(store, mesh);
      return sum(windows, 'succeeded') === calls ? windows : undefined;
    }, 'the calls in the traffic table');
  });

  it('refuses (counts, logs once) a cluster stat of a cluster the proxy does not have, and keeps the stream', async () => {
    const relay = await telemetryRelay(undefined);
    const { mesh, front } = await publishMesh(relay);
    const client = lrsClient(relay);
    client.send({ node: { id: nodeIdOf(front) }, cluster_stats: [{ cluster_name: 'nope', upstream_locality_stats: [{ total_issued_requests: 9 }] }] });
    await client.answered();
    client.send({ cluster_stats: [{ cluster_name: 'nope', upstream_locality_stats: [{ total_issued_requests: 9 }] }, backReport(2, 2, 0, 0)] });
    await eventually(async () => ((await relay.metric('envoy_appmesh_RequestCountPerTarget', edgeLabels(mesh))) === 2 ? true : undefined), 'the known cluster counted');
    expect(await relay.metric('meshline_relay_load_reports_refused_total', { reason: 'unknown_cluster' })).toBe(2);
    expect(relay.logs.entries.filter((e) => e.msg === 'load report for an unknown cluster refused')).toHaveLength(1);
  });

  it('ends with PERMISSION_DENIED a stream whose later request names another proxy, counted', async () => {
    const relay = await telemetryRelay(undefined);
    const { mesh, front, other } = await publishMesh(relay);
    const client = lrsClient(relay);
    client.send({ node: { id: nodeIdOf(front) } });
    await client.answered();
    client.send({ node: { id: nodeIdOf(other) }, cluster_stats: [backReport(5, 5, 0, 0)] });
    expect(await client.ended).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    expect(await relay.metric('meshline_relay_load_reports_refused_total', { reason: 'another_proxy' })).toBe(1);
    expect(await relay.metric('envoy_appmesh_RequestCountPerTarget', edgeLabels(mesh))).toBe(0);
  });

  it('refuses, with the checks of ADS, a stream whose certificate names another proxy than its node', async () => {
    const ca = createTestCa('telemetry');
    onTestFinished(() => ca.remove());
    const server = ca.issue('relay', ['DNS:localhost'], 'serverAuth');
    const relay = await telemetryRelay(undefined, undefined, { tls: { certFile: server.certFile, keyFile: server.keyFile, clientCaFile: ca.caFile } });
    const { front, other } = await publishMesh(relay);
    const cert = ca.issue('front', [`URI:${nodeIdOf(front)}`], 'clientAuth');
    const options = { 'grpc.ssl_target_name_override': 'localhost', 'grpc.default_authority': 'localhost' };

    const impostor = lrsClient(relay, tlsCredentials(ca.ca, cert), options);
    impostor.send({ node: { id: nodeIdOf(other) }, cluster_stats: [backReport(5, 5, 0, 0)] });
    expect(await impostor.ended).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    expect(await relay.metric('meshline_relay_access_refused_total', { reason: 'certificate_names_another_proxy' })).toBe(1);

    const honest = lrsClient(relay, tlsCredentials(ca.ca, cert), options);
    honest.send({ node: { id: nodeIdOf(front) } });
    expect((await honest.answered()).send_all_clusters).toBe(true);
  });

  it('with access keys, serves a stream whose proxy token names its node, refuses another proxy\'s, and ends it when the key is revoked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshline-telemetry-keys-'));
    const tableName = `telemetry-keys-${randomUUID().slice(0, 8)}`;
    const dynamodb = new DynamoDBClient({ region: stack.region, endpoint: stack.endpoints.dynamodb, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    onTestFinished(async () => {
      await dynamodb.send(new DeleteTableCommand({ TableName: tableName }));
      dynamodb.destroy();
      rmSync(dir, { recursive: true, force: true });
    });
    await ensureKeysTable(dynamodb, tableName);
    const keys = new AccessKeyStore({ client: DynamoDBDocumentClient.from(dynamodb), tableName, sealer: new FileSecretSealer(join(dir, 'auth.key')) });
    const relay = await telemetryRelay(undefined, undefined, { access: { keys: { store: keys, region: stack.region } }, keyRecheckMs: 200 });
    const { mesh, front, other } = await publishMesh(relay);
    const { key, secretAccessKey } = await keys.create({ role: 'proxy', proxies: [nodeIdOf(front)] });
    const bearer = { authorization: `Bearer ${formatProxyToken(key.accessKeyId, secretAccessKey)}` };

    const impostor = lrsClient(relay, undefined, undefined, bearer);
    impostor.send({ node: { id: nodeIdOf(other) } });
    expect(await impostor.ended).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    expect(await relay.metric('meshline_relay_access_refused_total', { reason: 'identity_names_another_proxy' })).toBe(1);

    const client = lrsClient(relay, undefined, undefined, bearer);
    client.send({ node: { id: nodeIdOf(front) }, cluster_stats: [backReport(3, 3, 0, 0)] });
    await client.answered();
    await eventually(async () => ((await relay.metric('envoy_appmesh_RequestCountPerTarget', edgeLabels(mesh))) === 3 ? true : undefined), 'the report counted');
    await keys.revoke(key.accessKeyId);
    expect(await client.ended).toMatchObject({ code: grpc.status.UNAUTHENTICATED });
    expect(await relay.metric('meshline_relay_access_refused_total', { reason: 'key_revoked' })).toBe(1);
  });

  it('keeps totals exact when a proxy moves to a second relay in the middle of a window', async () => {
    const store = await trafficStore();
    const first = await telemetryRelay(store, `relay-a-${randomUUID().slice(0, 4)}`);
    const second = await telemetryRelay(store, `relay-b-${randomUUID().slice(0, 4)}`);
    const { mesh, front } = await publishMesh(first);
    // Start right after a window boundary so both relays report into the same window.
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
    const before = lrsClient(first);
    before.send({ node: { id: nodeIdOf(front) }, cluster_stats: [backReport(30, 28, 2, 1)] });
    await before.answered();
    before.send({ cluster_stats: [backReport(12, 12, 0, 0)] });
    await eventually(async () => ((await first.metric('envoy_appmesh_RequestCountPerTarget', edgeLabels(mesh))) === 42 ? true : undefined), 'the first relay counted');
    before.close();
    const after = lrsClient(second);
    after.send({ node: { id: nodeIdOf(front) }, cluster_stats: [backReport(7, 6, 1, 0)] });
    await after.answered();
    await eventually(async () => ((await second.metric('envoy_appmesh_RequestCountPerTarget', edgeLabels(mesh))) === 7 ? true : undefined), 'the second relay counted');

    await Promise.all([first.close(), second.close()]);
    const windows = await storedWindows(store, mesh);
    expect({ issued: sum(windows, 'issued'), succeeded: sum(windows, 'succeeded'), failed: sum(windows, 'failed') }).toEqual({ issued: 49, succeeded: 46, failed: 3 });
    const byRelay = (id: string) => windows.filter((w) => w.relay.startsWith(id)).reduce((n, w) => n + w.issued, 0);
    expect([byRelay('relay-a'), byRelay('relay-b')]).toEqual([42, 7]);
  });
});

/** A raw metrics service stream (client streaming: one empty response at the end). */
function metricsClient(relay: TestRelay): { send(message: StreamMetricsMessageObject | Buffer): void; ended: Promise<{ code: grpc.status; details: string }>; close(): void } {
  const client = new grpc.Client(relay.relay.adsAddress, grpc.credentials.createInsecure());
  let resolveEnd: (end: { code: grpc.status; details: string }) => void = () => undefined;
  const ended = new Promise<{ code: grpc.status; details: string }>((resolve) => (resolveEnd = resolve));
  const call = client.makeClientStreamRequest(
    STREAM_METRICS,
    (message: StreamMetricsMessageObject | Buffer) => (Buffer.isBuffer(message) ? message : encodeStreamMetricsMessage(message)),
    (bytes: Buffer) => bytes,
    (error: grpc.ServiceError | null) => resolveEnd(error ? { code: error.code, details: error.details } : { code: grpc.status.OK, details: '' }),
  );
  const handle = {
    send: (message: StreamMetricsMessageObject | Buffer) => void call.write(message),
    ended,
    close: () => {
      call.cancel();
      client.close();
    },
  };
  onTestFinished(() => handle.close());
  return handle;
}

describe("Envoy's metrics service at the relay", () => {
  it('decodes messages shaped as Envoy sends them (stat names and tag-extracted names) into latency and response classes per edge', async () => {
    const store = await trafficStore();
    const relay = await telemetryRelay(store);
    const { mesh, front } = await publishMesh(relay);
    const client = metricsClient(relay);
    client.send({
      identifier: { node: { id: nodeIdOf(front) } },
      envoy_metrics: [
        // emit_tags_as_labels false: the stat names.
        envoyHistogram('cluster.back.upstream_rq_time', [3, 7, 40, 120]),
        envoyCounter('cluster.back.upstream_rq_2xx', 3),
        envoyCounter('cluster.back.upstream_rq_5xx', 1),
        envoyCounter('cluster.back.upstream_rq_200', 3),
        // Envoy's own clusters: ignored.
        envoyHistogram('cluster.xds_cluster.upstream_rq_time', [1]),
        envoyCounter('server.uptime', 12),
      ],
    });
    // emit_tags_as_labels true: tag-extracted names with Envoy's tags.
    const cluster = { name: 'envoy.cluster_name', value: 'back' };
    client.send({
      envoy_metrics: [
        envoyHistogram('cluster.upstream_rq_time', [2, 9000], [cluster]),
        envoyCounter('cluster.upstream_rq_xx', 2, [cluster, { name: 'envoy.response_code_class', value: '2' }]),
        envoyCounter('cluster.upstream_rq_xx', 0, [cluster, { name: 'envoy.response_code_class', value: '4' }]),
      ],
    });
    const labels = edgeLabels(mesh);
    await eventually(async () => ((await relay.metric('envoy_appmesh_TargetResponseTime_count', labels)) === 6 ? true : undefined), '6 request times on /metrics');
    expect(await relay.metric('envoy_appmesh_TargetResponseTime_bucket', { ...labels, le: '5' })).toBe(2);
    expect(await relay.metric('envoy_appmesh_TargetResponseTime_bucket', { ...labels, le: '10000' })).toBe(6);
    expect(await relay.metric('envoy_appmesh_TargetResponseTime_sum', labels)).toBe(3 + 7 + 40 + 120 + 2 + 9000);
    expect(await relay.metric('meshline_relay_metrics_messages_total')).toBe(2);

    await relay.close();
    expect(await client.ended).toEqual({ code: grpc.status.OK, details: '' });
    const windows = await storedWindows(store, mesh);
    const codes: Record<string, number> = {};
    let count = 0;
    const buckets = new Map<number, number>();
    for (const window of windows) {
      for (const [code, n] of Object.entries(window.responseCodes ?? {})) codes[code] = (codes[code] ?? 0) + n;
      count += window.latency?.count ?? 0;
      for (const { le, count: n } of window.latency?.buckets ?? []) buckets.set(le, (buckets.get(le) ?? 0) + n);
    }
    expect(codes).toEqual({ '2xx': 5, '5xx': 1 });
    expect(count).toBe(6);
    expect(Object.fromEntries([...buckets].sort(([a], [b]) => a - b))).toEqual({ 5: 2, 10: 1, 50: 1, 250: 1, 10000: 1 });
  });

  it('ends with PERMISSION_DENIED a metrics stream whose later message names another proxy', async () => {
    const relay = await telemetryRelay(undefined);
    const { front, other } = await publishMesh(relay);
    const client = metricsClient(relay);
    client.send({ identifier: { node: { id: nodeIdOf(front) } }, envoy_metrics: [] });
    await eventually(async () => ((await relay.metric('meshline_relay_metrics_messages_total')) === 1 ? true : undefined), 'the first message');
    // Let the identity checks finish before the impostor message.
    await new Promise((resolve) => setTimeout(resolve, 200));
    client.send({ identifier: { node: { id: nodeIdOf(other) } }, envoy_metrics: [envoyCounter('cluster.back.upstream_rq_2xx', 1)] });
    expect(await client.ended).toMatchObject({ code: grpc.status.PERMISSION_DENIED });
    expect(await relay.metric('meshline_relay_metrics_refused_total', { reason: 'another_proxy' })).toBe(1);
  });
});

describe('garbage on the telemetry services', () => {
  it('never crashes the relay, which keeps serving ADS (fast-check, fixed seed)', async () => {
    const relay = await startTestRelay({ telemetry: { loadReportIntervalMs: INTERVAL_MS, windowSeconds: WINDOW_SECONDS } });
    onTestFinished(() => relay.close());
    const { front } = await publishMesh(relay);
    const valid = [
      encodeLoadStatsRequest({ node: { id: nodeIdOf(front) }, cluster_stats: [backReport(3, 2, 1, 0)] }),
      encodeStreamMetricsMessage({ identifier: { node: { id: nodeIdOf(front) } }, envoy_metrics: [envoyHistogram('cluster.back.upstream_rq_time', [1, 2]), envoyCounter('cluster.back.upstream_rq_2xx', 2)] }),
    ];
    // Random bytes, and valid messages with bytes flipped, cut or appended.
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
      fc
        .tuple(fc.constantFrom(...valid), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 6 }), fc.nat(), fc.uint8Array({ maxLength: 20 }))
        .map(([message, flips, cut, tail]) => {
          const bytes = Buffer.from(message);
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          return Buffer.concat([bytes.subarray(0, bytes.length - (cut % 8)), tail]);
        }),
    );
    const rawLrs = (messages: Buffer[]) => {
      const client = new grpc.Client(relay.relay.adsAddress, grpc.credentials.createInsecure());
      const call = client.makeBidiStreamRequest(STREAM_LOAD_STATS, (b: Buffer) => b, (b: Buffer) => b);
      call.on('error', () => undefined);
      call.on('data', () => undefined);
      for (const message of messages) call.write(message);
      return new Promise<void>((resolve) => {
        call.on('status', () => resolve());
        setTimeout(() => {
          call.cancel();
          resolve();
        }, 150);
      }).finally(() => client.close());
    };
    const rawMetrics = (messages: Buffer[]) => {
      const client = new grpc.Client(relay.relay.adsAddress, grpc.credentials.createInsecure());
      return new Promise<void>((resolve) => {
        const call = client.makeClientStreamRequest(STREAM_METRICS, (b: Buffer) => b, (b: Buffer) => b, () => resolve());
        for (const message of messages) call.write(message);
        setTimeout(() => {
          call.cancel();
          resolve();
        }, 150);
      }).finally(() => client.close());
    };
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.boolean(), fc.array(garbage, { minLength: 1, maxLength: 4 }), async (lrs, validFirst, messages) => {
        const stream = validFirst ? [valid[lrs ? 0 : 1] as Buffer, ...messages] : messages;
        await (lrs ? rawLrs(stream) : rawMetrics(stream));
      }),
      { seed: 20261207, numRuns: 120 },
    );

    const ads = new AdsTestClient(relay.relay.adsAddress, nodeIdOf(front));
    onTestFinished(() => ads.close());
    ads.subscribe(CLUSTER);
    expect((await ads.next()).type_url).toBe(CLUSTER);
    expect(relay.logs.entries.filter((e) => e.level === 'error')).toEqual([]);
  }, 60_000);
});

describe('the relay process', () => {
  it('is configured by environment: it writes windows to MESHLINE_TRAFFIC_TABLE and, with MESHLINE_TRAFFIC_EMF=on, prints EMF lines on stdout', async () => {
    const tableName = await trafficTable;
    const { store: snapshots } = stackBucket();
    const mesh = uniqueMesh('telemetry-process');
    const front = virtualNode(mesh, 'front');
    await publish(snapshots, mesh, [snapshotWithTargets(front, ['back'], { back: 'virtualNode/back-v1' })]);
    const relay = spawnRelay({
      MESHLINE_DYNAMODB_ENDPOINT: stack.endpoints.dynamodb,
      MESHLINE_TRAFFIC_TABLE: tableName,
      MESHLINE_TRAFFIC_WINDOW_SECONDS: '1',
      MESHLINE_LOAD_REPORT_INTERVAL_MS: '250',
      MESHLINE_TRAFFIC_EMF: 'on',
    });
    const { ads } = await relay.listening();
    const client = new LrsTestClient(ads);
    onTestFinished(() => client.close());
    client.send({ node: { id: nodeIdOf(front) }, cluster_stats: [backReport(8, 6, 2, 0)] });
    expect((await client.answered()).load_reporting_interval).toEqual({ seconds: 0, nanos: 250e6 });

    const line = await eventually(async () => relay.stdout.find((l) => l.includes(mesh)), 'an EMF line', 5_000);
    expect(JSON.parse(line)).toMatchObject({ Mesh: mesh, VirtualNode: 'front', TargetVirtualNode: 'back-v1', RequestCountPerTarget: 8, HTTPCode_Target_5XX_Count: 2 });
    const windows = await eventually(async () => {
      const stored = await storedWindows(await trafficStore(), mesh);
      return sum(stored, 'issued') === 8 ? stored : undefined;
    }, 'the window in the traffic table', 5_000);
    expect(sum(windows, 'failed')).toBe(2);
    client.close();
    relay.child.kill('SIGTERM');
    expect(await relay.exited).toBe(0);
  });
});
