import { describe, expect, it } from 'vitest';
import { compileMesh, indexMesh } from '../../shared/compiler/index.js';
import type { StoredResource } from '../../shared/store/repository.js';
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from '../../shared/xds/type-urls.js';

function resource(kind: StoredResource['kind'], name: string, spec: unknown, parentName?: string): StoredResource {
  return {
    kind,
    meshName: 'demo',
    name,
    parentName,
    spec,
    tags: [],
    arn: `arn:aws:appmesh:us-east-1:111122223333:mesh/demo/${kind}/${name}`,
    uid: '00000000-0000-0000-0000-000000000000',
    version: 1,
    createdAt: 0,
    lastUpdatedAt: 0,
    meshOwner: '111122223333',
    resourceOwner: '111122223333',
  };
}

const mesh = [
  resource('mesh', 'demo', {}),
  resource('virtualNode', 'frontend', {
    listeners: [{ portMapping: { port: 8080, protocol: 'http' } }],
    serviceDiscovery: { dns: { hostname: '10.0.0.1' } },
    backends: [{ virtualService: { virtualServiceName: 'backend.demo.local' } }, { virtualService: { virtualServiceName: 'missing.demo.local' } }],
  }),
  resource('virtualNode', 'backend-v1', {
    listeners: [{ portMapping: { port: 9090, protocol: 'grpc' } }],
    serviceDiscovery: { dns: { hostname: '10.0.0.2' } },
  }),
  resource('virtualNode', 'backend-v2', {
    listeners: [{ portMapping: { port: 9090, protocol: 'grpc' } }],
    serviceDiscovery: { dns: { hostname: 'backend-v2.demo.local', responseType: 'ENDPOINTS' } },
  }),
  resource('virtualRouter', 'backend', { listeners: [{ portMapping: { port: 9090, protocol: 'grpc' } }] }),
  resource('route', 'split', {
    grpcRoute: {
      match: { serviceName: 'demo.Echo' },
      action: { weightedTargets: [{ virtualNode: 'backend-v1', weight: 75 }, { virtualNode: 'backend-v2', weight: 25 }] },
    },
  }, 'backend'),
  resource('virtualService', 'backend.demo.local', { provider: { virtualRouter: { virtualRouterName: 'backend' } } }),
];

describe('compiling the thin path', () => {
  it('gives a virtual node its ingress, egress and proxyless listeners, with every named resource present', () => {
    const output = compileMesh(indexMesh(mesh)!);
    const frontend = output.get('virtualNode/frontend');
    if (!frontend || 'error' in frontend) throw new Error(`frontend did not compile: ${JSON.stringify(frontend)}`);
    const names = (type: string) => frontend.snapshot.resources[type as typeof LISTENER].map((r) => r.name);
    expect(names(LISTENER)).toEqual(['backend.demo.local', 'backend.demo.local:9090', 'lds_egress_0.0.0.0_15001', 'lds_ingress_0.0.0.0_15000']);
    expect(names(ROUTE)).toEqual(['backend.demo.local:9090', 'rds_egress_http_9090', 'rds_ingress_http_8080']);
    expect(names(CLUSTER)).toEqual([
      'cds_egress_demo_backend-v1_grpc_9090',
      'cds_egress_demo_backend-v2_grpc_9090',
      // backend-v2 is STRICT_DNS, which gRPC clients cannot take: they get a LOGICAL_DNS twin.
      'cds_egress_demo_backend-v2_grpc_9090_grpc',
      'cds_ingress_demo_frontend_http_8080',
    ]);
    expect(names(ENDPOINT)).toEqual(['cds_egress_demo_backend-v1_grpc_9090']);
    const apiListeners = frontend.snapshot.resources[LISTENER].filter((r) => r.onlyByName).map((r) => r.name);
    expect(apiListeners).toEqual(['backend.demo.local', 'backend.demo.local:9090']);
    const twinRoutes = frontend.twin.routes as { name: string; virtual_hosts: { routes: { route: unknown }[] }[] }[];
    const egress = twinRoutes.find((r) => r.name === 'rds_egress_http_9090');
    expect(egress?.virtual_hosts[0]?.routes[0]?.route).toMatchObject({
      weighted_clusters: {
        clusters: [
          { name: 'cds_egress_demo_backend-v1_grpc_9090', weight: 75 },
          { name: 'cds_egress_demo_backend-v2_grpc_9090', weight: 25 },
        ],
      },
    });
  });

  it('compiles the same mesh to the same bytes, whatever the order of its items', () => {
    const first = compileMesh(indexMesh(mesh)!);
    const second = compileMesh(indexMesh([...mesh].reverse())!);
    for (const [key, outcome] of first) {
      const other = second.get(key);
      expect('error' in outcome).toBe(false);
      if ('error' in outcome || !other || 'error' in other) continue;
      expect(other.snapshot.version).toBe(outcome.snapshot.version);
    }
  });

  it("reports a route target without a listener on the route's port as that proxy's error, and compiles the others", () => {
    const broken = mesh.map((r) =>
      r.name === 'backend-v2' ? resource('virtualNode', 'backend-v2', { listeners: [{ portMapping: { port: 7000, protocol: 'grpc' } }, { portMapping: { port: 7001, protocol: 'grpc' } }], serviceDiscovery: { dns: { hostname: '10.0.0.3' } } }) : r,
    );
    broken.push(resource('virtualNode', 'other', { listeners: [{ portMapping: { port: 7001, protocol: 'http' } }], serviceDiscovery: { dns: { hostname: '10.0.0.9' } } }));
    const output = compileMesh(indexMesh(broken)!);
    expect(output.get('virtualNode/frontend')).toEqual({ error: 'route split of virtual router backend: virtual node backend-v2 has no listener on port 9090' });
    expect('error' in (output.get('virtualNode/other') ?? { error: '' })).toBe(false);
  });
});
