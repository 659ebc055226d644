import { CreateMeshCommand } from '@aws-sdk/client-app-mesh';
import { describe, expect, inject, it } from 'vitest';
import type { MeshTraffic } from '../../shared/mesh/traffic.js';
import { windowStartOf, type EdgeWindow } from '../../shared/store/traffic.js';
import { adminCredentialsInEnvironment, apiFetch, appMeshClient, uniqueMeshName } from '../support/appmesh.js';
import { issueKey } from '../support/keys.js';
import { runCli as cli } from '../support/cli.js';
import { stackTrafficStore } from '../support/traffic-mesh.js';

const stack = inject('stack');
const appmesh = appMeshClient();
const windowSeconds = Number(stack.env.MESHLINE_TRAFFIC_WINDOW_SECONDS);
const store = stackTrafficStore();
adminCredentialsInEnvironment();

function window(mesh: string, windowStart: number, relay: string, figures: Partial<EdgeWindow> & Pick<EdgeWindow, 'source' | 'target'>): EdgeWindow {
  return { mesh, windowStart, windowSeconds, relay, issued: 0, succeeded: 0, failed: 0, dropped: 0, inProgress: 0, ...figures };
}

async function traffic(meshName: string, query = ''): Promise<{ status: number; type: string | null; body: MeshTraffic & { message?: string } }> {
  const response = await apiFetch(`/meshline/v1/meshes/${meshName}/traffic${query}`);
  return { status: response.status, type: response.headers.get('x-amzn-errortype'), body: (await response.json()) as MeshTraffic & { message?: string } };
}

