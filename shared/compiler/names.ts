/**
 * Envoy resource names as App Mesh's control plane named them, so existing dashboards and
 * alerts keyed on them keep working after a move to Meshline. Names App Mesh never exposed
 * (the proxyless gRPC form, the gateway's internal hop) follow the same pattern.
 */
import type { Protocol } from './spec.js';

export type { Protocol } from './spec.js';

/** App Mesh's listener ports: inbound traffic is redirected to 15000, outbound to 15001. */
export const INGRESS_PORT = 15000;
export const EGRESS_PORT = 15001;

export const INGRESS_LISTENER = `lds_ingress_0.0.0.0_${INGRESS_PORT}`;
export const EGRESS_LISTENER = `lds_egress_0.0.0.0_${EGRESS_PORT}`;

/** The cluster that forwards to the original destination (egress filter ALLOW_ALL). */
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';

/** Stat prefixes App Mesh's metrics are keyed on (`http.ingress.*`, `http.egress.*`). */
export const INGRESS_STAT_PREFIX = 'ingress';
export const EGRESS_STAT_PREFIX = 'egress';

/** The cluster of the local application behind a listener port mapping. */
export function ingressCluster(mesh: string, node: string, protocol: Protocol, port: number): string {
  return `cds_ingress_${mesh}_${node}_${protocol}_${port}`;
}

/** The cluster of a virtual node reached as a backend, on one of its listener ports. */
export function egressCluster(mesh: string, node: string, protocol: Protocol, port: number): string {
  return `cds_egress_${mesh}_${node}_${protocol}_${port}`;
}

/**
 * The proxyless gRPC variant of an egress cluster, for the few cases where gRPC clients cannot
 * take the Envoy cluster (STRICT_DNS, TLS from files or SDS).
 */
export function proxylessCluster(envoyCluster: string): string {
  return `${envoyCluster}_grpc`;
}

export function ingressRouteConfig(protocol: Protocol, port: number): string {
  return `rds_ingress_${protocol}_${port}`;
}

export function egressRouteConfig(protocol: Protocol, port: number): string {
  return `rds_egress_${protocol}_${port}`;
}

/** A virtual gateway's listener on one of its port mappings (App Mesh's ingress naming). */
export function gatewayListener(port: number): string {
  return `lds_ingress_0.0.0.0_${port}`;
}

/**
 * A virtual gateway's internal hop, as App Mesh's gateways had it: gateway routes send to this
 * cluster (the gateway itself, on 127.0.0.1:15001), whose listener applies the target virtual
 * services' own routes. One per gateway listener; with several listeners the name carries the
 * listener's port, as App Mesh's did.
 */
export function gatewaySelfRedirectCluster(mesh: string, gateway: string, protocol: Protocol, listenerPort: number, listenerCount: number): string {
  const port = listenerCount > 1 ? `${listenerPort}_` : '';
  return `cds_ingress_${mesh}_${gateway}_self_redirect_${port}${protocol}_${EGRESS_PORT}`;
}

export const GATEWAY_EGRESS_LISTENER = `lds_egress_127.0.0.1_${EGRESS_PORT}`;
export const GATEWAY_EGRESS_ROUTE_CONFIG = `rds_egress_http_${EGRESS_PORT}`;

/**
 * The header a gateway's first hop sets to name the gateway route's target (`<service>:<port>`)
 * and its second hop routes on. Overwritten on the way in, removed on the way out.
 */
export const GATEWAY_TARGET_HEADER = 'x-meshline-gateway-target';

/** The route configuration of a proxyless client of one backend virtual service on one port. */
export function proxylessRouteConfig(service: string, port: number): string {
  return `${service}:${port}`;
}

/** The cluster of the local SDS provider that App Mesh's Envoy bootstrap defines. */
export const LOCAL_SDS_CLUSTER = 'static_cluster_sds_unix_socket';
