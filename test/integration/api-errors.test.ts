/**
 * The errors App Mesh answers, through the SDK: ConflictException (duplicate names, a client
 * token reused with another request), idempotent retries, NotFoundException (mesh, parent,
 * referenced resource), ResourceInUseException (every reference App Mesh guards), the rules the
 * model cannot express (weights, listener ports), the backends quota, and the protocol's answer
 * to a request no operation claims.
 */
import {
  BadRequestException,
  ConflictException,
  CreateGatewayRouteCommand,
  CreateMeshCommand,
  CreateRouteCommand,
  CreateVirtualGatewayCommand,
  CreateVirtualNodeCommand,
  CreateVirtualRouterCommand,
  CreateVirtualServiceCommand,
  DeleteGatewayRouteCommand,
  DeleteMeshCommand,
  DeleteRouteCommand,
  DeleteVirtualGatewayCommand,
  DeleteVirtualNodeCommand,
  DeleteVirtualRouterCommand,
  DeleteVirtualServiceCommand,
  DescribeMeshCommand,
  DescribeRouteCommand,
  DescribeVirtualNodeCommand,
  LimitExceededException,
  ListVirtualNodesCommand,
  NotFoundException,
  ResourceInUseException,
  UpdateRouteCommand,
  UpdateVirtualGatewayCommand,
  UpdateVirtualNodeCommand,
  UpdateVirtualServiceCommand,
  type WeightedTarget,
} from '@aws-sdk/client-app-mesh';
import { describe, expect, it } from 'vitest';
import { DEFAULT_QUOTAS } from '../../shared/mesh/quotas.js';
import { apiFetch, appMeshClient, uniqueMeshName } from '../support/appmesh.js';
import { gatewayRouteSpec, gatewaySpec, nodeSpec, rejectsWith, routeSpec, routerSpec, serviceSpec } from '../support/api-specs.js';

const appmesh = appMeshClient();

async function meshWith(prefix: string, nodes: Record<string, number[]> = {}): Promise<string> {
  const meshName = uniqueMeshName(prefix);
  await appmesh.send(new CreateMeshCommand({ meshName }));
  for (const [virtualNodeName, ports] of Object.entries(nodes)) {
    await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName, spec: nodeSpec(...ports) }));
  }
  return meshName;
}

async function nodeVersion(meshName: string, virtualNodeName: string): Promise<number | undefined> {
  return (await appmesh.send(new DescribeVirtualNodeCommand({ meshName, virtualNodeName }))).virtualNode?.metadata?.version;
}

