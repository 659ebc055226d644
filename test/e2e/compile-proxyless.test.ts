/**
 * Every proxyless snapshot of the compiler's golden set, served by the relay to a real
 * proxyless client (@grpc/grpc-js-xds), is accepted whole: for each api listener of each
 * virtual node, the client fetches the listener, its route configuration, every cluster the
 * routes name and their endpoint assignments, and ACKs each response with no error_detail.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { register as registerXds } from '@grpc/grpc-js-xds';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileMesh, type CompiledProxy } from '../../shared/compiler/index.js';
import type { Snapshot } from '../../shared/store/snapshots.js';
import { resourceToJson } from '../../shared/xds/encode.js';
import { CLUSTER, LISTENER, ROUTE, SHORT_NAMES } from '../../shared/xds/type-urls.js';
import { caseState, goldenCases } from '../fixtures/compiler/cases.js';
import { startTestRelay, type LogEntry, type TestRelay } from '../support/xds-relay.js';

registerXds();

const BOOTSTRAP_OPTION = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';

let relay: TestRelay;
/**
 * Clients stay open until the relay is gone: grpc-js-xds 1.14 throws (unhandled) when a
 * response reaches a channel closed while it was resolving.
 */
const clients: grpc.Client[] = [];

beforeAll(async () => {
  relay = await startTestRelay();
});

afterAll(async () => {
  await relay.close();
  for (const client of clients) client.close();
});

type Json = Record<string, unknown>;

function decoded(snapshot: Snapshot, typeUrl: typeof LISTENER | typeof ROUTE | typeof CLUSTER): Map<string, Json> {
  return new Map(snapshot.resources[typeUrl].map((r) => [r.name, resourceToJson(typeUrl, r.value) as Json]));
}

/** What a proxyless client of one listener fetches: how many of each type, per the snapshot. */
function expectedFetch(snapshot: Snapshot, listener: string): Record<string, number> {
  const listeners = decoded(snapshot, LISTENER);
  const routes = decoded(snapshot, ROUTE);
  const clusters = decoded(snapshot, CLUSTER);
  const hcm = ((listeners.get(listener)?.api_listener as Json).api_listener as Json).rds as Json;
  const routeConfig = routes.get(hcm.route_config_name as string) as Json;
  const names = new Set<string>();
  for (const host of routeConfig.virtual_hosts as Json[]) {
    for (const route of host.routes as Json[]) {
      const action = route.route as Json;
      if (typeof action.cluster === 'string') names.add(action.cluster);
      for (const c of ((action.weighted_clusters as Json | undefined)?.clusters as Json[] | undefined) ?? []) names.add(c.name as string);
    }
  }
  const eds = new Set<string>();
  for (const name of names) {
    const cluster = clusters.get(name) as Json;
    if (cluster.type === 'EDS') eds.add(((cluster.eds_cluster_config as Json).service_name as string | undefined) ?? name);
  }
  return { listeners: 1, routes: 1, clusters: names.size, ...(eds.size ? { endpoints: eds.size } : {}) };
}

/** The certificate provider instances the snapshot's clusters name (gRFC A29), for the bootstrap. */
function certificateProviders(snapshot: Snapshot): Record<string, unknown> {
  const names = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        if ((k === 'ca_certificate_provider_instance' || k === 'tls_certificate_provider_instance') && v && typeof v === 'object') {
          names.add((v as Json).instance_name as string);
        } else visit(v);
      }
    }
  };
  for (const r of snapshot.resources[CLUSTER]) visit(resourceToJson(CLUSTER, r.value));
  const config = { certificate_file: '/certs/cert.pem', private_key_file: '/certs/key.pem', ca_certificate_file: '/certs/ca.pem', refresh_interval: '600s' };
  return Object.fromEntries([...names].sort().map((name) => [name, { plugin_name: 'file_watcher', config }]));
}

/**
 * True once, for every type the client fetches, the relay's latest response to it holds the
 * expected number of resources and the client has ACKed that response's version.
 */
function fetchedAndAcked(entries: LogEntry[], nodeId: string, expected: Record<string, number>): boolean {
  return Object.entries(expected).every(([type, count]) => {
    const sent = entries.filter((e) => e.node === nodeId && e.type === type && e.msg === 'response sent');
    const last = sent.at(-1);
    if (!last || last.resources !== count) return false;
    return entries.some((e) => e.node === nodeId && e.type === type && e.msg === 'ACK' && e.version === last.version);
  });
}

async function publishCase(mesh: string, output: Map<string, CompiledProxy>): Promise<void> {
  const proxies: Record<string, Awaited<ReturnType<typeof relay.store.putSnapshot>>> = {};
  for (const [key, proxy] of output) proxies[key] = await relay.store.putSnapshot(mesh, proxy.snapshot, proxy.twin);
  await relay.store.putManifest({ mesh, proxies, errors: {} });
}

describe('golden proxyless snapshots through the relay to @grpc/grpc-js-xds', () => {
  for (const { name, input } of goldenCases()) {
    it(`${name}: every api listener is fetched whole and ACKed with no error_detail`, async () => {
      const mesh = `golden-${name}-${randomUUID().slice(0, 8)}`;
      const outcome = compileMesh(caseState({ ...input, mesh }));
      const output = new Map<string, CompiledProxy>();
      for (const [key, o] of outcome) {
        if ('error' in o) throw new Error(`${key}: ${o.error}`);
        output.set(key, o);
      }
      await publishCase(mesh, output);
      let checked = 0;
      for (const [, proxy] of output) {
        const { snapshot } = proxy;
        const nodeId = snapshot.proxy;
        const apiListeners = snapshot.resources[LISTENER].filter((r) => r.onlyByName).map((r) => r.name);
        for (const listener of apiListeners) {
          const expected = expectedFetch(snapshot, listener);
          const bootstrap = {
            xds_servers: [{ server_uri: relay.relay.adsAddress, channel_creds: [{ type: 'insecure' }] }],
            node: { id: nodeId, locality: { region: 'local', zone: 'local-a' } },
            certificate_providers: certificateProviders(snapshot),
          };
          const from = relay.logs.entries.length;
          const client = new grpc.Client(`xds:///${listener}`, grpc.credentials.createInsecure(), { [BOOTSTRAP_OPTION]: JSON.stringify(bootstrap) });
          clients.push(client);
          // Resolving the target makes the client fetch the listener and all that it names.
          client.getChannel().getConnectivityState(true);
          await relay.logs.waitFor(() => fetchedAndAcked(relay.logs.entries.slice(from), nodeId, expected), 20_000).catch(() => {
            throw new Error(`${nodeId} ${listener}: expected ${JSON.stringify(expected)}; relay log:\n${relay.logs.entries.slice(from).map((e) => JSON.stringify(e)).join('\n')}`);
          });
          const nacks = relay.logs.entries.slice(from).filter((e) => e.node === nodeId && e.msg.startsWith('NACK'));
          expect(nacks, `${nodeId} ${listener}`).toEqual([]);
          checked++;
        }
      }
      // Gateways, servers alone and tcp-only clients have no proxyless form.
      const proxyless = [...output.values()].some((p) => p.snapshot.resources[LISTENER].some((r) => r.onlyByName));
      expect(checked > 0).toBe(proxyless);
      for (const type of Object.values(SHORT_NAMES)) expect(await relay.metric('meshline_relay_nacks_total', { type })).toBe(0);
    });
  }
});
