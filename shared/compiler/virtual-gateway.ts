/**
 * A virtual gateway's proxy (Envoy only). As App Mesh's gateways did, it routes in two hops:
 * 1. each gateway listener (`lds_ingress_0.0.0.0_<port>`) applies the gateway routes in order:
 *    their matches, App Mesh's default rewrites (the matched prefix to `/`, the host to the
 *    target virtual service's name), and names the target for the next hop in a header; every
 *    match goes to the gateway itself (`..._self_redirect_...` on 127.0.0.1:15001), whose
 *    circuit breakers are the listener's connection pool;
 * 2. the internal listener on 127.0.0.1:15001 applies the target virtual service's own routes
 *    (its router's, or its virtual node provider's), exactly as a sidecar would.
 * The second hop makes "gateway route, then the service's routes" exact for every kind of
 * match and rewrite, which one route table could not express (a regex after a rewrite).
 */
import type { GrpcGatewayRoute, HttpGatewayRoute, VirtualGatewayListener } from '../model/shapes.js';
import type { StoredResource } from '../store/repository.js';
import type { ProtoObject } from '../xds/encode.js';
import { CLUSTER, LISTENER, ROUTE } from '../xds/type-urls.js';
import {
  accessLogs,
  circuitBreakers,
  escapeRegex,
  hcmFilter,
  isHttpFamily,
  loadAssignment,
  socketAddress,
  tlsInspectorFilter,
  upstreamProtocolOptions,
} from './envoy.js';
import { poolThresholds } from './clusters.js';
import type { MeshState } from './mesh-state.js';
import {
  EGRESS_PORT,
  EGRESS_STAT_PREFIX,
  GATEWAY_EGRESS_LISTENER,
  GATEWAY_EGRESS_ROUTE_CONFIG,
  GATEWAY_TARGET_HEADER,
  INGRESS_STAT_PREFIX,
  gatewayListener,
  gatewaySelfRedirectCluster,
  ingressRouteConfig,
  type Protocol,
} from './names.js';
import { CompileError, type ProxyResources, addResource, emptyResources } from './resources.js';
import { grpcRouteMatch, httpRouteMatch, regexMatcher, serviceHttpRoutes, serviceListeners, type ServiceListener } from './routes.js';
import { gatewayRouteSpec, gatewaySpec } from './spec.js';
import { bindAddress } from './virtual-node.js';
import { downstreamTlsSocket } from './tls.js';

type GatewayRouteType = 'httpRoute' | 'http2Route' | 'grpcRoute';
const TYPE_PROTOCOL: Record<GatewayRouteType, Protocol> = { httpRoute: 'http', http2Route: 'http2', grpcRoute: 'grpc' };

interface GatewayRoute {
  resource: StoredResource;
  type: GatewayRouteType;
  http?: HttpGatewayRoute;
  grpc?: GrpcGatewayRoute;
  priority: number;
}

function gatewayRoutes(state: MeshState, gateway: StoredResource): GatewayRoute[] {
  const routes: GatewayRoute[] = [];
  for (const resource of state.gatewayRoutes.get(gateway.name) ?? []) {
    const spec = gatewayRouteSpec(resource);
    const type = (['httpRoute', 'http2Route', 'grpcRoute'] as const).find((t) => spec[t] !== undefined);
    if (!type) continue;
    const route: GatewayRoute = { resource, type, priority: spec.priority ?? 1001 };
    if (type === 'grpcRoute') route.grpc = spec.grpcRoute;
    else route.http = spec[type];
    routes.push(route);
  }
  // Priority first (unset after 1000); then, as App Mesh documents, the longest prefix; then name.
  const pathLength = (r: GatewayRoute) => {
    const m = r.http?.match;
    return m ? (m.path?.exact ?? m.path?.regex ?? m.prefix ?? '/').length : (r.grpc?.match.serviceName?.length ?? 0);
  };
  return routes.sort(
    (a, b) => a.priority - b.priority || pathLength(b) - pathLength(a) || (a.resource.name < b.resource.name ? -1 : a.resource.name > b.resource.name ? 1 : 0),
  );
}

/** Does a gateway route apply to one of the gateway's listeners? */
function appliesTo(route: GatewayRoute, listener: VirtualGatewayListener, protocols: Set<Protocol>): boolean {
  const port = route.http?.match.port ?? route.grpc?.match.port;
  if (port !== undefined && port !== listener.portMapping.port) return false;
  const protocol = TYPE_PROTOCOL[route.type];
  return protocols.has(protocol) ? protocol === listener.portMapping.protocol : true;
}

/**
 * A hostname match on the request's authority, which may carry a port: exact or suffix,
 * case-insensitive as host names are.
 */