describe('ConflictException and idempotent retries', () => {
  it('answers a duplicate name with ConflictException, per kind and per parent', async () => {
    const meshName = await meshWith('dup', { blue: [8080] });
    await rejectsWith(appmesh.send(new CreateMeshCommand({ meshName })), ConflictException);
    await rejectsWith(appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'blue', spec: {} })), ConflictException);
    // The same name in another kind is another resource.
    await appmesh.send(new CreateVirtualRouterCommand({ meshName, virtualRouterName: 'blue', spec: routerSpec(8080) }));
    await appmesh.send(new CreateVirtualRouterCommand({ meshName, virtualRouterName: 'red', spec: routerSpec(8080) }));
    await appmesh.send(new CreateRouteCommand({ meshName, virtualRouterName: 'blue', routeName: 'r', spec: routeSpec([['blue', 1]]) }));
    await rejectsWith(
      appmesh.send(new CreateRouteCommand({ meshName, virtualRouterName: 'blue', routeName: 'r', spec: routeSpec([['blue', 1]]) })),
      ConflictException,
    );
    // The same route name under another router is another route.
    await appmesh.send(new CreateRouteCommand({ meshName, virtualRouterName: 'red', routeName: 'r', spec: routeSpec([['blue', 1]]) }));
  });

  it('answers a create retried with its clientToken with the same resource, and writes nothing twice', async () => {
    const meshName = await meshWith('idem-create');
    const request = { meshName, virtualNodeName: 'web', spec: nodeSpec(8080), tags: [{ key: 'a', value: 'b' }], clientToken: 'create-1' };
    const first = await appmesh.send(new CreateVirtualNodeCommand(request));
    const retried = await appmesh.send(new CreateVirtualNodeCommand(request));
    expect(retried.virtualNode).toEqual(first.virtualNode);
    expect((await appmesh.send(new ListVirtualNodesCommand({ meshName }))).virtualNodes).toHaveLength(1);
    // The token with another request is a conflict, and changes nothing.
    const message = await rejectsWith(appmesh.send(new CreateVirtualNodeCommand({ ...request, spec: nodeSpec(9090) })), ConflictException);
    expect(message).toContain('clientToken');
    // Another token for an existing name is the usual duplicate.
    await rejectsWith(appmesh.send(new CreateVirtualNodeCommand({ ...request, clientToken: 'create-2' })), ConflictException);
    expect((await appmesh.send(new DescribeVirtualNodeCommand({ meshName, virtualNodeName: 'web' }))).virtualNode).toEqual(first.virtualNode);
  });

  it('answers an update retried with its clientToken with the same resource, without moving the version again', async () => {
    const meshName = await meshWith('idem-update', { web: [8080] });
    const request = { meshName, virtualNodeName: 'web', spec: nodeSpec(9090), clientToken: 'update-1' };
    const first = await appmesh.send(new UpdateVirtualNodeCommand(request));
    expect(first.virtualNode?.metadata?.version).toBe(2);
    const retried = await appmesh.send(new UpdateVirtualNodeCommand(request));
    expect(retried.virtualNode).toEqual(first.virtualNode);
    expect(await nodeVersion(meshName, 'web')).toBe(2);
    await rejectsWith(appmesh.send(new UpdateVirtualNodeCommand({ ...request, spec: nodeSpec(7070) })), ConflictException);
    expect(await nodeVersion(meshName, 'web')).toBe(2);

    // A retry that arrives after someone else's update is still not applied a second time:
    // applying it again would silently undo the later update.
    await appmesh.send(new UpdateVirtualNodeCommand({ meshName, virtualNodeName: 'web', spec: nodeSpec(6060), clientToken: 'update-2' }));
    const late = await appmesh.send(new UpdateVirtualNodeCommand(request));
    expect(late.virtualNode?.metadata?.version).toBe(3);
    expect(late.virtualNode?.spec).toEqual(nodeSpec(6060));
    // Without a token, the same spec twice is two updates, as in App Mesh.
    await appmesh.send(new UpdateVirtualNodeCommand({ meshName, virtualNodeName: 'web', spec: nodeSpec(6060) }));
    await appmesh.send(new UpdateVirtualNodeCommand({ meshName, virtualNodeName: 'web', spec: nodeSpec(6060) }));
    expect(await nodeVersion(meshName, 'web')).toBe(5);
  });

  it('answers a mesh create retried with its clientToken with the same mesh', async () => {
    const meshName = uniqueMeshName('idem-mesh');
    const first = await appmesh.send(new CreateMeshCommand({ meshName, clientToken: 'mesh-1' }));
    expect((await appmesh.send(new CreateMeshCommand({ meshName, clientToken: 'mesh-1' }))).mesh).toEqual(first.mesh);
    await rejectsWith(appmesh.send(new CreateMeshCommand({ meshName, clientToken: 'mesh-1', spec: { egressFilter: { type: 'ALLOW_ALL' } } })), ConflictException);
  });
});

