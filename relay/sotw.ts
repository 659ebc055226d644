import type { Snapshot, SnapshotResource } from '../shared/store/snapshots.js';
import { CLUSTER, LISTENER, RESOURCE_TYPE_URLS, ROUTE, isResourceTypeUrl, type ResourceTypeUrl } from '../shared/xds/type-urls.js';
import type { ProtocolStream, StreamEvents } from './ads.js';
import { anyOf, prepare, selectionOf, selects, typeVersion, WILDCARD, type PreparedState, type Selection } from './prepared.js';
import { discoveryResponseBody, withNonce, type DiscoveryRequest } from './protocol.js';

/**
 * Types whose state-of-the-world responses carry every subscribed resource, and whose empty
 * first request means "all of them" (a wildcard). For the others (RDS, EDS) a response carries
 * the subscribed resources that exist, an absent one is not deleted by it, and an empty list
 * subscribes to nothing.
 */
export const FULL_STATE_TYPES: ReadonlySet<ResourceTypeUrl> = new Set([CLUSTER, LISTENER]);

/** One resource type on one stream. */
interface TypeState {
  /** The wildcard and the explicitly subscribed names. */
  selection: Selection;
  /** Whether any request of the type named resources (`*` included): the legacy empty-list wildcard then ends. */
  named: boolean;
  /** The names as the client last listed them (shared with other streams listing the same, see protocol.ts), to recognise repeats cheaply. */
  requested: readonly string[];
  /** Resource versions by name as last sent (shared with the prepared state); undefined until the first response. */
  sent: ReadonlyMap<string, string> | undefined;
  /** The version_info of the latest response, which an ACK or a NACK refers to. */
  sentVersion: string;
  /** The nonce of the latest response: only a request carrying it is an ACK or a NACK. */
  nonce: string | undefined;
  /** Whether the latest response has been ACKed or NACKed; later requests with its nonce only change subscriptions. */
  answered: boolean;
  /** The resources of the latest response. */
  sentResources: readonly SnapshotResource[];
  /** The version_info and resources of the latest ACKed response (what the client uses). */
  ackedVersion: string | undefined;
  ackedResources: readonly SnapshotResource[] | undefined;
}

/**
 * The state-of-the-world ADS protocol for one stream, free of gRPC: requests and snapshots in,
 * responses out through {@link StreamEvents}. Follows Envoy's xDS protocol document:
 *
 * - a request whose nonce is not the latest sent for its type is stale and ignored (clients
 *   ACK nonces already replaced); a request with an empty nonce is a subscription change;
 * - the first request with the latest nonce is a NACK when it carries `error_detail`, else an
 *   ACK (the version it names does not decide); later ones with that nonce (grpc-js-xds sends
 *   one per subscription change) only change subscriptions;
 * - a response is sent only when what the client should hold differs from what it was sent, so
 *   an ACK or a NACK never causes a push, and a NACKed state is re-pushed only once it changes;
 * - on a new snapshot the types go out in make-before-break order (CDS, EDS, LDS, RDS).
 */
export class SotwStream implements ProtocolStream<DiscoveryRequest> {
  private readonly types = new Map<ResourceTypeUrl, TypeState>();
  private snapshot: Snapshot | undefined;
  private responses = 0;

  /** @param noncePrefix makes nonces unique across streams, so one never matches another stream's. */
  constructor(
    private readonly events: StreamEvents,
    private readonly noncePrefix: string,
  ) {}

