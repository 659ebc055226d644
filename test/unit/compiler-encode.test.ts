/**
 * Encoding: the compile-wide cache (identity, content, and route configurations spliced from
 * their virtual hosts) gives exactly the bytes and JSON a whole encode gives, and the
 * consistency check names what a snapshot lacks.
 */
import { describe, expect, it } from 'vitest';
import { checkConsistent, EncodeCache } from '../../shared/compiler/index.js';
import { emptyResources, addResource } from '../../shared/compiler/resources.js';
import { compileVirtualGateway } from '../../shared/compiler/virtual-gateway.js';
import { compileVirtualNode } from '../../shared/compiler/virtual-node.js';
import { encodeResource, resourceToJson } from '../../shared/xds/encode.js';
import { CLUSTER, ENDPOINT, LISTENER, RESOURCE_TYPE_URLS, ROUTE } from '../../shared/xds/type-urls.js';
import { caseState, goldenCases } from '../fixtures/compiler/cases.js';

describe('the encode cache', () => {
  it('gives the bytes and JSON of a whole encode for every resource of the golden set', () => {
    const cache = new EncodeCache();
    let checked = 0;
    for (const { input } of goldenCases()) {
      const state = caseState(input);
      const proxies = [...[...state.virtualNodes.values()].map((n) => compileVirtualNode(state, n)), ...[...state.virtualGateways.values()].map((g) => compileVirtualGateway(state, g))];
      for (const resources of proxies) {
        for (const typeUrl of RESOURCE_TYPE_URLS) {
          for (const { resource } of resources[typeUrl].values()) {
            const whole = encodeResource(typeUrl, resource);
            const cached = cache.encode(typeUrl, resource);
            expect(Buffer.from(cached.value).equals(Buffer.from(whole))).toBe(true);
            expect(cached.json()).toEqual(resourceToJson(typeUrl, whole));
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(300);
    expect(cache.hits).toBeGreaterThan(0);
  });

  it('reports a bad virtual host with the route configuration it belongs to', () => {
    const cache = new EncodeCache();
    const bad = { name: 'rds_egress_http_80', virtual_hosts: [{ name: 'a', domains: ['a'], routes: [] }, { name: 'b', domains: ['b'], routes: [{ match: { prefix: '/' }, route: { cluster: '' } }] }] };
    expect(() => cache.encode(ROUTE, bad)).toThrow('envoy.config.route.v3.RouteConfiguration(rds_egress_http_80).virtual_hosts[1].routes[0].route.cluster: must be at least 1 character(s) long, got ""');
  });
});

describe('the consistency check', () => {
  const ads = { ads: {}, resource_api_version: 'V3' };
  it('names a route configuration a listener names but the snapshot lacks', () => {
    const out = emptyResources();
    addResource(out, LISTENER, 'l', { name: 'l', api_listener: { api_listener: { '@type': 'x', rds: { route_config_name: 'missing', config_source: ads } } } });
    expect(() => checkConsistent(out)).toThrow('route configuration missing is named by a listener but missing');
  });

  it('names a cluster of a weighted route the snapshot lacks', () => {
    const out = emptyResources();
    addResource(out, ROUTE, 'r', { name: 'r', virtual_hosts: [{ routes: [{ route: { weighted_clusters: { clusters: [{ name: 'ghost', weight: { value: 1 } }] } } }] }] });
    expect(() => checkConsistent(out)).toThrow('cluster ghost is named but missing');
  });

  it('names an EDS cluster without its endpoint assignment, by its service name', () => {
    const out = emptyResources();
    addResource(out, CLUSTER, 'c_grpc', { name: 'c_grpc', type: 'EDS', eds_cluster_config: { eds_config: ads, service_name: 'c' } });
    expect(() => checkConsistent(out)).toThrow('EDS cluster c_grpc has no endpoint assignment c');
    addResource(out, ENDPOINT, 'c', { cluster_name: 'c', endpoints: [] });
    expect(() => checkConsistent(out)).not.toThrow();
  });
});
