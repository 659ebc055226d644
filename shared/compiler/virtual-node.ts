/**
 * A virtual node's proxy, in both forms of client:
 * - Envoy sidecars get App Mesh's listeners: ingress (15000) to the local application per
 *   listener port mapping, and egress (15001) with a filter chain per destination port, where
 *   HTTP-family ports route by virtual host (the service name and `name:port`).
 * - Proxyless gRPC clients get one `api_listener` per backend virtual service name (and
 *   `name:port`), each with a route configuration of its own, so `xds:///<virtual-service>`
 *   works. These are served only to clients that ask for them by name.
 */
import type { Listener } from '../model/shapes.js';
import type { StoredResource } from '../store/repository.js';
import type { ProtoObject } from '../xds/encode.js';
import { CLUSTER, LISTENER, ROUTE } from '../xds/type-urls.js';
import { addIngressCluster } from './clusters.js';
import {
  accessLogs,
  hcmFilter,
  httpConnectionManager,
  isHttpFamily,
  originalDstFilter,
  socketAddress,
  tcpProxyFilter,
  tlsInspectorFilter,
  circuitBreakers,
  type Dialect,
  type WeightedCluster,
} from './envoy.js';
import type { MeshState } from './mesh-state.js';
import {
  EGRESS_LISTENER,
  EGRESS_PORT,
  EGRESS_STAT_PREFIX,
  INGRESS_LISTENER,
  INGRESS_PORT,
  INGRESS_STAT_PREFIX,
  PASSTHROUGH_CLUSTER,
  egressRouteConfig,
  ingressRouteConfig,
  proxylessRouteConfig,
  type Protocol,
} from './names.js';
import { CompileError, type ProxyResources, addResource, emptyResources, shared } from './resources.js';
import { DEFAULT_REQUEST_TIMEOUT, routeTimeouts, serviceHttpRoutes, serviceListeners, serviceTcpTarget, type RouteClient, type ServiceListener } from './routes.js';
import { envoyDuration, meshSpec, nodeIpPreference, nodeSpec, serviceNameOf } from './spec.js';
import { downstreamTlsSocket, type ClientTls } from './tls.js';

/**
 * Where a proxy's listeners bind: all IPv4 addresses, or, once an IP preference is set on the
 * node or the mesh, all IPv4 and IPv6 addresses (App Mesh's rule).
 */
export function bindAddress(state: MeshState, node: StoredResource | undefined, port: number): ProtoObject {
  if (nodeIpPreference(state.mesh, node) === undefined) return { address: socketAddress('0.0.0.0', port) };
  return { address: { socket_address: { address: '::', port_value: port, ipv4_compat: true } } };
}

/** The filter chains of one listener port: plaintext, TLS, or both (PERMISSIVE). */
function tlsChains(listener: Listener, match: ProtoObject, filters: ProtoObject[]): ProtoObject[] {
  const tls = listener.tls;
  if (!tls || tls.mode === 'DISABLED') return [{ filter_chain_match: match, filters }];
  const secured = { transport_socket: downstreamTlsSocket(tls) };
  if (tls.mode === 'STRICT') return [{ filter_chain_match: match, filters, ...secured }];
  // PERMISSIVE: TLS for clients that speak it (the TLS inspector tells), plaintext for others.
  return [
    { filter_chain_match: { ...match, transport_protocol: 'tls' }, filters, ...secured },
    { filter_chain_match: match, filters },
  ];
}

/**
 * The ingress side: one filter chain (or two, PERMISSIVE TLS) per listener port mapping on App
 * Mesh's ingress listener, each sending to the local application on that port.
 */
