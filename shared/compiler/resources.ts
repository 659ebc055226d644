import { isDeepStrictEqual } from 'node:util';
import type { ProtoObject } from '../xds/encode.js';
import { RESOURCE_TYPE_URLS, type ResourceTypeUrl } from '../xds/type-urls.js';

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
export function addResource(out: ProxyResources, typeUrl: ResourceTypeUrl, name: string, resource: ProtoObject, options: { onlyByName?: boolean } = {}): void {
  const existing = out[typeUrl].get(name);
  if (existing) {
    if (!isDeepStrictEqual(existing.resource, resource)) throw new CompileError(`two different ${typeUrl} resources named ${name}`);
    return;
  }
  out[typeUrl].set(name, { name, resource, ...(options.onlyByName ? { onlyByName: true } : {}) });
}
