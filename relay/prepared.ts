import { contentVersion, type Snapshot, type SnapshotResource } from '../shared/store/snapshots.js';
import type { ResourceTypeUrl } from '../shared/xds/type-urls.js';
import { deltaResourceEntry, discoveryResponseBody, encodeAny, withNonce } from './protocol.js';

/** The explicit wildcard name of the xDS protocol. */
export const WILDCARD = '*';

/** Which resources of a type a stream is subscribed to. Immutable: a change makes a new one. */
export interface Selection {
  /** Every resource of the type but those served only by name. */
  readonly wildcard: boolean;
  /** Explicitly subscribed names (never `*`). */
  readonly names: ReadonlySet<string>;
  /** Identifies the selection among a snapshot's prepared states. */
  readonly key: string;
}

const NO_NAMES: ReadonlySet<string> = new Set();

/** Envoy's wildcard (nothing named): one object shared by every stream that holds it. */
export const ALL: Selection = { wildcard: true, names: NO_NAMES, key: WILDCARD };

/** Nothing subscribed. */
export const NOTHING: Selection = { wildcard: false, names: NO_NAMES, key: '' };

/**
 * Live selections by key: streams subscribed alike (the replicas of a proxy) share one
 * selection, so its names are held once. Entries go when no stream holds them any more.
 */
const interned = new Map<string, WeakRef<Selection>>();
const released = new FinalizationRegistry<string>((key) => {
  if (interned.get(key)?.deref() === undefined) interned.delete(key);
});

/** The selection of a wildcard flag and names (`*` among them is ignored: pass it as `wildcard`). */
export function selectionOf(wildcard: boolean, names: Iterable<string>): Selection {
  const set = new Set(names);
  set.delete(WILDCARD);
  if (set.size === 0) return wildcard ? ALL : NOTHING;
  const key = `${wildcard ? WILDCARD : ''}\n${[...set].sort().join('\n')}`;
  const existing = interned.get(key)?.deref();
  if (existing) return existing;
  const selection: Selection = { wildcard, names: set, key };
  interned.set(key, new WeakRef(selection));
  released.register(selection, key);
  return selection;
}

/**
 * What one selection of one snapshot type serves: the resources, their versions by name, the
 * type version, and the state-of-the-world response body without its nonce. Built once per
 * (snapshot, type, selection) and shared by every stream of the proxy that holds that
 * selection, so a push to N streams encodes nothing N times.
 */
export interface PreparedState {
  typeUrl: ResourceTypeUrl;
  resources: readonly SnapshotResource[];
  /** Resource versions by name; shared, never mutated. */
  versions: ReadonlyMap<string, string>;
  /** A hash of the names and versions: equal content has an equal version on every replica. */
  version: string;
  /** The encoded DiscoveryResponse without nonce, built on first use. */
  sotwBody(): Buffer;
  /**
   * The whole DiscoveryResponse with this nonce, the last one built kept: every stream of a
   * proxy sent this state in one push gets the very same bytes.
   */
  sotwResponse(nonce: string): Buffer;
}

/** Distinct selections prepared per snapshot and type; more are computed but not kept. */
const MAX_SELECTIONS = 64;

/** Prepared states per snapshot, by type and then by selection key. */
const prepared = new WeakMap<Snapshot, Map<ResourceTypeUrl, Map<string, PreparedState>>>();
const anys = new WeakMap<SnapshotResource, Buffer>();
const deltaEntries = new WeakMap<SnapshotResource, Buffer>();

/**
 * The version_info of a type's state: a hash of the names and versions it carries, so equal
 * content gets an equal version on any relay replica.
 */
export function typeVersion(resources: readonly SnapshotResource[]): string {
  return contentVersion(resources.map((r) => `${r.name}|${r.version}`).join('\n'));
}

/** A resource as an `Any`, encoded once per snapshot resource. */
export function anyOf(typeUrl: string, resource: SnapshotResource): Buffer {
  let any = anys.get(resource);
  if (!any) {
    any = encodeAny(typeUrl, resource.value);
    anys.set(resource, any);
  }
  return any;
}

/** A resource as a delta `Resource` entry (name, version, Any), encoded once per snapshot resource. */
export function deltaEntryOf(typeUrl: string, resource: SnapshotResource): Buffer {
  let entry = deltaEntries.get(resource);
  if (!entry) {
    entry = deltaResourceEntry(resource.name, resource.version, anyOf(typeUrl, resource));
    deltaEntries.set(resource, entry);
  }
  return entry;
}

/** Whether a selection takes a resource: by name, or by wildcard unless it is served only by name. */
export function selects(selection: Selection, resource: SnapshotResource): boolean {
  return selection.names.has(resource.name) || (selection.wildcard && !resource.onlyByName);
}

/** The prepared state of one selection of a snapshot type (cached per snapshot). */
export function prepare(snapshot: Snapshot, typeUrl: ResourceTypeUrl, selection: Selection): PreparedState {
  let types = prepared.get(snapshot);
  if (!types) {
    types = new Map();
    prepared.set(snapshot, types);
  }
  let states = types.get(typeUrl);
  if (!states) {
    states = new Map();
    types.set(typeUrl, states);
  }
  const cached = states.get(selection.key);
  if (cached) return cached;
  const resources = snapshot.resources[typeUrl].filter((r) => selects(selection, r));
  let body: Buffer | undefined;
  let last: { nonce: string; bytes: Buffer } | undefined;
  const state: PreparedState = {
    typeUrl,
    resources,
    versions: new Map(resources.map((r) => [r.name, r.version])),
    version: typeVersion(resources),
    sotwBody: () =>
      (body ??= discoveryResponseBody(
        state.version,
        resources.map((r) => anyOf(typeUrl, r)),
        typeUrl,
      )),
    sotwResponse: (nonce) => {
      if (last?.nonce !== nonce) last = { nonce, bytes: withNonce(state.sotwBody(), nonce) };
      return last.bytes;
    },
  };
  if (states.size < MAX_SELECTIONS) states.set(selection.key, state);
  return state;
}
