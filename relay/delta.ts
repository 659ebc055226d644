import type { Snapshot, SnapshotResource } from '../shared/store/snapshots.js';
import { CLUSTER, ENDPOINT, LISTENER, RESOURCE_TYPE_URLS, ROUTE, isResourceTypeUrl, type ResourceTypeUrl } from '../shared/xds/type-urls.js';
import type { ProtocolStream, StreamEvents } from './ads.js';
import { deltaEntryOf, NOTHING, prepare, selectionOf, WILDCARD, type Selection } from './prepared.js';
import { encodeDeltaResponse, type DeltaDiscoveryRequest } from './protocol.js';
import { FULL_STATE_TYPES } from './sotw.js';

/**
 * The order removals go out in after a snapshot change: a resource is removed only after
 * everything that referred to it was updated (listeners before the routes they named, routes
 * before clusters, clusters before their endpoints), so removals never break traffic.
 */
const REMOVAL_ORDER: readonly ResourceTypeUrl[] = [LISTENER, ROUTE, CLUSTER, ENDPOINT];

/** Responses of a type awaiting an ACK or a NACK; beyond this the oldest are forgotten. */
const MAX_PENDING = 16;

/** One resource type on one delta stream. */
interface DeltaTypeState {
  /** Subscribed to every resource of the type (but those served only by name). */
  wildcard: boolean;
  /** Explicitly subscribed names (never `*`). */
  names: Set<string>;
  /** What the client holds, as far as the relay knows: resource versions by name. */
  known: Map<string, string>;
  /**
   * Names that go out in the next response whatever `known` says: subscribed (again), which
   * the protocol requires answering, or unsubscribed from under a wildcard, which must be
   * answered with the resource (if the wildcard covers it) or its removal.
   */
  forced: Set<string>;
  /** The first response of a wildcard is due even when empty: Envoy waits for it to initialise. */
  firstDue: boolean;
  /** Unanswered responses by nonce, with the system version each carried (insertion order: oldest first). */
  pending: Map<string, string>;
  /** `wildcard` and `names` as a selection of prepared states, kept in step with them. */
  selection: Selection;
}

type Phase = 'all' | 'updates' | 'removals';

/**
 * The incremental (delta) ADS protocol for one stream, free of gRPC. Follows the
 * "Incremental xDS" part of Envoy's xDS protocol document:
 *
 * - subscriptions change by `resource_names_subscribe` / `resource_names_unsubscribe`, applied
 *   whatever nonce the request carries (the document forbids rejecting them as stale);
 * - a wildcard is `*`, or, for CDS and LDS, a first request that names nothing (the legacy
 *   form); it never carries resources marked `onlyByName`. Naming a resource keeps the
 *   wildcard; only unsubscribing `*` ends it;
 * - a response carries only what differs from what the client holds: changed or new resources,
 *   and removed ones in `removed_resources`. A subscribed name is always answered, with the
 *   resource or, when it does not exist, its name in `removed_resources`;
 * - `initial_resource_versions` on the first request of a type says what the client holds from
 *   an earlier stream (with any relay: versions are content hashes), so only what differs is sent;
 * - a request with the nonce of an unanswered response ACKs it, or NACKs it when it carries
 *   `error_detail`; other nonces change nothing but subscriptions. Nothing is sent for an ACK or
 *   a NACK, and a NACKed resource is sent again only once it changes;
 * - on a snapshot change, updates go out in make-before-break order (CDS, EDS, LDS, RDS) and
 *   removals after them (LDS, RDS, CDS, EDS).
 */
export class DeltaStream implements ProtocolStream<DeltaDiscoveryRequest> {
  private readonly types = new Map<ResourceTypeUrl, DeltaTypeState>();
  private snapshot: Snapshot | undefined;
  private responses = 0;

  /** @param noncePrefix makes nonces unique across streams, so one never matches another stream's. */
  constructor(
    private readonly events: StreamEvents,
    private readonly noncePrefix: string,
  ) {}

  handleRequest(request: DeltaDiscoveryRequest): void {
    const typeUrl = request.type_url;
    if (!isResourceTypeUrl(typeUrl)) {
      this.events.ignore(typeUrl, `type ${typeUrl || '(empty)'} is not served`);
      return;
    }
    let state = this.types.get(typeUrl);
    const first = state === undefined;
    if (!state) {
      state = { wildcard: false, names: new Set(), known: new Map(), forced: new Set(), firstDue: false, pending: new Map(), selection: NOTHING };
      this.types.set(typeUrl, state);
    }
    this.acknowledge(typeUrl, state, request);
    if (first) this.open(typeUrl, state, request);
    else this.change(state, request);
    if (state.wildcard !== state.selection.wildcard || !sameSet(state.names, state.selection.names)) {
      state.selection = selectionOf(state.wildcard, state.names);
    }
    this.respond(typeUrl, 'all');
  }

