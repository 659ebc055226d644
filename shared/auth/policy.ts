import { AccessDeniedError } from '../errors.js';
import type { AccountSettings } from '../mesh/kinds.js';
import { nodeIdOf, type ProxyId } from '../xds/node-id.js';

/**
 * What a verified caller may do: the parts of an access key that authorization reads. An
 * `admin` key may call every operation, a `read-only` key only Describe and List, each on all
 * meshes (`'*'`) or on the meshes it names. A `proxy` key may call no API operation: it only
 * opens ADS streams at the relay, as the proxies it names.
 */
export interface Grant {
  accessKeyId: string;
  role: 'admin' | 'read-only' | 'proxy';
  meshes: '*' | readonly string[];
  /** Node ids (`mesh/<mesh>/virtualNode/<name>`), for `proxy` keys. */
  proxies: readonly string[];
}

/** Whether an operation only reads: App Mesh's Describe* and List* operations. */
export function isReadOnlyOperation(operation: string): boolean {
  return /^(Describe|List)/.test(operation);
}

/** Whether the grant covers a mesh: all meshes, or one of those it names. */
export function coversMesh(grant: Grant, mesh: string): boolean {
  return grant.meshes === '*' || grant.meshes.includes(mesh);
}

/** The IAM-style principal a key is named by in AccessDenied messages. */
export function principalOf(account: AccountSettings, grant: Pick<Grant, 'accessKeyId'>): string {
  return `arn:${account.partition}:iam::${account.accountId}:user/meshline/${grant.accessKeyId}`;
}

/** The ARN of a mesh, the resource an operation is authorized on. */
function meshArn(account: AccountSettings, mesh: string): string {
  return `arn:${account.partition}:appmesh:${account.region}:${account.accountId}:mesh/${mesh}`;
}

function denied(account: AccountSettings, grant: Grant, action: string, resource: string): AccessDeniedError {
  return new AccessDeniedError(
    `User: ${principalOf(account, grant)} is not authorized to perform: ${action} on resource: ${resource} ` +
      `because its access key is ${describeGrant(grant)}`,
  );
}

/** "an admin key for all meshes", "a read-only key for meshes a, b", "a proxy key". */
function describeGrant(grant: Grant): string {
  if (grant.role === 'proxy') return 'a proxy key, which may only stream configuration from a relay';
  const meshes = grant.meshes === '*' ? 'all meshes' : `meshes ${grant.meshes.join(', ')}`;
  return `${grant.role === 'admin' ? 'an admin' : 'a read-only'} key for ${meshes}`;
}

/**
 * Checks, before the input is parsed, that the key's role allows the operation at all: a
 * proxy key calls nothing, a read-only key only reads. Throws AccessDeniedError.
 */
export function authorizeOperation(account: AccountSettings, grant: Grant, operation: string): void {
  const allowed = grant.role === 'admin' || (grant.role === 'read-only' && isReadOnlyOperation(operation));
  if (!allowed) throw denied(account, grant, `appmesh:${operation}`, '*');
}

/**
 * Checks that the key covers the mesh an operation acts on (ListMeshes acts on none; its result
 * is filtered with {@link coversMesh} instead). Throws AccessDeniedError.
 */
export function authorizeMesh(account: AccountSettings, grant: Grant, operation: string, mesh: string): void {
  // '' stands for "no mesh can be named" (a tag operation on an ARN that is not App Mesh's).
  if (!coversMesh(grant, mesh)) throw denied(account, grant, `appmesh:${operation}`, mesh === '' ? '*' : meshArn(account, mesh));
}

/**
 * Checks a Meshline extension operation: reading a mesh's proxy status needs read access to the
 * mesh; registering Cloud Map instances (which feed every mesh naming that service) needs an
 * admin key for all meshes, listing them any admin or read-only key for all meshes.
 */
export function authorizeExtension(
  account: AccountSettings,
  grant: Grant,
  extension: { action: string; write: boolean; mesh?: string | undefined },
): void {
  const action = `meshline:${extension.action}`;
  if (grant.role === 'proxy' || (extension.write && grant.role !== 'admin')) throw denied(account, grant, action, '*');
  if (extension.mesh !== undefined) {
    if (!coversMesh(grant, extension.mesh)) throw denied(account, grant, action, meshArn(account, extension.mesh));
  } else if (grant.meshes !== '*') {
    throw denied(account, grant, action, '*');
  }
}

/**
 * Whether a key may receive a proxy's configuration at the relay: a proxy key naming that
 * proxy, or an admin key covering its mesh (as App Mesh's `appmesh:StreamAggregatedResources`
 * permission on the proxy's resource). Read-only keys may not: a snapshot is more than a read
 * of the mesh's API resources.
 */
export function mayServeProxy(grant: Grant, proxy: ProxyId): boolean {
  if (grant.role === 'proxy') return grant.proxies.includes(nodeIdOf(proxy));
  return grant.role === 'admin' && coversMesh(grant, proxy.mesh);
}
