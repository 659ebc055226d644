import protobuf from 'protobufjs';
import { encodeMessage, encodeResource, messageToJson, resourceToJson, ResourceValidationError, type ProtoObject } from '../xds/encode.js';
import { nodeIdOf, proxyKey } from '../xds/node-id.js';
import { CLUSTER, ENDPOINT, LISTENER, RESOURCE_TYPE_URLS, ROUTE, SHORT_NAMES, type ResourceTypeUrl } from '../xds/type-urls.js';
import { buildSnapshot, contentVersion, type Snapshot } from '../store/snapshots.js';
import type { MeshState } from './mesh-state.js';
import { CompileError, type ProxyResources } from './resources.js';
import { compileVirtualGateway } from './virtual-gateway.js';
import { compileVirtualNode } from './virtual-node.js';

export { indexMesh, type DiscoveredInstance, type IndexOptions, type MeshState } from './mesh-state.js';
export { CompileError } from './resources.js';
export { affectedProxies, changeOfSortKey, proxyDependencies, type MeshChange } from './dependencies.js';

/** A compiled proxy: its snapshot (encoded) and the JSON twin for people and the CLI. */
export interface CompiledProxy {
  snapshot: Snapshot;
  twin: Record<string, unknown>;
}

/** The outcome for every proxy of a mesh, keyed by `virtualNode/<name>` or `virtualGateway/<name>`. */
export type MeshOutput = Map<string, CompiledProxy | { error: string }>;

/** One encoded resource: its bytes, their version, and the proto3-JSON twin (built when asked). */
interface Encoded {
  value: Uint8Array;
  version: string;
  json(): ProtoObject;
}

const ROUTE_CONFIGURATION = 'envoy.config.route.v3.RouteConfiguration';
const VIRTUAL_HOST = 'envoy.config.route.v3.VirtualHost';

/**
 * Encoded resources shared by the proxies of one compile. Most clusters, endpoint assignments,
 * proxyless listeners and route configurations are the same object (shared derivations of the
 * mesh) or the same content in every proxy that reaches them, so each is validated, encoded
 * and hashed once. A sidecar's egress route configuration is its own, but it is made of the
 * virtual hosts of its backends, which are shared: those are encoded once and spliced.
 */
export class EncodeCache {
  private readonly byObject = new WeakMap<object, Encoded>();
  private readonly byContent = new Map<string, Encoded>();
  hits = 0;
  misses = 0;

  encode(typeUrl: ResourceTypeUrl, resource: ProtoObject): Encoded {
    const known = this.byObject.get(resource);
    if (known) {
      this.hits++;
      return known;
    }
    const spliced = typeUrl === ROUTE ? this.spliceRouteConfiguration(resource) : undefined;
    const encoded = spliced ?? this.byContentOf(typeUrl, resource);
    this.byObject.set(resource, encoded);
    return encoded;
  }

  private byContentOf(typeUrl: ResourceTypeUrl, resource: ProtoObject): Encoded {
    const key = `${typeUrl}\n${JSON.stringify(resource)}`;
    const cached = this.byContent.get(key);
    if (cached) {
      this.hits++;
      return cached;
    }
    this.misses++;
    const encoded = entry(encodeResource(typeUrl, resource), (value) => resourceToJson(typeUrl, value));
    this.byContent.set(key, encoded);
    return encoded;
  }

  /**
   * A route configuration of a name and virtual hosts only, as the concatenation protobuf
   * defines for it: field 1 (name), then field 2 once per virtual host. The bytes are those a
   * whole encode gives (fields in number order); each virtual host is validated on its own.
   */
  private spliceRouteConfiguration(resource: ProtoObject): Encoded | undefined {
    const keys = Object.keys(resource);
    if (keys.length !== 2 || typeof resource.name !== 'string' || !Array.isArray(resource.virtual_hosts)) return undefined;
    const name = resource.name;
    const hosts = (resource.virtual_hosts as ProtoObject[]).map((host, i) => this.virtualHost(host, `${ROUTE_CONFIGURATION}(${name}).virtual_hosts[${i}]`));
    const head = encodeMessage(ROUTE_CONFIGURATION, { name });
    const body = protobuf.Writer.create();
    for (const host of hosts) body.uint32((2 << 3) | 2).bytes(host.value);
    const value = concat(head, body.finish());
    this.misses++;
    return entry(value, () => ({ name, virtual_hosts: hosts.map((h) => h.json()) }));
  }

  private virtualHost(host: ProtoObject, path: string): Encoded {
    const known = this.byObject.get(host);
    if (known) return known;
    const encoded = entry(encodeMessage(VIRTUAL_HOST, host, path), (value) => messageToJson(VIRTUAL_HOST, value));
    this.byObject.set(host, encoded);
    return encoded;
  }
}

function entry(value: Uint8Array, toJson: (value: Uint8Array) => ProtoObject): Encoded {
  let json: ProtoObject | undefined;
  return { value, version: contentVersion(value), json: () => (json ??= toJson(value)) };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function collectStrings(value: unknown, key: string, found: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) collectStrings(item, key, found);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === key && typeof v === 'string') found.add(v);
      else collectStrings(v, key, found);
    }
  }
}

