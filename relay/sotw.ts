import type { Snapshot, SnapshotResource } from '../shared/store/snapshots.js';
import { contentVersion } from '../shared/store/snapshots.js';
import { CLUSTER, LISTENER, RESOURCE_TYPE_URLS, isResourceTypeUrl, type ResourceTypeUrl } from '../shared/xds/type-urls.js';
import type { ProtocolStream, StreamEvents } from './ads.js';
import type { DiscoveryRequest, DiscoveryResponse } from './protocol.js';

/**
 * Types whose state-of-the-world responses carry every subscribed resource, and whose empty
 * first request means "all of them" (a wildcard). For the others (RDS, EDS) a response carries
 * the subscribed resources that exist, an absent one is not deleted by it, and an empty list
 * subscribes to nothing.
 */
const FULL_STATE_TYPES: ReadonlySet<ResourceTypeUrl> = new Set([CLUSTER, LISTENER]);

/** The explicit wildcard name of the xDS protocol. */
const WILDCARD = '*';

/** One resource type on one stream. */
interface TypeState {
  /** Subscribed to every resource of the type. */
  wildcard: boolean;
  /** Explicitly subscribed names. */
  names: Set<string>;
  /** Resource versions by name as last sent; undefined until the first response. */
  sent: Map<string, string> | undefined;
  /** The nonce of the latest response: only a request carrying it is an ACK or a NACK. */
  nonce: string | undefined;
  /** Whether the latest response has been ACKed or NACKed; later requests with its nonce only change subscriptions. */
  answered: boolean;
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
    private readonly events: StreamEvents<DiscoveryResponse>,
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
    if (nonce !== '' && state !== undefined && nonce === state.nonce && !state.answered) {
      state.answered = true;
      if (request.error_detail) this.events.nack(typeUrl, request.version_info, request.error_detail.message);
      else this.events.ack(typeUrl, request.version_info);
    }
    this.subscribe(typeUrl, state, request.resource_names);
    this.respond(typeUrl);
  }

  /** Takes a new snapshot and pushes every subscribed type that changed, in ADS order. */
  setSnapshot(snapshot: Snapshot): void {
    this.snapshot = snapshot;
    for (const typeUrl of RESOURCE_TYPE_URLS) {
      if (this.types.has(typeUrl)) this.respond(typeUrl);
    }
  }

  /** Applies a request's resource names to the type's subscription. */
  private subscribe(typeUrl: ResourceTypeUrl, state: TypeState | undefined, requested: string[]): void {
    const names = new Set(requested.filter((name) => name !== WILDCARD));
    const explicitWildcard = requested.includes(WILDCARD);
    if (!state) {
      const wildcard = explicitWildcard || (requested.length === 0 && FULL_STATE_TYPES.has(typeUrl));
      this.types.set(typeUrl, { wildcard, names, sent: undefined, nonce: undefined, answered: false });
      return;
    }
    // An empty list keeps a stream that never named anything on its wildcard (Envoy repeats the
    // empty list on every ACK); once names were sent, an empty list unsubscribes from all.
    const legacyWildcard = requested.length === 0 && state.wildcard && state.names.size === 0;
    state.wildcard = explicitWildcard || legacyWildcard;
    state.names = names;
    if (state.sent && !state.wildcard) {
      // Forget what was sent of unsubscribed names, so subscribing again sends them again.
      for (const name of state.sent.keys()) if (!names.has(name)) state.sent.delete(name);
    }
  }

  /** Sends the type's resources if they differ from what the client was last sent. */
  private respond(typeUrl: ResourceTypeUrl): void {
    const state = this.types.get(typeUrl);
    if (!state || !this.snapshot) return;
    // A wildcard takes every resource but those served only by name (proxyless api listeners).
    const resources = this.snapshot.resources[typeUrl].filter((r) => state.names.has(r.name) || (state.wildcard && !r.onlyByName));
    if (!this.differs(typeUrl, state, resources)) {
      // A removed RDS/EDS resource is not announced, but a re-added one must be sent again.
      state.sent = state.sent && new Map(resources.map((r) => [r.name, r.version]));
      return;
    }
    state.nonce = `${this.noncePrefix}-${++this.responses}`;
    state.answered = false;
    state.sent = new Map(resources.map((r) => [r.name, r.version]));
    const version = typeVersion(resources);
    this.events.send(
      { version_info: version, type_url: typeUrl, nonce: state.nonce, resources: resources.map((r) => ({ type_url: typeUrl, value: r.value })) },
      { typeUrl, version, nonce: state.nonce, resources: resources.length },
    );
  }

  private differs(typeUrl: ResourceTypeUrl, state: TypeState, resources: SnapshotResource[]): boolean {
    const sent = state.sent;
    const changed = resources.some((r) => sent?.get(r.name) !== r.version);
    if (!FULL_STATE_TYPES.has(typeUrl)) return changed;
    // CDS and LDS: the first answer is due even when empty (Envoy waits for it to initialise),
    // and a removal is a change (absence from the full state deletes).
    return sent === undefined || changed || sent.size !== resources.length;
  }
}

/**
 * The version_info of a response: a hash of the names and versions it carries, so equal
 * content gets an equal version on any relay replica.
 */
function typeVersion(resources: SnapshotResource[]): string {
  return contentVersion(resources.map((r) => `${r.name}|${r.version}`).join('\n'));
}