function hostnameHeader(hostname: { exact?: string | undefined; suffix?: string | undefined } | undefined): ProtoObject[] {
  if (!hostname) return [];
  const host = hostname.exact !== undefined ? escapeRegex(hostname.exact) : hostname.suffix !== undefined ? `.*${escapeRegex(hostname.suffix)}` : undefined;
  if (host === undefined) return [];
  return [{ name: ':authority', string_match: { safe_regex: regexMatcher(`(?i)^${host}(:[0-9]+)?$`, 'envoy') } }];
}

/**
 * The path rewrite of an HTTP gateway route. A prefix match rewrites the matched prefix to `/`
 * unless told otherwise (App Mesh's default), so `/red` + `/red/tell` becomes `/tell`; a path
 * match (exact or regex) is rewritten only when a path is given.
 */
function pathRewrite(route: HttpGatewayRoute): ProtoObject {
  const { match, action } = route;
  const rewrite = action.rewrite;
  if (match.path) {
    const exact = rewrite?.path?.exact;
    return exact ? { regex_rewrite: { pattern: regexMatcher('^.*$', 'envoy'), substitution: exact } } : {};
  }
  if (rewrite?.prefix?.defaultPrefix === 'DISABLED' && rewrite.prefix.value === undefined) return {};
  const prefix = match.prefix ?? '/';
  const value = rewrite?.prefix?.value ?? '/';
  if (prefix === value) return {};
  if (prefix.endsWith('/') || !value.endsWith('/')) return { prefix_rewrite: value };
  // The prefix ends without a slash and the replacement with one: swallow the slash that
  // follows the prefix, or `/red/tell` would become `//tell`.
  return { regex_rewrite: { pattern: regexMatcher(`^${escapeRegex(prefix)}/?`, 'envoy'), substitution: value } };
}

/** The port of the target virtual service a gateway route sends to. */
function targetListener(state: MeshState, route: GatewayRoute, gatewayPort: number): ServiceListener | undefined {
  const target = (route.http ?? route.grpc)?.action.target;
  if (!target) return undefined;
  const serviceName = target.virtualService.virtualServiceName;
  const service = state.virtualServices.get(serviceName);
  const where = `gateway route ${route.resource.name} of virtual gateway ${route.resource.parentName ?? ''}`;
  if (!service) throw new CompileError(`${where}: target virtual service ${serviceName} does not exist`);
  const listeners = serviceListeners(state, service);
  // A virtual service without a provider serves nothing yet: the second hop answers 404.
  if (listeners.length === 0) return undefined;
  const wanted =
    target.port ?? (listeners.length === 1 ? listeners[0]?.port : listeners.some((l) => l.port === gatewayPort) ? gatewayPort : undefined);
  if (wanted === undefined) {
    throw new CompileError(`${where}: virtual service ${serviceName} listens on ports ${listeners.map((l) => l.port).join(', ')}; set action.target.port`);
  }
  const listener = listeners.find((l) => l.port === wanted);
  if (!listener) throw new CompileError(`${where}: virtual service ${serviceName} has no listener on port ${wanted}`);
  if (!isHttpFamily(listener.protocol)) throw new CompileError(`${where}: virtual service ${serviceName} is tcp on port ${wanted}; gateways route HTTP, HTTP/2 and gRPC only`);
  return listener;
}

function targetKey(serviceName: string, port: number): string {
  return `${serviceName}:${port}`;
}