/** Every cluster a resource names: `cluster` fields and the clusters of weighted clusters. */
function namedClusters(resource: ProtoObject, found: Set<string>): void {
  collectStrings(resource, 'cluster', found);
  visitWeighted(resource, found);
}

function visitWeighted(value: unknown, found: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) visitWeighted(item, found);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'weighted_clusters') {
        for (const c of ((v as { clusters?: { name?: string }[] }).clusters ?? [])) if (c.name) found.add(c.name);
      } else {
        visitWeighted(v, found);
      }
    }
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
    collectStrings(resource, 'route_config_name', routeConfigs);
    namedClusters(resource, clusters);
  }
  for (const { resource } of resources[ROUTE].values()) namedClusters(resource, clusters);
  for (const name of [...routeConfigs].sort()) {
    if (!resources[ROUTE].has(name)) throw new CompileError(`route configuration ${name} is named by a listener but missing`);
  }
  for (const name of [...clusters].sort()) {
    if (!resources[CLUSTER].has(name)) throw new CompileError(`cluster ${name} is named but missing`);
  }
  for (const { name, resource } of resources[CLUSTER].values()) {
    if (resource.type !== 'EDS') continue;
    const serviceName = (resource.eds_cluster_config as { service_name?: string } | undefined)?.service_name || name;
    if (!resources[ENDPOINT].has(serviceName)) throw new CompileError(`EDS cluster ${name} has no endpoint assignment ${serviceName}`);
  }
}

/**
 * Encodes a proxy's resources with Envoy's protos (which validates them) into a snapshot, with
 * its proto3-JSON twin. A cache shared across the proxies of a compile saves re-encoding.
 */
export function encodeProxy(nodeId: string, resources: ProxyResources, cache: EncodeCache = new EncodeCache()): CompiledProxy {
  checkConsistent(resources);
  const encoded: Parameters<typeof buildSnapshot>[1] = {};
  const twins = new Map<string, Encoded>();
  const targets: Record<string, string> = {};
  for (const typeUrl of RESOURCE_TYPE_URLS) {
    encoded[typeUrl] = [...resources[typeUrl].values()].map((r) => {
      if (r.target && (typeUrl === CLUSTER || typeUrl === ENDPOINT)) targets[r.name] = r.target;
      const e = cache.encode(typeUrl, r.resource);
      twins.set(`${typeUrl}\n${r.name}`, e);
      return { name: r.name, value: e.value, version: e.version, ...(r.onlyByName ? { onlyByName: true } : {}) };
    });
  }
  const snapshot = buildSnapshot(nodeId, encoded, targets);
  let twin: Record<string, unknown> | undefined;
  return {
    snapshot,
    // Decoding every resource back to JSON costs as much as encoding it; only snapshots that are
    // written need their twin, so it is made when first read.
    get twin() {
      if (!twin) {
        twin = { proxy: nodeId, version: snapshot.version };
        for (const typeUrl of RESOURCE_TYPE_URLS) {
          twin[SHORT_NAMES[typeUrl]] = snapshot.resources[typeUrl].map((r) => twins.get(`${typeUrl}\n${r.name}`)?.json());
        }
      }
      return twin;
    },
  };
}

/** The manifest keys of every proxy of a mesh: its virtual nodes and virtual gateways. */
export function proxyKeys(state: MeshState): string[] {
  return [
    ...[...state.virtualNodes.keys()].map((name) => proxyKey({ kind: 'virtualNode', name })),
    ...[...state.virtualGateways.keys()].map((name) => proxyKey({ kind: 'virtualGateway', name })),
  ];
}

/** Compiles one proxy of a mesh; a proxy that cannot compile yields its reason. */
export function compileProxy(state: MeshState, key: string, cache: EncodeCache = new EncodeCache()): CompiledProxy | { error: string } {
  const slash = key.indexOf('/');
  const kind = key.slice(0, slash);
  const name = key.slice(slash + 1);
  try {
    if (kind === 'virtualNode') {
      const node = state.virtualNodes.get(name);
      if (!node) return { error: `virtual node ${name} does not exist` };
      return encodeProxy(nodeIdOf({ mesh: state.meshName, kind, name }), compileVirtualNode(state, node), cache);
    }
    if (kind === 'virtualGateway') {
      const gateway = state.virtualGateways.get(name);
      if (!gateway) return { error: `virtual gateway ${name} does not exist` };
      return encodeProxy(nodeIdOf({ mesh: state.meshName, kind, name }), compileVirtualGateway(state, gateway), cache);
    }
    return { error: `${key} is not a proxy` };
  } catch (error) {
    if (error instanceof CompileError || error instanceof ResourceValidationError) return { error: error.message };
    throw error;
  }
}

export interface CompileOptions {
  /** Compile only these proxies (manifest keys); every proxy of the mesh when absent. */
  only?: ReadonlySet<string>;
}

/** The proxies of a mesh (or those asked for). Pure: the same mesh always gives the same bytes. */
export function compileMesh(state: MeshState, options: CompileOptions = {}): MeshOutput {
  const output: MeshOutput = new Map();
  const cache = new EncodeCache();
  for (const key of proxyKeys(state)) {
    if (options.only && !options.only.has(key)) continue;
    output.set(key, compileProxy(state, key, cache));
  }
  return output;
}
