/**
 * App Mesh routing compiled into Envoy routes: the routes of a virtual router (or the implicit
 * route of a virtual node provider) for one of a virtual service's ports, with App Mesh's
 * matches, priorities, weighted targets, retry policies and timeouts, and their defaults.
 */
import type {
  GrpcRetryPolicy,
  GrpcRoute,
  GrpcRouteMatch,
  HttpQueryParameter,
  HttpRetryPolicy,
  HttpRoute,
  HttpRouteHeader,
  HttpRouteMatch,
  HttpTimeout,
  RouteSpec,
  TcpRoute,
  WeightedTarget,
} from '../model/shapes.js';
import type { StoredResource } from '../store/repository.js';
import type { ProtoObject } from '../xds/encode.js';
import { addEgressCluster } from './clusters.js';
import type { Dialect, WeightedCluster } from './envoy.js';
import type { MeshState } from './mesh-state.js';
import { CompileError, shared, type ProxyResources } from './resources.js';
import { envoyDuration, nodePortMappings, nodeSpec, routeSpec, routerSpec, serviceSpec, type Protocol } from './spec.js';
import type { ClientTls } from './tls.js';
import { clientTlsFor } from './tls.js';

/** App Mesh's request timeout when none is given (also Envoy's). */
export const DEFAULT_REQUEST_TIMEOUT: ProtoObject = { seconds: 15 };

/** Routes without a priority come after every route with one (priorities are 0 to 1000). */
const UNSET_PRIORITY = 1001;

/**
 * App Mesh's default retry policy, applied to every HTTP, HTTP/2 and gRPC route that has none
 * ("Envoy defaults set by App Mesh"): two retries on gRPC UNAVAILABLE, HTTP 503, connection
 * failures, refused streams and resets.
 */
export const DEFAULT_RETRY_POLICY: ProtoObject = {
  retry_on: 'connect-failure,refused-stream,reset,retriable-status-codes,unavailable',
  num_retries: { value: 2 },
  retriable_status_codes: [503],
};

const HTTP_RETRY_EVENTS: Record<string, string> = {
  'server-error': '5xx',
  'gateway-error': 'gateway-error',
  'client-error': 'retriable-4xx',
  'stream-error': 'refused-stream',
};

/** One port of a virtual service, and who provides it there. */
export interface ServiceListener {
  port: number;
  protocol: Protocol;
  node?: StoredResource;
  router?: StoredResource;
}

/** The ports a virtual service is reachable on (its provider's listeners), in port order. */
export function serviceListeners(state: MeshState, service: StoredResource): ServiceListener[] {
  const provider = serviceSpec(service).provider;
  const listeners: ServiceListener[] = [];
  if (provider?.virtualNode) {
    const node = state.virtualNodes.get(provider.virtualNode.virtualNodeName);
    if (!node) throw new CompileError(`provider virtual node ${provider.virtualNode.virtualNodeName} of virtual service ${service.name} does not exist`);
    for (const { port, protocol } of nodePortMappings(node)) listeners.push({ port, protocol, node });
  } else if (provider?.virtualRouter) {
    const router = state.virtualRouters.get(provider.virtualRouter.virtualRouterName);
    if (!router) throw new CompileError(`provider virtual router ${provider.virtualRouter.virtualRouterName} of virtual service ${service.name} does not exist`);
    for (const { portMapping } of routerSpec(router).listeners ?? []) listeners.push({ ...portMapping, router });
  }
  return listeners.sort((a, b) => a.port - b.port);
}

/** Everything a route needs to know about the client it is compiled for. */
export interface RouteClient {
  state: MeshState;
  /** The client's TLS policy toward the virtual service being routed (port not yet applied). */
  tls: ClientTls | undefined;
  /** The client's default TLS policy (its backend defaults), which names the plain clusters. */
  defaultTls: ClientTls | undefined;
  dialect: Dialect;
  out: ProxyResources;
}

type RouteType = 'httpRoute' | 'http2Route' | 'grpcRoute' | 'tcpRoute';

