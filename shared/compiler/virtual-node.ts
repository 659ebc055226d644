import { isIP } from 'node:net';
import type { StoredResource } from '../store/repository.js';
import type { ProtoObject } from '../xds/encode.js';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from '../xds/type-urls.js';
import type { MeshState } from './mesh-state.js';
import {
  EGRESS_LISTENER,
  EGRESS_PORT,
  INGRESS_LISTENER,
  INGRESS_PORT,
  PASSTHROUGH_CLUSTER,
  egressCluster,
  egressRouteConfig,
  ingressCluster,
  ingressRouteConfig,
  type Protocol,
} from './names.js';
import { CompileError, type ProxyResources, addResource, emptyResources } from './resources.js';

type Json = Record<string, unknown>;

const ADS: ProtoObject = { ads: {}, resource_api_version: 'V3' };
const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const TCP_PROXY_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const ORIGINAL_DST_TYPE = 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst';
const HTTP_PROTOCOL_OPTIONS_TYPE = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

interface PortMapping {
  port: number;
  protocol: Protocol;
}

function obj(value: unknown): Json {
  return value && typeof value === 'object' ? (value as Json) : {};
}

function list(value: unknown): Json[] {
  return Array.isArray(value) ? (value as Json[]) : [];
}

function portMappings(node: StoredResource): PortMapping[] {
  return list(obj(node.spec).listeners).map((l) => obj(l.portMapping) as unknown as PortMapping);
}

function isHttpFamily(protocol: Protocol): boolean {
  return protocol !== 'tcp';
}

function originalDstFilter(): ProtoObject {
  return { name: 'envoy.filters.listener.original_dst', typed_config: { '@type': ORIGINAL_DST_TYPE } };
}

function httpConnectionManager(statPrefix: string, routeConfigName: string): ProtoObject {
  return {
    '@type': HCM_TYPE,
    stat_prefix: statPrefix,
    rds: { route_config_name: routeConfigName, config_source: ADS },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } }],
  };
}

function hcmFilter(statPrefix: string, routeConfigName: string): ProtoObject {
  return { name: 'envoy.filters.network.http_connection_manager', typed_config: httpConnectionManager(statPrefix, routeConfigName) };
}

function tcpProxyFilter(statPrefix: string, cluster: string): ProtoObject {
  return { name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP_PROXY_TYPE, stat_prefix: statPrefix, cluster } };
}

/** HTTP/2 to the upstream for http2 and grpc port mappings. */
function upstreamProtocolOptions(protocol: Protocol): ProtoObject {
  if (protocol !== 'http2' && protocol !== 'grpc') return {};
  return {
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': HTTP_PROTOCOL_OPTIONS_TYPE,
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
  };
}

function socketAddress(address: string, port: number): ProtoObject {
  return { socket_address: { address, port_value: port } };
}

/**
 * A load assignment: one locality, present (proxyless gRPC rejects an unset one) and with an
 * explicit weight (proxyless gRPC skips one without).
 */
function loadAssignment(clusterName: string, hosts: string[], port: number): ProtoObject {
  return {
    cluster_name: clusterName,
    endpoints: hosts.length
      ? [{ locality: {}, load_balancing_weight: { value: 1 }, lb_endpoints: hosts.map((h) => ({ endpoint: { address: socketAddress(h, port) } })) }]
      : [],
  };
}

/**
 * The ingress side of a virtual node: one filter chain per listener port mapping on App Mesh's
 * ingress listener, each sending to the local application on that port.
 */
