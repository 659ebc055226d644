/**
 * Every App Mesh operation through @aws-sdk/client-app-mesh against the local API: create,
 * describe, update, list and delete of every kind with the metadata App Mesh returns, paging,
 * the tag operations, and the meshOwner query parameter.
 */
import * as AppMesh from '@aws-sdk/client-app-mesh';
import {
  BadRequestException,
  CreateMeshCommand,
  CreateVirtualNodeCommand,
  DeleteMeshCommand,
  DescribeMeshCommand,
  DescribeVirtualNodeCommand,
  ListMeshesCommand,
  ListTagsForResourceCommand,
  ListVirtualNodesCommand,
  NotFoundException,
  TagResourceCommand,
  TooManyTagsException,
  UntagResourceCommand,
  UpdateMeshCommand,
} from '@aws-sdk/client-app-mesh';
import { describe, expect, it } from 'vitest';
import { appMeshClient, uniqueMeshName } from '../support/appmesh.js';
import { gatewayRouteSpec, gatewaySpec, nodeSpec, rejectsWith, routeSpec, routerSpec, serviceSpec } from '../support/api-specs.js';

const appmesh = appMeshClient();
const ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '444455556666';
const UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Command = new (input: unknown) => Parameters<typeof appmesh.send>[0];
type Output = Record<string, unknown>;

function command(name: string): Command {
  const found = (AppMesh as unknown as Record<string, Command | undefined>)[`${name}Command`];
  if (!found) throw new Error(`no SDK command ${name}Command`);
  return found;
}

async function send(operation: string, input: object): Promise<Output> {
  return (await appmesh.send(new (command(operation))(input))) as unknown as Output;
}

/** One kind of mesh resource: how it is named, what it needs first, and two valid specs. */
interface KindCase {
  label: string;
  /** The noun of its operations: `VirtualNode` -> CreateVirtualNode, ListVirtualNodes. */
  noun: string;
  plural: string;
  /** The member of the outputs holding the resource, and of List* holding the refs. */
  payload: string;
  listMember: string;
  nameMember: string;
  parent?: { member: string; name: string; arn: string };
  arnSegment: string;
  /** Creates what the resource needs in the mesh (its parent, its targets). */
  prepare: (meshName: string) => Promise<void>;
  spec: object;
  updated: object;
}

