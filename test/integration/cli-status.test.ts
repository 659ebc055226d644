import {
  CreateMeshCommand,
  CreateRouteCommand,
  CreateVirtualNodeCommand,
  CreateVirtualRouterCommand,
  DescribeRouteCommand,
} from '@aws-sdk/client-app-mesh';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import type { MeshProxyStatus } from '../../cli/status.js';
import { CLUSTER, LISTENER } from '../../shared/xds/type-urls.js';
import { adminCredentialsInEnvironment, appMeshClient, uniqueMeshName } from '../support/appmesh.js';
import { issueProxyToken } from '../support/keys.js';
import { AdsTestClient } from '../support/xds-ads-client.js';
import { runCli as cli } from '../support/cli.js';

const appmesh = appMeshClient();
const stack = inject('stack');
adminCredentialsInEnvironment();

/** Asks `meshline status --json` until `check` finds what it waits for (relays write status asynchronously). */
async function statusUntil<T>(meshName: string, check: (status: MeshProxyStatus) => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const { code, out, err } = await cli(['status', meshName, '--json']);
    last = code === 0 ? out : err;
    if (code === 0) {
      const found = check(JSON.parse(out) as MeshProxyStatus);
      if (found !== undefined) return found;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`status never showed what was awaited; last: ${last}`);
}

const node = (port: number) => ({ listeners: [{ portMapping: { port, protocol: 'http' as const } }], serviceDiscovery: { dns: { hostname: '127.0.0.1' } } });

describe('meshline status', () => {
  it('shows a connected proxy in sync, then the NACK it sends', async () => {
    const meshName = uniqueMeshName('status');
    await appmesh.send(new CreateMeshCommand({ meshName }));
    await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'web', spec: node(8080) }));
    const latest = await statusUntil(meshName, (s) => s.proxies.find((p) => p.proxy === 'virtualNode/web')?.latestVersion);

    const nodeId = `mesh/${meshName}/virtualNode/web`;
    const proxy = new AdsTestClient(stack.endpoints.relayAds ?? '', nodeId, { metadata: { authorization: `Bearer ${await issueProxyToken(nodeId)}` } });
    onTestFinished(() => proxy.close());
    proxy.subscribe(CLUSTER);
    await proxy.next();
    proxy.ack(CLUSTER);
    const synced = await statusUntil(meshName, (s) => s.proxies[0]?.connections.find((c) => c.inSync));
    expect(synced.servedVersion).toBe(latest);
    expect(synced.nodeId).toBe(`mesh/${meshName}/virtualNode/web`);

    proxy.subscribe(LISTENER);
    await proxy.next();
    proxy.nack(LISTENER, 'listener rejected by this test');
    const nacked = await statusUntil(meshName, (s) => s.proxies[0]?.connections.find((c) => c.lastNack));
    expect(nacked.lastNack).toMatchObject({ type: 'listeners', message: 'listener rejected by this test' });
    expect(nacked.inSync).toBe(false);

    const human = await cli(['status', meshName]);
    expect(human.code).toBe(0);
    expect(human.out).toContain('virtualNode/web');
    expect(human.out).toContain('listener rejected by this test');
  });

  it('answers a missing mesh with NotFoundException', async () => {
    const { code, err } = await cli(['status', uniqueMeshName('none')]);
    expect(code).toBe(1);
    expect(err).toContain('NotFoundException');
  });
});

describe('meshline shift --steps', () => {
  // The gate itself (traffic, error rate, waiting, roll back) is tested in rollouts-api.test.ts.
  it('walks a canary through every step on the server when the gate asks for no traffic and no proxy rejects it', async () => {
    const meshName = uniqueMeshName('canary');
    await appmesh.send(new CreateMeshCommand({ meshName }));
    await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'stable', spec: node(8080) }));
    await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'canary', spec: node(8080) }));
    await appmesh.send(new CreateVirtualRouterCommand({ meshName, virtualRouterName: 'web', spec: { listeners: [{ portMapping: { port: 8080, protocol: 'http' } }] } }));
    await appmesh.send(
      new CreateRouteCommand({ meshName, virtualRouterName: 'web', routeName: 'main', spec: { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: [{ virtualNode: 'stable', weight: 100 }] } } } }),
    );
    const { code, out, err } = await cli(['shift', meshName, 'web', 'main', '--to', 'canary', '--steps', '10,50,100', '--interval', '1s', '--min-requests', '0', '--json']);
    expect(err).toContain('step 10%');
    expect(code).toBe(0);
    const rollout = JSON.parse(out) as { state: string; history: { percent: number; routeVersion: number; decision: string }[] };
    expect(rollout.state).toBe('SUCCEEDED');
    expect(rollout.history.map((s) => [s.percent, s.routeVersion, s.decision])).toEqual([
      [10, 2, 'ADVANCED'],
      [50, 3, 'ADVANCED'],
      [100, 4, 'SUCCEEDED'],
    ]);
    const { route } = await appmesh.send(new DescribeRouteCommand({ meshName, virtualRouterName: 'web', routeName: 'main' }));
    expect(route?.spec?.httpRoute?.action?.weightedTargets).toEqual([{ virtualNode: 'stable', weight: 0 }, { virtualNode: 'canary', weight: 100 }]);
  });
});
