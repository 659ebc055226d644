import { isIPv4, isIPv6 } from 'node:net';
import type { DiscoveredInstance } from '../compiler/index.js';
import { BadRequestError, NotFoundError } from '../errors.js';
import type { StoredResource } from '../store/repository.js';
import type { CloudMapServiceKey, InstanceStore, StoredInstance } from '../store/instances.js';
import type { InstanceSource } from './publish.js';

/** Cloud Map's limits on RegisterInstance (AWS Cloud Map API reference). */
export const CLOUDMAP_LIMITS = {
  instanceIdLength: 64,
  attributeKeyLength: 255,
  attributeValueLength: 1024,
  customAttributes: 30,
  /** Every key and value together. */
  attributesTotalLength: 5000,
  nameLength: 1024,
} as const;

const INSTANCE_ID = /^[0-9a-zA-Z_/:.@-]+$/;
const ATTRIBUTE_KEY = /^[a-zA-Z0-9!-~]+$/;
const ATTRIBUTE_VALUE = /^([a-zA-Z0-9!-~][ a-zA-Z0-9!-~]*)?[a-zA-Z0-9!-~]?$/;
const RESERVED = new Set(['AWS_INSTANCE_IPV4', 'AWS_INSTANCE_IPV6', 'AWS_INSTANCE_PORT', 'AWS_INSTANCE_CNAME', 'AWS_ALIAS_DNS_NAME', 'AWS_EC2_INSTANCE_ID', 'AWS_INIT_HEALTH_STATUS']);

/** Checks a namespace or service name as App Mesh's AwsCloudMapName bounds it. */
export function checkCloudMapName(member: string, value: string): void {
  if (value.length < 1 || value.length > CLOUDMAP_LIMITS.nameLength) {
    throw new BadRequestError(`${member} must be 1 to ${CLOUDMAP_LIMITS.nameLength} characters long.`);
  }
}

export function checkInstanceId(value: string): void {
  if (value.length < 1 || value.length > CLOUDMAP_LIMITS.instanceIdLength || !INSTANCE_ID.test(value)) {
    throw new BadRequestError(`InstanceId must be 1 to ${CLOUDMAP_LIMITS.instanceIdLength} characters of [0-9a-zA-Z_/:.@-], got: ${JSON.stringify(value)}`);
  }
}

/**
 * Validates a RegisterInstance body (`{ "Attributes": { ... } }`) as Cloud Map does: an IPv4 or
 * IPv6 address (or both), a port in 1..65535 when given, keys and values within Cloud Map's
 * lengths and character sets, at most 30 custom attributes, 5,000 characters in all.
 */
export function parseRegisterBody(body: unknown): Record<string, string> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequestError('The body must be a JSON object with Attributes.');
  const unknown = Object.keys(body).filter((k) => k !== 'Attributes' && k !== 'CreatorRequestId');
  if (unknown.length) throw new BadRequestError(`Unknown member: ${unknown[0]}`);
  const attributes = (body as { Attributes?: unknown }).Attributes;
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) throw new BadRequestError('Attributes is required and must be a map of strings.');
  const result: Record<string, string> = {};
  let total = 0;
  let custom = 0;
  for (const [key, value] of Object.entries(attributes)) {
    if (typeof value !== 'string') throw new BadRequestError(`Attributes.${key} must be a string.`);
    if (key.length < 1 || key.length > CLOUDMAP_LIMITS.attributeKeyLength || !ATTRIBUTE_KEY.test(key)) {
      throw new BadRequestError(`Attribute key ${JSON.stringify(key)} must be 1 to ${CLOUDMAP_LIMITS.attributeKeyLength} printable ASCII characters.`);
    }
    if (value.length > CLOUDMAP_LIMITS.attributeValueLength || !ATTRIBUTE_VALUE.test(value)) {
      throw new BadRequestError(`Attributes.${key} must be at most ${CLOUDMAP_LIMITS.attributeValueLength} printable ASCII characters.`);
    }
    if (!RESERVED.has(key)) custom++;
    total += key.length + value.length;
    result[key] = value;
  }
  if (custom > CLOUDMAP_LIMITS.customAttributes) throw new BadRequestError(`At most ${CLOUDMAP_LIMITS.customAttributes} custom attributes, got ${custom}.`);
  if (total > CLOUDMAP_LIMITS.attributesTotalLength) throw new BadRequestError(`Attributes may total at most ${CLOUDMAP_LIMITS.attributesTotalLength} characters, got ${total}.`);
  const ipv4 = result.AWS_INSTANCE_IPV4;
  const ipv6 = result.AWS_INSTANCE_IPV6;
  if (ipv4 === undefined && ipv6 === undefined) throw new BadRequestError('Attributes must include AWS_INSTANCE_IPV4 or AWS_INSTANCE_IPV6.');
  if (ipv4 !== undefined && !isIPv4(ipv4)) throw new BadRequestError(`AWS_INSTANCE_IPV4 is not an IPv4 address: ${JSON.stringify(ipv4)}`);
  if (ipv6 !== undefined && !isIPv6(ipv6)) throw new BadRequestError(`AWS_INSTANCE_IPV6 is not an IPv6 address: ${JSON.stringify(ipv6)}`);
  const port = result.AWS_INSTANCE_PORT;
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) {
    throw new BadRequestError(`AWS_INSTANCE_PORT must be an integer from 1 to 65535, got: ${JSON.stringify(port)}`);
  }
  return result;
}