describe('GET /meshline/v1/meshes/{mesh}/traffic', () => {
  it("adds up every relay's windows per edge over the span, with latency quantiles, and leaves out older windows", async () => {
    const meshName = uniqueMeshName('traffic');
    await appmesh.send(new CreateMeshCommand({ meshName }));
    const now = windowStartOf(Date.now(), windowSeconds);
    const edge = { source: 'virtualNode/web', target: 'virtualNode/api-v1' };
    const latency = { buckets: [{ le: 5, count: 40 }, { le: 10, count: 50 }, { le: 50, count: 9 }, { le: Infinity, count: 1 }], count: 100, sumMs: 800 };
    await store.putWindows([
      // One edge reported through two relays in the same window (a proxy that moved), and in the window before.
      window(meshName, now - windowSeconds, 'relay-a', { ...edge, issued: 60, succeeded: 57, failed: 3, inProgress: 2, latency }),
      window(meshName, now - windowSeconds, 'relay-b', { ...edge, issued: 40, succeeded: 38, failed: 2, inProgress: 1, responseCodes: { '2xx': 38, '5xx': 2 } }),
      window(meshName, now - 2 * windowSeconds, 'relay-a', { ...edge, issued: 10, succeeded: 10 }),
      window(meshName, now - windowSeconds, 'relay-a', { source: 'virtualGateway/edge', target: 'virtualNode/web', issued: 500, succeeded: 500 }),
      // Long before the span asked for.
      window(meshName, now - 600 * windowSeconds, 'relay-a', { ...edge, issued: 9999, succeeded: 9999 }),
    ]);

    const { status, body } = await traffic(meshName, `?seconds=${3 * windowSeconds}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ meshName, seconds: 3 * windowSeconds, windowSeconds, traffic: 'recorded' });
    expect(body.edges.map((e) => `${e.source} -> ${e.target}`)).toEqual(['virtualGateway/edge -> virtualNode/web', 'virtualNode/web -> virtualNode/api-v1']);
    const web = body.edges[1];
    expect(web).toMatchObject({ requests: 110, successes: 105, errors: 5, inProgress: 3, responseCodes: { '2xx': 38, '5xx': 2 } });
    expect(web?.errorRate).toBeCloseTo((5 / 110) * 100, 6);
    // Prometheus's histogram_quantile over the buckets: p50 at rank 50 falls in (5, 10].
    expect(web?.latencyMs?.p50).toBeCloseTo(6, 6);
    expect(web?.latencyMs?.p90).toBeCloseTo(10, 6);
    expect(web?.latencyMs?.p99).toBeCloseTo(50, 6);
  });

  it('answers a mesh without traffic with no edges', async () => {
    const meshName = uniqueMeshName('traffic');
    await appmesh.send(new CreateMeshCommand({ meshName }));
    const { status, body } = await traffic(meshName);
    expect(status).toBe(200);
    expect(body).toMatchObject({ seconds: 60, edges: [] });
  });

  it('refuses a span that is not a whole number of seconds within the retention with BadRequestException naming seconds', async () => {
    const meshName = uniqueMeshName('traffic');
    await appmesh.send(new CreateMeshCommand({ meshName }));
    for (const bad of ['0', '-5', '1.5', 'ten', '', '604801']) {
      const { status, type, body } = await traffic(meshName, `?seconds=${bad}`);
      expect({ bad, status, type }).toEqual({ bad, status: 400, type: 'BadRequestException' });
      expect(body.message).toBe(`seconds must be an integer between 1 and 604800, got: ${JSON.stringify(bad)}`);
    }
  });

  it('answers an unknown mesh with NotFoundException', async () => {
    const { status, type } = await traffic(uniqueMeshName('missing'));
    expect({ status, type }).toEqual({ status: 404, type: 'NotFoundException' });
  });

  it("lets a read-only key of the mesh read it, and refuses one of another mesh", async () => {
    const meshName = uniqueMeshName('traffic');
    await appmesh.send(new CreateMeshCommand({ meshName }));
    const reader = await issueKey({ role: 'read-only', meshes: [meshName] });
    const other = await issueKey({ role: 'read-only', meshes: ['some-other-mesh'] });
    expect((await apiFetch(`/meshline/v1/meshes/${meshName}/traffic`, {}, reader)).status).toBe(200);
    const refused = await apiFetch(`/meshline/v1/meshes/${meshName}/traffic`, {}, other);
    expect({ status: refused.status, type: refused.headers.get('x-amzn-errortype') }).toEqual({ status: 403, type: 'AccessDeniedException' });
  });
});

describe('meshline traffic', () => {
  it('prints the edges as a table sorted by traffic, and the API object with --json', async () => {
    const meshName = uniqueMeshName('traffic-cli');
    await appmesh.send(new CreateMeshCommand({ meshName }));
    const now = windowStartOf(Date.now(), windowSeconds);
    await store.putWindows([
      window(meshName, now - windowSeconds, 'relay-a', { source: 'virtualNode/web', target: 'virtualNode/api-v2', issued: 20, succeeded: 15, failed: 5 }),
      window(meshName, now - windowSeconds, 'relay-a', { source: 'virtualNode/web', target: 'virtualNode/api-v1', issued: 180, succeeded: 180 }),
    ]);
    const table = await cli(['traffic', meshName, '--seconds', '120']);
    expect(table.code).toBe(0);
    const rows = table.out.split('\n').filter((line) => line.includes('virtualNode/web '));
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/virtualNode\/web\s+virtualNode\/api-v1\s+180\s+[\d.]+\s+180\s+0\s+0\.00%/);
    expect(rows[1]).toMatch(/virtualNode\/web\s+virtualNode\/api-v2\s+20\s+[\d.]+\s+15\s+5\s+25\.00%/);

    const json = await cli(['traffic', meshName, '--seconds', '120', '--json']);
    const body = JSON.parse(json.out) as MeshTraffic;
    expect(body.edges.map((e) => [e.target, e.requests, e.errors])).toEqual([
      ['virtualNode/api-v1', 180, 0],
      ['virtualNode/api-v2', 20, 5],
    ]);
  });

  it('says what the API refused', async () => {
    const missing = uniqueMeshName('missing');
    const { code, err } = await cli(['traffic', missing]);
    expect(code).toBe(1);
    expect(err).toContain(`NotFoundException: Mesh ${missing} does not exist.`);
  });
});
