import type { ResourceKey } from './kinds.js';

type Spec = Record<string, unknown> | undefined;

const ROUTE_TYPES = ['httpRoute', 'http2Route', 'grpcRoute', 'tcpRoute'] as const;

function at(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const step of path) {
    if (!current || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[step];
  }
  return current;
}

/**
 * The resources a spec refers to and that must exist while it does, as App Mesh enforces:
 * a route's weighted targets, a virtual service's provider, a gateway route's target service.
 * A virtual node's backends are not among them: they may name a virtual service that does not
 * exist yet, and AWS's own examples rely on that.
 */
export function referencesOf(key: ResourceKey, spec: unknown): ResourceKey[] {
  const meshName = key.meshName;
  const s = spec as Spec;
  switch (key.kind) {
    case 'virtualService': {
      const node = at(s, 'provider', 'virtualNode', 'virtualNodeName');
      const router = at(s, 'provider', 'virtualRouter', 'virtualRouterName');
      if (typeof node === 'string') return [{ kind: 'virtualNode', meshName, name: node }];
      if (typeof router === 'string') return [{ kind: 'virtualRouter', meshName, name: router }];
      return [];
    }
    case 'route': {
      const refs: ResourceKey[] = [];
      for (const type of ROUTE_TYPES) {
        const targets = at(s, type, 'action', 'weightedTargets');
        if (!Array.isArray(targets)) continue;
        for (const target of targets) {
          const node = at(target, 'virtualNode');
          if (typeof node === 'string') refs.push({ kind: 'virtualNode', meshName, name: node });
        }
      }
      return refs;
    }
    case 'gatewayRoute': {
      const refs: ResourceKey[] = [];
      for (const type of ['httpRoute', 'http2Route', 'grpcRoute'] as const) {
        const service = at(s, type, 'action', 'target', 'virtualService', 'virtualServiceName');
        if (typeof service === 'string') refs.push({ kind: 'virtualService', meshName, name: service });
      }
      return refs;
    }
    default:
      return [];
  }
}
