import { createHash, randomUUID } from 'node:crypto';
import {
  BadRequestError,
  ConflictError,
  LimitExceededError,
  NotFoundError,
  ResourceInUseError,
  TooManyRequestsError,
  type MeshlineError,
} from '../errors.js';
import {
  isStorableKey,
  kindCounter,
  sortKeyPrefix,
  type CounterChange,
  type ItemState,
  type MeshRepository,
  type RecentToken,
  type StoredResource,
  type Tag,
  type TransactionPart,
} from '../store/repository.js';
import { KINDS, arnOf, type AccountSettings, type Kind, type ResourceKey } from './kinds.js';
import { DEFAULT_QUOTAS, QUOTA_OF_KIND, quotaSettingName, type Quotas } from './quotas.js';
import { referencesOf } from './references.js';
import { checkPorts, checkSpec } from './rules.js';

/** What the use cases need: the repository, the account that mints ARNs, the quotas, and a clock. */
export interface MeshDeps {
  repository: MeshRepository;
  account: AccountSettings;
  /** Default: DEFAULT_QUOTAS. */
  quotas?: Quotas | undefined;
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
  /**
   * Apply the update only to this stored version (a compare-and-set, as a rollout writes its
   * steps): if the resource is at another version, or moves on before the write, the update
   * fails with ConflictError and is not retried on top of the newer version.
   */
  expectedVersion?: number | undefined;
}

