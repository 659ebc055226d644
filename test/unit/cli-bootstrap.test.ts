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

  it('sends load reports (LRS) to the relay over the ADS cluster, with the ADS stream\'s credentials', () => {
    const bootstrap = envoyBootstrap({ node: 'mesh/demo/virtualNode/web', relay: '10.0.0.5:18000', token: 't0k3n' }) as Record<string, ProtoObject>;
    const ads = (bootstrap.dynamic_resources as Record<string, ProtoObject>).ads_config as { grpc_services: unknown[] };
    expect(ads.grpc_services).toEqual([{ envoy_grpc: { cluster_name: 'meshline-xds' }, initial_metadata: [{ key: 'authorization', value: 'Bearer t0k3n' }] }]);
    expect(bootstrap.cluster_manager).toEqual({
      load_stats_config: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: ads.grpc_services },
    });
    // Without --metrics, nothing else changes: no sink and Envoy's own flush interval.
    expect(bootstrap.stats_sinks).toBeUndefined();
    expect(bootstrap.stats_flush_interval).toBeUndefined();
  });

  it('with --metrics, streams stats to the relay\'s metrics service as deltas, flushed at the relay\'s report interval', () => {
    const type = 'envoy.config.bootstrap.v3.Bootstrap';
    for (const [metricsIntervalMs, flush] of [[undefined, '10s'], [2_500, '2.5s'], [1, '0.001s'], [299_999, '299.999s']] as const) {
      const bootstrap = envoyBootstrap({ node: 'mesh/demo/virtualGateway/edge', relay: 'relay.internal:18000', token: 't0k3n', tls: true, statsd: '127.0.0.1:8125', metrics: true, metricsIntervalMs });
      // The proto3 JSON Envoy reads encodes again with Envoy's Bootstrap proto, sink config included.
      expect(() => encodeMessage(type, fromProto3Json(type, JSON.parse(JSON.stringify(bootstrap))))).not.toThrow();
      expect(bootstrap.stats_flush_interval).toBe(flush);
      const sinks = bootstrap.stats_sinks as ProtoObject[];
      expect(sinks.map((s) => s.name)).toEqual(['envoy.stat_sinks.statsd', 'envoy.stat_sinks.metrics_service']);
      expect(sinks[1]?.typed_config).toEqual({
        '@type': 'type.googleapis.com/envoy.config.metrics.v3.MetricsServiceConfig',
        grpc_service: { envoy_grpc: { cluster_name: 'meshline-xds' }, initial_metadata: [{ key: 'authorization', value: 'Bearer t0k3n' }] },
        transport_api_version: 'V3',
        report_counters_as_deltas: true,
        // Full stat names (cluster.<name>.upstream_rq_time): App Mesh names may hold dots.
        emit_tags_as_labels: false,
      });
    }
  });

  it('refuses a metrics interval Envoy would refuse (at least 1 ms, less than 5 min)', () => {
    for (const metricsIntervalMs of [0, 300_000, 1.5]) {
      expect(() => envoyBootstrap({ node: 'mesh/demo/virtualNode/web', relay: '127.0.0.1:18000', metrics: true, metricsIntervalMs })).toThrow(
        `--metrics-interval must be at least 1ms and less than 5m, got: ${metricsIntervalMs} ms`,
      );
    }
  });

  it('takes --metrics and --metrics-interval on the command line', async () => {
    const out = capture();
    const err = capture();
    expect(await main(['bootstrap', '--node', 'mesh/demo/virtualNode/web', '--metrics', '--metrics-interval', '500ms'], out.stream as never, err.stream as never)).toBe(0);
    const printed = JSON.parse(out.text()) as Record<string, unknown>;
    expect(printed.stats_flush_interval).toBe('0.5s');
    expect(JSON.stringify(printed.stats_sinks)).toContain('envoy.stat_sinks.metrics_service');
    expect(await main(['bootstrap', '--node', 'mesh/demo/virtualNode/web', '--metrics-interval', '5s'], out.stream as never, err.stream as never)).toBe(2);
    expect(err.text()).toContain('--metrics-interval goes with --metrics');
    expect(await main(['bootstrap', '--node', 'mesh/demo/virtualNode/web', '--metrics', '--metrics-interval', 'soon'], out.stream as never, err.stream as never)).toBe(2);
    expect(err.text()).toContain('--metrics-interval takes a duration like 30s, 500ms or 2m, got: soon');
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
