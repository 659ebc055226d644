/**
 * A snapshot names the virtual node behind every cluster its proxy may report load on, so the
 * relay can attribute load reports to edges of the mesh. Covered here: what the compiler puts
 * there, the serialized form, snapshots written before targets existed, and the version.
 */
import { describe, expect, it } from 'vitest';
import { compileMesh, type CompiledProxy } from '../../shared/compiler/index.js';
import { buildSnapshot, parseSnapshot, serializeSnapshot } from '../../shared/store/snapshots.js';
import { CLUSTER, ENDPOINT } from '../../shared/xds/type-urls.js';
import { caseState, goldenCases } from '../fixtures/compiler/cases.js';

function compiled(caseName: string): Map<string, CompiledProxy> {
  const found = goldenCases().find((c) => c.name === caseName);
  if (!found) throw new Error(`no golden case ${caseName}`);
  const out = new Map<string, CompiledProxy>();
  for (const [key, outcome] of compileMesh(caseState(found.input))) {
    if ('error' in outcome) throw new Error(`${key}: ${outcome.error}`);
    out.set(key, outcome);
  }
  return out;
}

describe('snapshot targets', () => {
  it('names the node behind every egress cluster, EDS service name and proxyless variant, and nothing else', () => {
    for (const { name } of goldenCases()) {
      for (const [key, proxy] of compiled(name)) {
        const { targets, resources } = proxy.snapshot;
        const clusters = resources[CLUSTER].map((r) => r.name);
        const endpoints = resources[ENDPOINT].map((r) => r.name);
        const egress = [...clusters, ...endpoints].filter((n) => n.startsWith('cds_egress_'));
        expect(Object.keys(targets).sort(), `${name} ${key}`).toEqual([...new Set(egress)].sort());
        for (const [cluster, node] of Object.entries(targets)) {
          // cds_egress_<mesh>_<node>_<protocol>_<port>[_suffix]: the node's name is in the cluster's.
          expect(node, `${name} ${key} ${cluster}`).toMatch(/^virtualNode\//);
          expect(cluster, `${name} ${key}`).toContain(`_${node.slice('virtualNode/'.length)}_`);
        }
      }
    }
  });

  it('covers a gateway and a STRICT_DNS node reached by a proxyless variant', () => {
    expect(compiled('gateway-http').get('virtualGateway/ingress')?.snapshot.targets).toEqual({
      cds_egress_golden_red_http_8080: 'virtualNode/red',
      cds_egress_golden_status_http_8081: 'virtualNode/status',
    });
    expect(compiled('dns-discovery').get('virtualNode/client')?.snapshot.targets).toMatchObject({
      cds_egress_golden_endpoints_http_81: 'virtualNode/endpoints',
      cds_egress_golden_endpoints_http_81_grpc: 'virtualNode/endpoints',
    });
  });

  it('survive serialization, in cluster-name order', () => {
    for (const proxy of compiled('tls-client-policies').values()) {
      const body = serializeSnapshot(proxy.snapshot);
      const parsed = parseSnapshot(body);
      expect(parsed.targets).toEqual(proxy.snapshot.targets);
      expect(Object.keys((JSON.parse(body) as { targets: object }).targets)).toEqual(Object.keys(proxy.snapshot.targets).sort());
      expect(serializeSnapshot(parsed)).toBe(body);
    }
  });

  it('are empty in a snapshot written before they existed, and malformed entries are dropped', () => {
    const proxy = compiled('gateway-http').get('virtualGateway/ingress');
    if (!proxy) throw new Error('no gateway');
    const doc = JSON.parse(serializeSnapshot(proxy.snapshot)) as Record<string, unknown>;
    delete doc.targets;
    expect(parseSnapshot(JSON.stringify(doc)).targets).toEqual({});
    for (const targets of [null, 'x', ['a'], 7]) expect(parseSnapshot(JSON.stringify({ ...doc, targets })).targets).toEqual({});
    expect(parseSnapshot(JSON.stringify({ ...doc, targets: { a: 'virtualNode/a', b: 3, c: {} } })).targets).toEqual({ a: 'virtualNode/a' });
  });

  it('change the version only when a proxy has any, and then the same way for the same targets', () => {
    const value = new Uint8Array([1, 2, 3]);
    const resources = { [CLUSTER]: [{ name: 'c', value }] };
    const without = buildSnapshot('mesh/m/virtualNode/a', resources);
    expect(buildSnapshot('mesh/m/virtualNode/a', resources, {}).version).toBe(without.version);
    const withTargets = buildSnapshot('mesh/m/virtualNode/a', resources, { c: 'virtualNode/b', b: 'virtualNode/b' });
    // A snapshot written before targets existed gets a new version, so the publisher rewrites it.
    expect(withTargets.version).not.toBe(without.version);
    expect(buildSnapshot('mesh/m/virtualNode/a', resources, { b: 'virtualNode/b', c: 'virtualNode/b' }).version).toBe(withTargets.version);
    expect(Object.keys(withTargets.targets)).toEqual(['b', 'c']);
  });
});
