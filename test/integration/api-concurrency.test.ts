/**
 * No lost update and no dangling reference, under concurrency, over the wire: 50 concurrent
 * updates of one virtual node, and races between creating a reference and deleting what it
 * names (route target, service provider, mesh). After every race the stored mesh is checked
 * whole: every reference resolves, and every counter equals what it counts.
 */
import {
  CreateMeshCommand,
  CreateRouteCommand,
  CreateVirtualNodeCommand,
  CreateVirtualRouterCommand,
  CreateVirtualServiceCommand,
  DeleteMeshCommand,
  DeleteVirtualNodeCommand,
  DescribeVirtualNodeCommand,
  TooManyRequestsException,
  UpdateVirtualNodeCommand,
} from '@aws-sdk/client-app-mesh';
import { describe, expect, inject, it } from 'vitest';
import { referencesOf } from '../../shared/mesh/references.js';
import { awsSettingsFromEnv, createDocumentClient } from '../../shared/store/clients.js';
import { MeshRepository, type StoredResource } from '../../shared/store/repository.js';
import { appMeshClient, uniqueMeshName } from '../support/appmesh.js';
import { nodeSpec, routeSpec, routerSpec, serviceSpec } from '../support/api-specs.js';

const appmesh = appMeshClient();
const stack = inject('stack');
const repository = new MeshRepository(createDocumentClient(awsSettingsFromEnv(stack.env)), stack.tableName);
const ROUNDS = 12;

const id = (r: Pick<StoredResource, 'kind' | 'parentName' | 'name'>) => `${r.kind}/${r.parentName ?? ''}/${r.name}`;

/**
 * What the table holds for a mesh must be whole: every route target, service provider and
 * gateway route target exists, every refCount and childCount equals what points at or lives in
 * its item, and a deleted mesh leaves no item behind.
 */
async function expectWholeMesh(meshName: string): Promise<StoredResource[]> {
  const items = await repository.loadMesh(meshName);
  const mesh = items.find((item) => item.kind === 'mesh');
  if (!mesh) {
    expect(items, `items left in deleted mesh ${meshName}`).toEqual([]);
    return items;
  }
  const byId = new Map(items.map((item) => [id(item), item]));
  const refs = new Map<string, number>();
  for (const item of items) {
    for (const ref of new Map(referencesOf(item, item.spec).map((r) => [id(r), r])).values()) {
      expect(byId.has(id(ref)), `${id(item)} refers to missing ${id(ref)}`).toBe(true);
      refs.set(id(ref), (refs.get(id(ref)) ?? 0) + 1);
    }
  }
  for (const item of items) {
    expect(item.refCount ?? 0, `refCount of ${id(item)}`).toBe(refs.get(id(item)) ?? 0);
    const children = item.kind === 'mesh'
      ? items.length - 1
      : items.filter((child) => child.parentName === item.name && ((item.kind === 'virtualRouter' && child.kind === 'route') || (item.kind === 'virtualGateway' && child.kind === 'gatewayRoute'))).length;
    if (item.kind === 'mesh' || item.kind === 'virtualRouter' || item.kind === 'virtualGateway') {
      expect(item.childCount ?? 0, `childCount of ${id(item)}`).toBe(children);
    }
  }
  return items;
}

/** Both calls at once; the outcome of each: 'ok' or the error's name. */
async function race(...calls: Promise<unknown>[]): Promise<string[]> {
  const settled = await Promise.allSettled(calls);
  return settled.map((s) => (s.status === 'fulfilled' ? 'ok' : (s.reason as Error).name));
}

describe('concurrency', () => {
  it('keeps every one of 50 concurrent updates of a virtual node: version = 1 + successes, each success its own version', async () => {
    const meshName = uniqueMeshName('lost-update');
    await appmesh.send(new CreateMeshCommand({ meshName }));
    await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'web', spec: nodeSpec(1000) }));
    const settled = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        appmesh.send(new UpdateVirtualNodeCommand({ meshName, virtualNodeName: 'web', spec: nodeSpec(2000 + i), clientToken: `update-${i}` })),
      ),
    );
    const successes = settled.flatMap((s) => (s.status === 'fulfilled' && s.value.virtualNode ? [s.value.virtualNode] : []));
    const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as Error] : []));
    // A request that lost the race too often is told to retry, and wrote nothing.
    for (const failure of failures) expect(failure, `${failure.name}: ${failure.message}`).toBeInstanceOf(TooManyRequestsException);
    expect(successes.length).toBeGreaterThan(0);
    const versions = successes.map((node) => node.metadata?.version ?? 0).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: successes.length }, (_, i) => i + 2));
    const final = (await appmesh.send(new DescribeVirtualNodeCommand({ meshName, virtualNodeName: 'web' }))).virtualNode;
    expect(final?.metadata?.version).toBe(1 + successes.length);
    // The last success is what is stored.
    const last = successes.find((node) => node.metadata?.version === final?.metadata?.version);
    expect(final?.spec).toEqual(last?.spec);
  }, 180_000);

  it('never leaves a route targeting a deleted virtual node, however the create and the delete interleave', async () => {
    const meshName = uniqueMeshName('race-route');
    await appmesh.send(new CreateMeshCommand({ meshName }));
    await appmesh.send(new CreateVirtualRouterCommand({ meshName, virtualRouterName: 'router', spec: routerSpec(8080) }));
    for (let round = 0; round < ROUNDS; round++) {
      const node = `node-${round}`;
      await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: node, spec: nodeSpec(8080) }));
      const [create, remove] = await race(
        appmesh.send(new CreateRouteCommand({ meshName, virtualRouterName: 'router', routeName: `route-${round}`, spec: routeSpec([[node, 1]]) })),
        appmesh.send(new DeleteVirtualNodeCommand({ meshName, virtualNodeName: node })),
      );
      // Exactly one wins: the route (and the node stays, in use), or the delete (and the route finds no node).
      expect([create, remove].sort()).toEqual(create === 'ok' ? ['ResourceInUseException', 'ok'] : ['NotFoundException', 'ok']);
      await expectWholeMesh(meshName);
    }
  }, 120_000);

  it('never leaves a virtual service provided by a deleted virtual node', async () => {
    const meshName = uniqueMeshName('race-provider');
    await appmesh.send(new CreateMeshCommand({ meshName }));
    for (let round = 0; round < ROUNDS; round++) {
      const node = `node-${round}`;
      await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: node, spec: nodeSpec(8080) }));
      const [create, remove] = await race(
        appmesh.send(new CreateVirtualServiceCommand({ meshName, virtualServiceName: `svc-${round}.local`, spec: serviceSpec({ node }) })),
        appmesh.send(new DeleteVirtualNodeCommand({ meshName, virtualNodeName: node })),
      );
      expect([create, remove].sort()).toEqual(create === 'ok' ? ['ResourceInUseException', 'ok'] : ['NotFoundException', 'ok']);
      await expectWholeMesh(meshName);
    }
  }, 120_000);

  it('never leaves a resource in a deleted mesh', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const meshName = uniqueMeshName(`race-mesh-${round}`);
      await appmesh.send(new CreateMeshCommand({ meshName }));
      const [create, remove] = await race(
        appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'web', spec: nodeSpec(8080) })),
        appmesh.send(new DeleteMeshCommand({ meshName })),
      );
      expect([create, remove].sort()).toEqual(create === 'ok' ? ['ResourceInUseException', 'ok'] : ['NotFoundException', 'ok']);
      const items = await expectWholeMesh(meshName);
      expect(items.length).toBe(create === 'ok' ? 2 : 0);
    }
  }, 120_000);
});