describe('NotFoundException', () => {
  it('answers a resource in a missing mesh', async () => {
    const meshName = uniqueMeshName('no-mesh');
    await rejectsWith(appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'web', spec: {} })), NotFoundException);
    await rejectsWith(appmesh.send(new CreateVirtualServiceCommand({ meshName, virtualServiceName: 's', spec: {} })), NotFoundException);
    await rejectsWith(appmesh.send(new DescribeMeshCommand({ meshName })), NotFoundException);
    await rejectsWith(appmesh.send(new DeleteMeshCommand({ meshName })), NotFoundException);
    await rejectsWith(appmesh.send(new ListVirtualNodesCommand({ meshName })), NotFoundException);
  });

  it('answers a route in a missing router and a gateway route in a missing gateway', async () => {
    const meshName = await meshWith('no-parent', { blue: [8080] });
    await appmesh.send(new CreateVirtualServiceCommand({ meshName, virtualServiceName: 'web.local', spec: {} }));
    const message = await rejectsWith(
      appmesh.send(new CreateRouteCommand({ meshName, virtualRouterName: 'nope', routeName: 'r', spec: routeSpec([['blue', 1]]) })),
      NotFoundException,
    );
    expect(message).toContain('Virtual router nope');
    await rejectsWith(
      appmesh.send(new CreateGatewayRouteCommand({ meshName, virtualGatewayName: 'nope', gatewayRouteName: 'g', spec: gatewayRouteSpec('web.local') })),
      NotFoundException,
    );
    await rejectsWith(appmesh.send(new DescribeRouteCommand({ meshName, virtualRouterName: 'nope', routeName: 'r' })), NotFoundException);
  });

  it('answers a reference to a missing node, router or service, and stores nothing', async () => {
    const meshName = await meshWith('no-ref', { blue: [8080] });
    await appmesh.send(new CreateVirtualRouterCommand({ meshName, virtualRouterName: 'router', spec: routerSpec(8080) }));
    await appmesh.send(new CreateVirtualGatewayCommand({ meshName, virtualGatewayName: 'gateway', spec: gatewaySpec(8443) }));
    const missingTarget = await rejectsWith(
      appmesh.send(new CreateRouteCommand({ meshName, virtualRouterName: 'router', routeName: 'r', spec: routeSpec([['blue', 1], ['ghost', 1]]) })),
      NotFoundException,
    );
    expect(missingTarget).toContain('Virtual node ghost');
    await rejectsWith(appmesh.send(new DescribeRouteCommand({ meshName, virtualRouterName: 'router', routeName: 'r' })), NotFoundException);
    await rejectsWith(appmesh.send(new CreateVirtualServiceCommand({ meshName, virtualServiceName: 's1', spec: serviceSpec({ node: 'ghost' }) })), NotFoundException);
    await rejectsWith(appmesh.send(new CreateVirtualServiceCommand({ meshName, virtualServiceName: 's2', spec: serviceSpec({ router: 'ghost' }) })), NotFoundException);
    await rejectsWith(
      appmesh.send(new CreateGatewayRouteCommand({ meshName, virtualGatewayName: 'gateway', gatewayRouteName: 'g', spec: gatewayRouteSpec('ghost.local') })),
      NotFoundException,
    );
    // An update that names a missing target leaves the resource as it was.
    await appmesh.send(new CreateVirtualServiceCommand({ meshName, virtualServiceName: 's3', spec: serviceSpec({ node: 'blue' }) }));
    await rejectsWith(appmesh.send(new UpdateVirtualServiceCommand({ meshName, virtualServiceName: 's3', spec: serviceSpec({ node: 'ghost' }) })), NotFoundException);
    // blue is still referenced once (by s3): deleting it is still refused.
    await rejectsWith(appmesh.send(new DeleteVirtualNodeCommand({ meshName, virtualNodeName: 'blue' })), ResourceInUseException);
  });

  it('lets a virtual node name a backend virtual service that does not exist yet, as AWS examples do', async () => {
    const meshName = await meshWith('backend-later');
    const spec = { backends: [{ virtualService: { virtualServiceName: 'later.local' } }] };
    await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'web', spec }));
    await appmesh.send(new CreateVirtualServiceCommand({ meshName, virtualServiceName: 'later.local', spec: {} }));
    // A backend is no reference App Mesh guards: the service can go while the node names it.
    await appmesh.send(new DeleteVirtualServiceCommand({ meshName, virtualServiceName: 'later.local' }));
  });
});

