/** What kind of App Mesh resource a proxy runs as. */
export type ProxyKind = 'virtualNode' | 'virtualGateway';

/** A proxy's place in the mesh, parsed from its xDS node id. */
export interface ProxyId {
  mesh: string;
  kind: ProxyKind;
  name: string;
}

const PLAIN = /^mesh\/([^/]+)\/(virtualNode|virtualGateway)\/([^/]+)$/;
const ARN = /^arn:[^:]+:appmesh:[^:]*:[^:]*:mesh\/([^/]+)\/(virtualNode|virtualGateway)\/([^/]+)$/;

/**
 * Parses a node id as App Mesh's Envoy image sends it: `mesh/<mesh>/virtualNode/<name>`,
 * `mesh/<mesh>/virtualGateway/<name>`, or the full resource ARN (`APPMESH_RESOURCE_ARN`).
 * Returns undefined for anything else.
 */
export function parseNodeId(nodeId: string): ProxyId | undefined {
  const match = PLAIN.exec(nodeId) ?? ARN.exec(nodeId);
  if (!match) return undefined;
  const [, mesh, kind, name] = match as unknown as [string, string, ProxyKind, string];
  return { mesh, kind, name };
}

/** The key of a proxy inside its mesh's manifest: `virtualNode/<name>`. */
export function proxyKey(proxy: Pick<ProxyId, 'kind' | 'name'>): string {
  return `${proxy.kind}/${proxy.name}`;
}

/** The canonical node id of a proxy: `mesh/<mesh>/<kind>/<name>`. */
export function nodeIdOf(proxy: ProxyId): string {
  return `mesh/${proxy.mesh}/${proxyKey(proxy)}`;
}
