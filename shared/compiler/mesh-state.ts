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
}

function byName(a: StoredResource, b: StoredResource): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Indexes the items of one mesh partition; undefined when the mesh itself is gone. */
export function indexMesh(items: StoredResource[]): MeshState | undefined {
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
        map.set(parent, [...(map.get(parent) ?? []), item]);
        break;
      }
      default:
        break;
    }
  }
  return state;
}