  handleRequest(request: DiscoveryRequest): void {
    const typeUrl = request.type_url;
    if (!isResourceTypeUrl(typeUrl)) {
      this.events.ignore(typeUrl, `type ${typeUrl || '(empty)'} is not served`);
      return;
    }
    const state = this.types.get(typeUrl);
    const nonce = request.response_nonce;
    if (nonce !== '' && state?.nonce !== undefined && nonce !== state.nonce) {
      this.events.ignore(typeUrl, `stale nonce ${nonce} (latest ${state.nonce})`);
      return;
    }
    let acked = false;
    if (nonce !== '' && state !== undefined && nonce === state.nonce && !state.answered) {
      state.answered = true;
      if (request.error_detail) this.events.nack(typeUrl, state.sentVersion, request.error_detail);
      else {
        acked = true;
        state.ackedVersion = state.sentVersion;
        state.ackedResources = state.sentResources;
        this.events.ack(typeUrl, state.sentVersion);
      }
    }
    this.subscribe(typeUrl, state, request.resource_names);
    this.respond(typeUrl);
    // Listeners and routes now in use may no longer need the clusters held for them.
    if (acked && (typeUrl === LISTENER || typeUrl === ROUTE)) this.respond(CLUSTER);
  }

  /** Takes a new snapshot and pushes every subscribed type that changed, in ADS order. */
  setSnapshot(snapshot: Snapshot, delivery: number): void {
    this.snapshot = snapshot;
    for (const typeUrl of RESOURCE_TYPE_URLS) {
      if (this.types.has(typeUrl)) this.respond(typeUrl, delivery);
    }
  }

  /** Applies a request's resource names to the type's subscription. */
  private subscribe(typeUrl: ResourceTypeUrl, state: TypeState | undefined, requested: readonly string[]): void {
    const explicitWildcard = requested.includes(WILDCARD);
    if (!state) {
      const wildcard = explicitWildcard || (requested.length === 0 && FULL_STATE_TYPES.has(typeUrl));
      const selection = selectionOf(wildcard, requested);
      this.types.set(typeUrl, {
        selection,
        named: requested.length > 0,
        requested,
        sent: undefined,
        sentVersion: '',
        nonce: undefined,
        answered: false,
        sentResources: [],
        ackedVersion: undefined,
        ackedResources: undefined,
      });
      this.events.subscribed?.(typeUrl, selection.wildcard, selection.names);
      return;
    }
    // An empty list keeps a stream that never named anything on its wildcard (Envoy repeats the
    // empty list on every ACK); once names were sent ("*" included), an empty list unsubscribes
    // from all.
    const legacyWildcard = requested.length === 0 && state.selection.wildcard && !state.named;
    state.named ||= requested.length > 0;
    const wildcard = explicitWildcard || legacyWildcard;
    // Most requests are ACKs repeating the subscription: nothing to change, nothing to allocate.
    if (wildcard === state.selection.wildcard) {
      if (sameList(state.requested, requested)) return;
      if (sameNames(state.selection.names, requested)) {
        state.requested = requested;
        return;
      }
    }
    const selection = selectionOf(wildcard, requested);
    state.requested = requested;
    if (selection === state.selection) return;
    state.selection = selection;
    this.events.subscribed?.(typeUrl, selection.wildcard, selection.names);
    if (state.sent && !wildcard && [...state.sent.keys()].some((name) => !selection.names.has(name))) {
      // Forget what was sent of unsubscribed names, so subscribing again sends them again.
      state.sent = new Map([...state.sent].filter(([name]) => selection.names.has(name)));
    }
  }

