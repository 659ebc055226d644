/**
 * Clusters and endpoint assignments: the local application behind a listener (ingress), and a
 * virtual node reached as a backend (egress), with App Mesh's resilience placed where App Mesh
 * placed it: connection pools on the server's own ingress cluster; health checks and outlier
 * detection, defined on the server's listener, on every client's cluster to that server.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { HealthCheckPolicy, IpPreference, Listener, OutlierDetection, VirtualNodeConnectionPool } from '../model/shapes.js';
import type { StoredResource } from '../store/repository.js';
import type { ProtoObject } from '../xds/encode.js';
import { proxyKey } from '../xds/node-id.js';
import { CLUSTER, ENDPOINT } from '../xds/type-urls.js';
import { ADS, LRS_SELF, circuitBreakers, loadAssignment, upstreamProtocolOptions, type Dialect, type Thresholds } from './envoy.js';
import type { DiscoveredInstance, MeshState } from './mesh-state.js';
import { egressCluster, ingressCluster, proxylessCluster } from './names.js';
import { addResource, shared, type ProxyResources } from './resources.js';
import { envoyDuration, millisDuration, nodeIpPreference, nodeSpec, type PortMapping } from './spec.js';
import { upstreamTlsSocket, type ClientTls } from './tls.js';

const CONNECT_TIMEOUT: ProtoObject = { seconds: 1 };

/** The local application's address: App Mesh uses IPv6 loopback when IPv6 is preferred or required. */
function localAppAddress(preference: IpPreference | undefined): string {
  return preference === 'IPv6_PREFERRED' || preference === 'IPv6_ONLY' ? '::1' : '127.0.0.1';
}

/** The thresholds of a listener's connection pool (per the listener's protocol). */
export function poolThresholds(pool: VirtualNodeConnectionPool | undefined): Thresholds {
  if (!pool) return {};
  if (pool.tcp) return { maxConnections: pool.tcp.maxConnections };
  if (pool.http) return { maxConnections: pool.http.maxConnections, maxPendingRequests: pool.http.maxPendingRequests };
  return { maxRequests: (pool.http2 ?? pool.grpc)?.maxRequests };
}

/**
 * The cluster of the local application behind one listener: static, on the loopback address,
 * with the listener's connection pool as its circuit breakers (App Mesh's "destination-side"
 * pool protects the application from being overwhelmed).
 */
export function addIngressCluster(state: MeshState, node: StoredResource, listener: Listener, out: ProxyResources): string {
  const { port, protocol } = listener.portMapping;
  const name = ingressCluster(state.meshName, node.name, protocol, port);
  addResource(out, CLUSTER, name, {
    name,
    type: 'STATIC',
    connect_timeout: CONNECT_TIMEOUT,
    load_assignment: loadAssignment(name, [{ address: localAppAddress(nodeIpPreference(state.mesh, node)), port }]),
    ...circuitBreakers(poolThresholds(listener.connectionPool)),
    ...upstreamProtocolOptions(protocol),
  });
  return name;
}

/** Envoy's DNS lookup family for App Mesh's IP preferences (no preference: IPv6 first). */
function dnsLookupFamily(preference: IpPreference | undefined): ProtoObject {
  switch (preference) {
    case 'IPv4_PREFERRED':
      return { dns_lookup_family: 'V4_PREFERRED' };
    case 'IPv4_ONLY':
      return { dns_lookup_family: 'V4_ONLY' };
    case 'IPv6_ONLY':
      return { dns_lookup_family: 'V6_ONLY' };
    default:
      return {};
  }
}

/** An active health check of a backend's listener, as its clients run it. */
function healthChecks(policy: HealthCheckPolicy | undefined): ProtoObject {
  if (!policy) return {};
  const checker =
    policy.protocol === 'grpc' ? { grpc_health_check: {} }
    : policy.protocol === 'tcp' ? { tcp_health_check: {} }
    : { http_health_check: { path: policy.path || '/', ...(policy.protocol === 'http2' ? { codec_client_type: 'HTTP2' } : {}) } };
  return {
    health_checks: [
      {
        timeout: millisDuration(policy.timeoutMillis),
        interval: millisDuration(policy.intervalMillis),
        healthy_threshold: { value: policy.healthyThreshold },
        unhealthy_threshold: { value: policy.unhealthyThreshold },
        ...checker,
      },
    ],
  };
}

/**
 * Outlier detection on consecutive server errors only (App Mesh's one criterion): success-rate
 * ejection, on by default in Envoy and gRPC, is turned off.
 */
function outlierDetection(policy: OutlierDetection | undefined): ProtoObject {
  if (!policy) return {};
  return {
    outlier_detection: {
      consecutive_5xx: { value: policy.maxServerErrors },
      interval: envoyDuration(policy.interval) ?? { seconds: 10 },
      base_ejection_time: envoyDuration(policy.baseEjectionDuration) ?? { seconds: 30 },
      max_ejection_percent: { value: policy.maxEjectionPercent },
      enforcing_success_rate: { value: 0 },
    },
  };
}

