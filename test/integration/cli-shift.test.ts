import { Writable } from 'node:stream';
import {
  CreateMeshCommand,
  CreateRouteCommand,
  CreateVirtualNodeCommand,
  CreateVirtualRouterCommand,
  DescribeRouteCommand,
} from '@aws-sdk/client-app-mesh';
import { describe, expect, inject, it } from 'vitest';
import { main } from '../../cli/main.js';
import { adminCredentialsInEnvironment, appMeshClient, uniqueMeshName } from '../support/appmesh.js';

const appmesh = appMeshClient();
adminCredentialsInEnvironment();

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  return {
    stream: new Writable({ write: (chunk, _e, done) => ((text += String(chunk)), done()) }),
    text: () => text,
  };
}

async function meshWithRoute(): Promise<string> {
  const meshName = uniqueMeshName('shift');
  const node = (port: number) => ({ listeners: [{ portMapping: { port, protocol: 'http' as const } }], serviceDiscovery: { dns: { hostname: '127.0.0.1' } } });
  await appmesh.send(new CreateMeshCommand({ meshName }));
  await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'blue', spec: node(8080) }));
  await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'green', spec: node(8080) }));
  await appmesh.send(new CreateVirtualRouterCommand({ meshName, virtualRouterName: 'web', spec: { listeners: [{ portMapping: { port: 8080, protocol: 'http' } }] } }));
  await appmesh.send(
    new CreateRouteCommand({
      meshName,
      virtualRouterName: 'web',
      routeName: 'main',
      spec: { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: [{ virtualNode: 'blue', weight: 100 }] }, timeout: { perRequest: { unit: 'ms', value: 1500 } } } },
    }),
  );
  return meshName;
}

describe('meshline shift', () => {
  it('sets the weights of a route in one update and keeps the rest of its spec', async () => {
    const meshName = await meshWithRoute();
    const out = sink();
    const err = sink();
    const code = await main(['shift', meshName, 'web', 'main', '--to', 'blue=75,green=25', '--endpoint', inject('stack').endpoints.api, '--json'], out.stream as never, err.stream as never);
    expect(err.text()).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(out.text())).toEqual({ version: 2, targets: [{ virtualNode: 'blue', weight: 75 }, { virtualNode: 'green', weight: 25 }] });
    const { route } = await appmesh.send(new DescribeRouteCommand({ meshName, virtualRouterName: 'web', routeName: 'main' }));
    expect(route?.spec?.httpRoute).toEqual({
      match: { prefix: '/' },
      action: { weightedTargets: [{ virtualNode: 'blue', weight: 75 }, { virtualNode: 'green', weight: 25 }] },
      timeout: { perRequest: { unit: 'ms', value: 1500 } },
    });
  });

  it('reports an App Mesh error, such as a target that does not exist, and exits 1', async () => {
    const meshName = await meshWithRoute();
    const out = sink();
    const err = sink();
    const code = await main(['shift', meshName, 'web', 'main', '--to', 'purple=100', '--endpoint', inject('stack').endpoints.api], out.stream as never, err.stream as never);
    expect(code).toBe(1);
    expect(err.text()).toMatch(/purple/);
  });
});