const CASES: KindCase[] = [
  {
    label: 'virtual node',
    noun: 'VirtualNode',
    plural: 'VirtualNodes',
    payload: 'virtualNode',
    listMember: 'virtualNodes',
    nameMember: 'virtualNodeName',
    arnSegment: 'virtualNode',
    prepare: async () => {},
    spec: { ...nodeSpec(8080), backends: [{ virtualService: { virtualServiceName: 'not-there-yet.local' } }] },
    updated: {
      ...nodeSpec(9090),
      backendDefaults: { clientPolicy: { tls: { enforce: true, ports: [443], validation: { trust: { file: { certificateChain: '/ca.pem' } } } } } },
      logging: { accessLog: { file: { path: '/dev/stdout' } } },
    },
  },
  {
    label: 'virtual service',
    noun: 'VirtualService',
    plural: 'VirtualServices',
    payload: 'virtualService',
    listMember: 'virtualServices',
    nameMember: 'virtualServiceName',
    arnSegment: 'virtualService',
    prepare: async (meshName) => {
      await send('CreateVirtualNode', { meshName, virtualNodeName: 'provider', spec: nodeSpec(8080) });
      await send('CreateVirtualRouter', { meshName, virtualRouterName: 'provider-router', spec: routerSpec(8080) });
    },
    spec: serviceSpec({ node: 'provider' }),
    updated: serviceSpec({ router: 'provider-router' }),
  },
  {
    label: 'virtual router',
    noun: 'VirtualRouter',
    plural: 'VirtualRouters',
    payload: 'virtualRouter',
    listMember: 'virtualRouters',
    nameMember: 'virtualRouterName',
    arnSegment: 'virtualRouter',
    prepare: async () => {},
    spec: routerSpec(8080),
    updated: { listeners: [{ portMapping: { port: 50051, protocol: 'grpc' } }] },
  },
  {
    label: 'route',
    noun: 'Route',
    plural: 'Routes',
    payload: 'route',
    listMember: 'routes',
    nameMember: 'routeName',
    parent: { member: 'virtualRouterName', name: 'router', arn: 'virtualRouter/router/' },
    arnSegment: 'route',
    prepare: async (meshName) => {
      await send('CreateVirtualNode', { meshName, virtualNodeName: 'blue', spec: nodeSpec(8080) });
      await send('CreateVirtualNode', { meshName, virtualNodeName: 'green', spec: nodeSpec(8080) });
      await send('CreateVirtualRouter', { meshName, virtualRouterName: 'router', spec: routerSpec(8080) });
    },
    spec: { priority: 10, ...routeSpec([['blue', 1]]) },
    updated: {
      http2Route: {
        match: { prefix: '/api', headers: [{ name: 'x-canary', match: { exact: 'yes' } }], method: 'POST' },
        action: { weightedTargets: [{ virtualNode: 'blue', weight: 90 }, { virtualNode: 'green', weight: 10 }] },
        retryPolicy: { maxRetries: 2, perRetryTimeout: { unit: 'ms', value: 250 }, httpRetryEvents: ['server-error'] },
        timeout: { perRequest: { unit: 's', value: 5 } },
      },
    },
  },
  {
    label: 'virtual gateway',
    noun: 'VirtualGateway',
    plural: 'VirtualGateways',
    payload: 'virtualGateway',
    listMember: 'virtualGateways',
    nameMember: 'virtualGatewayName',
    arnSegment: 'virtualGateway',
    prepare: async () => {},
    spec: gatewaySpec(8443),
    updated: {
      listeners: [
        {
          portMapping: { port: 8443, protocol: 'http2' },
          healthCheck: { protocol: 'http2', path: '/ping', healthyThreshold: 2, unhealthyThreshold: 3, timeoutMillis: 2000, intervalMillis: 5000 },
        },
      ],
    },
  },
  {
    label: 'gateway route',
    noun: 'GatewayRoute',
    plural: 'GatewayRoutes',
    payload: 'gatewayRoute',
    listMember: 'gatewayRoutes',
    nameMember: 'gatewayRouteName',
    parent: { member: 'virtualGatewayName', name: 'gateway', arn: 'virtualGateway/gateway/' },
    arnSegment: 'gatewayRoute',
    prepare: async (meshName) => {
      await send('CreateVirtualGateway', { meshName, virtualGatewayName: 'gateway', spec: gatewaySpec(8443) });
      await send('CreateVirtualService', { meshName, virtualServiceName: 'web.local', spec: {} });
      await send('CreateVirtualService', { meshName, virtualServiceName: 'api.local', spec: {} });
    },
    spec: gatewayRouteSpec('web.local'),
    updated: {
      priority: 5,
      httpRoute: {
        match: { prefix: '/api/', hostname: { suffix: '.example.com' } },
        action: { target: { virtualService: { virtualServiceName: 'api.local' } }, rewrite: { prefix: { defaultPrefix: 'DISABLED' } } },
      },
    },
  },
];

function namesOf(c: KindCase, meshName: string): Record<string, string> {
  return { meshName, ...(c.parent ? { [c.parent.member]: c.parent.name } : {}) };
}

function arnOf(c: KindCase, meshName: string, name: string): string {
  return `arn:aws:appmesh:us-east-1:${ACCOUNT}:mesh/${meshName}/${c.parent?.arn ?? ''}${c.arnSegment}/${name}`;
}

