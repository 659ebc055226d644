import middy from '@middy/core';
import { DiscoverInstancesCommand, NamespaceNotFound, ServiceDiscoveryClient, ServiceNotFound } from '@aws-sdk/client-servicediscovery';
import { resolveCloudMap, type DiscoverInstances, type ResolveResult } from '../../shared/mesh/cloudmap-resolver.js';
import { runtimeFromEnv } from '../runtime.js';

const runtime = runtimeFromEnv(process.env);
const cloudMap = new ServiceDiscoveryClient({ region: runtime.account.region });

/** Cloud Map's DiscoverInstances: every instance, healthy first (all when none is healthy, as App Mesh's Envoy did). */
const discover: DiscoverInstances = async (service) => {
  try {
    const answer = await cloudMap.send(
      new DiscoverInstancesCommand({
        NamespaceName: service.namespaceName,
        ServiceName: service.serviceName,
        HealthStatus: 'HEALTHY_OR_ELSE_ALL',
        MaxResults: 1000,
      }),
    );
    return answer.Instances ?? [];
  } catch (error) {
    if (error instanceof NamespaceNotFound || error instanceof ServiceNotFound) return undefined;
    throw error;
  }
};

/**
 * Refreshes the instance store from real Cloud Map for every service a mesh uses, on a schedule
 * (Cloud Map changes never pass through the table). Writes only what changed; each write
 * reaches the proxies as an EDS update, through the table's stream and the compile function.
 */
async function resolve(): Promise<ResolveResult> {
  const result = await resolveCloudMap({ repository: runtime.repository, instances: runtime.instanceStore, discover });
  console.log(JSON.stringify({ level: 'info', msg: 'cloud map resolved', ...result }));
  if (result.failed.length) throw new Error(`cloud map resolve failed for ${result.failed.length} service(s): ${result.failed.join(', ')}`);
  return result;
}

export const handler = middy<unknown, ResolveResult>().handler(resolve);
