import type { StoredResource } from '../store/repository.js';

/**
 * One mesh, indexed for the compiler: every resource by kind and name (routes and gateway
 * routes grouped under their parent, in name order so output order never depends on storage).
 */
export interface MeshState {
  meshName: string;
  mesh: StoredResource;
  virtualNodes: Map<string, StoredResource>;
  virtualServices: Map<string, StoredResource>;
  virtualRouters: Map<string, StoredResource>;
  /** Routes by virtual router name. */
  routes: Map<string, StoredResource[]>;
  virtualGateways: Map<string, StoredResource>;
  /** Gateway routes by virtual gateway name. */
  gatewayRoutes: Map<string, StoredResource[]>;
  /**
   * Instances of virtual nodes that use Cloud Map service discovery, by virtual node name. They
   * come from outside the table (a resolver of Cloud Map, or the instance-registration API), so
   * the compiler takes them as input; a node with none has an empty endpoint assignment.
   */
  instances: ReadonlyMap<string, readonly DiscoveredInstance[]>;
  /**
   * Pure derivations of this state shared by the proxies of one compile (a backend's cluster, a
   * service's routes for one kind of client), so each is built once and every proxy that
   * reaches it holds the same object. Never read across states.
   */
  memo: Map<string, unknown>;
}

/** One instance of a service, as Cloud Map knows it (AWS_INSTANCE_IPV4 / AWS_INSTANCE_IPV6). */
export interface DiscoveredInstance {
  ipv4?: string | undefined;
  ipv6?: string | undefined;
}

export interface IndexOptions {
  /** Discovered instances of Cloud Map virtual nodes, by virtual node name. */
  instances?: ReadonlyMap<string, readonly DiscoveredInstance[]>;
}

function byName(a: StoredResource, b: StoredResource): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Indexes the items of one mesh partition; undefined when the mesh itself is gone. */
export function indexMesh(items: StoredResource[], options: IndexOptions = {}): MeshState | undefined {
  const mesh = items.find((i) => i.kind === 'mesh');
  if (!mesh) return undefined;
  const state: MeshState = {
    meshName: mesh.meshName,
    mesh,
    virtualNodes: new Map(),
    virtualServices: new Map(),
    virtualRouters: new Map(),
    routes: new Map(),
    virtualGateways: new Map(),
    gatewayRoutes: new Map(),
    instances: options.instances ?? new Map(),
    memo: new Map(),
  };
  for (const item of [...items].sort(byName)) {
    switch (item.kind) {
      case 'virtualNode':
        state.virtualNodes.set(item.name, item);
        break;
      case 'virtualService':
        state.virtualServices.set(item.name, item);
        break;
      case 'virtualRouter':
        state.virtualRouters.set(item.name, item);
        break;
      case 'virtualGateway':
        state.virtualGateways.set(item.name, item);
        break;
      case 'route':
      case 'gatewayRoute': {
        const map = item.kind === 'route' ? state.routes : state.gatewayRoutes;
        const parent = item.parentName ?? '';
        const siblings = map.get(parent);
        if (siblings) siblings.push(item);
        else map.set(parent, [item]);
        break;
      }
      default:
        break;
    }
  }
  return state;
}
