import { DescribeRouteCommand, UpdateRouteCommand, type AppMeshClient, type RouteSpec, type WeightedTarget } from '@aws-sdk/client-app-mesh';

const ROUTE_TYPES = ['httpRoute', 'http2Route', 'grpcRoute', 'tcpRoute'] as const;

/** Where a route lives. */
export interface RouteRef {
  meshName: string;
  virtualRouterName: string;
  routeName: string;
}

/** Parses `--to blue=75,green=25` into node weights; weights are App Mesh's 0..100. */
export function parseWeights(value: string): Map<string, number> {
  const weights = new Map<string, number>();
  for (const part of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^([^=]+)=(\d+)$/.exec(part);
    const weight = Number(match?.[2]);
    if (!match || weight > 100) throw new Error(`--to takes <node>=<weight 0..100>,..., got: ${JSON.stringify(part)}`);
    weights.set(match[1] ?? '', weight);
  }
  if (weights.size === 0) throw new Error('--to names no target');
  return weights;
}

/**
 * The weighted targets after a shift: every node named gets its weight; a node the route
 * targets but the shift does not name keeps its target with weight 0 (so its port stays), and
 * a named node the route does not target yet is added.
 */
export function shiftedTargets(current: WeightedTarget[], weights: Map<string, number>): WeightedTarget[] {
  const next = current.map((t) => ({ ...t, weight: weights.get(t.virtualNode ?? '') ?? 0 }));
  for (const [node, weight] of weights) {
    if (!next.some((t) => t.virtualNode === node)) next.push({ virtualNode: node, weight });
  }
  return next;
}

/** The canary weights of one step: the canary gets `percent`, the others share the rest as they did. */
export function canaryWeights(current: WeightedTarget[], canary: string, percent: number): Map<string, number> {
  const others = current.filter((t) => t.virtualNode !== canary);
  const otherTotal = others.reduce((sum, t) => sum + (t.weight ?? 0), 0);
  const weights = new Map<string, number>([[canary, percent]]);
  let left = 100 - percent;
  others.forEach((t, index) => {
    const share = index === others.length - 1 ? left : Math.round(((otherTotal ? (t.weight ?? 0) / otherTotal : 1 / others.length) * (100 - percent)));
    weights.set(t.virtualNode ?? '', Math.max(0, share));
    left -= share;
  });
  return weights;
}

function routeType(spec: RouteSpec): (typeof ROUTE_TYPES)[number] {
  const type = ROUTE_TYPES.find((t) => spec[t]);
  if (!type) throw new Error('the route has no http, http2, grpc or tcp route');
  return type;
}

/** The route's current weighted targets. */
export async function currentTargets(appmesh: AppMeshClient, route: RouteRef): Promise<WeightedTarget[]> {
  const { route: data } = await appmesh.send(new DescribeRouteCommand(route));
  const spec = data?.spec ?? {};
  return spec[routeType(spec)]?.action?.weightedTargets ?? [];
}

/** Sets a route's weights in one UpdateRoute, keeping everything else of its spec. Returns the new version. */
export async function shiftRoute(appmesh: AppMeshClient, route: RouteRef, weights: Map<string, number>): Promise<{ version: number; targets: WeightedTarget[] }> {
  const { route: data } = await appmesh.send(new DescribeRouteCommand(route));
  const spec = structuredClone(data?.spec ?? {}) as RouteSpec;
  const type = routeType(spec);
  const action = spec[type]?.action;
  if (!action) throw new Error(`the route's ${type} has no action`);
  action.weightedTargets = shiftedTargets(action.weightedTargets ?? [], weights);
  const updated = await appmesh.send(new UpdateRouteCommand({ ...route, spec }));
  return { version: updated.route?.metadata?.version ?? 0, targets: action.weightedTargets };
}