describe('ResourceInUseException', () => {
  it('keeps a mesh with resources from being deleted', async () => {
    const meshName = await meshWith('in-use-mesh', { blue: [8080] });
    await rejectsWith(appmesh.send(new DeleteMeshCommand({ meshName })), ResourceInUseException);
    await appmesh.send(new DeleteVirtualNodeCommand({ meshName, virtualNodeName: 'blue' }));
    await appmesh.send(new DeleteMeshCommand({ meshName }));
  });

  it('keeps a virtual node that is a route target or a service provider, until neither is', async () => {
    const meshName = await meshWith('in-use-node', { blue: [8080], green: [8080] });
    await appmesh.send(new CreateVirtualRouterCommand({ meshName, virtualRouterName: 'router', spec: routerSpec(8080) }));
    await appmesh.send(new CreateRouteCommand({ meshName, virtualRouterName: 'router', routeName: 'r', spec: routeSpec([['blue', 1], ['green', 1]]) }));
    await appmesh.send(new CreateVirtualServiceCommand({ meshName, virtualServiceName: 'svc', spec: serviceSpec({ node: 'blue' }) }));
    await rejectsWith(appmesh.send(new DeleteVirtualNodeCommand({ meshName, virtualNodeName: 'blue' })), ResourceInUseException);
    await rejectsWith(appmesh.send(new DeleteVirtualNodeCommand({ meshName, virtualNodeName: 'green' })), ResourceInUseException);
    // Moving the route off green frees green; blue is still the provider.
    await appmesh.send(new UpdateRouteCommand({ meshName, virtualRouterName: 'router', routeName: 'r', spec: routeSpec([['blue', 1]]) }));
    await appmesh.send(new DeleteVirtualNodeCommand({ meshName, virtualNodeName: 'green' }));
    await appmesh.send(new DeleteRouteCommand({ meshName, virtualRouterName: 'router', routeName: 'r' }));
    await rejectsWith(appmesh.send(new DeleteVirtualNodeCommand({ meshName, virtualNodeName: 'blue' })), ResourceInUseException);
    await appmesh.send(new UpdateVirtualServiceCommand({ meshName, virtualServiceName: 'svc', spec: {} }));
    await appmesh.send(new DeleteVirtualNodeCommand({ meshName, virtualNodeName: 'blue' }));
  });

  it('keeps a virtual router that provides a service or has routes', async () => {
    const meshName = await meshWith('in-use-router', { blue: [8080] });
    await appmesh.send(new CreateVirtualRouterCommand({ meshName, virtualRouterName: 'router', spec: routerSpec(8080) }));
    await appmesh.send(new CreateVirtualServiceCommand({ meshName, virtualServiceName: 'svc', spec: serviceSpec({ router: 'router' }) }));
    const provides = await rejectsWith(appmesh.send(new DeleteVirtualRouterCommand({ meshName, virtualRouterName: 'router' })), ResourceInUseException);
    expect(provides).toContain('referenced');
    await appmesh.send(new DeleteVirtualServiceCommand({ meshName, virtualServiceName: 'svc' }));
    await appmesh.send(new CreateRouteCommand({ meshName, virtualRouterName: 'router', routeName: 'r', spec: routeSpec([['blue', 1]]) }));
    const routes = await rejectsWith(appmesh.send(new DeleteVirtualRouterCommand({ meshName, virtualRouterName: 'router' })), ResourceInUseException);
    expect(routes).toContain('still has routes');
    await appmesh.send(new DeleteRouteCommand({ meshName, virtualRouterName: 'router', routeName: 'r' }));
    await appmesh.send(new DeleteVirtualRouterCommand({ meshName, virtualRouterName: 'router' }));
  });

  it('keeps a virtual gateway with gateway routes, and a virtual service that a gateway route targets', async () => {
    const meshName = await meshWith('in-use-gateway');
    await appmesh.send(new CreateVirtualGatewayCommand({ meshName, virtualGatewayName: 'gateway', spec: gatewaySpec(8443) }));
    await appmesh.send(new CreateVirtualServiceCommand({ meshName, virtualServiceName: 'web.local', spec: {} }));
    await appmesh.send(new CreateGatewayRouteCommand({ meshName, virtualGatewayName: 'gateway', gatewayRouteName: 'g', spec: gatewayRouteSpec('web.local') }));
    const routes = await rejectsWith(appmesh.send(new DeleteVirtualGatewayCommand({ meshName, virtualGatewayName: 'gateway' })), ResourceInUseException);
    expect(routes).toContain('still has gateway routes');
    await rejectsWith(appmesh.send(new DeleteVirtualServiceCommand({ meshName, virtualServiceName: 'web.local' })), ResourceInUseException);
    await appmesh.send(new DeleteGatewayRouteCommand({ meshName, virtualGatewayName: 'gateway', gatewayRouteName: 'g' }));
    await appmesh.send(new DeleteVirtualServiceCommand({ meshName, virtualServiceName: 'web.local' }));
    await appmesh.send(new DeleteVirtualGatewayCommand({ meshName, virtualGatewayName: 'gateway' }));
    await appmesh.send(new DeleteMeshCommand({ meshName }));
  });
});

