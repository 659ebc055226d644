/**
 * Typed views of the specs the compiler reads. Specs are validated against the App Mesh model
 * when they are written (shared/model/shapes.ts), so the compiler reads them as those types.
 */
import type {
  Duration,
  GatewayRouteSpec,
  IpPreference,
  MeshSpec,
  PortMapping,
  RouteSpec,
  VirtualGatewaySpec,
  VirtualNodeSpec,
  VirtualRouterSpec,
  VirtualServiceSpec,
} from '../model/shapes.js';
import type { StoredResource } from '../store/repository.js';
import type { ProtoObject } from '../xds/encode.js';

export type { PortMapping } from '../model/shapes.js';
export type Protocol = PortMapping['protocol'];

export function meshSpec(resource: StoredResource): MeshSpec {
  return (resource.spec ?? {}) as MeshSpec;
}

export function nodeSpec(resource: StoredResource): VirtualNodeSpec {
  return (resource.spec ?? {}) as VirtualNodeSpec;
}

export function serviceSpec(resource: StoredResource): VirtualServiceSpec {
  return (resource.spec ?? {}) as VirtualServiceSpec;
}

export function routerSpec(resource: StoredResource): VirtualRouterSpec {
  return (resource.spec ?? {}) as VirtualRouterSpec;
}

export function routeSpec(resource: StoredResource): RouteSpec {
  return (resource.spec ?? {}) as RouteSpec;
}

export function gatewaySpec(resource: StoredResource): VirtualGatewaySpec {
  return (resource.spec ?? { listeners: [] }) as VirtualGatewaySpec;
}

export function gatewayRouteSpec(resource: StoredResource): GatewayRouteSpec {
  return (resource.spec ?? {}) as GatewayRouteSpec;
}

/** The port mappings of a virtual node's listeners, in the order given. */
export function nodePortMappings(node: StoredResource): PortMapping[] {
  return (nodeSpec(node).listeners ?? []).map((l) => l.portMapping);
}

/**
 * The IP preference that governs a virtual node: its own (DNS or Cloud Map service discovery),
 * else the mesh's. Undefined is App Mesh's "no preference".
 */
export function nodeIpPreference(mesh: StoredResource, node: StoredResource | undefined): IpPreference | undefined {
  const discovery = node ? nodeSpec(node).serviceDiscovery : undefined;
  return discovery?.dns?.ipPreference ?? discovery?.awsCloudMap?.ipPreference ?? meshSpec(mesh).serviceDiscovery?.ipPreference;
}

/** An App Mesh duration as an Envoy Duration; undefined when no value is given. */
export function envoyDuration(duration: Duration | undefined): ProtoObject | undefined {
  if (!duration || duration.value === undefined) return undefined;
  const millis = duration.unit === 'ms' ? duration.value : duration.value * 1000;
  return millisDuration(millis);
}

/** Milliseconds as an Envoy Duration (`{ seconds, nanos }`, nanos only when not zero). */
export function millisDuration(millis: number): ProtoObject {
  const seconds = Math.floor(millis / 1000);
  const nanos = (millis % 1000) * 1_000_000;
  return nanos ? { seconds, nanos } : { seconds };
}

/** Backends may name a virtual service by name or by full ARN (the console accepts both). */
export function serviceNameOf(nameOrArn: string): string {
  const match = /^arn:[^:]+:appmesh:[^:]*:[^:]*:mesh\/[^/]+\/virtualService\/(.+)$/.exec(nameOrArn);
  return match?.[1] ?? nameOrArn;
}
