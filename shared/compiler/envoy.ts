/**
 * Small builders of Envoy configuration shared by the virtual node and virtual gateway
 * compilers, in protobufjs object form (field names as in Envoy's .proto files).
 */
import type { Logging } from '../model/shapes.js';
import type { ProtoObject } from '../xds/encode.js';
import type { Protocol } from './spec.js';

export const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const ROUTER_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
export const TCP_PROXY_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
export const ORIGINAL_DST_TYPE = 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst';
export const TLS_INSPECTOR_TYPE = 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector';
export const HTTP_PROTOCOL_OPTIONS_TYPE = 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions';
export const FILE_ACCESS_LOG_TYPE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
export const UPSTREAM_TLS_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
export const DOWNSTREAM_TLS_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

/** Resources named by another resource come over the same ADS stream. */
export const ADS: ProtoObject = { ads: {}, resource_api_version: 'V3' };

/**
 * A cluster's `lrs_server`: load reports go to the server the cluster came from (the relay).
 * Proxyless gRPC clients report load only for clusters that carry it, and accept no other
 * value; Envoy ignores the field (not implemented there) and reports through its bootstrap's
 * `cluster_manager.load_stats_config` instead.
 */
export const LRS_SELF: ProtoObject = { self: {} };

/**
 * App Mesh's circuit-breaker defaults: every threshold at 2147483647, which effectively turns
 * Envoy's (and gRPC's, 1024 requests) own limits off. Listener connection pools lower some.
 */
export const UNLIMITED = 2147483647;

/** How the two forms of client differ in what they accept; see docs/compiler.md. */
export type Dialect = 'envoy' | 'proxyless';

export function socketAddress(address: string, port: number): ProtoObject {
  return { socket_address: { address, port_value: port } };
}

export function isHttpFamily(protocol: Protocol): boolean {
  return protocol !== 'tcp';
}

export function originalDstFilter(): ProtoObject {
  return { name: 'envoy.filters.listener.original_dst', typed_config: { '@type': ORIGINAL_DST_TYPE } };
}

export function tlsInspectorFilter(): ProtoObject {
  return { name: 'envoy.filters.listener.tls_inspector', typed_config: { '@type': TLS_INSPECTOR_TYPE } };
}

/**
 * Access logs as a virtual node or gateway asks for them: to the file path given, in Envoy's
 * default format, or the text or JSON format given (App Mesh passes format strings through).
 */
export function accessLogs(logging: Logging | undefined): ProtoObject[] {
  const file = logging?.accessLog?.file;
  if (!file) return [];
  const format = file.format;
  let logFormat: ProtoObject | undefined;
  if (format?.text !== undefined) {
    logFormat = { text_format_source: { inline_string: format.text } };
  } else if (format?.json !== undefined) {
    const fields: Record<string, ProtoObject> = {};
    for (const { key, value } of format.json) fields[key] = { stringValue: value };
    logFormat = { json_format: { fields } };
  }
  return [
    {
      name: 'envoy.access_loggers.file',
      typed_config: { '@type': FILE_ACCESS_LOG_TYPE, path: file.path, ...(logFormat ? { log_format: logFormat } : {}) },
    },
  ];
}

/** An HttpConnectionManager taking its routes by RDS over ADS; the router filter is last. */
export function httpConnectionManager(statPrefix: string, routeConfigName: string, extra: ProtoObject = {}): ProtoObject {
  return {
    '@type': HCM_TYPE,
    stat_prefix: statPrefix,
    rds: { route_config_name: routeConfigName, config_source: ADS },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } }],
    ...extra,
  };
}

export function hcmFilter(statPrefix: string, routeConfigName: string, extra: ProtoObject = {}): ProtoObject {
  return { name: 'envoy.filters.network.http_connection_manager', typed_config: httpConnectionManager(statPrefix, routeConfigName, extra) };
}

/** A TCP proxy to one cluster, or weighted clusters (relative weights, each at least 1). */
export function tcpProxyFilter(statPrefix: string, clusters: WeightedCluster[], extra: ProtoObject = {}): ProtoObject {
  const target =
    clusters.length === 1
      ? { cluster: clusters[0]?.name }
      : { weighted_clusters: { clusters: clusters.map((c) => ({ name: c.name, weight: c.weight })) } };
  return { name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP_PROXY_TYPE, stat_prefix: statPrefix, ...target, ...extra } };
}

export interface WeightedCluster {
  name: string;
  weight: number;
}

/** HTTP/2 to the upstream for http2 and grpc port mappings. */
export function upstreamProtocolOptions(protocol: Protocol): ProtoObject {
  if (protocol !== 'http2' && protocol !== 'grpc') return {};
  return {
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': HTTP_PROTOCOL_OPTIONS_TYPE,
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
  };
}

export interface Thresholds {
  maxConnections?: number | undefined;
  maxPendingRequests?: number | undefined;
  maxRequests?: number | undefined;
}

/** Circuit breakers at App Mesh's defaults, with the limits of a connection pool applied. */
export function circuitBreakers(limits: Thresholds = {}): ProtoObject {
  return {
    circuit_breakers: {
      thresholds: [
        {
          max_connections: { value: limits.maxConnections ?? UNLIMITED },
          max_pending_requests: { value: limits.maxPendingRequests ?? UNLIMITED },
          max_requests: { value: limits.maxRequests ?? UNLIMITED },
          max_retries: { value: UNLIMITED },
        },
      ],
    },
  };
}

/**
 * A load assignment: one locality, present (proxyless gRPC rejects an unset one) and with an
 * explicit weight (proxyless gRPC skips one without).
 */
export function loadAssignment(clusterName: string, endpoints: { address: string; port: number; healthCheckPort?: number | undefined }[]): ProtoObject {
  return {
    cluster_name: clusterName,
    endpoints: endpoints.length
      ? [
          {
            locality: {},
            load_balancing_weight: { value: 1 },
            lb_endpoints: endpoints.map((e) => ({
              endpoint: {
                address: socketAddress(e.address, e.port),
                ...(e.healthCheckPort !== undefined && e.healthCheckPort !== e.port ? { health_check_config: { port_value: e.healthCheckPort } } : {}),
              },
            })),
          },
        ]
      : [],
  };
}

/** Escapes text for use inside an RE2 (and JavaScript) regular expression. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