describe('rules the model cannot express', () => {
  it('refuses a route whose weighted targets all weigh 0, and accepts a target of weight 0 beside others', async () => {
    const meshName = await meshWith('weights', { blue: [8080], green: [8080] });
    await appmesh.send(new CreateVirtualRouterCommand({ meshName, virtualRouterName: 'router', spec: routerSpec(8080) }));
    const message = await rejectsWith(
      appmesh.send(new CreateRouteCommand({ meshName, virtualRouterName: 'router', routeName: 'r', spec: routeSpec([['blue', 0], ['green', 0]]) })),
      BadRequestException,
    );
    expect(message).toBe('spec.httpRoute.action.weightedTargets must give at least one target a weight above 0, got: weights 0, 0');
    await appmesh.send(new CreateRouteCommand({ meshName, virtualRouterName: 'router', routeName: 'r', spec: routeSpec([['blue', 1], ['green', 0]]) }));
  });

  it('asks a route on a router with several listeners for a match port that is one of them', async () => {
    const meshName = await meshWith('ports-router', { blue: [8080] });
    await appmesh.send(new CreateVirtualRouterCommand({ meshName, virtualRouterName: 'router', spec: routerSpec(8080, 9090) }));
    const create = (spec: object) => appmesh.send(new CreateRouteCommand({ meshName, virtualRouterName: 'router', routeName: 'r', spec }));
    const withPort = (port?: number) => ({ httpRoute: { ...routeSpec([['blue', 1]]).httpRoute, match: { prefix: '/', ...(port ? { port } : {}) } } });
    expect(await rejectsWith(create(withPort()), BadRequestException)).toBe(
      'spec.httpRoute.match.port is required: virtual router router has more than one listener (8080, 9090)',
    );
    expect(await rejectsWith(create(withPort(7070)), BadRequestException)).toBe(
      'spec.httpRoute.match.port must be one of the listener ports of virtual router router (8080, 9090), got: 7070',
    );
    await create(withPort(9090));
    // Updates are held to the same rule.
    await rejectsWith(
      appmesh.send(new UpdateRouteCommand({ meshName, virtualRouterName: 'router', routeName: 'r', spec: withPort(7070) })),
      BadRequestException,
    );
  });

  it('asks a weighted target with several listeners for a target port that is one of them', async () => {
    const meshName = await meshWith('ports-target', { multi: [8080, 9090], single: [8080] });
    await appmesh.send(new CreateVirtualRouterCommand({ meshName, virtualRouterName: 'router', spec: routerSpec(8080) }));
    const create = (routeName: string, targets: WeightedTarget[]) =>
      appmesh.send(new CreateRouteCommand({ meshName, virtualRouterName: 'router', routeName, spec: { tcpRoute: { action: { weightedTargets: targets } } } }));
    expect(await rejectsWith(create('a', [{ virtualNode: 'multi', weight: 1 }]), BadRequestException)).toBe(
      'spec.tcpRoute.action.weightedTargets[0].port is required: virtual node multi has more than one listener (8080, 9090)',
    );
    expect(await rejectsWith(create('b', [{ virtualNode: 'single', weight: 1 }, { virtualNode: 'multi', weight: 1, port: 7070 }]), BadRequestException)).toBe(
      'spec.tcpRoute.action.weightedTargets[1].port must be one of the listener ports of virtual node multi (8080, 9090), got: 7070',
    );
    await create('c', [{ virtualNode: 'single', weight: 1 }, { virtualNode: 'multi', weight: 1, port: 9090 }]);
  });

  it('asks a gateway route on a gateway with several listeners for a match port that is one of them', async () => {
    const meshName = await meshWith('ports-gateway');
    await appmesh.send(new CreateVirtualGatewayCommand({ meshName, virtualGatewayName: 'gateway', spec: gatewaySpec(8443, 9443) }));
    await appmesh.send(new CreateVirtualServiceCommand({ meshName, virtualServiceName: 'web.local', spec: {} }));
    const create = (port?: number) =>
      appmesh.send(
        new CreateGatewayRouteCommand({
          meshName,
          virtualGatewayName: 'gateway',
          gatewayRouteName: 'g',
          spec: { httpRoute: { match: { prefix: '/', ...(port ? { port } : {}) }, action: { target: { virtualService: { virtualServiceName: 'web.local' } } } } },
        }),
      );
    await rejectsWith(create(), BadRequestException);
    await rejectsWith(create(1234), BadRequestException);
    await create(9443);
    // The gateway keeps the listener the route matches on.
    await appmesh.send(new UpdateVirtualGatewayCommand({ meshName, virtualGatewayName: 'gateway', spec: gatewaySpec(8443, 9443) }));
  });
});

