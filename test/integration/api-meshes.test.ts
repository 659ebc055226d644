import {
  BadRequestException,
  ConflictException,
  CreateMeshCommand,
  CreateVirtualNodeCommand,
  DeleteMeshCommand,
  DeleteVirtualNodeCommand,
  DescribeMeshCommand,
  DescribeVirtualNodeCommand,
  ListMeshesCommand,
  NotFoundException,
  ResourceInUseException,
} from '@aws-sdk/client-app-mesh';
import { describe, expect, it } from 'vitest';
import { appMeshClient, uniqueMeshName } from '../support/appmesh.js';

const appmesh = appMeshClient();

describe('meshes through the App Mesh API', () => {
  it('creates, describes, lists and deletes a mesh with App Mesh metadata', async () => {
    const meshName = uniqueMeshName('meshes');
    const created = await appmesh.send(new CreateMeshCommand({ meshName, spec: { egressFilter: { type: 'ALLOW_ALL' } } }));
    expect(created.mesh).toMatchObject({
      meshName,
      spec: { egressFilter: { type: 'ALLOW_ALL' } },
      status: { status: 'ACTIVE' },
      metadata: { arn: `arn:aws:appmesh:us-east-1:111122223333:mesh/${meshName}`, version: 1, meshOwner: '111122223333' },
    });
    expect(created.mesh?.metadata?.createdAt).toBeInstanceOf(Date);
    expect(created.mesh?.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);

    const described = await appmesh.send(new DescribeMeshCommand({ meshName }));
    expect(described.mesh).toEqual(created.mesh);

    const listed = await appmesh.send(new ListMeshesCommand({}));
    expect(listed.meshes?.map((m) => m.meshName)).toContain(meshName);

    const deleted = await appmesh.send(new DeleteMeshCommand({ meshName }));
    expect(deleted.mesh).toMatchObject({ meshName, status: { status: 'DELETED' } });
    await expect(appmesh.send(new DescribeMeshCommand({ meshName }))).rejects.toBeInstanceOf(NotFoundException);
  });

  it('answers a duplicate mesh name with ConflictException and a repeated clientToken with the same mesh', async () => {
    const meshName = uniqueMeshName('dup');
    const first = await appmesh.send(new CreateMeshCommand({ meshName, clientToken: 'token-1' }));
    const retried = await appmesh.send(new CreateMeshCommand({ meshName, clientToken: 'token-1' }));
    expect(retried.mesh).toEqual(first.mesh);
    await expect(appmesh.send(new CreateMeshCommand({ meshName, clientToken: 'token-2' }))).rejects.toBeInstanceOf(ConflictException);
  });

  it('pages through meshes with limit and nextToken, each mesh seen once', async () => {
    const names = await Promise.all([1, 2, 3].map(async () => {
      const meshName = uniqueMeshName('page');
      await appmesh.send(new CreateMeshCommand({ meshName }));
      return meshName;
    }));
    const seen: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await appmesh.send(new ListMeshesCommand({ limit: 1, nextToken }));
      expect(page.meshes?.length).toBeLessThanOrEqual(1);
      seen.push(...(page.meshes ?? []).map((m) => m.meshName ?? ''));
      nextToken = page.nextToken;
    } while (nextToken);
    for (const name of names) expect(seen.filter((s) => s === name)).toHaveLength(1);
  });

  it('creates and describes a virtual node, and keeps a mesh with resources from being deleted', async () => {
    const meshName = uniqueMeshName('vn');
    await appmesh.send(new CreateMeshCommand({ meshName }));
    const spec = {
      listeners: [{ portMapping: { port: 8080, protocol: 'http' as const } }],
      serviceDiscovery: { dns: { hostname: 'web.local' } },
      backends: [{ virtualService: { virtualServiceName: 'not-created-yet.local' } }],
    };
    const created = await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'web', spec }));
    expect(created.virtualNode).toMatchObject({
      meshName,
      virtualNodeName: 'web',
      spec,
      metadata: { arn: `arn:aws:appmesh:us-east-1:111122223333:mesh/${meshName}/virtualNode/web`, version: 1 },
    });
    const described = await appmesh.send(new DescribeVirtualNodeCommand({ meshName, virtualNodeName: 'web' }));
    expect(described.virtualNode).toEqual(created.virtualNode);

    await expect(appmesh.send(new DeleteMeshCommand({ meshName }))).rejects.toBeInstanceOf(ResourceInUseException);
    await appmesh.send(new DeleteVirtualNodeCommand({ meshName, virtualNodeName: 'web' }));
    await appmesh.send(new DeleteMeshCommand({ meshName }));
  });

  it('answers a virtual node in a missing mesh with NotFoundException', async () => {
    const meshName = uniqueMeshName('missing');
    await expect(
      appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'web', spec: {} })),
    ).rejects.toBeInstanceOf(NotFoundException);
  });

  it('answers a model violation with BadRequestException naming the field, the bound and the value', async () => {
    const meshName = uniqueMeshName('bad');
    await appmesh.send(new CreateMeshCommand({ meshName }));
    const error = await appmesh
      .send(new CreateVirtualNodeCommand({
        meshName,
        virtualNodeName: 'web',
        spec: { listeners: [{ portMapping: { port: 70000, protocol: 'http' } }], serviceDiscovery: { dns: { hostname: 'web.local' } } },
      }))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestException);
    expect((error as Error).message).toContain('spec.listeners[0].portMapping.port');
    expect((error as Error).message).toContain('65535');
    expect((error as Error).message).toContain('70000');
    await expect(appmesh.send(new DescribeVirtualNodeCommand({ meshName, virtualNodeName: 'web' }))).rejects.toBeInstanceOf(NotFoundException);
  });
});
