import { createHash, randomUUID } from 'node:crypto';
import { BadRequestError, ConflictError, NotFoundError, ResourceInUseError, type MeshlineError } from '../errors.js';
import type { MeshRepository, StoredResource, Tag, TransactionPart } from '../store/repository.js';
import { KINDS, arnOf, type AccountSettings, type Kind, type ResourceKey } from './kinds.js';
import { referencesOf } from './references.js';

/** What the use cases need: the repository, the account that mints ARNs, and a clock. */
export interface MeshDeps {
  repository: MeshRepository;
  account: AccountSettings;
  now?: () => number;
}

/** The resource data App Mesh returns (MeshData, VirtualNodeData, RouteData, ...). */
export type ResourceData = Record<string, unknown>;

export interface CreateRequest extends ResourceKey {
  spec: unknown;
  tags?: Tag[] | undefined;
  clientToken?: string | undefined;
  meshOwner?: string | undefined;
}

export interface UpdateRequest extends ResourceKey {
  spec: unknown;
  clientToken?: string | undefined;
  meshOwner?: string | undefined;
}

export interface ListRequest {
  kind: Kind;
  meshName?: string | undefined;
  parentName?: string | undefined;
  limit?: number | undefined;
  nextToken?: string | undefined;
  meshOwner?: string | undefined;
}

function describeKey(key: ResourceKey): string {
  const info = KINDS[key.kind];
  if (key.kind === 'mesh') return `Mesh ${key.meshName}`;
  const parent = info.parent ? ` in ${KINDS[info.parent].label} ${key.parentName ?? ''}` : '';
  return `${info.label[0]?.toUpperCase()}${info.label.slice(1)} ${key.name}${parent} in mesh ${key.meshName}`;
}

function notFound(key: ResourceKey): NotFoundError {
  return new NotFoundError(`${describeKey(key)} does not exist.`);
}

function meshKey(meshName: string): ResourceKey {
  return { kind: 'mesh', meshName, name: meshName };
}

function parentKey(key: ResourceKey): ResourceKey | undefined {
  const parent = KINDS[key.kind].parent;
  return parent ? { kind: parent, meshName: key.meshName, name: key.parentName ?? '' } : undefined;
}

/** Canonical JSON (sorted keys) so equal requests hash equally whatever their key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function requestHash(request: unknown): string {
  return createHash('sha256').update(canonical(request)).digest('hex');
}

/** A mesh owned by another account is not visible here: Meshline runs one account's meshes. */
function checkOwner(deps: MeshDeps, key: ResourceKey, meshOwner: string | undefined): void {
  if (meshOwner !== undefined && meshOwner !== deps.account.accountId) throw notFound(key);
}

/** The resource data as App Mesh returns it from Create/Describe/Update/Delete. */
export function toData(resource: StoredResource, status: 'ACTIVE' | 'DELETED' = 'ACTIVE'): ResourceData {
  const info = KINDS[resource.kind];
  return {
    meshName: resource.meshName,
    ...(resource.kind !== 'mesh' ? { [info.nameMember]: resource.name } : {}),
    ...(info.parentMember ? { [info.parentMember]: resource.parentName } : {}),
    spec: resource.spec,
    metadata: {
      arn: resource.arn,
      uid: resource.uid,
      version: resource.version,
      // restJson1 timestamps in a body are epoch seconds.
      createdAt: resource.createdAt / 1000,
      lastUpdatedAt: resource.lastUpdatedAt / 1000,
      meshOwner: resource.meshOwner,
      resourceOwner: resource.resourceOwner,
    },
    status: { status },
  };
}

/** The reference App Mesh returns in List* outputs (MeshRef, VirtualNodeRef, ...). */
export function toRef(resource: StoredResource): ResourceData {
  const info = KINDS[resource.kind];
  return {
    meshName: resource.meshName,
    ...(resource.kind !== 'mesh' ? { [info.nameMember]: resource.name } : {}),
    ...(info.parentMember ? { [info.parentMember]: resource.parentName } : {}),
    meshOwner: resource.meshOwner,
    resourceOwner: resource.resourceOwner,
    arn: resource.arn,
    version: resource.version,
    createdAt: resource.createdAt / 1000,
    lastUpdatedAt: resource.lastUpdatedAt / 1000,
  };
}