interface CloudMapDiscovery {
  namespaceName: string;
  serviceName: string;
  attributes?: { key: string; value: string }[];
}

/** A virtual node's Cloud Map service discovery, if it uses Cloud Map. */
export function cloudMapOf(node: StoredResource): CloudMapDiscovery | undefined {
  const spec = node.spec as { serviceDiscovery?: { awsCloudMap?: CloudMapDiscovery } } | undefined;
  return spec?.serviceDiscovery?.awsCloudMap;
}

export function serviceId(key: CloudMapServiceKey): string {
  return JSON.stringify([key.namespaceName, key.serviceName]);
}

/** The Cloud Map services a mesh's virtual nodes use, each once, in a stable order. */
export function referencedServices(nodes: readonly StoredResource[]): CloudMapServiceKey[] {
  const found = new Map<string, CloudMapServiceKey>();
  for (const node of nodes) {
    const cm = cloudMapOf(node);
    if (cm) found.set(serviceId(cm), { namespaceName: cm.namespaceName, serviceName: cm.serviceName });
  }
  return [...found.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, key]) => key);
}

/** The names of the virtual nodes of a mesh that use one Cloud Map service. */
export function nodesUsing(nodes: Iterable<StoredResource>, service: CloudMapServiceKey): string[] {
  const names: string[] = [];
  for (const node of nodes) {
    const cm = cloudMapOf(node);
    if (cm && cm.namespaceName === service.namespaceName && cm.serviceName === service.serviceName) names.push(node.name);
  }
  return names;
}

/** Whether an instance carries every attribute a node filters on (Cloud Map's DiscoverInstances QueryParameters). */
export function matchesFilter(instance: StoredInstance, filter: readonly { key: string; value: string }[] | undefined): boolean {
  return (filter ?? []).every(({ key, value }) => instance.attributes[key] === value);
}

export function discovered(instance: StoredInstance): DiscoveredInstance {
  return { ipv4: instance.attributes.AWS_INSTANCE_IPV4, ipv6: instance.attributes.AWS_INSTANCE_IPV6 };
}

/**
 * The InstanceSource of the compile path: for each Cloud Map service the mesh's nodes use,
 * first records the mesh as a subscriber of the service, then reads its instances. In that
 * order no instance change is missed: a change written before the read is in it, and one
 * written after finds the subscription (both are consistent reads of the same partition).
 */
export function storedInstanceSource(store: InstanceStore): InstanceSource {
  return async (mesh, nodes) => {
    const services = referencedServices(nodes);
    const byService = new Map<string, StoredInstance[]>();
    await Promise.all(
      services.map(async (service) => {
        await store.subscribe(service, mesh);
        byService.set(serviceId(service), await store.list(service));
      }),
    );
    const result = new Map<string, DiscoveredInstance[]>();
    for (const node of nodes) {
      const cm = cloudMapOf(node);
      if (!cm) continue;
      const instances = byService.get(serviceId(cm)) ?? [];
      result.set(node.name, instances.filter((i) => matchesFilter(i, cm.attributes)).map(discovered));
    }
    return result;
  };
}

/** The registration API's answer for one instance, shaped like Cloud Map's Instance. */
export interface InstanceOutput {
  Id: string;
  Attributes: Record<string, string>;
}

export interface RegistrationDeps {
  instances: InstanceStore;
}

export async function registerInstance(deps: RegistrationDeps, service: CloudMapServiceKey, instanceId: string, body: unknown): Promise<{ OperationId: string; Changed: boolean }> {
  checkCloudMapName('namespaceName', service.namespaceName);
  checkCloudMapName('serviceName', service.serviceName);
  checkInstanceId(instanceId);
  const attributes = parseRegisterBody(body);
  const changed = await deps.instances.put(service, { instanceId, attributes, origin: 'api' });
  return { OperationId: `register-${instanceId}`, Changed: changed };
}

export async function deregisterInstance(deps: RegistrationDeps, service: CloudMapServiceKey, instanceId: string): Promise<{ OperationId: string }> {
  checkCloudMapName('namespaceName', service.namespaceName);
  checkCloudMapName('serviceName', service.serviceName);
  checkInstanceId(instanceId);
  if (!(await deps.instances.delete(service, instanceId))) throw new NotFoundError(`Instance ${instanceId} is not registered in ${service.namespaceName}/${service.serviceName}.`);
  return { OperationId: `deregister-${instanceId}` };
}

export async function listInstances(deps: RegistrationDeps, service: CloudMapServiceKey): Promise<{ Instances: InstanceOutput[] }> {
  checkCloudMapName('namespaceName', service.namespaceName);
  checkCloudMapName('serviceName', service.serviceName);
  const instances = await deps.instances.list(service);
  return { Instances: instances.map((i) => ({ Id: i.instanceId, Attributes: i.attributes })) };
}