const ROUTE_PROTOCOL: Record<RouteType, Protocol> = { httpRoute: 'http', http2Route: 'http2', grpcRoute: 'grpc', tcpRoute: 'tcp' };

function routeTypeOf(spec: RouteSpec): RouteType | undefined {
  return (['httpRoute', 'http2Route', 'grpcRoute', 'tcpRoute'] as const).find((t) => spec[t] !== undefined);
}

/**
 * How specific a route's match is, for ordering routes of equal priority: an exact path first,
 * then longer paths before shorter ones, then more conditions before fewer.
 */
function specificity(spec: RouteSpec): [number, number, number] {
  const http = spec.httpRoute ?? spec.http2Route;
  if (http) {
    const m = http.match;
    const path = m.path?.exact ?? m.path?.regex ?? m.prefix ?? '/';
    const conditions = (m.headers?.length ?? 0) + (m.queryParameters?.length ?? 0) + (m.method ? 1 : 0) + (m.scheme ? 1 : 0);
    return [m.path?.exact !== undefined ? 0 : 1, -path.length, -conditions];
  }
  if (spec.grpcRoute) {
    const m = spec.grpcRoute.match;
    return [m.methodName !== undefined ? 0 : 1, -(m.serviceName?.length ?? 0), -(m.metadata?.length ?? 0)];
  }
  return [1, 0, 0];
}