/** The writes that keep reference counters true when a resource's references change. */
function referenceParts(deps: MeshDeps, from: ResourceKey, before: ResourceKey[], after: ResourceKey[]): TransactionPart[] {
  const id = (k: ResourceKey) => `${k.kind}|${k.parentName ?? ''}|${k.name}`;
  const delta = new Map<string, { key: ResourceKey; delta: number }>();
  for (const k of before) delta.set(id(k), { key: k, delta: (delta.get(id(k))?.delta ?? 0) - 1 });
  for (const k of after) delta.set(id(k), { key: k, delta: (delta.get(id(k))?.delta ?? 0) + 1 });
  return [...delta.values()]
    .filter((d) => d.delta !== 0)
    .sort((a, b) => (id(a.key) < id(b.key) ? -1 : 1))
    .map((d) =>
      deps.repository.adjustCounter(d.key, 'refCount', d.delta, (): MeshlineError =>
        new NotFoundError(`${describeKey(d.key)}, referenced by ${describeKey(from).replace(/^./, (c) => c.toLowerCase())}, does not exist.`),
      ),
    );
}

function uniqueReferences(refs: ResourceKey[]): ResourceKey[] {
  const seen = new Map<string, ResourceKey>();
  for (const r of refs) seen.set(`${r.kind}|${r.parentName ?? ''}|${r.name}`, r);
  return [...seen.values()];
}

/** Creates a resource. Idempotent for a repeated clientToken with the same request. */
export async function createResource(deps: MeshDeps, request: CreateRequest): Promise<ResourceData> {
  const { repository, account } = deps;
  const key: ResourceKey = { kind: request.kind, meshName: request.meshName, parentName: request.parentName, name: request.name };
  checkOwner(deps, meshKey(key.meshName), request.meshOwner);
  const hash = requestHash({ key, spec: request.spec, tags: request.tags ?? [] });
  const now = (deps.now ?? Date.now)();
  const resource: StoredResource = {
    ...key,
    spec: request.spec,
    tags: request.tags ?? [],
    arn: arnOf(account, key),
    uid: randomUUID(),
    version: 1,
    createdAt: now,
    lastUpdatedAt: now,
    meshOwner: account.accountId,
    resourceOwner: account.accountId,
    clientToken: request.clientToken,
    requestHash: hash,
  };
  const references = uniqueReferences(referencesOf(key, request.spec));
  const parts: TransactionPart[] = [
    repository.putNew(resource, () => new ConflictError(`${describeKey(key)} already exists.`)),
  ];
  if (key.kind === 'mesh') {
    parts.push(repository.putRegistryEntry(resource));
  } else {
    parts.push(repository.adjustCounter(meshKey(key.meshName), 'childCount', 1, () => notFound(meshKey(key.meshName))));
    const parent = parentKey(key);
    if (parent) parts.push(repository.adjustCounter(parent, 'childCount', 1, () => notFound(parent)));
    parts.push(...referenceParts(deps, key, [], references));
  }
  try {
    await repository.transact(parts);
    return toData(resource);
  } catch (error) {
    if (error instanceof ConflictError && request.clientToken !== undefined) {
      // A retry of a create that already succeeded: same token and same request, same answer.
      const existing = await repository.get(key);
      if (existing && existing.clientToken === request.clientToken && existing.requestHash === hash) return toData(existing);
      if (existing && existing.clientToken === request.clientToken) {
        throw new ConflictError(`clientToken ${request.clientToken} was already used with a different request.`);
      }
    }
    throw error;
  }
}

/** Reads one resource. */
export async function describeResource(deps: MeshDeps, key: ResourceKey, meshOwner?: string): Promise<ResourceData> {
  checkOwner(deps, key, meshOwner);
  const resource = await deps.repository.get(key);
  if (!resource) throw notFound(key);
  return toData(resource);
}

const MAX_UPDATE_ATTEMPTS = 10;

/**
 * Replaces a resource's spec. The write is conditional on the version read, so concurrent
 * updates never lose one another: each success moves the version up by exactly one.
 */
export async function updateResource(deps: MeshDeps, request: UpdateRequest): Promise<ResourceData> {
  const { repository } = deps;
  const key: ResourceKey = { kind: request.kind, meshName: request.meshName, parentName: request.parentName, name: request.name };
  checkOwner(deps, key, request.meshOwner);
  const hash = requestHash({ key, spec: request.spec });
  for (let attempt = 1; ; attempt++) {
    const current = await repository.get(key);
    if (!current) throw notFound(key);
    if (request.clientToken !== undefined && current.clientToken === request.clientToken) {
      if (current.requestHash === hash) return toData(current);
      throw new ConflictError(`clientToken ${request.clientToken} was already used with a different request.`);
    }
    const updated: StoredResource = {
      ...current,
      spec: request.spec,
      version: current.version + 1,
      lastUpdatedAt: Math.max((deps.now ?? Date.now)(), current.lastUpdatedAt),
      clientToken: request.clientToken,
      requestHash: hash,
    };
    const changed = new ConflictError(`${describeKey(key)} was changed by another request.`);
    const parts = [repository.updateSpec(updated, current.version, () => changed)];
    if (key.kind === 'mesh') parts.push(repository.putRegistryEntry(updated));
    parts.push(...referenceParts(deps, key, uniqueReferences(referencesOf(key, current.spec)), uniqueReferences(referencesOf(key, request.spec))));
    try {
      await repository.transact(parts);
      return toData(updated);
    } catch (error) {
      // Another update won the race: read again and apply this one on top of it.
      if (error === changed && attempt < MAX_UPDATE_ATTEMPTS) continue;
      throw error;
    }
  }
}