  /** Takes a new snapshot: updates in make-before-break order, then removals. */
  setSnapshot(snapshot: Snapshot): void {
    this.snapshot = snapshot;
    for (const typeUrl of RESOURCE_TYPE_URLS) this.respond(typeUrl, 'updates');
    for (const typeUrl of REMOVAL_ORDER) this.respond(typeUrl, 'removals');
  }

  /** Counts an ACK or a NACK when the request answers a response still awaiting one. */
  private acknowledge(typeUrl: ResourceTypeUrl, state: DeltaTypeState, request: DeltaDiscoveryRequest): void {
    const nonce = request.response_nonce;
    if (nonce === '') return;
    const version = state.pending.get(nonce);
    if (version === undefined) {
      this.events.ignore(typeUrl, `nonce ${nonce} names no response awaiting an answer`);
      return;
    }
    // Clients answer responses in order: one answered means the older ones were too.
    for (const older of state.pending.keys()) {
      state.pending.delete(older);
      if (older === nonce) break;
    }
    if (request.error_detail) this.events.nack(typeUrl, version, request.error_detail);
    else this.events.ack(typeUrl, version);
  }

  /** The first request of a type: the subscription, and what the client already holds. */
  private open(typeUrl: ResourceTypeUrl, state: DeltaTypeState, request: DeltaDiscoveryRequest): void {
    const { resource_names_subscribe: subscribe, resource_names_unsubscribe: unsubscribe, initial_resource_versions: initial } = request;
    state.wildcard = subscribe.includes(WILDCARD) || (subscribe.length === 0 && unsubscribe.length === 0 && FULL_STATE_TYPES.has(typeUrl));
    for (const name of subscribe) {
      if (name === WILDCARD) continue;
      state.names.add(name);
      // A name the client holds a version of is answered only if that version is not current.
      if (!initial.has(name)) state.forced.add(name);
    }
    for (const [name, version] of initial) {
      if (state.wildcard || state.names.has(name)) state.known.set(name, version);
    }
    state.firstDue = state.wildcard;
  }

  /** A later request: subscribe and unsubscribe. */
  private change(state: DeltaTypeState, request: DeltaDiscoveryRequest): void {
    for (const name of request.resource_names_subscribe) {
      if (name === WILDCARD) {
        // Subscribing again must resend: the client may have forgotten what it holds.
        if (state.wildcard) for (const known of state.known.keys()) state.forced.add(known);
        state.wildcard = true;
        continue;
      }
      state.names.add(name);
      state.forced.add(name);
    }
    for (const name of request.resource_names_unsubscribe) {
      if (name === WILDCARD) {
        // The client drops what only the wildcard gave it; nothing needs to be sent.
        state.wildcard = false;
        for (const known of [...state.known.keys()]) if (!state.names.has(known)) state.known.delete(known);
        continue;
      }
      if (!state.names.delete(name)) continue; // an unsubscription from nothing is ignored
      state.forced.delete(name);
      // Under a wildcard the client cannot tell whether it should keep the resource: say so.
      if (state.wildcard) state.forced.add(name);
      else state.known.delete(name);
    }
  }

  /** Sends what the client lacks (updates), what it must drop (removals), or both. */
  private respond(typeUrl: ResourceTypeUrl, phase: Phase): void {
    const state = this.types.get(typeUrl);
    if (!state || !this.snapshot) return;
    // The state is shared by every stream of the proxy with this subscription (see prepared.ts).
    const prepared = prepare(this.snapshot, typeUrl, state.selection);
    const updates: SnapshotResource[] = [];
    const removed: string[] = [];
    if (phase !== 'removals') {
      for (const resource of prepared.resources) {
        if (state.known.get(resource.name) !== resource.version || state.forced.has(resource.name)) updates.push(resource);
      }
    }
    if (phase !== 'removals') {
      // Subscribed names that do not exist: saying so spares the client its resource timeout.
      for (const name of state.forced) if (!prepared.versions.has(name) && !state.known.has(name)) removed.push(name);
    }
    if (phase !== 'updates') {
      // What the client holds and should not: removed after every type's updates went out.
      for (const name of state.known.keys()) if (!prepared.versions.has(name)) removed.push(name);
    }
    const due = state.firstDue && phase !== 'removals';
    if (updates.length === 0 && removed.length === 0 && !due) return;

    state.firstDue = false;
    for (const resource of updates) {
      state.known.set(resource.name, resource.version);
      state.forced.delete(resource.name);
    }
    for (const name of removed) {
      state.known.delete(name);
      state.forced.delete(name);
    }
    const nonce = `${this.noncePrefix}-${++this.responses}`;
    state.pending.set(nonce, prepared.version);
    for (const oldest of state.pending.keys()) {
      if (state.pending.size <= MAX_PENDING) break;
      state.pending.delete(oldest);
    }
    const entries = updates.map((resource) => deltaEntryOf(typeUrl, resource));
    this.events.send(encodeDeltaResponse(prepared.version, entries, typeUrl, removed, nonce), {
      typeUrl,
      version: prepared.version,
      nonce,
      resources: updates.length,
      removed: removed.length,
    });
  }
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const name of a) if (!b.has(name)) return false;
  return true;
}
