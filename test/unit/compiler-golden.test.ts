/**
 * Golden files of the compiler, as envoyproxy/gateway's translator tests have them: every
 * `test/fixtures/compiler/in/<case>.json` compiles to exactly
 * `out/<case>.{listeners,routes,clusters,endpoints}.json` (proto3-JSON twins per proxy: what
 * every client is served, and what only proxyless gRPC clients get by name) and
 * `out/<case>.targets.json` (the virtual node behind each cluster a proxy reports load on). Run with
 * UPDATE_GOLDEN=1 to rewrite them after a deliberate change, and review the diff.
 * A table of negative cases checks the error text of meshes that cannot compile.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileMesh, type CompiledProxy } from '../../shared/compiler/index.js';
import { RESOURCE_TYPE_URLS, SHORT_NAMES } from '../../shared/xds/type-urls.js';
import { caseState, FIXTURES_DIR, goldenCases, type CaseInput } from '../fixtures/compiler/cases.js';

const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** The golden form of one type of a mesh's output: per proxy, what is served to all, and by name only. */
function goldenOf(output: Map<string, CompiledProxy>, typeUrl: (typeof RESOURCE_TYPE_URLS)[number]): Record<string, unknown> {
  const golden: Record<string, unknown> = {};
  for (const [key, proxy] of [...output].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const twins = proxy.twin[SHORT_NAMES[typeUrl]] as unknown[];
    const resources = proxy.snapshot.resources[typeUrl];
    const served = twins.filter((_, i) => !resources[i]?.onlyByName);
    const onlyByName = twins.filter((_, i) => resources[i]?.onlyByName);
    golden[key] = { served, ...(onlyByName.length ? { onlyByName } : {}) };
  }
  return golden;
}

/** Private keys are named by path or secret, never inlined: no PEM and no inline bytes anywhere. */
function expectNoKeyMaterial(value: unknown, path = ''): void {
  if (typeof value === 'string') {
    expect(value, path).not.toMatch(/-----BEGIN/);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => expectNoKeyMaterial(v, `${path}[${i}]`));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'private_key') expect(Object.keys(v as object), `${path}.${k}`).toEqual(['filename']);
      expect(['inline_bytes'], `${path}.${k}`).not.toContain(k);
      expectNoKeyMaterial(v, `${path}.${k}`);
    }
  }
}

function compileCase(input: CaseInput): Map<string, CompiledProxy> {
  const output = compileMesh(caseState(input));
  const compiled = new Map<string, CompiledProxy>();
  for (const [key, outcome] of output) {
    if ('error' in outcome) throw new Error(`${key} does not compile: ${outcome.error}`);
    compiled.set(key, outcome);
  }
  return compiled;
}

describe('compiler golden files', () => {
  const cases = goldenCases();

  it('has a case per feature', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
  });

  for (const { name, input } of cases) {
    it(`${name}: ${input.description}`, () => {
      const output = compileCase(input);
      for (const typeUrl of RESOURCE_TYPE_URLS) {
        const file = join(FIXTURES_DIR, 'out', `${name}.${SHORT_NAMES[typeUrl]}.json`);
        const actual = goldenOf(output, typeUrl);
        expectNoKeyMaterial(actual);
        const text = `${JSON.stringify(actual, null, 2)}\n`;
        if (UPDATE) {
          writeFileSync(file, text);
          continue;
        }
        if (!existsSync(file)) throw new Error(`${file} is missing; run with UPDATE_GOLDEN=1 to write it`);
        expect(JSON.parse(text), `${name}.${SHORT_NAMES[typeUrl]}`).toEqual(JSON.parse(readFileSync(file, 'utf8')));
      }
      // The virtual node behind each cluster a proxy may report load on.
      const file = join(FIXTURES_DIR, 'out', `${name}.targets.json`);
      const targets = Object.fromEntries([...output].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, proxy]) => [key, proxy.snapshot.targets]));
      if (UPDATE) {
        writeFileSync(file, `${JSON.stringify(targets, null, 2)}\n`);
      } else {
        if (!existsSync(file)) throw new Error(`${file} is missing; run with UPDATE_GOLDEN=1 to write it`);
        expect(targets, `${name}.targets`).toEqual(JSON.parse(readFileSync(file, 'utf8')));
      }
    });
  }

  it('compiles every case to the same bytes twice, whatever the order of its resources', () => {
    for (const { input } of cases) {
      const first = compileCase(input);
      const second = compileCase({ ...input, resources: [...input.resources].reverse() });
      expect([...second].map(([k, p]) => [k, p.snapshot.version])).toEqual([...first].map(([k, p]) => [k, p.snapshot.version]));
    }
  });
});

