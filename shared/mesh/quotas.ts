import type { Kind } from './kinds.js';

/**
 * How many resources one account, mesh, router or gateway may hold: App Mesh's service quotas,
 * as settings. Meshline is run by its users, so these are operator settings rather than limits
 * of a shared service; they exist to keep one mesh small enough to load with one Query and to
 * compile in one Lambda invocation. Entry points read them (functions/runtime.ts reads
 * `MESHLINE_QUOTA_*`); use cases receive them in their dependencies.
 *
 * Model limits (10 weighted targets per route, 50 tags per resource, ...) are not quotas: the
 * model enforces them with BadRequestException and they cannot be raised.
 */
export interface Quotas {
  meshesPerAccount: number;
  virtualNodesPerMesh: number;
  virtualServicesPerMesh: number;
  virtualRoutersPerMesh: number;
  virtualGatewaysPerMesh: number;
  routesPerVirtualRouter: number;
  gatewayRoutesPerVirtualGateway: number;
  backendsPerVirtualNode: number;
}

/**
 * The defaults. App Mesh's own defaults (Service Quotas, `appmesh`: meshes per account 15,
 * virtual nodes, services and routers per mesh 200, virtual gateways per mesh 3, routes per
 * virtual router 50, gateway routes per virtual gateway 10, backends per virtual node 50) are
 * lower everywhere: a script that worked against App Mesh never meets a Meshline quota first.
 */
export const DEFAULT_QUOTAS: Readonly<Quotas> = {
  meshesPerAccount: 1000,
  virtualNodesPerMesh: 1000,
  virtualServicesPerMesh: 1000,
  virtualRoutersPerMesh: 1000,
  virtualGatewaysPerMesh: 100,
  routesPerVirtualRouter: 100,
  gatewayRoutesPerVirtualGateway: 100,
  backendsPerVirtualNode: 100,
};

/** The quota that bounds how many resources of a kind their container (account, mesh, router, gateway) holds. */
export const QUOTA_OF_KIND: Readonly<Record<Kind, keyof Quotas>> = {
  mesh: 'meshesPerAccount',
  virtualNode: 'virtualNodesPerMesh',
  virtualService: 'virtualServicesPerMesh',
  virtualRouter: 'virtualRoutersPerMesh',
  virtualGateway: 'virtualGatewaysPerMesh',
  route: 'routesPerVirtualRouter',
  gatewayRoute: 'gatewayRoutesPerVirtualGateway',
};

/** `virtualNodesPerMesh` -> `MESHLINE_QUOTA_VIRTUAL_NODES_PER_MESH`, the setting's environment variable. */
export function quotaSettingName(quota: keyof Quotas): string {
  return `MESHLINE_QUOTA_${quota.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}
