/**
 * Which proxies a change can affect. A proxy's configuration is a function of the mesh, its own
 * resource and what it reaches: a virtual node reaches its backends' virtual services, their
 * providers (a virtual node, or a virtual router and its routes) and the routes' target virtual
 * nodes; a virtual gateway reaches its gateway routes' target services the same way. A change
 * to anything else cannot change its bytes, so it is not recompiled.
 */
import type { Kind } from '../mesh/kinds.js';
import type { StoredResource } from '../store/repository.js';
import { proxyKey } from '../xds/node-id.js';
import type { MeshState } from './mesh-state.js';
import { gatewayRouteSpec, nodeSpec, routeSpec, serviceNameOf, serviceSpec } from './spec.js';

/** A changed resource of a mesh (created, updated or deleted), as a stream record names it. */
export interface MeshChange {
  kind: Kind | 'unknown';
  name: string;
  parentName?: string | undefined;
}

const PARENT_KINDS = new Set(['route', 'gatewayRoute']);
const KNOWN_KINDS = new Set(['virtualNode', 'virtualService', 'virtualRouter', 'virtualGateway', 'route', 'gatewayRoute']);

/**
 * The change a mesh-partition sort key stands for (`mesh`, `virtualNode#<name>`,
 * `route#<router>#<name>`, names URI-encoded). Anything else is `unknown`, which recompiles
 * every proxy of the mesh: a key the compiler does not know is never silently skipped.
 */
export function changeOfSortKey(sortKey: string): MeshChange {
  if (sortKey === 'mesh') return { kind: 'mesh', name: '' };
  const [kind, ...parts] = sortKey.split('#');
  if (!kind || !KNOWN_KINDS.has(kind)) return { kind: 'unknown', name: sortKey };
  try {
    if (PARENT_KINDS.has(kind)) {
      if (parts.length !== 2) return { kind: 'unknown', name: sortKey };
      return { kind: kind as Kind, parentName: decodeURIComponent(parts[0] ?? ''), name: decodeURIComponent(parts[1] ?? '') };
    }
    if (parts.length !== 1) return { kind: 'unknown', name: sortKey };
    return { kind: kind as Kind, name: decodeURIComponent(parts[0] ?? '') };
  } catch {
    return { kind: 'unknown', name: sortKey };
  }
}

/** The dependency key of a change: routes count as their router, gateway routes as their gateway. */
function changeKey(change: MeshChange): string {
  if (change.kind === 'route') return `virtualRouter/${change.parentName ?? ''}`;
  if (change.kind === 'gatewayRoute') return `virtualGateway/${change.parentName ?? ''}`;
  return `${change.kind}/${change.name}`;
}

/** Adds what reaching a virtual service depends on: the service, its provider, the targets. */
function addServiceDependencies(state: MeshState, serviceName: string, deps: Set<string>): void {
  deps.add(`virtualService/${serviceName}`);
  const service = state.virtualServices.get(serviceName);
  if (!service) return;
  const provider = serviceSpec(service).provider;
  if (provider?.virtualNode) deps.add(`virtualNode/${provider.virtualNode.virtualNodeName}`);
  const routerName = provider?.virtualRouter?.virtualRouterName;
  if (routerName === undefined) return;
  deps.add(`virtualRouter/${routerName}`);
  for (const route of state.routes.get(routerName) ?? []) {
    const spec = routeSpec(route);
    const body = spec.httpRoute ?? spec.http2Route ?? spec.grpcRoute ?? spec.tcpRoute;
    for (const target of body?.action.weightedTargets ?? []) deps.add(`virtualNode/${target.virtualNode}`);
  }
}

function nodeDependencies(state: MeshState, node: StoredResource): Set<string> {
  const deps = new Set(['mesh/', `virtualNode/${node.name}`]);
  for (const backend of nodeSpec(node).backends ?? []) {
    if (backend.virtualService) addServiceDependencies(state, serviceNameOf(backend.virtualService.virtualServiceName), deps);
  }
  return deps;
}

function gatewayDependencies(state: MeshState, gateway: StoredResource): Set<string> {
  const deps = new Set(['mesh/', `virtualGateway/${gateway.name}`]);
  for (const route of state.gatewayRoutes.get(gateway.name) ?? []) {
    const spec = gatewayRouteSpec(route);
    const target = (spec.httpRoute ?? spec.http2Route ?? spec.grpcRoute)?.action.target;
    if (target) addServiceDependencies(state, target.virtualService.virtualServiceName, deps);
  }
  return deps;
}

/** What a proxy's configuration depends on, as `<kind>/<name>` keys, by proxy key. */
export function proxyDependencies(state: MeshState): Map<string, Set<string>> {
  const result = new Map<string, Set<string>>();
  for (const node of state.virtualNodes.values()) result.set(proxyKey({ kind: 'virtualNode', name: node.name }), nodeDependencies(state, node));
  for (const gateway of state.virtualGateways.values()) {
    result.set(proxyKey({ kind: 'virtualGateway', name: gateway.name }), gatewayDependencies(state, gateway));
  }
  return result;
}

/**
 * The proxies (manifest keys) of the current mesh that a set of changes can affect, or `all`
 * for a change to the mesh itself or to something the compiler does not know. Dependencies are
 * worked out on the mesh as it is now; a deleted route or gateway route still names its parent,
 * and a deleted service is still named by the backends that reach it.
 */
export function affectedProxies(state: MeshState, changes: readonly MeshChange[]): Set<string> | 'all' {
  if (changes.some((c) => c.kind === 'mesh' || c.kind === 'unknown')) return 'all';
  const changed = new Set(changes.map(changeKey));
  const affected = new Set<string>();
  for (const [key, deps] of proxyDependencies(state)) {
    for (const dep of deps) {
      if (changed.has(dep)) {
        affected.add(key);
        break;
      }
    }
  }
  return affected;
}