function compareTuples(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The routes of a router in matching order: priority (0 first; unset after 1000), then the
 * more specific match, then name, so the order never depends on storage.
 */
export function orderedRoutes(routes: readonly StoredResource[]): StoredResource[] {
  const keyed = routes.map((route) => {
    const spec = routeSpec(route);
    return { route, key: [spec.priority ?? UNSET_PRIORITY, ...specificity(spec)] };
  });
  keyed.sort((a, b) => compareTuples(a.key, b.key) || (a.route.name < b.route.name ? -1 : a.route.name > b.route.name ? 1 : 0));
  return keyed.map((k) => k.route);
}

/** Does a route apply to one listener of its router? */
function appliesTo(type: RouteType, matchPort: number | undefined, listener: ServiceListener, routerProtocols: Set<Protocol>): boolean {
  if (matchPort !== undefined && matchPort !== listener.port) return false;
  const protocol = ROUTE_PROTOCOL[type];
  if (protocol === 'tcp' || listener.protocol === 'tcp') return protocol === listener.protocol;
  // A route type applies to listeners of its protocol; where the router has none of that
  // protocol, to its HTTP-family listeners (http, http2 and grpc all ride an HCM).
  return routerProtocols.has(protocol) ? protocol === listener.protocol : true;
}

/** A header (or gRPC metadata) match, in the form each client understands. */
function headerMatcher(header: HttpRouteHeader, dialect: Dialect): ProtoObject {
  const m = header.match;
  const invert = header.invert ? { invert_match: true } : {};
  if (m?.range) return { name: header.name, range_match: { start: m.range.start, end: m.range.end }, ...invert };
  if (m?.exact !== undefined) return stringHeader(header.name, 'exact', m.exact, dialect, invert);
  if (m?.regex !== undefined) return stringHeader(header.name, 'regex', m.regex, dialect, invert);
  if (m?.prefix !== undefined) return stringHeader(header.name, 'prefix', m.prefix, dialect, invert);
  if (m?.suffix !== undefined) return stringHeader(header.name, 'suffix', m.suffix, dialect, invert);
  return { name: header.name, present_match: true, ...invert };
}

/** A header matched on its text, in the form each client understands. */
function stringHeader(name: string, how: 'exact' | 'regex' | 'prefix' | 'suffix', value: string, dialect: Dialect, invert: ProtoObject): ProtoObject {
  if (dialect === 'proxyless') {
    // The fields every gRPC xDS client release understands (string_match came later).
    const legacy = how === 'regex' ? { safe_regex_match: regexMatcher(value, dialect) } : { [`${how}_match`]: value };
    return { name, ...legacy, ...invert };
  }
  return { name, string_match: how === 'regex' ? { safe_regex: regexMatcher(value, dialect) } : { [how]: value }, ...invert };
}

/** An RE2 matcher; older gRPC clients (and Envoys) insist the engine is named. */
export function regexMatcher(regex: string, dialect: Dialect): ProtoObject {
  return dialect === 'proxyless' ? { google_re2: {}, regex } : { regex };
}

function exactHeader(name: string, value: string, dialect: Dialect): ProtoObject {
  return headerMatcher({ name, match: { exact: value } }, dialect);
}

function queryMatcher(query: HttpQueryParameter): ProtoObject {
  return query.match?.exact !== undefined ? { name: query.name, string_match: { exact: query.match.exact } } : { name: query.name, present_match: true };
}

/** The Envoy route match of an App Mesh HTTP match (routes and gateway routes share most of it). */
export function httpRouteMatch(match: Omit<HttpRouteMatch, 'headers'> & { headers?: HttpRouteHeader[] | undefined }, dialect: Dialect): ProtoObject {
  const path =
    match.path?.exact !== undefined ? { path: match.path.exact }
    : match.path?.regex !== undefined ? { safe_regex: regexMatcher(match.path.regex, dialect) }
    : { prefix: match.prefix ?? '/' };
  const headers = [
    ...(match.method ? [exactHeader(':method', match.method, dialect)] : []),
    ...(match.scheme ? [exactHeader(':scheme', match.scheme, dialect)] : []),
    ...(match.headers ?? []).map((h) => headerMatcher(h, dialect)),
  ];
  return {
    ...path,
    ...(headers.length ? { headers } : {}),
    ...(match.queryParameters?.length ? { query_parameters: match.queryParameters.map(queryMatcher) } : {}),
  };
}

/** The Envoy route match of an App Mesh gRPC match: service and method are the request path. */
export function grpcRouteMatch(match: Pick<GrpcRouteMatch, 'serviceName' | 'methodName' | 'metadata'>, dialect: Dialect): ProtoObject {
  const path =
    match.serviceName && match.methodName ? { path: `/${match.serviceName}/${match.methodName}` }
    : match.serviceName ? { prefix: `/${match.serviceName}/` }
    : { prefix: '/' };
  const headers = (match.metadata ?? []).map((m) => headerMatcher(m, dialect));
  return { ...path, ...(headers.length ? { headers } : {}) };
}

/**
 * The Envoy retry policy of an App Mesh retry policy; App Mesh's default when none is given;
 * none when maxRetries is 0 (gRPC clients reject a policy of zero retries).
 */
export function retryPolicy(policy: (HttpRetryPolicy & { grpcRetryEvents?: GrpcRetryPolicy['grpcRetryEvents'] }) | undefined, where: string): ProtoObject {
  if (!policy) return { retry_policy: DEFAULT_RETRY_POLICY };
  if (policy.maxRetries === 0) return {};
  const on = new Set<string>();
  for (const event of policy.httpRetryEvents ?? []) {
    const envoy = HTTP_RETRY_EVENTS[event];
    if (!envoy) throw new CompileError(`${where}: unknown HTTP retry event ${JSON.stringify(event)}; App Mesh knows ${Object.keys(HTTP_RETRY_EVENTS).join(', ')}`);
    on.add(envoy);
  }
  if (policy.tcpRetryEvents?.length) on.add('connect-failure');
  for (const event of policy.grpcRetryEvents ?? []) on.add(event);
  const perTry = envoyDuration(policy.perRetryTimeout);
  return {
    retry_policy: {
      retry_on: [...on].sort().join(','),
      num_retries: { value: policy.maxRetries },
      ...(perTry ? { per_try_timeout: perTry } : {}),
    },
  };
}

/**
 * Request and idle timeouts of a route (App Mesh's 15 s request timeout when none is given).
 * gRPC clients take their deadline from max_stream_duration, so the proxyless form carries an
 * explicit request timeout there too.
 */
export function routeTimeouts(timeout: HttpTimeout | undefined, dialect: Dialect, fallback: ProtoObject = DEFAULT_REQUEST_TIMEOUT): ProtoObject {
  const perRequest = envoyDuration(timeout?.perRequest);
  const idle = envoyDuration(timeout?.idle);
  return {
    timeout: perRequest ?? fallback,
    ...(idle ? { idle_timeout: idle } : {}),
    ...(perRequest && dialect === 'proxyless' ? { max_stream_duration: { max_stream_duration: perRequest } } : {}),
  };
}

/**
 * The clusters of a route's weighted targets. App Mesh weights are relative; two targets on one
 * cluster add up. A target of weight 0 gets no traffic and is left out of the route (Envoy and
 * gRPC reject or mishandle zero weights), but its cluster stays in the snapshot: a blue/green
 * switch (100/0 to 0/100) must not remove the old cluster before every client has the route that
 * stops using it, or the requests in flight on it fail (make before break).
 */
function targetClusters(client: RouteClient, targets: readonly WeightedTarget[], listener: ServiceListener, where: string): WeightedCluster[] {
  const byName = new Map<string, number>();
  for (const target of targets) {
    const node = client.state.virtualNodes.get(target.virtualNode);
    if (!node) throw new CompileError(`${where}: target virtual node ${target.virtualNode} does not exist`);
    const mappings = nodePortMappings(node);
    const wanted = target.port ?? (mappings.length === 1 ? mappings[0]?.port : listener.port);
    const mapping = mappings.find((m) => m.port === wanted);
    if (!mapping) throw new CompileError(`${where}: virtual node ${node.name} has no listener on port ${String(wanted)}`);
    const name = addEgressCluster(client.state, node, mapping, tlsAt(client, mapping.port), client.dialect, client.out);
    if (target.weight > 0) byName.set(name, (byName.get(name) ?? 0) + target.weight);
  }
  if (byName.size === 0) {
    throw new CompileError(`${where}: every weighted target has weight 0, so the route has nowhere to send traffic (Envoy rejects a total weight of 0)`);
  }
  return [...byName].map(([name, weight]) => ({ name, weight }));
}

/**
 * The route action of weighted clusters. One cluster is named directly. Several carry
 * total_weight equal to their sum for the proxyless form: older gRPC clients insist the weights
 * add up to it (100 when unset), newer ones and Envoy use the sum.
 */
function routeAction(clusters: WeightedCluster[], dialect: Dialect): ProtoObject {
  if (clusters.length === 1) return { cluster: clusters[0]?.name };
  const total = clusters.reduce((sum, c) => sum + c.weight, 0);
  return {
    weighted_clusters: {
      clusters: clusters.map((c) => ({ name: c.name, weight: { value: c.weight } })),
      ...(dialect === 'proxyless' ? { total_weight: { value: total } } : {}),
    },
  };
}

function describeRoute(route: StoredResource): string {
  return `route ${route.name} of virtual router ${route.parentName ?? ''}`;
}

/**
 * The Envoy routes of one HTTP-family port of a virtual service, in matching order: the
 * router's routes that apply to the port, or the one route of a virtual node provider.
 */
export function serviceHttpRoutes(client: RouteClient, listener: ServiceListener): ProtoObject[] {
  return shared(client.state.memo, routesKey('httpRoutes', client, listener), client.out, (out) => buildHttpRoutes({ ...client, out }, listener));
}

/** The memo key of what a service port's routes are for one kind of client. */
function routesKey(what: string, client: RouteClient, listener: ServiceListener): string {
  const provider = listener.node ? `node:${listener.node.name}` : `router:${listener.router?.name ?? ''}`;
  return `${what}\n${provider}\n${listener.port}\n${client.dialect}\n${JSON.stringify([client.tls, client.defaultTls])}`;
}

/** The TLS a client applies toward a target port, and the one it applies by default there. */
function tlsAt(client: RouteClient, port: number): { applied: ClientTls | undefined; default: ClientTls | undefined } {
  return { applied: clientTlsFor(client.tls, port), default: clientTlsFor(client.defaultTls, port) };
}

function buildHttpRoutes(client: RouteClient, listener: ServiceListener): ProtoObject[] {
  const { state, dialect } = client;
  if (listener.node) {
    const node = listener.node;
    const mapping = { port: listener.port, protocol: listener.protocol };
    const cluster = addEgressCluster(state, node, mapping, tlsAt(client, listener.port), dialect, client.out);
    // No App Mesh route exists here, so App Mesh's defaults apply, with the timeout the
    // provider's listener asks for.
    const own = (nodeSpec(node).listeners ?? []).find((l) => l.portMapping.port === listener.port)?.timeout;
    const timeout = own?.http ?? own?.http2 ?? own?.grpc;
    return [{ match: { prefix: '/' }, route: { cluster, ...routeTimeouts(timeout, dialect), ...retryPolicy(undefined, '') } }];
  }
  const router = listener.router;
  if (!router) return [];
  const protocols = new Set((routerSpec(router).listeners ?? []).map((l) => l.portMapping.protocol));
  const envoyRoutes: ProtoObject[] = [];
  for (const route of orderedRoutes(state.routes.get(router.name) ?? [])) {
    const spec = routeSpec(route);
    const type = routeTypeOf(spec);
    if (!type || type === 'tcpRoute') continue;
    const body = spec[type] as HttpRoute | GrpcRoute;
    if (!appliesTo(type, body.match.port, listener, protocols)) continue;
    const where = describeRoute(route);
    const match = type === 'grpcRoute' ? grpcRouteMatch((body as GrpcRoute).match, dialect) : httpRouteMatch((body as HttpRoute).match, dialect);
    const clusters = targetClusters(client, body.action.weightedTargets, listener, where);
    envoyRoutes.push({
      name: route.name,
      match,
      route: { ...routeAction(clusters, dialect), ...routeTimeouts(body.timeout, dialect), ...retryPolicy(body.retryPolicy, where) },
    });
  }
  return envoyRoutes;
}

/** What a TCP port of a virtual service forwards to, and its idle timeout. */
export interface TcpTarget {
  clusters: WeightedCluster[];
  idleTimeout?: ProtoObject | undefined;
}

/**
 * The target of one TCP port of a virtual service: the first (by priority) tcp route of the
 * router that applies to the port, or the virtual node provider. Undefined when nothing routes.
 */
export function serviceTcpTarget(client: RouteClient, listener: ServiceListener): TcpTarget | undefined {
  return shared(client.state.memo, routesKey('tcpTarget', client, listener), client.out, (out) => buildTcpTarget({ ...client, out }, listener));
}

function buildTcpTarget(client: RouteClient, listener: ServiceListener): TcpTarget | undefined {
  const { state, dialect } = client;
  if (listener.node) {
    const mapping = { port: listener.port, protocol: listener.protocol };
    const own = (nodeSpec(listener.node).listeners ?? []).find((l) => l.portMapping.port === listener.port)?.timeout?.tcp;
    const idle = envoyDuration(own?.idle);
    const name = addEgressCluster(state, listener.node, mapping, tlsAt(client, listener.port), dialect, client.out);
    return { clusters: [{ name, weight: 1 }], ...(idle ? { idleTimeout: idle } : {}) };
  }
  const router = listener.router;
  if (!router) return undefined;
  const protocols = new Set((routerSpec(router).listeners ?? []).map((l) => l.portMapping.protocol));
  for (const route of orderedRoutes(state.routes.get(router.name) ?? [])) {
    const tcp: TcpRoute | undefined = routeSpec(route).tcpRoute;
    if (!tcp || !appliesTo('tcpRoute', tcp.match?.port, listener, protocols)) continue;
    const idle = envoyDuration(tcp.timeout?.idle);
    return { clusters: targetClusters(client, tcp.action.weightedTargets, listener, describeRoute(route)), ...(idle ? { idleTimeout: idle } : {}) };
  }
  return undefined;
}