describe('quotas over the wire', () => {
  it(`answers more backends than the quota (${DEFAULT_QUOTAS.backendsPerVirtualNode}) with LimitExceededException, on create and update`, async () => {
    const meshName = await meshWith('backends', { web: [8080] });
    const backends = (count: number) =>
      Array.from({ length: count }, (_, i) => ({ virtualService: { virtualServiceName: `svc-${i}.local` } }));
    const max = DEFAULT_QUOTAS.backendsPerVirtualNode;
    const message = await rejectsWith(
      appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'many', spec: { backends: backends(max + 1) } })),
      LimitExceededException,
    );
    expect(message).toContain(`${max + 1} backends`);
    await rejectsWith(appmesh.send(new DescribeVirtualNodeCommand({ meshName, virtualNodeName: 'many' })), NotFoundException);
    await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'many', spec: { backends: backends(max) } }));
    await rejectsWith(
      appmesh.send(new UpdateVirtualNodeCommand({ meshName, virtualNodeName: 'web', spec: { ...nodeSpec(8080), backends: backends(max + 1) } })),
      LimitExceededException,
    );
    expect(await nodeVersion(meshName, 'web')).toBe(1);
  });
});

describe('requests no operation claims', () => {
  it.each([
    ['an unknown path', 'GET', '/v20190125/nowhere'],
    ['the root', 'GET', '/'],
    ['a wrong method on a known path', 'POST', '/v20190125/meshes'],
    ['DELETE on a collection', 'DELETE', '/v20190125/meshes'],
    ['an extra path segment', 'GET', '/v20190125/meshes/a/virtualNodes/b/extra'],
  ])('answers %s with 404 UnknownOperationException, as AWS frontends do', async (_, method, path) => {
    const response = await apiFetch(path, { method });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
    expect(((await response.json()) as { message: string }).message).toContain(path);
  });

  it('answers malformed JSON with BadRequestException, never a 415 or 500', async () => {
    // Not a JSON string body ('"mesh"'): serverless-offline hands its parsed value over as the
    // body, so the signature no longer matches locally (test/unit/api-router.test.ts has it).
    for (const body of ['{', 'null', '[]', '{"meshName": "a",}']) {
      const response = await apiFetch('/v20190125/meshes', { method: 'PUT', body, headers: { 'content-type': 'application/json' } });
      expect(response.status, body).toBe(400);
      expect(response.headers.get('x-amzn-errortype'), body).toBe('BadRequestException');
    }
  });

  it('answers a name that cannot be stored with BadRequestException on create and NotFoundException on read', async () => {
    const meshName = await meshWith('long-names');
    // 255 characters, as the model allows, but 1,530 bytes once URI-encoded: more than a DynamoDB sort key holds.
    const virtualNodeName = 'é'.repeat(255);
    await rejectsWith(appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName, spec: {} })), BadRequestException);
    await rejectsWith(appmesh.send(new DescribeVirtualNodeCommand({ meshName, virtualNodeName })), NotFoundException);
    // A long ASCII name fits.
    await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'n'.repeat(255), spec: {} }));
  });
});
