/**
 * Envoy resource names as App Mesh's control plane named them, so existing dashboards and
 * alerts keyed on them keep working after a move to Meshline.
 */

/** App Mesh's listener ports: inbound traffic is redirected to 15000, outbound to 15001. */
export const INGRESS_PORT = 15000;
export const EGRESS_PORT = 15001;

export const INGRESS_LISTENER = `lds_ingress_0.0.0.0_${INGRESS_PORT}`;
export const EGRESS_LISTENER = `lds_egress_0.0.0.0_${EGRESS_PORT}`;

/** The cluster that forwards to the original destination (egress filter ALLOW_ALL). */
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';

export type Protocol = 'http' | 'http2' | 'grpc' | 'tcp';

/** The cluster of the local application behind a listener port mapping. */
export function ingressCluster(mesh: string, node: string, protocol: Protocol, port: number): string {
  return `cds_ingress_${mesh}_${node}_${protocol}_${port}`;
}

/** The cluster of a virtual node reached as a backend, on one of its listener ports. */
export function egressCluster(mesh: string, node: string, protocol: Protocol, port: number): string {
  return `cds_egress_${mesh}_${node}_${protocol}_${port}`;
}

export function ingressRouteConfig(protocol: Protocol, port: number): string {
  return `rds_ingress_${protocol}_${port}`;
}

export function egressRouteConfig(protocol: Protocol, port: number): string {
  return `rds_egress_${protocol}_${port}`;
}