describe('the operations of every kind', () => {
  it('creates, describes, updates, lists and deletes a mesh, returning specs exactly as given', async () => {
    const meshName = uniqueMeshName('ops-mesh');
    const created = (await appmesh.send(new CreateMeshCommand({ meshName }))).mesh;
    // App Mesh fills no defaults: a mesh created without a spec has an empty one (aws appmesh create-mesh example).
    expect(created).toEqual({
      meshName,
      spec: {},
      metadata: {
        arn: `arn:aws:appmesh:us-east-1:${ACCOUNT}:mesh/${meshName}`,
        uid: expect.stringMatching(UID),
        version: 1,
        createdAt: expect.any(Date),
        lastUpdatedAt: expect.any(Date),
        meshOwner: ACCOUNT,
        resourceOwner: ACCOUNT,
      },
      status: { status: 'ACTIVE' },
    });
    expect((await appmesh.send(new DescribeMeshCommand({ meshName }))).mesh).toEqual(created);

    const spec = { egressFilter: { type: 'ALLOW_ALL' as const }, serviceDiscovery: { ipPreference: 'IPv6_PREFERRED' as const } };
    const updated = (await appmesh.send(new UpdateMeshCommand({ meshName, spec }))).mesh;
    expect(updated).toMatchObject({ meshName, spec, metadata: { version: 2, uid: created?.metadata?.uid, createdAt: created?.metadata?.createdAt } });
    expect(updated?.metadata?.lastUpdatedAt?.getTime()).toBeGreaterThanOrEqual(created?.metadata?.createdAt?.getTime() ?? Infinity);

    const listed: AppMesh.MeshRef[] = [];
    for (let nextToken: string | undefined, first = true; first || nextToken; first = false) {
      const page = await appmesh.send(new ListMeshesCommand({ nextToken }));
      listed.push(...(page.meshes ?? []));
      nextToken = page.nextToken;
    }
    expect(listed.find((m) => m.meshName === meshName)).toEqual({
      meshName,
      arn: created?.metadata?.arn,
      version: 2,
      createdAt: created?.metadata?.createdAt,
      lastUpdatedAt: updated?.metadata?.lastUpdatedAt,
      meshOwner: ACCOUNT,
      resourceOwner: ACCOUNT,
    });

    // DeleteMesh answers with the mesh as it was, status DELETED (aws appmesh delete-mesh example).
    const deleted = (await appmesh.send(new DeleteMeshCommand({ meshName }))).mesh;
    expect(deleted).toEqual({ ...updated, status: { status: 'DELETED' } });
    await rejectsWith(appmesh.send(new DescribeMeshCommand({ meshName })), NotFoundException);
    await rejectsWith(appmesh.send(new DeleteMeshCommand({ meshName })), NotFoundException);
  });

  it.each(CASES)('creates, describes, updates, lists and deletes a $label, returning specs exactly as given', async (c) => {
    const meshName = uniqueMeshName('ops');
    await appmesh.send(new CreateMeshCommand({ meshName }));
    await c.prepare(meshName);
    const names = namesOf(c, meshName);
    const created = (await send(`Create${c.noun}`, { ...names, [c.nameMember]: 'one', spec: c.spec }))[c.payload] as Output;
    expect(created).toEqual({
      ...names,
      [c.nameMember]: 'one',
      spec: c.spec,
      metadata: {
        arn: arnOf(c, meshName, 'one'),
        uid: expect.stringMatching(UID),
        version: 1,
        createdAt: expect.any(Date),
        lastUpdatedAt: expect.any(Date),
        meshOwner: ACCOUNT,
        resourceOwner: ACCOUNT,
      },
      status: { status: 'ACTIVE' },
    });
    const metadata = created.metadata as AppMesh.ResourceMetadata;
    expect((await send(`Describe${c.noun}`, { ...names, [c.nameMember]: 'one' }))[c.payload]).toEqual(created);

    const updated = (await send(`Update${c.noun}`, { ...names, [c.nameMember]: 'one', spec: c.updated }))[c.payload] as Output;
    expect(updated).toEqual({
      ...created,
      spec: c.updated,
      metadata: { ...metadata, version: 2, lastUpdatedAt: expect.any(Date) },
    });
    const updatedAt = (updated.metadata as AppMesh.ResourceMetadata).lastUpdatedAt;
    expect(updatedAt?.getTime()).toBeGreaterThanOrEqual(metadata.lastUpdatedAt?.getTime() ?? Infinity);
    expect((await send(`Describe${c.noun}`, { ...names, [c.nameMember]: 'one' }))[c.payload]).toEqual(updated);

    const listed = await send(`List${c.plural}`, names);
    expect(listed[c.listMember]).toEqual([
      {
        ...names,
        [c.nameMember]: 'one',
        arn: metadata.arn,
        version: 2,
        createdAt: metadata.createdAt,
        lastUpdatedAt: updatedAt,
        meshOwner: ACCOUNT,
        resourceOwner: ACCOUNT,
      },
    ]);
    expect(listed.nextToken).toBeUndefined();

    const deleted = (await send(`Delete${c.noun}`, { ...names, [c.nameMember]: 'one' }))[c.payload];
    expect(deleted).toEqual({ ...updated, status: { status: 'DELETED' } });
    await rejectsWith(send(`Describe${c.noun}`, { ...names, [c.nameMember]: 'one' }), NotFoundException);
    await rejectsWith(send(`Delete${c.noun}`, { ...names, [c.nameMember]: 'one' }), NotFoundException);
    expect((await send(`List${c.plural}`, names))[c.listMember]).toEqual([]);
  });

  it.each(CASES)('pages through $label listings with limit and nextToken, each one seen once', async (c) => {
    const meshName = uniqueMeshName('page');
    await appmesh.send(new CreateMeshCommand({ meshName }));
    await c.prepare(meshName);
    const names = namesOf(c, meshName);
    const created = ['a', 'b#1', 'c/2', 'd e', 'é'];
    for (const name of created) await send(`Create${c.noun}`, { ...names, [c.nameMember]: name, spec: c.spec });
    const seen: string[] = [];
    let nextToken: string | undefined;
    let pages = 0;
    do {
      const page = await send(`List${c.plural}`, { ...names, limit: 2, nextToken });
      const refs = page[c.listMember] as Output[];
      expect(refs.length).toBeLessThanOrEqual(2);
      seen.push(...refs.map((ref) => ref[c.nameMember] as string));
      nextToken = page.nextToken as string | undefined;
      pages++;
    } while (nextToken);
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual([...created].sort());
  });

  it('refuses a nextToken from another listing with BadRequestException', async () => {
    const [first, second] = [uniqueMeshName('token-a'), uniqueMeshName('token-b')];
    for (const meshName of [first, second]) {
      await appmesh.send(new CreateMeshCommand({ meshName }));
      for (const name of ['a', 'b', 'c']) await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: name, spec: {} }));
    }
    const page = await appmesh.send(new ListVirtualNodesCommand({ meshName: first, limit: 1 }));
    expect(page.nextToken).toBeDefined();
    // The same token in another mesh, another kind, or edited: never another listing's items.
    await rejectsWith(appmesh.send(new ListVirtualNodesCommand({ meshName: second, nextToken: page.nextToken })), BadRequestException);
    await rejectsWith(appmesh.send(new AppMesh.ListVirtualServicesCommand({ meshName: first, nextToken: page.nextToken })), BadRequestException);
    const edited = JSON.parse(Buffer.from(page.nextToken ?? '', 'base64url').toString()) as Record<string, string>;
    const forged = Buffer.from(JSON.stringify({ ...edited, s: 'virtualService#a' })).toString('base64url');
    await rejectsWith(appmesh.send(new ListVirtualNodesCommand({ meshName: first, nextToken: forged })), BadRequestException);
    for (const garbage of ['not-a-token', Buffer.from('null').toString('base64url'), Buffer.from('[1]').toString('base64url')]) {
      await rejectsWith(appmesh.send(new ListVirtualNodesCommand({ meshName: first, nextToken: garbage })), BadRequestException);
    }
  });

  it('answers a listing in a missing mesh, router or gateway with NotFoundException, on every page', async () => {
    const meshName = uniqueMeshName('list-missing');
    await rejectsWith(appmesh.send(new ListVirtualNodesCommand({ meshName })), NotFoundException);
    await appmesh.send(new CreateMeshCommand({ meshName }));
    await rejectsWith(appmesh.send(new AppMesh.ListRoutesCommand({ meshName, virtualRouterName: 'nope' })), NotFoundException);
    await rejectsWith(appmesh.send(new AppMesh.ListGatewayRoutesCommand({ meshName, virtualGatewayName: 'nope' })), NotFoundException);
    for (const name of ['a', 'b']) await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: name, spec: {} }));
    const page = await appmesh.send(new ListVirtualNodesCommand({ meshName, limit: 1 }));
    for (const name of ['a', 'b']) await appmesh.send(new AppMesh.DeleteVirtualNodeCommand({ meshName, virtualNodeName: name }));
    await appmesh.send(new DeleteMeshCommand({ meshName }));
    await rejectsWith(appmesh.send(new ListVirtualNodesCommand({ meshName, nextToken: page.nextToken })), NotFoundException);
  });
});

