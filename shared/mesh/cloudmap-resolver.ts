import type { MeshRepository } from '../store/repository.js';
import type { CloudMapServiceKey, InstanceStore, StoredInstance } from '../store/instances.js';
import { referencedServices, serviceId } from './cloudmap.js';
import { listMeshNames } from './publish.js';

/** One instance as Cloud Map's DiscoverInstances answers it (HttpInstanceSummary). */
export interface DiscoveredSummary {
  InstanceId?: string | undefined;
  Attributes?: Record<string, string> | undefined;
}

/**
 * Asks Cloud Map for the instances of a service (DiscoverInstances). Undefined when the
 * namespace or service does not exist there: the store is then left as it is.
 */
export type DiscoverInstances = (service: CloudMapServiceKey) => Promise<DiscoveredSummary[] | undefined>;

export interface ResolverDeps {
  repository: MeshRepository;
  instances: InstanceStore;
  discover: DiscoverInstances;
}

export interface ResolveResult {
  services: number;
  written: number;
  deleted: number;
  failed: string[];
}

/** Every Cloud Map service any mesh's virtual nodes use. */
async function servicesInUse(repository: MeshRepository): Promise<CloudMapServiceKey[]> {
  const found = new Map<string, CloudMapServiceKey>();
  for (const mesh of await listMeshNames(repository)) {
    const nodes = (await repository.loadMesh(mesh)).filter((i) => i.kind === 'virtualNode');
    for (const service of referencedServices(nodes)) found.set(serviceId(service), service);
  }
  return [...found.values()];
}

function sameAttributes(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

/**
 * Copies what Cloud Map knows of every service in use into the instance store, writing only
 * what changed: new and changed instances are put, instances the resolver wrote earlier that
 * Cloud Map no longer lists are deleted. Instances registered through the API are never
 * touched. Each write reaches the proxies as the registration API's writes do (EDS only).
 */
export async function resolveCloudMap(deps: ResolverDeps): Promise<ResolveResult> {
  const services = await servicesInUse(deps.repository);
  const result: ResolveResult = { services: services.length, written: 0, deleted: 0, failed: [] };
  for (const service of services) {
    try {
      const discovered = await deps.discover(service);
      if (discovered === undefined) continue;
      const stored = await deps.instances.list(service);
      const ours = new Map(stored.filter((i) => i.origin === 'cloudmap').map((i) => [i.instanceId, i]));
      const registered = new Set(stored.filter((i) => i.origin === 'api').map((i) => i.instanceId));
      const seen = new Set<string>();
      for (const summary of discovered) {
        const instanceId = summary.InstanceId;
        if (!instanceId || registered.has(instanceId)) continue;
        seen.add(instanceId);
        const attributes = summary.Attributes ?? {};
        const current = ours.get(instanceId);
        if (current && sameAttributes(current.attributes, attributes)) continue;
        const instance: StoredInstance = { instanceId, attributes, origin: 'cloudmap' };
        if (await deps.instances.put(service, instance)) result.written++;
      }
      for (const instanceId of ours.keys()) {
        if (seen.has(instanceId)) continue;
        if (await deps.instances.delete(service, instanceId)) result.deleted++;
      }
    } catch (error) {
      result.failed.push(`${service.namespaceName}/${service.serviceName}`);
      console.error(JSON.stringify({ level: 'error', msg: 'cloud map resolve failed', ...service, error: String((error as Error)?.stack ?? error) }));
    }
  }
  return result;
}
