import { randomUUID } from 'node:crypto';
import { buildSnapshot, type Manifest, type ManifestEntry, type Snapshot, type SnapshotStore } from '../../shared/store/snapshots.js';
import { encodeResource, type ProtoObject } from '../../shared/xds/encode.js';
import { nodeIdOf, parseNodeId, proxyKey, type ProxyId } from '../../shared/xds/node-id.js';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, type ResourceTypeUrl } from '../../shared/xds/type-urls.js';

/** An upstream a proxy reaches by name: one listener, route, cluster and endpoint set each. */
export interface ServiceFixture {
  /** The xDS target name (`xds:///<name>`): names the listener, route configuration and cluster. */
  name: string;
  /** Endpoints as IP and port (grpc-js-xds accepts IP addresses only). */
  endpoints: { host: string; port: number }[];
  /** Changes the cluster's bytes (its alt_stat_name) and nothing else: a new CDS version alone. */
  tag?: string;
}

const ADS = { ads: {}, resource_api_version: 'V3' };

/**
 * The four resources a proxyless gRPC client needs for `xds:///<name>`: an API listener whose
 * HttpConnectionManager takes its routes from RDS over ADS (router filter last, as grpc-js-xds
 * demands), a route configuration sending everything to one cluster, an EDS cluster, and its
 * endpoints in one weighted locality (grpc-js-xds skips a locality without a weight).
 */
export function serviceResources(service: ServiceFixture): Record<ResourceTypeUrl, ProtoObject> {
  return {
    [LISTENER]: {
      name: service.name,
      api_listener: {
        api_listener: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          stat_prefix: service.name,
          rds: { config_source: ADS, route_config_name: service.name },
          http_filters: [
            { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } },
          ],
        },
      },
    },
    [ROUTE]: {
      name: service.name,
      virtual_hosts: [
        {
          name: service.name,
          domains: [service.name],
          routes: [{ match: { prefix: '' }, route: { cluster: service.name } }],
        },
      ],
    },
    [CLUSTER]: {
      name: service.name,
      type: 'EDS',
      eds_cluster_config: { eds_config: ADS },
      lb_policy: 'ROUND_ROBIN',
      connect_timeout: { seconds: 1 },
      ...(service.tag ? { alt_stat_name: service.tag } : {}),
    },
    [ENDPOINT]: {
      cluster_name: service.name,
      endpoints: [
        {
          locality: { region: 'local', zone: 'local-a' },
          load_balancing_weight: { value: 1 },
          lb_endpoints: service.endpoints.map(({ host, port }) => ({
            endpoint: { address: { socket_address: { address: host, port_value: port } } },
          })),
        },
      ],
    },
  };
}

/** A proxy's snapshot serving the given services, each resource encoded (and so validated). */
export function proxySnapshot(proxy: ProxyId, services: ServiceFixture[]): Snapshot {
  const encoded: Record<ResourceTypeUrl, { name: string; value: Uint8Array }[]> = {
    [CLUSTER]: [],
    [ENDPOINT]: [],
    [LISTENER]: [],
    [ROUTE]: [],
  };
  for (const service of services) {
    for (const [typeUrl, resource] of Object.entries(serviceResources(service)) as [ResourceTypeUrl, ProtoObject][]) {
      encoded[typeUrl].push({ name: service.name, value: encodeResource(typeUrl, resource) });
    }
  }
  return buildSnapshot(nodeIdOf(proxy), encoded);
}

/** A virtual node of a mesh. */
export function virtualNode(mesh: string, name: string): ProxyId {
  return { mesh, kind: 'virtualNode', name };
}

/**
 * Publishes snapshots the way the compiler does: every snapshot first, the mesh's manifest
 * last. Returns the manifest entries by proxy key.
 */
export async function publish(store: SnapshotStore, mesh: string, snapshots: Snapshot[]): Promise<Record<string, ManifestEntry>> {
  const proxies: Manifest['proxies'] = {};
  for (const snapshot of snapshots) {
    const proxy = parseNodeId(snapshot.proxy);
    if (!proxy) throw new Error(`snapshot of ${snapshot.proxy} does not name a proxy`);
    proxies[proxyKey(proxy)] = await store.putSnapshot(mesh, snapshot, { proxy: snapshot.proxy, version: snapshot.version });
  }
  await store.putManifest({ mesh, proxies, errors: {} });
  return proxies;
}


/** A mesh name no other test uses: `<prefix>-<random>`. */
export function uniqueMesh(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A service with one endpoint on loopback (`tag` changes only its cluster's bytes). */
export function localService(name: string, port: number, tag?: string): ServiceFixture {
  return { name, endpoints: [{ host: '127.0.0.1', port }], ...(tag ? { tag } : {}) };
}