function compileIngress(state: MeshState, node: StoredResource, out: ProxyResources): void {
  const mappings = portMappings(node);
  if (mappings.length === 0) return;
  const chains: ProtoObject[] = [];
  for (const { port, protocol } of mappings) {
    const cluster = ingressCluster(state.meshName, node.name, protocol, port);
    addResource(out, CLUSTER, cluster, {
      name: cluster,
      type: 'STATIC',
      connect_timeout: { seconds: 1 },
      load_assignment: loadAssignment(cluster, ['127.0.0.1'], port),
      ...upstreamProtocolOptions(protocol),
    });
    if (isHttpFamily(protocol)) {
      const routeConfig = ingressRouteConfig(protocol, port);
      addResource(out, ROUTE, routeConfig, {
        name: routeConfig,
        virtual_hosts: [{ name: `${node.name}_${port}`, domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }],
      });
      chains.push({ filter_chain_match: { destination_port: { value: port } }, filters: [hcmFilter(routeConfig, routeConfig)] });
    } else {
      chains.push({ filter_chain_match: { destination_port: { value: port } }, filters: [tcpProxyFilter(cluster, cluster)] });
    }
  }
  addResource(out, LISTENER, INGRESS_LISTENER, {
    name: INGRESS_LISTENER,
    address: socketAddress('0.0.0.0', INGRESS_PORT),
    listener_filters: [originalDstFilter()],
    filter_chains: chains,
  });
}

/** A backend virtual node's cluster (and endpoints) on one of its port mappings. */
function addNodeCluster(state: MeshState, target: StoredResource, mapping: PortMapping, out: ProxyResources): string {
  const name = egressCluster(state.meshName, target.name, mapping.protocol, mapping.port);
  const discovery = obj(obj(target.spec).serviceDiscovery);
  const dns = discovery.dns ? obj(discovery.dns) : undefined;
  const common = { name, connect_timeout: { seconds: 1 }, ...upstreamProtocolOptions(mapping.protocol) };
  if (dns && typeof dns.hostname === 'string' && !isIP(dns.hostname)) {
    addResource(out, CLUSTER, name, {
      ...common,
      type: dns.responseType === 'ENDPOINTS' ? 'STRICT_DNS' : 'LOGICAL_DNS',
      load_assignment: loadAssignment(name, [dns.hostname], mapping.port),
    });
    return name;
  }
  // An IP address, or Cloud Map instances: endpoints reach the proxy by EDS, so they can change
  // without touching the cluster.
  addResource(out, CLUSTER, name, { ...common, type: 'EDS', eds_cluster_config: { eds_config: ADS } });
  const hosts = dns && typeof dns.hostname === 'string' ? [dns.hostname] : [];
  addResource(out, ENDPOINT, name, loadAssignment(name, hosts, mapping.port));
  return name;
}

interface WeightedTarget {
  virtualNode: string;
  weight: number;
  port?: number;
}

/** The cluster of one weighted target: the target node's port mapping it names (or its only one). */
function targetCluster(state: MeshState, target: WeightedTarget, routerPort: number, out: ProxyResources): { name: string; weight: number } {
  const node = state.virtualNodes.get(target.virtualNode);
  if (!node) throw new CompileError(`route target virtual node ${target.virtualNode} does not exist`);
  const mappings = portMappings(node);
  const wanted = target.port ?? (mappings.length === 1 ? mappings[0]?.port : routerPort);
  const mapping = mappings.find((m) => m.port === wanted);
  if (!mapping) throw new CompileError(`virtual node ${node.name} has no listener on port ${String(wanted)}`);
  return { name: addNodeCluster(state, node, mapping, out), weight: target.weight };
}

/**
 * Weighted clusters as App Mesh meant them: relative weights. total_weight is set to their sum,
 * because older gRPC xDS clients insist the weights add up to it (default 100).
 */
function weightedClusters(clusters: { name: string; weight: number }[]): ProtoObject {
  const live = clusters.filter((c) => c.weight > 0);
  if (live.length === 0) throw new CompileError('every weighted target of a route has weight 0');
  if (live.length === 1) return { cluster: live[0]?.name };
  return { weighted_clusters: { clusters: live.map((c) => ({ name: c.name, weight: { value: c.weight } })) } };
}

const ROUTE_TYPES = ['httpRoute', 'http2Route', 'grpcRoute'] as const;

