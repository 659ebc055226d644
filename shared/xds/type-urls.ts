/** Type URLs of the xDS resources Meshline serves, in one place. */
export const CLUSTER = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const ENDPOINT = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
export const LISTENER = 'type.googleapis.com/envoy.config.listener.v3.Listener';
export const ROUTE = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';

export type ResourceTypeUrl = typeof CLUSTER | typeof ENDPOINT | typeof LISTENER | typeof ROUTE;

/**
 * The order matters: it is Envoy's make-before-break order for ADS (CDS, EDS, LDS, RDS), so a
 * proxy always knows a cluster before a route names it.
 */
export const RESOURCE_TYPE_URLS: readonly ResourceTypeUrl[] = [CLUSTER, ENDPOINT, LISTENER, ROUTE];

/** Short names used in logs, metrics and snapshot JSON twins. */
export const SHORT_NAMES: Record<ResourceTypeUrl, string> = {
  [CLUSTER]: 'clusters',
  [ENDPOINT]: 'endpoints',
  [LISTENER]: 'listeners',
  [ROUTE]: 'routes',
};

/** The fully qualified proto message name of a type URL. */
export function messageName(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

export function isResourceTypeUrl(typeUrl: string): typeUrl is ResourceTypeUrl {
  return (RESOURCE_TYPE_URLS as readonly string[]).includes(typeUrl);
}