function compileIngress(state: MeshState, node: StoredResource, out: ProxyResources): void {
  const spec = nodeSpec(node);
  const listeners = spec.listeners ?? [];
  if (listeners.length === 0) return;
  const logs = accessLogs(spec.logging);
  const chains: ProtoObject[] = [];
  for (const listener of listeners) {
    const { port, protocol } = listener.portMapping;
    const cluster = addIngressCluster(state, node, listener, out);
    const match = { destination_port: { value: port } };
    if (isHttpFamily(protocol)) {
      const routeConfig = ingressRouteConfig(protocol, port);
      const timeout = listener.timeout?.http ?? listener.timeout?.http2 ?? listener.timeout?.grpc;
      addResource(out, ROUTE, routeConfig, {
        name: routeConfig,
        virtual_hosts: [
          {
            name: `${node.name}_${port}`,
            domains: ['*'],
            routes: [{ match: { prefix: '/' }, route: { cluster, ...routeTimeouts(timeout, 'envoy', DEFAULT_REQUEST_TIMEOUT) } }],
          },
        ],
      });
      chains.push(...tlsChains(listener, match, [hcmFilter(INGRESS_STAT_PREFIX, routeConfig, logs.length ? { access_log: logs } : {})]));
    } else {
      const idle = envoyDuration(listener.timeout?.tcp?.idle);
      const extra = { ...(idle ? { idle_timeout: idle } : {}), ...(logs.length ? { access_log: logs } : {}) };
      chains.push(...tlsChains(listener, match, [tcpProxyFilter(INGRESS_STAT_PREFIX, [{ name: cluster, weight: 1 }], extra)]));
    }
  }
  const permissive = listeners.some((l) => l.tls?.mode === 'PERMISSIVE');
  addResource(out, LISTENER, INGRESS_LISTENER, {
    name: INGRESS_LISTENER,
    ...bindAddress(state, node, INGRESS_PORT),
    listener_filters: [originalDstFilter(), ...(permissive ? [tlsInspectorFilter()] : [])],
    filter_chains: chains,
  });
}

/** A backend of a node: the virtual service and the client policy TLS toward it. */
interface Backend {
  serviceName: string;
  tls: ClientTls | undefined;
  defaultTls: ClientTls | undefined;
}

/**
 * The backends of a node, by virtual service name (each once, in name order), each with its
 * client policy: its own, else the node's backend defaults.
 */
function backends(node: StoredResource): Backend[] {
  const spec = nodeSpec(node);
  const defaults = spec.backendDefaults?.clientPolicy?.tls;
  const byName = new Map<string, Backend>();
  for (const backend of spec.backends ?? []) {
    const service = backend.virtualService;
    if (!service) continue;
    const serviceName = serviceNameOf(service.virtualServiceName);
    if (!byName.has(serviceName)) byName.set(serviceName, { serviceName, tls: service.clientPolicy?.tls ?? defaults, defaultTls: defaults });
  }
  return [...byName.values()].sort((a, b) => (a.serviceName < b.serviceName ? -1 : a.serviceName > b.serviceName ? 1 : 0));
}

interface EgressPort {
  protocol: Protocol;
  virtualHosts: ProtoObject[];
  tcp?: { service: string; clusters: WeightedCluster[]; idleTimeout?: ProtoObject | undefined };
}

function sameTcpTarget(a: NonNullable<EgressPort['tcp']>, b: NonNullable<EgressPort['tcp']>): boolean {
  return JSON.stringify([a.clusters, a.idleTimeout]) === JSON.stringify([b.clusters, b.idleTimeout]);
}

/** Requests for anything outside the mesh, under ALLOW_ALL (one object, so encoded once). */
const PASSTHROUGH_VIRTUAL_HOST: ProtoObject = { name: 'passthrough', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: PASSTHROUGH_CLUSTER } }] };

