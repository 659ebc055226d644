import { encodeResource, resourceToJson, ResourceValidationError } from '../xds/encode.js';
import { nodeIdOf, proxyKey } from '../xds/node-id.js';
import { CLUSTER, ENDPOINT, LISTENER, RESOURCE_TYPE_URLS, ROUTE, SHORT_NAMES } from '../xds/type-urls.js';
import { buildSnapshot, type Snapshot } from '../store/snapshots.js';
import type { MeshState } from './mesh-state.js';
import { CompileError, type ProxyResources } from './resources.js';
import { compileVirtualNode } from './virtual-node.js';

export { indexMesh, type MeshState } from './mesh-state.js';
export { CompileError } from './resources.js';

/** A compiled proxy: its snapshot (encoded) and the JSON twin for people and the CLI. */
export interface CompiledProxy {
  snapshot: Snapshot;
  twin: Record<string, unknown>;
}

/** The outcome for every proxy of a mesh, keyed by `virtualNode/<name>`. */
export type MeshOutput = Map<string, CompiledProxy | { error: string }>;

function referencedNames(resource: Record<string, unknown>, key: string, found: Set<string>): void {
  for (const [k, v] of Object.entries(resource)) {
    if (k === key && typeof v === 'string') found.add(v);
    else if (v && typeof v === 'object') referencedNames(v as Record<string, unknown>, key, found);
  }
}

/**
 * Checks that a proxy's resources are consistent, as go-control-plane's Snapshot.Consistent
 * does: every route configuration a listener names, every cluster a route or listener names,
 * and every endpoint assignment an EDS cluster needs is present.
 */
export function checkConsistent(resources: ProxyResources): void {
  const routeConfigs = new Set<string>();
  const clusters = new Set<string>();
  for (const { resource } of resources[LISTENER].values()) {
    referencedNames(resource, 'route_config_name', routeConfigs);
    referencedNames(resource, 'cluster', clusters);
  }
  for (const { resource } of resources[ROUTE].values()) {
    referencedNames(resource, 'cluster', clusters);
    for (const vh of (resource.virtual_hosts as Record<string, unknown>[] | undefined) ?? []) {
      for (const route of (vh.routes as Record<string, unknown>[] | undefined) ?? []) {
        const weighted = (route.route as Record<string, unknown> | undefined)?.weighted_clusters as { clusters?: { name: string }[] } | undefined;
        for (const c of weighted?.clusters ?? []) clusters.add(c.name);
      }
    }
  }
  for (const name of routeConfigs) {
    if (!resources[ROUTE].has(name)) throw new CompileError(`route configuration ${name} is named by a listener but missing`);
  }
  for (const name of clusters) {
    if (!resources[CLUSTER].has(name)) throw new CompileError(`cluster ${name} is named but missing`);
  }
  for (const { name, resource } of resources[CLUSTER].values()) {
    if (resource.type === 'EDS' && !resources[ENDPOINT].has(name)) throw new CompileError(`EDS cluster ${name} has no endpoint assignment`);
  }
}

/** Encodes a proxy's resources with Envoy's protos (which validates them) into a snapshot. */
export function encodeProxy(nodeId: string, resources: ProxyResources): CompiledProxy {
  checkConsistent(resources);
  const encoded: Parameters<typeof buildSnapshot>[1] = {};
  const twin: Record<string, unknown> = { proxy: nodeId };
  for (const typeUrl of RESOURCE_TYPE_URLS) {
    const list = [...resources[typeUrl].values()];
    encoded[typeUrl] = list.map((r) => ({ name: r.name, value: encodeResource(typeUrl, r.resource), ...(r.onlyByName ? { onlyByName: true } : {}) }));
  }
  const snapshot = buildSnapshot(nodeId, encoded);
  twin.version = snapshot.version;
  for (const typeUrl of RESOURCE_TYPE_URLS) {
    twin[SHORT_NAMES[typeUrl]] = snapshot.resources[typeUrl].map((r) => resourceToJson(typeUrl, r.value));
  }
  return { snapshot, twin };
}

/** Compiles one proxy of a mesh; a proxy that cannot compile yields its reason. */
export function compileProxy(state: MeshState, key: string): CompiledProxy | { error: string } {
  const [kind, ...rest] = key.split('/');
  const name = rest.join('/');
  const nodeId = nodeIdOf({ mesh: state.meshName, kind: kind === 'virtualGateway' ? 'virtualGateway' : 'virtualNode', name });
  try {
    if (kind === 'virtualNode') {
      const node = state.virtualNodes.get(name);
      if (!node) return { error: `virtual node ${name} does not exist` };
      return encodeProxy(nodeId, compileVirtualNode(state, node));
    }
    return { error: `${kind} proxies are not compiled yet` };
  } catch (error) {
    if (error instanceof CompileError || error instanceof ResourceValidationError) return { error: error.message };
    throw error;
  }
}

/** Every proxy of a mesh. Pure: the same mesh always gives the same bytes. */
export function compileMesh(state: MeshState): MeshOutput {
  const output: MeshOutput = new Map();
  for (const name of state.virtualNodes.keys()) {
    const key = proxyKey({ kind: 'virtualNode', name });
    output.set(key, compileProxy(state, key));
  }
  return output;
}