/** The addresses of discovered instances that an IP preference allows, in a stable order. */
function instanceAddresses(instances: readonly DiscoveredInstance[], preference: IpPreference | undefined): string[] {
  const picked = instances.map((i) => {
    switch (preference) {
      case 'IPv4_ONLY':
        return i.ipv4;
      case 'IPv6_ONLY':
        return i.ipv6;
      case 'IPv6_PREFERRED':
        return i.ipv6 ?? i.ipv4;
      default:
        return i.ipv4 ?? i.ipv6;
    }
  });
  return [...new Set(picked.filter((a): a is string => typeof a === 'string' && a.length > 0))].sort();
}

/** The egress cluster of a backend: its Envoy name, and the name proxyless clients use. */
export interface EgressClusterNames {
  envoy: string;
  proxyless: string;
}

/**
 * The cluster of a virtual node reached as a backend on one of its port mappings, for one
 * client (its TLS policy toward that backend) and one form of client. A client reaches a node
 * under App Mesh's cluster name with its default policy (backend defaults, or none); a backend
 * whose own policy differs reaches it under that name with a suffix (the policy's hash, or
 * `_plain`), since one proxy may reach the same node both ways. Proxyless gRPC clients
 * share the Envoy cluster unless they cannot take it (STRICT_DNS, TLS from files or SDS); then
 * they get a variant, served only by name. Returns the name the client form must route to.
 */
export function addEgressCluster(
  state: MeshState,
  target: StoredResource,
  mapping: PortMapping,
  tls: { applied: ClientTls | undefined; default: ClientTls | undefined },
  dialect: Dialect,
  out: ProxyResources,
): string {
  const applied = tlsKey(tls.applied);
  const suffix = applied === tlsKey(tls.default) ? '' : `_${tls.applied ? createHash('sha256').update(applied).digest('hex').slice(0, 8) : 'plain'}`;
  const key = `egressCluster\n${target.name}\n${mapping.port}\n${mapping.protocol}\n${dialect}\n${applied}\n${suffix}`;
  return shared(state.memo, key, out, (added) => buildEgressCluster(state, target, mapping, tls.applied, suffix, dialect, added));
}

function tlsKey(tls: ClientTls | undefined): string {
  return tls ? JSON.stringify(tls) : '';
}

function buildEgressCluster(
  state: MeshState,
  target: StoredResource,
  mapping: PortMapping,
  tls: ClientTls | undefined,
  suffix: string,
  dialect: Dialect,
  out: ProxyResources,
): string {
  const envoyName = egressCluster(state.meshName, target.name, mapping.protocol, mapping.port) + suffix;
  const spec = nodeSpec(target);
  const listener = (spec.listeners ?? []).find((l) => l.portMapping.port === mapping.port);
  const preference = nodeIpPreference(state.mesh, target);
  const healthPort = listener?.healthCheck?.port;
  const dns = spec.serviceDiscovery?.dns;
  const strictDns = dns !== undefined && !isIP(dns.hostname) && dns.responseType === 'ENDPOINTS';
  const variant = dialect === 'proxyless' && (strictDns || tls !== undefined);
  const name = variant ? proxylessCluster(envoyName) : envoyName;
  // Every cluster a proxyless client may take (its variant, or the one it shares with Envoy)
  // asks for load reports; the Envoy-only ones have no use for the field.
  const proxylessMayUse = variant || !(strictDns || tls !== undefined);
  const common: ProtoObject = {
    name,
    connect_timeout: CONNECT_TIMEOUT,
    ...circuitBreakers(),
    ...upstreamProtocolOptions(mapping.protocol),
    ...healthChecks(listener?.healthCheck),
    ...outlierDetection(listener?.outlierDetection),
    ...(tls ? { transport_socket: upstreamTlsSocket(tls, variant ? 'proxyless' : 'envoy') } : {}),
    ...(proxylessMayUse ? { lrs_server: LRS_SELF } : {}),
  };
  // Load reported on the cluster (or its EDS service name) is load toward the target node.
  const nodeKey = proxyKey({ kind: 'virtualNode', name: target.name });
  const options = { onlyByName: variant, target: nodeKey };
  if (dns && !isIP(dns.hostname)) {
    // A DNS name: Envoy resolves it. gRPC clients resolve LOGICAL_DNS only.
    addResource(out, CLUSTER, name, {
      ...common,
      type: strictDns && !variant ? 'STRICT_DNS' : 'LOGICAL_DNS',
      ...dnsLookupFamily(preference),
      load_assignment: loadAssignment(name, [{ address: dns.hostname, port: mapping.port, healthCheckPort: healthPort }]),
    }, options);
    return name;
  }
  // An IP address, or Cloud Map instances (fed to the compiler, see MeshState.instances):
  // endpoints reach the proxy by EDS, so they can change without touching the cluster.
  addResource(out, CLUSTER, name, {
    ...common,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS, ...(variant ? { service_name: envoyName } : {}) },
  }, options);
  const addresses = dns ? [dns.hostname] : instanceAddresses(state.instances.get(target.name) ?? [], preference);
  addResource(out, ENDPOINT, envoyName, loadAssignment(envoyName, addresses.map((address) => ({ address, port: mapping.port, healthCheckPort: healthPort }))), { target: nodeKey });
  return name;
}