/** The egress side of a virtual node, for both forms of client. */
function compileEgress(state: MeshState, node: StoredResource, out: ProxyResources): void {
  const byPort = new Map<number, EgressPort>();
  for (const { serviceName, tls, defaultTls } of backends(node)) {
    // A backend may name a service that does not exist yet (App Mesh allows it): nothing to route.
    const service = state.virtualServices.get(serviceName);
    if (!service) continue;
    const client = (dialect: Dialect): RouteClient => ({ state, tls, defaultTls, dialect, out });
    let proxylessDefault: string | undefined;
    for (const listener of serviceListeners(state, service)) {
      const { port, protocol } = listener;
      const entry = byPort.get(port) ?? { protocol, virtualHosts: [] };
      if (isHttpFamily(protocol) !== isHttpFamily(entry.protocol)) {
        throw new CompileError(`backends of virtual node ${node.name} mix tcp and http traffic on port ${port}`);
      }
      byPort.set(port, entry);
      if (protocol === 'tcp') {
        const target = serviceTcpTarget(client('envoy'), listener);
        if (!target) continue;
        const tcp = { service: serviceName, ...target };
        if (entry.tcp && !sameTcpTarget(entry.tcp, tcp)) {
          throw new CompileError(
            `backends ${entry.tcp.service} and ${serviceName} of virtual node ${node.name} are both tcp on port ${port}; Envoy tells TCP destinations apart by port only`,
          );
        }
        entry.tcp = tcp;
        continue;
      }
      entry.virtualHosts.push(serviceHttpEgress(state, serviceName, listener, { tls, defaultTls }, out));
      // `xds:///<service>` without a port takes the service's first HTTP-family port.
      proxylessDefault ??= proxylessRouteConfig(serviceName, port);
    }
    if (proxylessDefault) addApiListener(out, serviceName, proxylessDefault);
  }
  const spec = nodeSpec(node);
  const logs = accessLogs(spec.logging);
  const logged = logs.length ? { access_log: logs } : {};
  const allowAll = meshSpec(state.mesh).egressFilter?.type === 'ALLOW_ALL';
  const chains: ProtoObject[] = [];
  for (const port of [...byPort.keys()].sort((a, b) => a - b)) {
    const entry = byPort.get(port);
    if (!entry) continue;
    const match = { filter_chain_match: { destination_port: { value: port } } };
    if (entry.protocol === 'tcp') {
      if (entry.tcp) {
        const extra = { ...(entry.tcp.idleTimeout ? { idle_timeout: entry.tcp.idleTimeout } : {}), ...logged };
        chains.push({ ...match, filters: [tcpProxyFilter(EGRESS_STAT_PREFIX, entry.tcp.clusters, extra)] });
      }
      continue;
    }
    const routeConfig = egressRouteConfig('http', port);
    const virtualHosts = [...entry.virtualHosts];
    if (allowAll) virtualHosts.push(PASSTHROUGH_VIRTUAL_HOST);
    addResource(out, ROUTE, routeConfig, { name: routeConfig, virtual_hosts: virtualHosts });
    chains.push({ ...match, filters: [hcmFilter(EGRESS_STAT_PREFIX, routeConfig, logged)] });
  }
  if (allowAll) {
    addResource(out, CLUSTER, PASSTHROUGH_CLUSTER, {
      name: PASSTHROUGH_CLUSTER,
      type: 'ORIGINAL_DST',
      lb_policy: 'CLUSTER_PROVIDED',
      connect_timeout: { seconds: 1 },
      ...circuitBreakers(),
    });
  }
  if (chains.length === 0 && !allowAll) return;
  addResource(out, LISTENER, EGRESS_LISTENER, {
    name: EGRESS_LISTENER,
    ...bindAddress(state, node, EGRESS_PORT),
    listener_filters: [originalDstFilter()],
    filter_chains: chains,
    // ALLOW_ALL: traffic to anything outside the mesh passes through; DROP_ALL: it is closed.
    ...(allowAll ? { default_filter_chain: { filters: [tcpProxyFilter(EGRESS_STAT_PREFIX, [{ name: PASSTHROUGH_CLUSTER, weight: 1 }], logged)] } } : {}),
  });
}

/**
 * One HTTP-family port of a backend virtual service, for every client with the same TLS policy
 * toward it: the Envoy virtual host (returned), and the proxyless form, a route configuration
 * of its own with its api listener (added, with the clusters both need).
 */
function serviceHttpEgress(
  state: MeshState,
  serviceName: string,
  listener: ServiceListener,
  policies: { tls: ClientTls | undefined; defaultTls: ClientTls | undefined },
  out: ProxyResources,
): ProtoObject {
  const key = `serviceHttpEgress\n${serviceName}\n${listener.port}\n${JSON.stringify([policies.tls, policies.defaultTls])}`;
  return shared(state.memo, key, out, (added) => {
    const client = (dialect: Dialect): RouteClient => ({ state, ...policies, dialect, out: added });
    const name = `${serviceName}:${listener.port}`;
    const domains = [serviceName, name];
    const routeConfig = proxylessRouteConfig(serviceName, listener.port);
    addResource(added, ROUTE, routeConfig, {
      name: routeConfig,
      virtual_hosts: [{ name: routeConfig, domains, routes: serviceHttpRoutes(client('proxyless'), listener) }],
    }, { onlyByName: true });
    addApiListener(added, name, routeConfig);
    return { name, domains, routes: serviceHttpRoutes(client('envoy'), listener) };
  });
}

/** An api listener for proxyless gRPC clients, served only to clients that name it. */
function addApiListener(out: ProxyResources, name: string, routeConfig: string): void {
  addResource(out, LISTENER, name, { name, api_listener: { api_listener: httpConnectionManager(name, routeConfig) } }, { onlyByName: true });
}

/** Everything a virtual node's proxy needs: its ingress, its egress, and what they reach. */
export function compileVirtualNode(state: MeshState, node: StoredResource): ProxyResources {
  const out = emptyResources();
  compileIngress(state, node, out);
  compileEgress(state, node, out);
  return out;
}
