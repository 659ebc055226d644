import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { BadRequestError } from '../../shared/errors.js';
import { deregisterInstance, listInstances, registerInstance } from '../../shared/mesh/cloudmap.js';
import { proxyStatus } from '../../shared/mesh/proxy-status.js';
import { meshTraffic } from '../../shared/mesh/traffic.js';
import { abortRollout, describeRollout, listRollouts, startRollout, type RolloutDeps } from '../../shared/mesh/rollouts.js';
import type { Runtime } from '../runtime.js';
import { UnknownOperationError } from './errors.js';

/**
 * Meshline's own operations, for what the App Mesh API cannot say. They live under their own
 * path (`/meshline/v1/...`) and never change the meaning of an App Mesh operation.
 */
export const EXTENSION_PREFIX = '/meshline/';

const PROXY_STATUS = /^\/meshline\/v1\/meshes\/([^/]+)\/proxyStatus$/;
const TRAFFIC = /^\/meshline\/v1\/meshes\/([^/]+)\/traffic$/;

/** Rollouts: StartRollout (POST), ListRollouts (GET); DescribeRollout (GET one); AbortRollout (POST .../abort). */
const ROLLOUTS = /^\/meshline\/v1\/meshes\/([^/]+)\/rollouts$/;
const ROLLOUT = /^\/meshline\/v1\/meshes\/([^/]+)\/rollouts\/([^/]+)$/;
const ROLLOUT_ABORT = /^\/meshline\/v1\/meshes\/([^/]+)\/rollouts\/([^/]+)\/abort$/;

/** Cloud Map instance registration: RegisterInstance (PUT), DeregisterInstance (DELETE), ListInstances (GET). */
const CLOUDMAP_INSTANCE = /^\/meshline\/v1\/cloudmap\/namespaces\/([^/]+)\/services\/([^/]+)\/instances\/([^/]+)$/;
const CLOUDMAP_INSTANCES = /^\/meshline\/v1\/cloudmap\/namespaces\/([^/]+)\/services\/([^/]+)\/instances$/;

function label(raw: string, member = 'meshName'): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadRequestError(`${member} is not a valid URI path segment, got: ${JSON.stringify(raw)}`);
  }
}

function jsonBody(event: APIGatewayProxyEventV2): unknown {
  const raw = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw new BadRequestError('The body is not valid JSON.');
  }
}

/** What an extension call does, for authorization: its action name, whether it writes, its mesh. */
export interface ExtensionAction {
  action: string;
  write: boolean;
  mesh?: string | undefined;
}

/**
 * Names the extension operation a request calls, without running it; undefined when there is
 * none (invokeExtension then answers UnknownOperation).
 */
export function extensionAction(event: APIGatewayProxyEventV2): ExtensionAction | undefined {
  const method = event.requestContext?.http?.method?.toUpperCase() ?? 'GET';
  const path = event.rawPath ?? '/';
  const status = PROXY_STATUS.exec(path);
  if (status && method === 'GET') return { action: 'GetProxyStatus', write: false, mesh: label(status[1] ?? '') };
  const traffic = TRAFFIC.exec(path);
  if (traffic && method === 'GET') return { action: 'GetTraffic', write: false, mesh: label(traffic[1] ?? '') };
  const rollouts = rolloutAction(method, path);
  if (rollouts) return rollouts;
  if (CLOUDMAP_INSTANCE.test(path) && method === 'PUT') return { action: 'RegisterInstance', write: true };
  if (CLOUDMAP_INSTANCE.test(path) && method === 'DELETE') return { action: 'DeregisterInstance', write: true };
  if (CLOUDMAP_INSTANCES.test(path) && method === 'GET') return { action: 'ListInstances', write: false };
  return undefined;
}

/** The rollout operation at a method and path, if any. */
function rolloutAction(method: string, path: string): ExtensionAction | undefined {
  const all = ROLLOUTS.exec(path);
  if (all && method === 'POST') return { action: 'StartRollout', write: true, mesh: label(all[1] ?? '') };
  if (all && method === 'GET') return { action: 'ListRollouts', write: false, mesh: label(all[1] ?? '') };
  const one = ROLLOUT.exec(path);
  if (one && method === 'GET') return { action: 'DescribeRollout', write: false, mesh: label(one[1] ?? '') };
  const abort = ROLLOUT_ABORT.exec(path);
  if (abort && method === 'POST') return { action: 'AbortRollout', write: true, mesh: label(abort[1] ?? '') };
  return undefined;
}

/** The rollouts extension; it needs the rollouts table and the traffic the relays record. */
async function invokeRollouts(runtime: Runtime, method: string, path: string, event: APIGatewayProxyEventV2): Promise<unknown> {
  if (!runtime.rollouts || !runtime.traffic) {
    throw new BadRequestError('Rollouts are not available: this deployment has no rollouts table (MESHLINE_ROLLOUT_TABLE) or records no traffic (MESHLINE_TRAFFIC_TABLE).');
  }
  const deps: RolloutDeps = { ...runtime, rollouts: runtime.rollouts, traffic: runtime.traffic.store, windowSeconds: runtime.traffic.windowSeconds };
  const all = ROLLOUTS.exec(path);
  if (all && method === 'POST') return startRollout(deps, label(all[1] ?? ''), jsonBody(event));
  if (all && method === 'GET') return listRollouts(deps, label(all[1] ?? ''), event.queryStringParameters?.state);
  const one = ROLLOUT.exec(path);
  if (one && method === 'GET') return describeRollout(deps, label(one[1] ?? ''), label(one[2] ?? '', 'rolloutId'));
  const abort = ROLLOUT_ABORT.exec(path);
  if (abort && method === 'POST') return abortRollout(deps, label(abort[1] ?? ''), label(abort[2] ?? '', 'rolloutId'));
  throw new UnknownOperationError(`No Meshline operation at ${method} ${path}.`);
}

/** Runs a Meshline extension operation; the caller checked the path starts with EXTENSION_PREFIX. */
export async function invokeExtension(runtime: Runtime, event: APIGatewayProxyEventV2): Promise<unknown> {
  const method = event.requestContext?.http?.method?.toUpperCase() ?? 'GET';
  const path = event.rawPath ?? '/';
  const status = PROXY_STATUS.exec(path);
  if (status && method === 'GET') return proxyStatus(runtime, label(status[1] ?? ''));
  const traffic = TRAFFIC.exec(path);
  if (traffic && method === 'GET') return meshTraffic(runtime, label(traffic[1] ?? ''), new URLSearchParams(event.rawQueryString ?? '').get('seconds') ?? undefined);
  if (rolloutAction(method, path)) return invokeRollouts(runtime, method, path, event);
  const deps = { instances: runtime.instanceStore };
  const one = CLOUDMAP_INSTANCE.exec(path);
  if (one) {
    const service = { namespaceName: label(one[1] ?? '', 'namespaceName'), serviceName: label(one[2] ?? '', 'serviceName') };
    const instanceId = label(one[3] ?? '', 'instanceId');
    if (method === 'PUT') {
      const { OperationId } = await registerInstance(deps, service, instanceId, jsonBody(event));
      return { OperationId };
    }
    if (method === 'DELETE') return deregisterInstance(deps, service, instanceId);
  }
  const all = CLOUDMAP_INSTANCES.exec(path);
  if (all && method === 'GET') {
    return listInstances(deps, { namespaceName: label(all[1] ?? '', 'namespaceName'), serviceName: label(all[2] ?? '', 'serviceName') });
  }
  throw new UnknownOperationError(`No Meshline operation at ${method} ${path}.`);
}
