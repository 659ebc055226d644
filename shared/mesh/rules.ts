/**
 * App Mesh rules the zod model cannot express: rules over a whole spec (a route's weights, a
 * node's backend quota) and rules between resources (a route's match port against its router's
 * listeners, a weighted target's port against its node's listeners, a gateway route's match port
 * against its gateway's listeners). The latter are checked against the state read when the
 * request is handled; like App Mesh, a later change of the router, node or gateway does not
 * re-check the routes that point at it.
 */
import { BadRequestError, LimitExceededError } from '../errors.js';
import type { MeshRepository, StoredResource } from '../store/repository.js';
import { KINDS, type ResourceKey } from './kinds.js';
import { quotaSettingName, type Quotas } from './quotas.js';

type Json = Record<string, unknown>;

const ROUTE_TYPES = ['httpRoute', 'http2Route', 'grpcRoute', 'tcpRoute'] as const;
const GATEWAY_ROUTE_TYPES = ['httpRoute', 'http2Route', 'grpcRoute'] as const;

function object(value: unknown): Json | undefined {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** The listener ports of a virtual node, router or gateway spec, in spec order. */
function listenerPorts(resource: StoredResource): number[] {
  return list(object(resource.spec)?.listeners)
    .map((listener) => object(object(listener)?.portMapping)?.port)
    .filter((port): port is number => typeof port === 'number');
}

function described(resource: StoredResource): string {
  return `${KINDS[resource.kind].label} ${resource.name}`;
}

/**
 * A port given (or left out) where the resource receiving the traffic has listeners: it must be
 * one of them, and it must be given when there is more than one (App Mesh's multiple-listener
 * rule: "for routes that receive traffic from a resource with multiple listeners, you must
 * specify the match port", and likewise the target port of a target with several listeners).
 */
function checkPort(field: string, port: unknown, receiver: StoredResource): void {
  const ports = listenerPorts(receiver);
  if (typeof port === 'number') {
    if (!ports.includes(port)) {
      const have = ports.length ? ` (${ports.join(', ')})` : ', which has none';
      throw new BadRequestError(`${field} must be one of the listener ports of ${described(receiver)}${have}, got: ${port}`);
    }
  } else if (ports.length > 1) {
    throw new BadRequestError(`${field} is required: ${described(receiver)} has more than one listener (${ports.join(', ')})`);
  }
}

/**
 * Rules over one spec, needing nothing but the spec and the quotas: a virtual node's backends
 * within its quota (LimitExceededException, as App Mesh answers it), and a route's weighted
 * targets giving traffic somewhere. A target may have weight 0 (App Mesh accepts it, and AWS's
 * examples use it to drain a target), but all of them at 0 routes nothing, and Envoy rejects a
 * weighted cluster whose total weight is 0.
 */
export function checkSpec(key: ResourceKey, spec: unknown, quotas: Quotas): void {
  const s = object(spec);
  if (key.kind === 'virtualNode') {
    const backends = list(s?.backends).length;
    if (backends > quotas.backendsPerVirtualNode) {
      throw new LimitExceededError(
        `spec.backends has ${backends} backends; the quota is ${quotas.backendsPerVirtualNode} per virtual node (backendsPerVirtualNode, set by ${quotaSettingName('backendsPerVirtualNode')}).`,
      );
    }
  }
  if (key.kind === 'route') {
    for (const type of ROUTE_TYPES) {
      const targets = list(object(object(s?.[type])?.action)?.weightedTargets);
      if (targets.length === 0) continue;
      const weights = targets.map((target) => Number(object(target)?.weight ?? 0));
      if (weights.reduce((sum, weight) => sum + weight, 0) < 1) {
        throw new BadRequestError(`spec.${type}.action.weightedTargets must give at least one target a weight above 0, got: weights ${weights.join(', ')}`);
      }
    }
  }
}

/**
 * The port rules between a route and its router and targets, or a gateway route and its gateway.
 * A parent or target that does not exist is left to the write, whose transaction answers
 * NotFoundException for it.
 */
export async function checkPorts(repository: MeshRepository, key: ResourceKey, spec: unknown): Promise<void> {
  const s = object(spec);
  if (key.kind !== 'route' && key.kind !== 'gatewayRoute') return;
  const parentKind = KINDS[key.kind].parent;
  if (!parentKind) return;
  const parent = await repository.get({ kind: parentKind, meshName: key.meshName, name: key.parentName ?? '' });
  const types = key.kind === 'route' ? ROUTE_TYPES : GATEWAY_ROUTE_TYPES;
  for (const type of types) {
    const route = object(s?.[type]);
    if (!route) continue;
    if (parent) checkPort(`spec.${type}.match.port`, object(route.match)?.port, parent);
    if (key.kind !== 'route') continue;
    const targets = list(object(route.action)?.weightedTargets).map(object);
    const nodes = await Promise.all(
      targets.map((target) =>
        typeof target?.virtualNode === 'string'
          ? repository.get({ kind: 'virtualNode', meshName: key.meshName, name: target.virtualNode })
          : undefined,
      ),
    );
    targets.forEach((target, i) => {
      const node = nodes[i];
      if (node) checkPort(`spec.${type}.action.weightedTargets[${i}].port`, target?.port, node);
    });
  }
}