  /**
   * Sends the type's resources if they differ from what the client was last sent. A push of a
   * snapshot delivery carries a nonce named after the delivery (`@<delivery>.<type>`): every
   * stream of the proxy then gets the same encoded response, built once. It is still unique on
   * this stream (a stream gets each delivery once, and at most one response of a type from it);
   * responses to requests carry a nonce of the stream's own (`<stream>-<n>`, never with `@`).
   */
  private respond(typeUrl: ResourceTypeUrl, delivery?: number): void {
    const state = this.types.get(typeUrl);
    if (!state || !this.snapshot) return;
    // Shared by every stream of the proxy with this subscription: filtered, hashed and encoded once.
    let prepared = prepare(this.snapshot, typeUrl, state.selection);
    if (typeUrl === CLUSTER) prepared = this.withHeldClusters(state, prepared);
    if (!this.differs(typeUrl, state, prepared)) {
      // A removed RDS/EDS resource is not announced, but a re-added one must be sent again.
      if (state.sent) state.sent = prepared.versions;
      return;
    }
    const nonce = delivery === undefined ? `${this.noncePrefix}-${++this.responses}` : `@${delivery}.${RESOURCE_TYPE_URLS.indexOf(typeUrl)}`;
    state.nonce = nonce;
    state.answered = false;
    state.sent = prepared.versions;
    state.sentVersion = prepared.version;
    state.sentResources = prepared.resources;
    const response = delivery === undefined ? withNonce(prepared.sotwBody(), nonce) : prepared.sotwResponse(nonce);
    this.events.send(response, { typeUrl, version: prepared.version, nonce, resources: prepared.resources.length });
  }

  /**
   * Make-before-break for removals: while the client's listeners or routes in use may still
   * refer to clusters the snapshot dropped (a new LDS or RDS state not yet ACKed, or about to
   * be pushed), the CDS state keeps the clusters of the last ACKed CDS response that are gone,
   * so the client never loses a cluster its routes use. Once LDS and RDS are ACKed, CDS goes
   * out again without them. (All such clusters are kept, referenced or not: the relay does not
   * decode routes.) The response is then the stream's own, not the shared one.
   */
  private withHeldClusters(state: TypeState, prepared: PreparedState): PreparedState {
    const acked = state.ackedResources;
    // Already sent this very state (the client drops what it lacks): nothing to hold. Also the
    // fast path of every CDS ACK once a push is through.
    if (!acked || acked.length === 0 || state.sent === prepared.versions) return prepared;
    const held = acked.filter((r) => !prepared.versions.has(r.name) && selects(state.selection, r));
    if (held.length === 0 || !this.routingPending()) return prepared;
    const resources = [...prepared.resources, ...held];
    const version = typeVersion(resources);
    const body = discoveryResponseBody(
      version,
      resources.map((r) => anyOf(CLUSTER, r)),
      CLUSTER,
    );
    return {
      typeUrl: CLUSTER,
      resources,
      versions: new Map(resources.map((r) => [r.name, r.version])),
      version,
      sotwBody: () => body,
      sotwResponse: (nonce) => withNonce(body, nonce),
    };
  }

  /** Whether LDS or RDS has a state the client has not ACKed yet, or is about to be sent one. */
  private routingPending(): boolean {
    for (const typeUrl of [LISTENER, ROUTE] as const) {
      const state = this.types.get(typeUrl);
      if (!state || state.sent === undefined || !this.snapshot) continue;
      if (state.ackedVersion !== state.sentVersion) return true;
      if (this.differs(typeUrl, state, prepare(this.snapshot, typeUrl, state.selection))) return true;
    }
    return false;
  }

  private differs(typeUrl: ResourceTypeUrl, state: TypeState, prepared: PreparedState): boolean {
    const sent = state.sent;
    if (sent === prepared.versions) return false;
    // CDS and LDS: the first answer is due even when empty (Envoy waits for it to initialise),
    // and a removal is a change (absence from the full state deletes). The version covers both.
    if (FULL_STATE_TYPES.has(typeUrl)) return sent === undefined || prepared.version !== state.sentVersion;
    return prepared.resources.some((r) => sent?.get(r.name) !== r.version);
  }
}

/** Whether two lists hold the same names in the same order (no hashing: clients repeat their lists). */
function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true; // the decoder hands out one array per distinct list
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether a request's names (`*` aside) are exactly the subscribed ones. */
function sameNames(subscribed: ReadonlySet<string>, requested: readonly string[]): boolean {
  let count = 0;
  for (const name of requested) {
    if (name === WILDCARD) continue;
    if (!subscribed.has(name)) return false;
    count += 1;
  }
  return count === subscribed.size;
}