describe('tags', () => {
  async function nodeWithTags(tags: AppMesh.TagRef[]): Promise<{ meshName: string; arn: string }> {
    const meshName = uniqueMeshName('tags');
    await appmesh.send(new CreateMeshCommand({ meshName }));
    const node = await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'web', spec: {}, tags }));
    return { meshName, arn: node.virtualNode?.metadata?.arn ?? '' };
  }

  it('keeps the tags given at create, adds and replaces with TagResource, removes with UntagResource, never moving the version', async () => {
    const { meshName, arn } = await nodeWithTags([{ key: 'team', value: 'mesh' }, { key: 'tier', value: 'web' }]);
    expect((await appmesh.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags).toEqual([
      { key: 'team', value: 'mesh' },
      { key: 'tier', value: 'web' },
    ]);
    await appmesh.send(new TagResourceCommand({ resourceArn: arn, tags: [{ key: 'tier', value: 'edge' }, { key: 'cost', value: '42' }] }));
    expect((await appmesh.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags).toEqual([
      { key: 'team', value: 'mesh' },
      { key: 'tier', value: 'edge' },
      { key: 'cost', value: '42' },
    ]);
    await appmesh.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['team', 'absent'] }));
    expect((await appmesh.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags).toEqual([
      { key: 'tier', value: 'edge' },
      { key: 'cost', value: '42' },
    ]);
    expect((await appmesh.send(new DescribeVirtualNodeCommand({ meshName, virtualNodeName: 'web' }))).virtualNode?.metadata?.version).toBe(1);
  });

  it('tags every kind by its ARN, a mesh and a route included', async () => {
    const meshName = uniqueMeshName('tag-kinds');
    const mesh = await appmesh.send(new CreateMeshCommand({ meshName, tags: [{ key: 'k', value: 'mesh' }] }));
    await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'blue', spec: nodeSpec(8080) }));
    await appmesh.send(new AppMesh.CreateVirtualRouterCommand({ meshName, virtualRouterName: 'router', spec: routerSpec(8080) }));
    const route = await appmesh.send(
      new AppMesh.CreateRouteCommand({ meshName, virtualRouterName: 'router', routeName: 'r', spec: routeSpec([['blue', 1]]), tags: [{ key: 'k', value: 'route' }] }),
    );
    expect((await appmesh.send(new ListTagsForResourceCommand({ resourceArn: mesh.mesh?.metadata?.arn }))).tags).toEqual([{ key: 'k', value: 'mesh' }]);
    expect((await appmesh.send(new ListTagsForResourceCommand({ resourceArn: route.route?.metadata?.arn }))).tags).toEqual([{ key: 'k', value: 'route' }]);
  });

  it('pages tags with limit and nextToken', async () => {
    const tags = Array.from({ length: 7 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }));
    const { arn } = await nodeWithTags(tags);
    const seen: AppMesh.TagRef[] = [];
    let nextToken: string | undefined;
    do {
      const page = await appmesh.send(new ListTagsForResourceCommand({ resourceArn: arn, limit: 3, nextToken }));
      expect(page.tags?.length).toBeLessThanOrEqual(3);
      seen.push(...(page.tags ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    expect(seen).toEqual(tags);
  });

  it('answers more than 50 tags on a resource with TooManyTagsException and applies none of them', async () => {
    const tags = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: '' }));
    const { arn } = await nodeWithTags(tags);
    // Replacing a value keeps the count at 50: allowed.
    await appmesh.send(new TagResourceCommand({ resourceArn: arn, tags: [{ key: 'k0', value: 'new' }] }));
    await rejectsWith(appmesh.send(new TagResourceCommand({ resourceArn: arn, tags: [{ key: 'k50', value: '' }, { key: 'k1', value: 'x' }] })), TooManyTagsException);
    const listed = await appmesh.send(new ListTagsForResourceCommand({ resourceArn: arn, limit: 50 }));
    expect(listed.tags).toHaveLength(50);
    expect(listed.tags?.[1]).toEqual({ key: 'k1', value: '' });
  });

  it('answers more than 50 tags in a create with BadRequestException, as the model bounds the list', async () => {
    const meshName = uniqueMeshName('tags-create');
    const tags = Array.from({ length: 51 }, (_, i) => ({ key: `k${i}`, value: '' }));
    const message = await rejectsWith(appmesh.send(new CreateMeshCommand({ meshName, tags })), BadRequestException);
    expect(message).toContain('tags must have at most 50 items, got: 51 items');
    await rejectsWith(appmesh.send(new DescribeMeshCommand({ meshName })), NotFoundException);
  });

  it('answers an unknown, deleted or foreign resource ARN with NotFoundException and a malformed one with BadRequestException', async () => {
    const { meshName, arn } = await nodeWithTags([]);
    await appmesh.send(new AppMesh.DeleteVirtualNodeCommand({ meshName, virtualNodeName: 'web' }));
    await rejectsWith(appmesh.send(new ListTagsForResourceCommand({ resourceArn: arn })), NotFoundException);
    await rejectsWith(appmesh.send(new TagResourceCommand({ resourceArn: arn, tags: [{ key: 'a', value: 'b' }] })), NotFoundException);
    await rejectsWith(appmesh.send(new UntagResourceCommand({ resourceArn: arn, tagKeys: ['a'] })), NotFoundException);
    const foreign = arn.replace(ACCOUNT, OTHER_ACCOUNT);
    await rejectsWith(appmesh.send(new ListTagsForResourceCommand({ resourceArn: foreign })), NotFoundException);
    await rejectsWith(appmesh.send(new ListTagsForResourceCommand({ resourceArn: 'arn:aws:s3:::bucket' })), BadRequestException);
  });
});

