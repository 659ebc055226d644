import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { envoyBootstrap } from '../../cli/bootstrap.js';
import { main } from '../../cli/main.js';
import { encodeMessage, fromProto3Json, type ProtoObject } from '../../shared/xds/encode.js';

function capture(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

describe('meshline bootstrap', () => {
  it('gives an Envoy bootstrap that fetches everything from the relay over ADS, with App Mesh stat tags', () => {
    const bootstrap = envoyBootstrap({ node: 'mesh/demo/virtualNode/web', relay: '10.0.0.5:18000' }) as Record<string, ProtoObject>;
    expect(bootstrap.node).toEqual({ id: 'mesh/demo/virtualNode/web', cluster: 'demo/web' });
    expect(bootstrap.admin).toEqual({ address: { socket_address: { address: '0.0.0.0', port_value: 9901 } } });
    expect(bootstrap.dynamic_resources).toMatchObject({
      ads_config: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'meshline-xds' } }] },
      cds_config: { ads: {}, resource_api_version: 'V3' },
      lds_config: { ads: {}, resource_api_version: 'V3' },
    });
    expect(bootstrap.stats_config).toEqual({
      stats_tags: [
        { tag_name: 'appmesh.mesh', fixed_value: 'demo' },
        { tag_name: 'appmesh.virtual_node', fixed_value: 'web' },
      ],
    });
  });

  it.each(['zipkin', 'opentelemetry', 'xray'] as const)('adds a %s tracer that Envoy\'s Bootstrap proto accepts', (tracing) => {
    const bootstrap = envoyBootstrap({ node: 'mesh/demo/virtualGateway/edge', relay: 'relay.internal:18000', tracing, statsd: '127.0.0.1:8125', token: 't0k3n', tls: true, cert: '/certs/edge.pem', key: '/certs/edge.key', region: 'eu-west-1', zone: 'eu-west-1a' });
    // The returned proto3 JSON is what Envoy reads; it must encode again with Envoy's protos.
    const type = 'envoy.config.bootstrap.v3.Bootstrap';
    expect(() => encodeMessage(type, fromProto3Json(type, JSON.parse(JSON.stringify(bootstrap))))).not.toThrow();
    expect(JSON.stringify(bootstrap)).toContain(`envoy.tracers.${tracing}`);
    expect(JSON.stringify(bootstrap)).toContain('appmesh.virtual_gateway');
    expect(JSON.stringify(bootstrap)).toContain('Bearer t0k3n');
    expect(JSON.stringify(bootstrap)).not.toContain('BEGIN');
  });

  it('refuses a node id that names no App Mesh proxy', () => {
    expect(() => envoyBootstrap({ node: 'web', relay: '127.0.0.1:18000' })).toThrow(/--node must be mesh\/<mesh>\/virtualNode\/<name>/);
    expect(() => envoyBootstrap({ node: 'mesh/demo/virtualNode/web', relay: 'nowhere' })).toThrow(/--relay must be host:port/);
  });

  it('prints help for every command and exits 2 on a usage error', async () => {
    const out = capture();
    const err = capture();
    expect(await main(['--help'], out.stream as never, err.stream as never)).toBe(0);
    expect(out.text()).toContain('bootstrap');
    expect(await main(['bootstrap', '--help'], out.stream as never, err.stream as never)).toBe(0);
    expect(out.text()).toContain('--tracing KIND');
    expect(await main(['bootstrap'], out.stream as never, err.stream as never)).toBe(2);
    expect(err.text()).toContain('--node is required');
    expect(await main(['nope'], out.stream as never, err.stream as never)).toBe(2);
  });
});
