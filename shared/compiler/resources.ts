import { isDeepStrictEqual } from 'node:util';
import type { ProtoObject } from '../xds/encode.js';
import { RESOURCE_TYPE_URLS, SHORT_NAMES, type ResourceTypeUrl } from '../xds/type-urls.js';

/** A mesh (or one proxy of it) that cannot be compiled, and why. */
export class CompileError extends Error {
  override name = 'CompileError';
}

/** One resource the compiler emits, in protobufjs object form. */
export interface CompiledResource {
  name: string;
  resource: ProtoObject;
  /** Served only to clients that ask for it by name (proxyless gRPC api listeners). */
  onlyByName?: boolean;
  /**
   * The proxy key (`virtualNode/<name>`) of the virtual node a cluster or endpoint assignment
   * leads to, so load reported on it can be attributed to an edge of the mesh.
   */
  target?: string;
}

/** How a resource is added: served by name only, and the virtual node it leads to. */
export interface ResourceOptions {
  onlyByName?: boolean | undefined;
  target?: string | undefined;
}

/** The resources of one proxy, by type URL and name. */
export type ProxyResources = Record<ResourceTypeUrl, Map<string, CompiledResource>>;

export function emptyResources(): ProxyResources {
  return Object.fromEntries(RESOURCE_TYPE_URLS.map((t) => [t, new Map()])) as ProxyResources;
}

/**
 * Adds a resource once. Two parts of a proxy may need the same cluster (two services routing to
 * one node); they must agree on its content, or the mesh is contradictory.
 */
export function addResource(out: ProxyResources, typeUrl: ResourceTypeUrl, name: string, resource: ProtoObject, options: ResourceOptions = {}): void {
  const existing = out[typeUrl].get(name);
  if (existing) {
    // Shared derivations hand out the same object, so identity settles most cases cheaply.
    if (existing.resource !== resource && !isDeepStrictEqual(existing.resource, resource)) {
      throw new CompileError(`two different ${SHORT_NAMES[typeUrl].replace(/s$/, '')} resources named ${name}: two parts of the mesh need it configured differently`);
    }
    if (existing.target !== options.target) {
      throw new CompileError(`${SHORT_NAMES[typeUrl].replace(/s$/, '')} ${name} leads to both ${existing.target ?? 'no virtual node'} and ${options.target ?? 'no virtual node'}`);
    }
    return;
  }
  out[typeUrl].set(name, { name, resource, ...(options.onlyByName ? { onlyByName: true } : {}), ...(options.target ? { target: options.target } : {}) });
}

/** Adds every resource of `from` to `out` (see {@link addResource}). */
export function mergeResources(out: ProxyResources, from: ProxyResources): void {
  for (const typeUrl of RESOURCE_TYPE_URLS) {
    for (const r of from[typeUrl].values()) addResource(out, typeUrl, r.name, r.resource, { onlyByName: r.onlyByName, target: r.target });
  }
}

/**
 * A derivation of the mesh state shared by every proxy of one compile: built once (with the
 * resources it needs, such as clusters, gathered aside), then handed out with those resources
 * added to each proxy that asks. A failure is not remembered: it is raised again each time.
 */
export function shared<T>(memo: Map<string, unknown>, key: string, out: ProxyResources, build: (out: ProxyResources) => T): T {
  let entry = memo.get(key) as { value: T; added: ProxyResources } | undefined;
  if (!entry) {
    const added = emptyResources();
    entry = { value: build(added), added };
    memo.set(key, entry);
  }
  mergeResources(out, entry.added);
  return entry.value;
}