export interface ListRequest {
  kind: Kind;
  meshName?: string | undefined;
  parentName?: string | undefined;
  limit?: number | undefined;
  nextToken?: string | undefined;
  meshOwner?: string | undefined;
  /**
   * ListMeshes only: the names of the meshes the caller may see (a key for named meshes). The
   * listing then walks these names, never the account's mesh registry, so neither its pages
   * nor its tokens say anything about other meshes.
   */
  onlyMeshes?: readonly string[] | undefined;
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

function quotasOf(deps: MeshDeps): Quotas {
  return deps.quotas ?? DEFAULT_QUOTAS;
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

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** How many client tokens a resource remembers: a retry may arrive after later writes by others. */
const RECENT_TOKENS = 10;

/** The token list after a write with `token`: newest last, at most RECENT_TOKENS. */
function withToken(recent: RecentToken[] | undefined, token: string | undefined, request: string): RecentToken[] {
  const list = recent ?? [];
  if (token === undefined) return list;
  const hashed = sha256(token);
  return [...list.filter((t) => t.token !== hashed), { token: hashed, request }].slice(-RECENT_TOKENS);
}

/**
 * The answer to a request whose client token the resource has seen: the resource as it is, with
 * no second write, if it was the same request; ConflictException if the token came with another.
 */
function replayed(resource: StoredResource, token: string | undefined, request: string): ResourceData | undefined {
  if (token === undefined) return undefined;
  const seen = resource.recentTokens?.find((t) => t.token === sha256(token));
  if (!seen) return undefined;
  if (seen.request === request) return toData(resource);
  throw new ConflictError(`clientToken ${JSON.stringify(token)} was already used with a different request; use a new token.`);
}

/** A mesh owned by another account is not visible here: Meshline runs one account's meshes. */
function checkOwner(deps: MeshDeps, key: ResourceKey, meshOwner: string | undefined): void {
  if (meshOwner !== undefined && meshOwner !== deps.account.accountId) throw notFound(key);
}

/** A name that would make a key DynamoDB cannot store (see isStorableKey) is refused up front. */
function checkStorable(key: ResourceKey): void {
  for (const k of [key, parentKey(key), meshKey(key.meshName)]) {
    if (k && !isStorableKey(k)) {
      throw new BadRequestError(`${describeKey(k)}: the name cannot be stored (not valid Unicode, or too long once URI-encoded).`);
    }
  }
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

function plural(label: string): string {
  return label.endsWith('sh') ? `${label}es` : `${label}s`;
}

/** LimitExceededException for a container (the account, a mesh, router or gateway) that is full. */
function quotaReached(deps: MeshDeps, kind: Kind, container: ResourceKey | undefined): LimitExceededError {
  const quota = QUOTA_OF_KIND[kind];
  const max = quotasOf(deps)[quota];
  const holder = container ? describeKey(container) : 'The account';
  return new LimitExceededError(
    `${holder} already has ${max} ${max === 1 ? KINDS[kind].label : plural(KINDS[kind].label)}, its quota (${quota}, set by ${quotaSettingName(quota)}).`,
  );
}

/**
 * The writes that keep a container's counters true when a resource of `kind` is created (+1) or
 * deleted (-1): the account's mesh count, or the mesh's childCount and per-kind count, and the
 * router's or gateway's childCount. On a create, the counters that carry a quota may not pass it.
 * Every create in a mesh therefore writes the mesh item, which the mesh's delete conditions on:
 * that is what makes "mesh delete vs child create" race-free, and the quotas add no other item.
 */
function containerParts(deps: MeshDeps, key: ResourceKey, delta: 1 | -1): TransactionPart[] {
  const { repository } = deps;
  const max = delta > 0 ? quotasOf(deps)[QUOTA_OF_KIND[key.kind]] : undefined;
  if (key.kind === 'mesh') return [repository.adjustMeshCount(delta, max, () => quotaReached(deps, key.kind, undefined))];
  const mesh = meshKey(key.meshName);
  const parent = parentKey(key);
  const meshChanges: CounterChange[] = [
    { counter: 'childCount', delta },
    // Routes and gateway routes count against their router or gateway, not the mesh.
    { counter: kindCounter(key.kind), delta, max: parent ? undefined : max },
  ];
  const parts = [
    repository.adjustCounters(mesh, meshChanges, (current) => (current ? quotaReached(deps, key.kind, mesh) : notFound(mesh))),
  ];
  if (parent) {
    parts.push(
      repository.adjustCounters(parent, [{ counter: 'childCount', delta, max }], (current) =>
        current ? quotaReached(deps, key.kind, parent) : notFound(parent),
      ),
    );
  }
  return parts;
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
      deps.repository.adjustCounters(d.key, [{ counter: 'refCount', delta: d.delta }], (): MeshlineError =>
        new NotFoundError(`${describeKey(d.key)}, referenced by ${describeKey(from).replace(/^./, (c) => c.toLowerCase())}, does not exist.`),
      ),
    );
}

function uniqueReferences(refs: ResourceKey[]): ResourceKey[] {
  const seen = new Map<string, ResourceKey>();
  for (const r of refs) seen.set(`${r.kind}|${r.parentName ?? ''}|${r.name}`, r);
  return [...seen.values()];
}

/** Tags as stored: one per key, the last given winning (as TagResource treats a repeated key). */
function uniqueTags(tags: Tag[] | undefined): Tag[] {
  return [...new Map((tags ?? []).map((tag) => [tag.key, tag])).values()];
}

/**
 * Creates a resource: one transaction puts it, moves its container's counters within their
 * quotas, and counts its references on the resources they name. Idempotent for a repeated
 * clientToken with the same request.
 */
export async function createResource(deps: MeshDeps, request: CreateRequest): Promise<ResourceData> {
  const { repository, account } = deps;
  const key: ResourceKey = { kind: request.kind, meshName: request.meshName, parentName: request.parentName, name: request.name };
  checkOwner(deps, meshKey(key.meshName), request.meshOwner);
  checkStorable(key);
  const tags = uniqueTags(request.tags);
  const hash = sha256(canonical({ operation: 'create', key, spec: request.spec, tags }));
  checkSpec(key, request.spec, quotasOf(deps));
  await checkPorts(repository, key, request.spec);
  const now = (deps.now ?? Date.now)();
  const resource: StoredResource = {
    ...key,
    spec: request.spec,
    tags,
    arn: arnOf(account, key),
    uid: randomUUID(),
    version: 1,
    createdAt: now,
    lastUpdatedAt: now,
    meshOwner: account.accountId,
    resourceOwner: account.accountId,
    recentTokens: withToken(undefined, request.clientToken, hash),
  };
  const exists = new ConflictError(`${describeKey(key)} already exists.`);
  const parts: TransactionPart[] = [
    repository.putNew(resource, () => exists),
    ...containerParts(deps, key, 1),
    ...(key.kind === 'mesh' ? [repository.putRegistryEntry(resource)] : []),
    ...referenceParts(deps, key, [], uniqueReferences(referencesOf(key, request.spec))),
  ];
  try {
    await repository.transact(parts);
    return toData(resource);
  } catch (error) {
    if (error === exists) {
      // A retry of a create that already succeeded: same token and same request, same answer.
      const existing = await repository.get(key);
      const answer = existing && replayed(existing, request.clientToken, hash);
      if (answer) return answer;
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

const MAX_WRITE_ATTEMPTS = 10;

/** A short random pause before a write that lost a race reads again, so racers spread out. */
function jitter(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(100, 5 * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function tooBusy(key: ResourceKey): TooManyRequestsError {
  return new TooManyRequestsError(`${describeKey(key)} is being changed by many requests at once; retry the request.`);
}

/**
 * Replaces a resource's spec (App Mesh's updates replace the whole spec: last writer wins). The
 * write is conditional on the version read, so concurrent updates never lose one another: each
 * success moves the version up by exactly one, and one that lost the race reads again and is
 * applied on top. Idempotent for a repeated clientToken with the same request.
 */
export async function updateResource(deps: MeshDeps, request: UpdateRequest): Promise<ResourceData> {
  const { repository } = deps;
  const key: ResourceKey = { kind: request.kind, meshName: request.meshName, parentName: request.parentName, name: request.name };
  checkOwner(deps, key, request.meshOwner);
  const hash = sha256(canonical({ operation: 'update', key, spec: request.spec }));
  checkSpec(key, request.spec, quotasOf(deps));
  for (let attempt = 1; ; attempt++) {
    const current = await repository.get(key);
    if (!current) throw notFound(key);
    const answer = replayed(current, request.clientToken, hash);
    if (answer) return answer;
    if (request.expectedVersion !== undefined && current.version !== request.expectedVersion) {
      throw new ConflictError(`${describeKey(key)} is at version ${current.version}, not ${request.expectedVersion}.`);
    }
    if (attempt === 1) await checkPorts(repository, key, request.spec);
    const updated: StoredResource = {
      ...current,
      spec: request.spec,
      version: current.version + 1,
      lastUpdatedAt: Math.max((deps.now ?? Date.now)(), current.lastUpdatedAt),
      recentTokens: withToken(current.recentTokens, request.clientToken, hash),
    };
    const changed = new ConflictError(`${describeKey(key)} was changed by another request.`);
    const parts = [repository.updateSpec(updated, current.version, (stored) => (stored ? changed : notFound(key)))];
    if (key.kind === 'mesh') parts.push(repository.putRegistryEntry(updated));
    parts.push(...referenceParts(deps, key, uniqueReferences(referencesOf(key, current.spec)), uniqueReferences(referencesOf(key, request.spec))));
    try {
      await repository.transact(parts);
      return toData(updated);
    } catch (error) {
      if (error !== changed) throw error;
      if (request.expectedVersion !== undefined) throw new ConflictError(`${describeKey(key)} was changed by another request.`);
      // Another update won the race: read again and apply this one on top of it.
      if (attempt >= MAX_WRITE_ATTEMPTS) throw tooBusy(key);
      await jitter(attempt);
    }
  }
}

/**
 * Deletes a resource and returns it as it was, with status DELETED. The delete is conditional
 * on the version read and on nothing referencing or living in the resource, in the same
 * transaction that releases its container's counters and its own references.
 */
export async function deleteResource(deps: MeshDeps, key: ResourceKey, meshOwner?: string): Promise<ResourceData> {
  const { repository } = deps;
  checkOwner(deps, key, meshOwner);
  for (let attempt = 1; ; attempt++) {
    const current = await repository.get(key);
    if (!current) throw notFound(key);
    const raced = new ConflictError(`${describeKey(key)} was changed by another request.`);
    const parts = [
      repository.deleteIdle(key, current.version, (stored) => {
        if (!stored) return notFound(key);
        if (Number(stored.childCount ?? 0) > 0 || Number(stored.refCount ?? 0) > 0) return inUse(current, stored);
        return raced;
      }),
      ...containerParts(deps, key, -1),
      ...(key.kind === 'mesh' ? [repository.deleteRegistryEntry(key.meshName)] : []),
      ...referenceParts(deps, key, uniqueReferences(referencesOf(key, current.spec)), []),
    ];
    try {
      await repository.transact(parts);
      return toData(current, 'DELETED');
    } catch (error) {
      if (error !== raced) throw error;
      // The resource was updated between the read and the delete: look again.
      if (attempt >= MAX_WRITE_ATTEMPTS) throw tooBusy(key);
      await jitter(attempt);
    }
  }
}

/** ResourceInUseException, from the counters of the item as it was when the delete failed. */
function inUse(resource: StoredResource, stored: ItemState): ResourceInUseError {
  if (resource.kind === 'mesh') {
    return new ResourceInUseError(`Mesh ${resource.meshName} still has resources; delete them before deleting the mesh.`);
  }
  if (Number(stored.childCount ?? 0) > 0) {
    const children = resource.kind === 'virtualRouter' ? 'routes' : 'gateway routes';
    return new ResourceInUseError(`${describeKey(resource)} still has ${children}; delete them first.`);
  }
  return new ResourceInUseError(
    `${describeKey(resource)} is referenced by ${stored.refCount ?? 0} other resource(s) (route targets, virtual service providers or gateway route targets); remove those references first.`,
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

/**
 * The sort key a page token continues after. A token issued for another listing, or edited to
 * start outside this one (another kind, mesh or parent), is refused: it can never read anything
 * but the listing it was issued for.
 */
function decodeToken(raw: string, expected: Omit<PageToken, 's'>, prefix: string): string {
  let token: unknown;
  try {
    token = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    token = undefined;
  }
  const t = token && typeof token === 'object' ? (token as Partial<PageToken>) : undefined;
  if (!t || typeof t.s !== 'string') throw new BadRequestError('nextToken is not a token this API issued.');
  if (t.k !== expected.k || t.m !== expected.m || t.p !== expected.p || !t.s.startsWith(prefix)) {
    throw new BadRequestError('nextToken was issued for another listing; start the listing again without it.');
  }
  return t.s;
}

/**
 * ListMeshes for a caller limited to named meshes: those of them that exist, in name order,
 * paged by name. Its tokens are their own family (`p: '*named'`): one of them never continues
 * an account-wide listing, nor the other way round.
 */
async function listNamedMeshes(deps: MeshDeps, names: readonly string[], limit: number, nextToken: string | undefined): Promise<ResourceData> {
  const scope = { k: 'mesh' as const, m: '', p: '*named' };
  const after = nextToken !== undefined ? decodeToken(nextToken, scope, '') : undefined;
  const remaining = [...new Set(names)].sort().filter((name) => after === undefined || name > after);
  const meshes: ResourceData[] = [];
  let last: string | undefined;
  for (const name of remaining) {
    if (meshes.length === limit) break;
    last = name;
    const mesh = await deps.repository.get(meshKey(name));
    if (mesh) meshes.push(toRef(mesh));
  }
  const more = last !== undefined && remaining.indexOf(last) < remaining.length - 1;
  return { meshes, ...(more && last !== undefined ? { nextToken: encodeToken({ ...scope, s: last }) } : {}) };
}

/** Lists resources of a kind with App Mesh's limit/nextToken pagination. */
export async function listResources(deps: MeshDeps, request: ListRequest): Promise<ResourceData> {
  const { repository } = deps;
  const info = KINDS[request.kind];
  const limit = request.limit ?? 100;
  const scope = { k: request.kind, m: request.meshName ?? '', p: request.parentName ?? '' };
  if (request.kind === 'mesh' && request.onlyMeshes) return listNamedMeshes(deps, request.onlyMeshes, limit, request.nextToken);
  let page;
  if (request.kind === 'mesh') {
    const after = request.nextToken !== undefined ? decodeToken(request.nextToken, scope, '') : undefined;
    page = await repository.listMeshes(limit, after);
  } else {
    const mesh = request.meshName ?? '';
    checkOwner(deps, meshKey(mesh), request.meshOwner);
    // A listing in a missing mesh (or router, gateway) is a NotFound in App Mesh, on any page.
    const container = parentKey({ kind: request.kind, meshName: mesh, parentName: request.parentName, name: '' }) ?? meshKey(mesh);
    if (!(await repository.get(container))) throw notFound(container);
    const prefix = sortKeyPrefix(request.kind, request.parentName);
    const after = request.nextToken !== undefined ? decodeToken(request.nextToken, scope, prefix) : undefined;
    page = await repository.list(mesh, request.kind, request.parentName, limit, after);
  }
  return {
    [info.listMember]: page.items.map(toRef),
    ...(page.lastSortKey ? { nextToken: encodeToken({ ...scope, s: page.lastSortKey }) } : {}),
  };
}