/** A mesh that cannot compile, and the error its proxy reports. */
interface NegativeCase {
  name: string;
  input: CaseInput;
  proxy: string;
  error: string;
}

const node = (name: string, port: number, protocol = 'http', extra: object = {}) => ({
  kind: 'virtualNode' as const,
  name,
  spec: { listeners: [{ portMapping: { port, protocol } }], serviceDiscovery: { dns: { hostname: `${name}.internal` } }, ...extra },
});
const client = (...services: string[]) => ({
  kind: 'virtualNode' as const,
  name: 'client',
  spec: { backends: services.map((virtualServiceName) => ({ virtualService: { virtualServiceName } })) },
});
const routerService = (name: string, port: number, protocol = 'http') => [
  { kind: 'virtualRouter' as const, name, spec: { listeners: [{ portMapping: { port, protocol } }] } },
  { kind: 'virtualService' as const, name: `${name}.local`, spec: { provider: { virtualRouter: { virtualRouterName: name } } } },
];
const nodeService = (name: string, provider: string) => ({ kind: 'virtualService' as const, name, spec: { provider: { virtualNode: { virtualNodeName: provider } } } });

const NEGATIVE: NegativeCase[] = [
  {
    name: 'every weighted target has weight 0',
    input: {
      description: '',
      resources: [
        client('color.local'),
        node('blue', 80),
        ...routerService('color', 80),
        { kind: 'route', parentName: 'color', name: 'off', spec: { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: [{ virtualNode: 'blue', weight: 0 }] } } } },
      ],
    },
    proxy: 'virtualNode/client',
    error: 'route off of virtual router color: every weighted target has weight 0, so the route has nowhere to send traffic (Envoy rejects a total weight of 0)',
  },
  {
    name: 'a target without a listener on the port',
    input: {
      description: '',
      resources: [
        client('color.local'),
        node('blue', 81),
        node('green', 82),
        { kind: 'virtualNode', name: 'two', spec: { listeners: [{ portMapping: { port: 1, protocol: 'http' } }, { portMapping: { port: 2, protocol: 'http' } }], serviceDiscovery: { dns: { hostname: 'two.internal' } } } },
        ...routerService('color', 80),
        { kind: 'route', parentName: 'color', name: 'r', spec: { httpRoute: { match: { prefix: '/' }, action: { weightedTargets: [{ virtualNode: 'two', weight: 1 }] } } } },
      ],
    },
    proxy: 'virtualNode/client',
    error: 'route r of virtual router color: virtual node two has no listener on port 80',
  },
  {
    name: 'an HTTP retry event App Mesh does not know',
    input: {
      description: '',
      resources: [
        client('color.local'),
        node('blue', 80),
        ...routerService('color', 80),
        {
          kind: 'route',
          parentName: 'color',
          name: 'r',
          spec: {
            httpRoute: {
              match: { prefix: '/' },
              action: { weightedTargets: [{ virtualNode: 'blue', weight: 1 }] },
              retryPolicy: { maxRetries: 1, perRetryTimeout: { value: 1, unit: 's' }, httpRetryEvents: ['teapot-error'] },
            },
          },
        },
      ],
    },
    proxy: 'virtualNode/client',
    error: 'route r of virtual router color: unknown HTTP retry event "teapot-error"; App Mesh knows server-error, gateway-error, client-error, stream-error',
  },
  {
    name: 'backends mixing tcp and http on one port',
    input: { description: '', resources: [client('a.local', 'b.local'), node('a', 80, 'tcp'), node('b', 80, 'http'), nodeService('a.local', 'a'), nodeService('b.local', 'b')] },
    proxy: 'virtualNode/client',
    error: 'backends of virtual node client mix tcp and http traffic on port 80',
  },
  {
    name: 'two tcp backends on one port',
    input: { description: '', resources: [client('a.local', 'b.local'), node('a', 5432, 'tcp'), node('b', 5432, 'tcp'), nodeService('a.local', 'a'), nodeService('b.local', 'b')] },
    proxy: 'virtualNode/client',
    error: 'backends a.local and b.local of virtual node client are both tcp on port 5432; Envoy tells TCP destinations apart by port only',
  },
  {
    name: 'a gateway route to a multi-port service without a target port',
    input: {
      description: '',
      resources: [
        { kind: 'virtualGateway', name: 'gw', spec: { listeners: [{ portMapping: { port: 8088, protocol: 'http' } }] } },
        { kind: 'virtualNode', name: 'multi', spec: { listeners: [{ portMapping: { port: 1, protocol: 'http' } }, { portMapping: { port: 2, protocol: 'http' } }], serviceDiscovery: { dns: { hostname: 'multi.internal' } } } },
        nodeService('multi.local', 'multi'),
        { kind: 'gatewayRoute', parentName: 'gw', name: 'all', spec: { httpRoute: { match: { prefix: '/' }, action: { target: { virtualService: { virtualServiceName: 'multi.local' } } } } } },
      ],
    },
    proxy: 'virtualGateway/gw',
    error: 'gateway route all of virtual gateway gw: virtual service multi.local listens on ports 1, 2; set action.target.port',
  },
  {
    name: 'a gateway route to a tcp service',
    input: {
      description: '',
      resources: [
        { kind: 'virtualGateway', name: 'gw', spec: { listeners: [{ portMapping: { port: 8088, protocol: 'http' } }] } },
        node('db', 5432, 'tcp'),
        nodeService('db.local', 'db'),
        { kind: 'gatewayRoute', parentName: 'gw', name: 'db', spec: { httpRoute: { match: { prefix: '/' }, action: { target: { virtualService: { virtualServiceName: 'db.local' } } } } } },
      ],
    },
    proxy: 'virtualGateway/gw',
    error: 'gateway route db of virtual gateway gw: virtual service db.local is tcp on port 5432; gateways route HTTP, HTTP/2 and gRPC only',
  },
  {
    name: "a gateway listener on the gateway's internal port",
    input: { description: '', resources: [{ kind: 'virtualGateway', name: 'gw', spec: { listeners: [{ portMapping: { port: 15001, protocol: 'http' } }] } }] },
    proxy: 'virtualGateway/gw',
    error: "virtual gateway gw: port 15001 is reserved for the gateway's internal hop",
  },
  {
    name: 'a service whose provider router is missing (a store out of step)',
    input: {
      description: '',
      resources: [client('ghost.local'), { kind: 'virtualService', name: 'ghost.local', spec: { provider: { virtualRouter: { virtualRouterName: 'ghost' } } } }],
    },
    proxy: 'virtualNode/client',
    error: 'provider virtual router ghost of virtual service ghost.local does not exist',
  },
  {
    name: "a value Envoy's protos reject (an HTTP health check path with a newline)",
    input: {
      description: '',
      resources: [
        client('a.local'),
        node('a', 80, 'http', {
          listeners: [
            { portMapping: { port: 80, protocol: 'http' }, healthCheck: { protocol: 'http', path: '/ping\n', healthyThreshold: 2, unhealthyThreshold: 2, timeoutMillis: 2000, intervalMillis: 5000 } },
          ],
        }),
        nodeService('a.local', 'a'),
      ],
    },
    proxy: 'virtualNode/client',
    error: 'envoy.config.cluster.v3.Cluster.health_checks[0].http_health_check.path: must not contain NUL, CR or LF, got "/ping\\n"',
  },
];

describe('meshes that cannot compile', () => {
  for (const negative of NEGATIVE) {
    it(`reports ${negative.name}, and compiles the proxies it does not touch`, () => {
      const output = compileMesh(caseState(negative.input));
      expect(output.get(negative.proxy)).toEqual({ error: negative.error });
      for (const [key, outcome] of output) {
        if (key !== negative.proxy) expect('error' in outcome ? outcome.error : 'compiled', key).toBe('compiled');
      }
    });
  }
});
