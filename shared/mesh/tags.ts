import { BadRequestError, ConflictError, NotFoundError, TooManyRequestsError, TooManyTagsError } from '../errors.js';
import type { StoredResource, Tag } from '../store/repository.js';
import { parseArn } from './kinds.js';
import type { MeshDeps } from './resources.js';

/** App Mesh allows at most 50 tags on one resource. */
export const MAX_TAGS = 50;

const MAX_ATTEMPTS = 10;

async function resourceOf(deps: MeshDeps, resourceArn: string): Promise<StoredResource> {
  const key = parseArn(resourceArn);
  if (!key) throw new BadRequestError(`resourceArn is not an App Mesh resource ARN, got: ${JSON.stringify(resourceArn)}`);
  const resource = key.accountId === deps.account.accountId ? await deps.repository.get(key) : undefined;
  if (!resource || resource.arn !== resourceArn) throw new NotFoundError(`Resource ${resourceArn} does not exist.`);
  return resource;
}

/** Applies a change to a resource's tags, retrying if another tag change came in between. */
async function changeTags(deps: MeshDeps, resourceArn: string, change: (tags: Tag[]) => Tag[]): Promise<Record<string, never>> {
  for (let attempt = 1; ; attempt++) {
    const resource = await resourceOf(deps, resourceArn);
    const tags = change(resource.tags ?? []);
    if (tags.length > MAX_TAGS) {
      throw new TooManyTagsError(`A resource can have at most ${MAX_TAGS} tags; this change would give ${resourceArn} ${tags.length}.`);
    }
    const raced = new ConflictError(`The tags of ${resourceArn} were changed by another request.`);
    try {
      await deps.repository.transact([deps.repository.updateTags(resource, tags, resource.tagsRevision ?? 0, () => raced)]);
      return {};
    } catch (error) {
      // Another tag change (or a delete) came in between: read again; a deleted resource is a NotFound then.
      if (error !== raced) throw error;
      if (attempt >= MAX_ATTEMPTS) throw new TooManyRequestsError(`The tags of ${resourceArn} are being changed by many requests at once; retry the request.`);
    }
  }
}

/** TagResource: adds tags, replacing the value of a key that is already there. */
export function tagResource(deps: MeshDeps, resourceArn: string, tags: Tag[]): Promise<Record<string, never>> {
  return changeTags(deps, resourceArn, (current) => {
    const byKey = new Map(current.map((t) => [t.key, t]));
    for (const tag of tags) byKey.set(tag.key, tag);
    return [...byKey.values()];
  });
}

/** UntagResource: removes the tags with these keys (absent keys are ignored). */
export function untagResource(deps: MeshDeps, resourceArn: string, tagKeys: string[]): Promise<Record<string, never>> {
  const remove = new Set(tagKeys);
  return changeTags(deps, resourceArn, (current) => current.filter((t) => !remove.has(t.key)));
}

/** ListTagsForResource, paged with a token bound to the resource. */
export async function listTags(deps: MeshDeps, resourceArn: string, limit = 100, nextToken?: string): Promise<Record<string, unknown>> {
  const resource = await resourceOf(deps, resourceArn);
  let start = 0;
  if (nextToken !== undefined) {
    const [arn, offset] = Buffer.from(nextToken, 'base64url').toString('utf8').split('\n');
    if (arn !== resourceArn || !/^\d+$/.test(offset ?? '')) {
      throw new BadRequestError('nextToken was issued for another listing; start the listing again without it.');
    }
    start = Number(offset);
  }
  const tags = resource.tags ?? [];
  const page = tags.slice(start, start + limit);
  const next = start + limit < tags.length ? Buffer.from(`${resourceArn}\n${start + limit}`).toString('base64url') : undefined;
  return { tags: page, ...(next ? { nextToken: next } : {}) };
}