/** Everything a virtual gateway's proxy needs. */
export function compileVirtualGateway(state: MeshState, gateway: StoredResource): ProxyResources {
  const out = emptyResources();
  const spec = gatewaySpec(gateway);
  const listeners = spec.listeners ?? [];
  const protocols = new Set(listeners.map((l) => l.portMapping.protocol as Protocol));
  const routes = gatewayRoutes(state, gateway);
  const logs = accessLogs(spec.logging);
  const logged = logs.length ? { access_log: logs } : {};
  /** The targets the second hop must serve, by `<service>:<port>`. */
  const targets = new Map<string, { service: StoredResource; listener: ServiceListener }>();

  for (const listener of listeners) {
    const { port, protocol } = listener.portMapping;
    if (port === EGRESS_PORT) throw new CompileError(`virtual gateway ${gateway.name}: port ${EGRESS_PORT} is reserved for the gateway's internal hop`);
    const selfRedirect = gatewaySelfRedirectCluster(state.meshName, gateway.name, protocol, port, listeners.length);
    addResource(out, CLUSTER, selfRedirect, {
      name: selfRedirect,
      type: 'STATIC',
      connect_timeout: { seconds: 1 },
      load_assignment: loadAssignment(selfRedirect, [{ address: '127.0.0.1', port: EGRESS_PORT }]),
      ...circuitBreakers(poolThresholds(listener.connectionPool)),
      ...upstreamProtocolOptions(protocol),
    });
    const envoyRoutes: ProtoObject[] = [];
    for (const route of routes) {
      if (!appliesTo(route, listener, protocols)) continue;
      const target = targetListener(state, route, port);
      const action = (route.http ?? route.grpc)?.action;
      const serviceName = action?.target.virtualService.virtualServiceName ?? '';
      const key = targetKey(serviceName, target?.port ?? 0);
      if (target) targets.set(key, { service: state.virtualServices.get(serviceName) as StoredResource, listener: target });
      const hostnameRewrite = action?.rewrite?.hostname?.defaultTargetHostname === 'DISABLED' ? {} : { host_rewrite_literal: serviceName };
      let match: ProtoObject;
      let rewrites: ProtoObject = {};
      if (route.http) {
        const base = httpRouteMatch(route.http.match, 'envoy');
        const headers = [...((base.headers as ProtoObject[] | undefined) ?? []), ...hostnameHeader(route.http.match.hostname)];
        match = { ...base, ...(headers.length ? { headers } : {}) };
        rewrites = pathRewrite(route.http);
      } else {
        const grpc = route.grpc as GrpcGatewayRoute;
        const base = grpcRouteMatch(grpc.match, 'envoy');
        const headers = [...((base.headers as ProtoObject[] | undefined) ?? []), ...hostnameHeader(grpc.match.hostname)];
        match = { ...base, ...(headers.length ? { headers } : {}) };
      }
      envoyRoutes.push({
        name: route.resource.name,
        match,
        // No timeout here: the target's own routes, on the second hop, carry App Mesh's.
        route: { cluster: selfRedirect, timeout: { seconds: 0 }, ...rewrites, ...hostnameRewrite },
        // Overwritten, so nothing from outside picks the second hop's target.
        request_headers_to_add: [{ header: { key: GATEWAY_TARGET_HEADER, value: key }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
      });
    }
    const routeConfig = ingressRouteConfig(protocol, port);
    addResource(out, ROUTE, routeConfig, {
      name: routeConfig,
      virtual_hosts: [{ name: `${gateway.name}_${port}`, domains: ['*'], routes: envoyRoutes }],
    });
    const extra = { ...logged, ...(protocol === 'http' ? { upgrade_configs: [{ upgrade_type: 'websocket' }] } : {}) };
    const filters = [hcmFilter(INGRESS_STAT_PREFIX, routeConfig, extra)];
    // The listener has the port to itself: chains differ only by TLS.
    const tls = listener.tls;
    const chains =
      !tls || tls.mode === 'DISABLED' ? [{ filters }]
      : tls.mode === 'STRICT' ? [{ filters, transport_socket: downstreamTlsSocket(tls) }]
      : [{ filter_chain_match: { transport_protocol: 'tls' }, filters, transport_socket: downstreamTlsSocket(tls) }, { filters }];
    const name = gatewayListener(port);
    addResource(out, LISTENER, name, {
      name,
      ...bindAddress(state, undefined, port),
      ...(tls?.mode === 'PERMISSIVE' ? { listener_filters: [tlsInspectorFilter()] } : {}),
      filter_chains: chains,
    });
  }
  if (listeners.length === 0) return out;

  // The second hop: the target services' own routes, each behind a match on the target header.
  const tls = spec.backendDefaults?.clientPolicy?.tls;
  const secondHop: ProtoObject[] = [];
  for (const key of [...targets.keys()].sort()) {
    const target = targets.get(key);
    if (!target) continue;
    const selector = { name: GATEWAY_TARGET_HEADER, string_match: { exact: key } };
    for (const route of serviceHttpRoutes({ state, tls, defaultTls: tls, dialect: 'envoy', out }, target.listener)) {
      const match = route.match as ProtoObject;
      secondHop.push({ ...route, match: { ...match, headers: [selector, ...((match.headers as ProtoObject[] | undefined) ?? [])] } });
    }
  }
  addResource(out, ROUTE, GATEWAY_EGRESS_ROUTE_CONFIG, {
    name: GATEWAY_EGRESS_ROUTE_CONFIG,
    virtual_hosts: [{ name: 'gateway_targets', domains: ['*'], routes: secondHop, request_headers_to_remove: [GATEWAY_TARGET_HEADER] }],
  });
  addResource(out, LISTENER, GATEWAY_EGRESS_LISTENER, {
    name: GATEWAY_EGRESS_LISTENER,
    address: socketAddress('127.0.0.1', EGRESS_PORT),
    // Requests are logged once, where they enter the gateway.
    filter_chains: [{ filters: [hcmFilter(EGRESS_STAT_PREFIX, GATEWAY_EGRESS_ROUTE_CONFIG)] }],
  });
  return out;
}