/** The Envoy route match of an App Mesh http/http2 or grpc route match. */
function routeMatch(type: (typeof ROUTE_TYPES)[number], match: Json): ProtoObject {
  if (type === 'grpcRoute') {
    const service = typeof match.serviceName === 'string' ? match.serviceName : undefined;
    const method = typeof match.methodName === 'string' ? match.methodName : undefined;
    if (service && method) return { path: `/${service}/${method}` };
    if (service) return { prefix: `/${service}/` };
    return { prefix: '/' };
  }
  const path = obj(match.path);
  if (typeof path.exact === 'string') return { path: path.exact };
  if (typeof path.regex === 'string') return { safe_regex: { regex: path.regex } };
  return { prefix: typeof match.prefix === 'string' ? match.prefix : '/' };
}

/** The Envoy routes of a virtual router, in App Mesh's order: priority first, then name. */
function routerRoutes(state: MeshState, router: StoredResource, port: number, out: ProxyResources): ProtoObject[] {
  const routes = [...(state.routes.get(router.name) ?? [])].sort((a, b) => {
    const pa = Number(obj(a.spec).priority ?? 1001);
    const pb = Number(obj(b.spec).priority ?? 1001);
    return pa - pb || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  });
  const envoyRoutes: ProtoObject[] = [];
  for (const route of routes) {
    const spec = obj(route.spec);
    for (const type of ROUTE_TYPES) {
      if (!spec[type]) continue;
      const httpRoute = obj(spec[type]);
      const matchPort = obj(httpRoute.match).port;
      if (typeof matchPort === 'number' && matchPort !== port) continue;
      const targets = list(obj(httpRoute.action).weightedTargets) as unknown as WeightedTarget[];
      envoyRoutes.push({
        name: route.name,
        match: routeMatch(type, obj(httpRoute.match)),
        route: weightedClusters(targets.map((t) => targetCluster(state, t, port, out))),
      });
    }
  }
  return envoyRoutes;
}

/** The port mappings a virtual service is reachable on, and the routes behind each. */
function serviceRoutes(state: MeshState, service: StoredResource, out: ProxyResources): Map<number, { protocol: Protocol; routes: ProtoObject[]; tcpCluster?: string }> {
  const provider = obj(obj(service.spec).provider);
  const result = new Map<number, { protocol: Protocol; routes: ProtoObject[]; tcpCluster?: string }>();
  const nodeName = obj(provider.virtualNode).virtualNodeName;
  const routerName = obj(provider.virtualRouter).virtualRouterName;
  if (typeof nodeName === 'string') {
    const node = state.virtualNodes.get(nodeName);
    if (!node) throw new CompileError(`provider virtual node ${nodeName} of virtual service ${service.name} does not exist`);
    for (const mapping of portMappings(node)) {
      const cluster = addNodeCluster(state, node, mapping, out);
      result.set(mapping.port, {
        protocol: mapping.protocol,
        routes: [{ match: { prefix: '/' }, route: { cluster } }],
        tcpCluster: cluster,
      });
    }
  } else if (typeof routerName === 'string') {
    const router = state.virtualRouters.get(routerName);
    if (!router) throw new CompileError(`provider virtual router ${routerName} of virtual service ${service.name} does not exist`);
    for (const listener of list(obj(router.spec).listeners)) {
      const mapping = obj(listener.portMapping) as unknown as PortMapping;
      if (mapping.protocol === 'tcp') {
        const tcpRoute = (state.routes.get(router.name) ?? []).map((r) => obj(obj(r.spec).tcpRoute)).find((r) => r.action);
        const targets = list(obj(tcpRoute?.action).weightedTargets) as unknown as WeightedTarget[];
        const first = targets.map((t) => targetCluster(state, t, mapping.port, out)).find((c) => c.weight > 0);
        result.set(mapping.port, { protocol: 'tcp', routes: [], ...(first ? { tcpCluster: first.name } : {}) });
      } else {
        result.set(mapping.port, { protocol: mapping.protocol, routes: routerRoutes(state, router, mapping.port, out) });
      }
    }
  }
  return result;
}

/** The backends of a node: its own plus none else (backend defaults only carry client policy). */
function backendServiceNames(node: StoredResource): string[] {
  const names = list(obj(node.spec).backends)
    .map((b) => obj(b.virtualService).virtualServiceName)
    .filter((n): n is string => typeof n === 'string');
  return [...new Set(names)].sort();
}

