import { isIP } from 'node:net';
import { encodeMessage, resourceToJson, type ProtoObject } from '../shared/xds/encode.js';
import { parseNodeId } from '../shared/xds/node-id.js';

const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';
const XDS_CLUSTER = 'meshline-xds';

export type Tracing = 'zipkin' | 'opentelemetry' | 'xray';

/** What an Envoy needs to know to fetch its configuration from a Meshline relay. */
export interface BootstrapOptions {
  /** The proxy's node id: `mesh/<mesh>/virtualNode/<name>`, `.../virtualGateway/<name>` or its ARN. */
  node: string;
  /** The relay's ADS address, `host:port`. */
  relay: string;
  /** Speak TLS to the relay; `ca` names the CA bundle that verifies it (default: the system's). */
  tls?: boolean;
  ca?: string;
  /** A client certificate and key (paths) for mTLS; the certificate's SAN names the proxy. */
  cert?: string;
  key?: string;
  /** A bearer token sent as `authorization` metadata on the ADS stream. */
  token?: string;
  adminPort?: number;
  /** A statsd sink, `host:port` (UDP). */
  statsd?: string;
  tracing?: Tracing;
  /** The tracer's collector, `host:port` (Zipkin, OpenTelemetry over gRPC, or the X-Ray daemon). */
  tracingAddress?: string;
  region?: string;
  zone?: string;
  /**
   * Also stream stats to the relay's metrics service (request time histograms and response
   * classes per cluster, which load reports lack), flushed every `metricsIntervalMs` (default
   * 10 s, the relay's default load report interval).
   */
  metrics?: boolean;
  metricsIntervalMs?: number;
}

/** Envoy flushes stats to its sinks every 5 s unless told; it accepts at least 1 ms and less than 5 min. */
const DEFAULT_METRICS_INTERVAL_MS = 10_000;
const FLUSH_INTERVAL_LIMIT_MS = 5 * 60_000;

/** A proto3 Duration of a whole number of milliseconds. */
function millis(ms: number): ProtoObject {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

function hostPort(value: string, what: string): { address: string; port_value: number } {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65_535) throw new Error(`${what} must be host:port, got: ${JSON.stringify(value)}`);
  return { address: match[1] ?? '', port_value: port };
}

function isIpAddress(address: string): boolean {
  return isIP(address) !== 0;
}

function staticCluster(name: string, target: { address: string; port_value: number }, extra: ProtoObject = {}): ProtoObject {
  return {
    name,
    type: isIpAddress(target.address) ? 'STATIC' : 'STRICT_DNS',
    connect_timeout: { seconds: 1 },
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: target } } }] }],
    },
    ...extra,
  };
}

const HTTP2 = {
  typed_extension_protocol_options: {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
      explicit_http_config: { http2_protocol_options: {} },
    },
  },
};

function relayTransportSocket(options: BootstrapOptions, sni: string): ProtoObject | undefined {
  if (!options.tls && !options.cert) return undefined;
  const common: ProtoObject = {
    validation_context: options.ca
      ? { trusted_ca: { filename: options.ca } }
      : { trusted_ca: { filename: '/etc/ssl/certs/ca-certificates.crt' } },
  };
  if (options.cert && options.key) {
    common.tls_certificates = [{ certificate_chain: { filename: options.cert }, private_key: { filename: options.key } }];
  }
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      // SNI names a host; an IP literal is not one (RFC 6066).
      ...(isIpAddress(sni) ? {} : { sni }),
      common_tls_context: common,
    },
  };
}

function tracingConfig(options: BootstrapOptions, clusters: ProtoObject[]): ProtoObject | undefined {
  if (!options.tracing) return undefined;
  const defaults: Record<Tracing, string> = { zipkin: '127.0.0.1:9411', opentelemetry: '127.0.0.1:4317', xray: '127.0.0.1:2000' };
  const target = hostPort(options.tracingAddress ?? defaults[options.tracing], '--tracing-address');
  if (options.tracing === 'xray') {
    return {
      http: {
        name: 'envoy.tracers.xray',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.config.trace.v3.XRayConfig',
          daemon_endpoint: { protocol: 'UDP', ...target },
          segment_name: options.node,
        },
      },
    };
  }
  const cluster = `meshline-tracing-${options.tracing}`;
  if (options.tracing === 'zipkin') {
    clusters.push(staticCluster(cluster, target));
    return {
      http: {
        name: 'envoy.tracers.zipkin',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.config.trace.v3.ZipkinConfig',
          collector_cluster: cluster,
          collector_endpoint: '/api/v2/spans',
          collector_endpoint_version: 'HTTP_JSON',
        },
      },
    };
  }
  clusters.push(staticCluster(cluster, target, HTTP2));
  return {
    http: {
      name: 'envoy.tracers.opentelemetry',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig',
        grpc_service: { envoy_grpc: { cluster_name: cluster } },
        service_name: options.node,
      },
    },
  };
}