/** Deletes a resource and returns it as it was, with status DELETED. */
export async function deleteResource(deps: MeshDeps, key: ResourceKey, meshOwner?: string): Promise<ResourceData> {
  const { repository } = deps;
  checkOwner(deps, key, meshOwner);
  for (let attempt = 1; ; attempt++) {
    const current = await repository.get(key);
    if (!current) throw notFound(key);
    const raced = new ConflictError(`${describeKey(key)} was changed by another request.`);
    const parts = [
      repository.deleteIdle(key, current.version, () => {
        if ((current.childCount ?? 0) > 0 || (current.refCount ?? 0) > 0) return inUse(current);
        return raced;
      }),
    ];
    if (key.kind === 'mesh') {
      parts.push(repository.deleteRegistryEntry(key.meshName));
    } else {
      parts.push(repository.adjustCounter(meshKey(key.meshName), 'childCount', -1, () => notFound(meshKey(key.meshName))));
      const parent = parentKey(key);
      if (parent) parts.push(repository.adjustCounter(parent, 'childCount', -1, () => notFound(parent)));
      parts.push(...referenceParts(deps, key, uniqueReferences(referencesOf(key, current.spec)), []));
    }
    try {
      await repository.transact(parts);
      return toData(current, 'DELETED');
    } catch (error) {
      // The resource changed (or gained a reference) between the read and the delete: look again.
      if (error === raced && attempt < MAX_UPDATE_ATTEMPTS) continue;
      throw error;
    }
  }
}

function inUse(resource: StoredResource): ResourceInUseError {
  if (resource.kind === 'mesh') {
    return new ResourceInUseError(`Mesh ${resource.meshName} still has resources; delete them before deleting the mesh.`);
  }
  if ((resource.childCount ?? 0) > 0) {
    const children = resource.kind === 'virtualRouter' ? 'routes' : 'gateway routes';
    return new ResourceInUseError(`${describeKey(resource)} still has ${children}; delete them first.`);
  }
  return new ResourceInUseError(
    `${describeKey(resource)} is referenced by ${resource.refCount ?? 0} other resource(s) (route targets, virtual service providers or gateway route targets); remove those references first.`,
  );
}

interface PageToken {
  k: Kind;
  m: string;
  p: string;
  s: string;
}

/** An opaque page token, bound to the kind, mesh and parent it was issued for. */
function encodeToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token)).toString('base64url');
}

function decodeToken(raw: string, expected: Omit<PageToken, 's'>): string {
  let token: Partial<PageToken>;
  try {
    token = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<PageToken>;
  } catch {
    throw new BadRequestError('nextToken is not a token this API issued.');
  }
  if (token.k !== expected.k || token.m !== expected.m || token.p !== expected.p || typeof token.s !== 'string') {
    throw new BadRequestError('nextToken was issued for another listing; start the listing again without it.');
  }
  return token.s;
}

/** Lists resources of a kind with App Mesh's limit/nextToken pagination. */
export async function listResources(deps: MeshDeps, request: ListRequest): Promise<ResourceData> {
  const { repository } = deps;
  const info = KINDS[request.kind];
  const limit = request.limit ?? 100;
  const scope = { k: request.kind, m: request.meshName ?? '', p: request.parentName ?? '' };
  const after = request.nextToken !== undefined ? decodeToken(request.nextToken, scope) : undefined;
  let page;
  if (request.kind === 'mesh') {
    page = await repository.listMeshes(limit, after);
  } else {
    const mesh = request.meshName ?? '';
    checkOwner(deps, meshKey(mesh), request.meshOwner);
    // An empty listing of a missing mesh (or router, gateway) is a NotFound in App Mesh.
    const container = info.parent ? parentKey({ kind: request.kind, meshName: mesh, parentName: request.parentName, name: '' }) : meshKey(mesh);
    if (!after && container && !(await repository.get(container))) throw notFound(container);
    page = await repository.list(mesh, request.kind, request.parentName, limit, after);
  }
  return {
    [info.listMember]: page.items.map(toRef),
    ...(page.lastSortKey ? { nextToken: encodeToken({ ...scope, s: page.lastSortKey }) } : {}),
  };
}