/**
 * The egress side of a virtual node, for both forms of client:
 * - Envoy sidecars get App Mesh's egress listener (15001) with one filter chain per destination
 *   port; HTTP-family ports route by virtual host (the service name and `name:port`).
 * - Proxyless gRPC clients get one `api_listener` per backend service name (and `name:port`),
 *   pointing at the same route configurations, so `xds:///<virtual-service>` works.
 */
function compileEgress(state: MeshState, node: StoredResource, out: ProxyResources): void {
  const byPort = new Map<number, { protocol: Protocol; virtualHosts: ProtoObject[]; tcpCluster?: string }>();
  for (const serviceName of backendServiceNames(node)) {
    // A backend may name a service that does not exist yet (App Mesh allows it): nothing to route.
    const service = state.virtualServices.get(serviceName);
    if (!service) continue;
    for (const [port, target] of serviceRoutes(state, service, out)) {
      const entry = byPort.get(port) ?? { protocol: target.protocol, virtualHosts: [] };
      if (isHttpFamily(target.protocol) !== isHttpFamily(entry.protocol)) {
        throw new CompileError(`backends of virtual node ${node.name} mix tcp and http traffic on port ${port}`);
      }
      if (target.protocol === 'tcp') {
        if (target.tcpCluster) entry.tcpCluster = target.tcpCluster;
      } else {
        entry.virtualHosts.push({ name: `${serviceName}:${port}`, domains: [serviceName, `${serviceName}:${port}`], routes: target.routes });
      }
      byPort.set(port, entry);
      if (isHttpFamily(target.protocol)) {
        const routeConfig = egressRouteConfig('http', port);
        for (const listenerName of [serviceName, `${serviceName}:${port}`]) {
          addResource(out, LISTENER, listenerName, { name: listenerName, api_listener: { api_listener: httpConnectionManager(listenerName, routeConfig) } }, { onlyByName: true });
        }
      }
    }
  }
  const allowAll = obj(obj(state.mesh.spec).egressFilter).type === 'ALLOW_ALL';
  const chains: ProtoObject[] = [];
  for (const port of [...byPort.keys()].sort((a, b) => a - b)) {
    const entry = byPort.get(port);
    if (!entry) continue;
    if (entry.protocol === 'tcp') {
      if (entry.tcpCluster) {
        chains.push({ filter_chain_match: { destination_port: { value: port } }, filters: [tcpProxyFilter(entry.tcpCluster, entry.tcpCluster)] });
      }
      continue;
    }
    const routeConfig = egressRouteConfig('http', port);
    const virtualHosts = [...entry.virtualHosts];
    if (allowAll) virtualHosts.push({ name: 'passthrough', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: PASSTHROUGH_CLUSTER } }] });
    addResource(out, ROUTE, routeConfig, { name: routeConfig, virtual_hosts: virtualHosts });
    chains.push({ filter_chain_match: { destination_port: { value: port } }, filters: [hcmFilter(routeConfig, routeConfig)] });
  }
  if (allowAll) {
    addResource(out, CLUSTER, PASSTHROUGH_CLUSTER, { name: PASSTHROUGH_CLUSTER, type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: { seconds: 1 } });
  }
  if (chains.length === 0 && !allowAll) return;
  addResource(out, LISTENER, EGRESS_LISTENER, {
    name: EGRESS_LISTENER,
    address: socketAddress('0.0.0.0', EGRESS_PORT),
    listener_filters: [originalDstFilter()],
    filter_chains: chains,
    // ALLOW_ALL: traffic to anything outside the mesh passes through; DROP_ALL: it is closed.
    ...(allowAll ? { default_filter_chain: { filters: [tcpProxyFilter(PASSTHROUGH_CLUSTER, PASSTHROUGH_CLUSTER)] } } : {}),
  });
}

/** Everything a virtual node's proxy needs: its ingress, its egress, and what they reach. */
export function compileVirtualNode(state: MeshState, node: StoredResource): ProxyResources {
  const out = emptyResources();
  compileIngress(state, node, out);
  compileEgress(state, node, out);
  return out;
}
