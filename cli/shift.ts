import { DescribeRouteCommand, UpdateRouteCommand, type AppMeshClient, type RouteSpec, type WeightedTarget } from '@aws-sdk/client-app-mesh';
import { shiftedTargets } from '../shared/mesh/canary.js';

export { canaryWeights, shiftedTargets } from '../shared/mesh/canary.js';

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