describe('the meshOwner query parameter', () => {
  it('reaches our own meshes with our account id, and finds no mesh of another account', async () => {
    const meshName = uniqueMeshName('owner');
    await appmesh.send(new CreateMeshCommand({ meshName }));
    const own = { meshName, meshOwner: ACCOUNT };
    expect((await appmesh.send(new DescribeMeshCommand(own))).mesh?.metadata?.meshOwner).toBe(ACCOUNT);
    await appmesh.send(new CreateVirtualNodeCommand({ ...own, virtualNodeName: 'web', spec: nodeSpec(8080) }));
    await appmesh.send(new AppMesh.UpdateVirtualNodeCommand({ ...own, virtualNodeName: 'web', spec: nodeSpec(9090) }));
    expect((await appmesh.send(new DescribeVirtualNodeCommand({ ...own, virtualNodeName: 'web' }))).virtualNode?.metadata?.version).toBe(2);
    expect((await appmesh.send(new ListVirtualNodesCommand(own))).virtualNodes?.map((n) => n.virtualNodeName)).toEqual(['web']);

    const foreign = { meshName, meshOwner: OTHER_ACCOUNT };
    await rejectsWith(appmesh.send(new DescribeMeshCommand(foreign)), NotFoundException);
    await rejectsWith(appmesh.send(new CreateVirtualNodeCommand({ ...foreign, virtualNodeName: 'api', spec: {} })), NotFoundException);
    await rejectsWith(appmesh.send(new DescribeVirtualNodeCommand({ ...foreign, virtualNodeName: 'web' })), NotFoundException);
    await rejectsWith(appmesh.send(new AppMesh.UpdateVirtualNodeCommand({ ...foreign, virtualNodeName: 'web', spec: {} })), NotFoundException);
    await rejectsWith(appmesh.send(new ListVirtualNodesCommand(foreign)), NotFoundException);
    await rejectsWith(appmesh.send(new AppMesh.DeleteVirtualNodeCommand({ ...foreign, virtualNodeName: 'web' })), NotFoundException);
    // Nothing was created or changed through the foreign owner.
    expect((await appmesh.send(new ListVirtualNodesCommand(own))).virtualNodes?.map((n) => n.version)).toEqual([2]);

    await appmesh.send(new AppMesh.DeleteVirtualNodeCommand({ ...own, virtualNodeName: 'web' }));
  });

  it('answers a meshOwner that is not a 12-digit account id with BadRequestException', async () => {
    const message = await rejectsWith(appmesh.send(new DescribeMeshCommand({ meshName: 'any', meshOwner: '1234' })), BadRequestException);
    expect(message).toBe('meshOwner must be exactly 12 characters long, got: 4 characters');
  });
});