/**
 * An Envoy bootstrap that takes everything else from the relay over ADS (gRPC, v3), with App
 * Mesh's admin port (9901), Prometheus stats on the admin endpoint, App Mesh's stat tags
 * (`appmesh.mesh`, `appmesh.virtual_node` or `appmesh.virtual_gateway`), load reports to the
 * relay (LRS), and optionally the relay's metrics service, a statsd sink and a tracer. Checked against Envoy's Bootstrap proto before it is returned, as
 * proto3 JSON (Envoy reads a JSON bootstrap as it reads YAML).
 */
export function envoyBootstrap(options: BootstrapOptions): ProtoObject {
  const proxy = parseNodeId(options.node);
  if (!proxy) {
    throw new Error(`--node must be mesh/<mesh>/virtualNode/<name>, mesh/<mesh>/virtualGateway/<name> or an App Mesh ARN, got: ${JSON.stringify(options.node)}`);
  }
  const relay = hostPort(options.relay, '--relay');
  const transport = relayTransportSocket(options, relay.address);
  const clusters: ProtoObject[] = [
    staticCluster(XDS_CLUSTER, relay, {
      ...HTTP2,
      ...(transport ? { transport_socket: transport } : {}),
      // A relay replica going away must not leave the proxy waiting on a dead connection.
      upstream_connection_options: { tcp_keepalive: { keepalive_time: { value: 30 } } },
    }),
  ];
  const adsService: ProtoObject = {
    envoy_grpc: { cluster_name: XDS_CLUSTER },
    ...(options.token ? { initial_metadata: [{ key: 'authorization', value: `Bearer ${options.token}` }] } : {}),
  };
  const statsSinks: ProtoObject[] = [];
  if (options.statsd) {
    statsSinks.push({
      name: 'envoy.stat_sinks.statsd',
      typed_config: { '@type': 'type.googleapis.com/envoy.config.metrics.v3.StatsdSink', address: { socket_address: { protocol: 'UDP', ...hostPort(options.statsd, '--statsd') } } },
    });
  }
  if (options.metrics) {
    statsSinks.push({
      name: 'envoy.stat_sinks.metrics_service',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.config.metrics.v3.MetricsServiceConfig',
        // To the relay over the ADS cluster, with the ADS stream's credentials: it checks the
        // sender as it checks ADS.
        grpc_service: adsService,
        transport_api_version: 'V3',
        // Counters as deltas since the last flush, so a reconnect to another relay neither
        // loses nor repeats counts. (Histograms carry the flush interval's samples either way;
        // the sink has no such setting for them.)
        report_counters_as_deltas: { value: true },
        // Full stat names (`cluster.<name>.upstream_rq_time`): App Mesh names may contain dots,
        // and Envoy's cluster_name tag extractor stops at the first one.
        emit_tags_as_labels: false,
      },
    });
  }
  const flushMs = options.metricsIntervalMs ?? DEFAULT_METRICS_INTERVAL_MS;
  if (!Number.isInteger(flushMs) || flushMs < 1 || flushMs >= FLUSH_INTERVAL_LIMIT_MS) {
    throw new Error(`--metrics-interval must be at least 1ms and less than 5m, got: ${flushMs} ms`);
  }
  const tracing = tracingConfig(options, clusters);
  const nameTag = proxy.kind === 'virtualNode' ? 'appmesh.virtual_node' : 'appmesh.virtual_gateway';
  const bootstrap: ProtoObject = {
    node: {
      id: options.node,
      cluster: `${proxy.mesh}/${proxy.name}`,
      ...(options.region || options.zone
        ? { locality: { ...(options.region ? { region: options.region } : {}), ...(options.zone ? { zone: options.zone } : {}) } }
        : {}),
    },
    admin: { address: { socket_address: { address: '0.0.0.0', port_value: options.adminPort ?? 9901 } } },
    stats_config: {
      stats_tags: [
        { tag_name: 'appmesh.mesh', fixed_value: proxy.mesh },
        { tag_name: nameTag, fixed_value: proxy.name },
      ],
    },
    ...(statsSinks.length ? { stats_sinks: statsSinks } : {}),
    ...(options.metrics ? { stats_flush_interval: millis(flushMs) } : {}),
    ...(tracing ? { tracing } : {}),
    dynamic_resources: {
      ads_config: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [adsService], set_node_on_first_message_only: true },
      cds_config: { ads: {}, resource_api_version: 'V3' },
      lds_config: { ads: {}, resource_api_version: 'V3' },
    },
    static_resources: { clusters },
    // Load reports (LRS) to the relay, on the ADS cluster with the ADS stream's credentials;
    // the relay says which clusters and how often.
    cluster_manager: {
      load_stats_config: { api_type: 'GRPC', transport_api_version: 'V3', grpc_services: [adsService] },
    },
  };
  // Encoding with Envoy's Bootstrap proto checks every field (and Envoy's validation rules).
  const bytes = encodeMessage(BOOTSTRAP, bootstrap);
  return resourceToJson(`type.googleapis.com/${BOOTSTRAP}`, bytes);
}
