/** The kinds of App Mesh resources, and how each is named, addressed and returned. */
export type Kind =
  | 'mesh'
  | 'virtualNode'
  | 'virtualService'
  | 'virtualRouter'
  | 'route'
  | 'virtualGateway'
  | 'gatewayRoute';

export interface KindInfo {
  kind: Kind;
  /** The member that names the resource in requests and responses, e.g. `virtualNodeName`. */
  nameMember: string;
  /** The parent kind for routes and gateway routes. */
  parent?: 'virtualRouter' | 'virtualGateway';
  /** The member that names the parent, e.g. `virtualRouterName`. */
  parentMember?: string;
  /** The member of the List* output holding the refs, e.g. `virtualNodes`. */
  listMember: string;
  /** The ARN path segment, e.g. `virtualNode` (route: `virtualRouter/<r>/route/<n>`). */
  arnSegment: string;
  /** Human name used in messages: `virtual node`. */
  label: string;
}

export const KINDS: Record<Kind, KindInfo> = {
  mesh: { kind: 'mesh', nameMember: 'meshName', listMember: 'meshes', arnSegment: 'mesh', label: 'mesh' },
  virtualNode: {
    kind: 'virtualNode',
    nameMember: 'virtualNodeName',
    listMember: 'virtualNodes',
    arnSegment: 'virtualNode',
    label: 'virtual node',
  },
  virtualService: {
    kind: 'virtualService',
    nameMember: 'virtualServiceName',
    listMember: 'virtualServices',
    arnSegment: 'virtualService',
    label: 'virtual service',
  },
  virtualRouter: {
    kind: 'virtualRouter',
    nameMember: 'virtualRouterName',
    listMember: 'virtualRouters',
    arnSegment: 'virtualRouter',
    label: 'virtual router',
  },
  route: {
    kind: 'route',
    nameMember: 'routeName',
    parent: 'virtualRouter',
    parentMember: 'virtualRouterName',
    listMember: 'routes',
    arnSegment: 'route',
    label: 'route',
  },
  virtualGateway: {
    kind: 'virtualGateway',
    nameMember: 'virtualGatewayName',
    listMember: 'virtualGateways',
    arnSegment: 'virtualGateway',
    label: 'virtual gateway',
  },
  gatewayRoute: {
    kind: 'gatewayRoute',
    nameMember: 'gatewayRouteName',
    parent: 'virtualGateway',
    parentMember: 'virtualGatewayName',
    listMember: 'gatewayRoutes',
    arnSegment: 'gatewayRoute',
    label: 'gateway route',
  },
};

/** Identifies one resource: its mesh, its parent (routes, gateway routes) and its name. */
export interface ResourceKey {
  kind: Kind;
  meshName: string;
  parentName?: string | undefined;
  name: string;
}

/** Where ARNs are minted: App Mesh's partition, region and account. */
export interface AccountSettings {
  partition: string;
  region: string;
  accountId: string;
}

/** The App Mesh ARN of a resource. */
export function arnOf(account: AccountSettings, key: ResourceKey): string {
  const base = `arn:${account.partition}:appmesh:${account.region}:${account.accountId}:mesh/${key.meshName}`;
  if (key.kind === 'mesh') return base;
  const info = KINDS[key.kind];
  const parent = info.parent ? `/${info.parent}/${key.parentName ?? ''}` : '';
  return `${base}${parent}/${info.arnSegment}/${key.name}`;
}

/** Parses an App Mesh ARN back into a resource key (for the tag operations), or undefined. */
export function parseArn(arn: string): (ResourceKey & { accountId: string }) | undefined {
  const match = /^arn:[^:]+:appmesh:[^:]*:(\d{12}):mesh\/([^/]+)(?:\/(.+))?$/.exec(arn);
  if (!match) return undefined;
  const [, accountId, meshName, rest] = match as unknown as [string, string, string, string | undefined];
  if (rest === undefined) return { kind: 'mesh', meshName, name: meshName, accountId };
  const parts = rest.split('/');
  if (parts.length === 2) {
    const [segment, name] = parts as [string, string];
    const kind = (Object.keys(KINDS) as Kind[]).find((k) => !KINDS[k].parent && k !== 'mesh' && KINDS[k].arnSegment === segment);
    return kind ? { kind, meshName, name, accountId } : undefined;
  }
  if (parts.length === 4) {
    const [parentSegment, parentName, segment, name] = parts as [string, string, string, string];
    const kind = (Object.keys(KINDS) as Kind[]).find((k) => KINDS[k].parent === parentSegment && KINDS[k].arnSegment === segment);
    return kind ? { kind, meshName, parentName, name, accountId } : undefined;
  }
  return undefined;
}
