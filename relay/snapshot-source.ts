import type { Manifest, ManifestEntry, Snapshot, SnapshotStore } from '../shared/store/snapshots.js';
import { nodeIdOf, proxyKey, type ProxyId } from '../shared/xds/node-id.js';
import type { Logger } from './log.js';
import type { RelayMetrics, Sample } from './metrics.js';

/** The proxy has no place in its mesh's manifest (or the mesh has none): gRPC NOT_FOUND. */
export class ProxyNotFoundError extends Error {
  override name = 'ProxyNotFoundError';
}

/** The proxy is known but nothing can be served yet (S3 failing, snapshot unreadable): gRPC UNAVAILABLE. */
export class SnapshotUnavailableError extends Error {
  override name = 'SnapshotUnavailableError';
}

/** What a subscriber (one ADS stream) is told about its proxy. */
export interface SnapshotListener {
  /**
   * The proxy's current snapshot: called once on subscribe, then on every change. `delivery`
   * identifies the change (the load that brought it), the same for every stream of the proxy
   * and never repeated, so the streams can share one encoded response per change.
   */
  snapshot(snapshot: Snapshot, delivery: number): void;
  /** The proxy left its mesh's manifest, or the manifest is gone; no more snapshots follow. */
  gone(reason: string): void;
}

/** An open subscription; `close()` when the stream ends. */
export interface SnapshotSubscription {
  close(): void;
}

/**
 * Where a stream gets its proxy's snapshots. The ADS protocol state machines (state of the
 * world now, delta later) depend on this interface only.
 */
export interface SnapshotSource {
  subscribe(proxy: ProxyId, listener: SnapshotListener): Promise<SnapshotSubscription>;
}

/** The reads the relay makes of the snapshot bucket (a {@link SnapshotStore}, or a fake in benchmarks). */
export type SnapshotReader = Pick<SnapshotStore, 'getManifestIfChanged' | 'getSnapshot'>;

export interface BucketSnapshotSourceOptions {
  store: SnapshotReader;
  /** How often the manifest of a mesh with connected proxies is checked (a conditional GET). */
  pollIntervalMs: number;
  logger: Logger;
  metrics: RelayMetrics;
  /** Loaded snapshots kept by key beyond the ones being served, for proxies that reconnect. */
  cacheSize?: number;
  /** Upper bound of the retry backoff after a failed snapshot load. */
  maxRetryMs?: number;
  /**
   * How long a stream of a proxy its mesh's manifest does not list (or a mesh without a
   * manifest) is held open, the manifest polled, before it is refused with NOT_FOUND. 0 (the
   * default) refuses after one fresh read. A proxy compiled within the wait is served on the
   * very stream it opened: no stream of it ends before its first response (grpc-js-xds 1.14
   * keeps the does-not-exist timers of such a stream running, see relay/README.md).
   */
  unknownProxyWaitMs?: number;
}

interface ServedSnapshot {
  entry: ManifestEntry;
  snapshot: Snapshot;
  /** When a manifest read last confirmed that this is still the proxy's current snapshot. */
  confirmedAt: number;
  /** Identifies this load among all the source made (see SnapshotListener). */
  delivery: number;
}

/** A connected proxy: all its streams share one state and so one load per snapshot. */
interface ProxyWatch {
  key: string;
  nodeId: string;
  listeners: Set<SnapshotListener>;
  /** Subscribes still in progress; the watch stays while any is. */
  pending: number;
  /** The entry the manifest names now. */
  wanted?: ManifestEntry;
  /** The last good snapshot: served until a newer one loads, whatever S3 does meanwhile. */
  served?: ServedSnapshot;
  loading?: { entry: ManifestEntry; promise: Promise<void> };
  /** The entry that failed to load last, how often in a row, and when to try it again. */
  failure?: { entry: ManifestEntry; count: number; retryAt: number; message: string };
}

/** A mesh with connected proxies, whose manifest is polled. */
interface MeshWatch {
  mesh: string;
  etag?: string | undefined;
  /** The last manifest read; undefined before the first read or when the mesh has none. */
  manifest?: Manifest | undefined;
  proxies: Map<string, ProxyWatch>;
  refreshing?: Promise<boolean> | undefined;
  /** The message of the last failed manifest read, so a lasting failure is logged once. */
  failing?: string | undefined;
  timer?: NodeJS.Timeout | undefined;
  active: boolean;
  /** Called after every manifest read: subscribes waiting for their proxy to be listed. */
  readWaiters: Set<() => void>;
}

/** Entries name the same object with the same expected content. */
function sameEntry(a: ManifestEntry, b: ManifestEntry): boolean {
  return a.key === b.key && a.sha256 === b.sha256 && a.version === b.version;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Serves proxies their snapshots from the bucket. Only meshes with connected proxies are
 * watched (one conditional GET of the manifest per poll interval), only the snapshots of
 * connected proxies are loaded, and each snapshot key is loaded once however many streams a
 * proxy has. A failed manifest read or snapshot load never replaces what is being served: the
 * last good snapshot stays until a newer one loads whole.
 */
export class BucketSnapshotSource implements SnapshotSource {
  private readonly meshes = new Map<string, MeshWatch>();
  /** Loads in flight: concurrent subscribers of one snapshot share one GET. */
  private readonly loads = new Map<string, Promise<Snapshot>>();
  /** Recently loaded snapshots (content-addressed, so never stale), least recently used first. */
  private readonly cache = new Map<string, Snapshot>();
  private readonly now = Date.now;
  private closed = false;
  /** Snapshots delivered so far: numbers each delivery. */
  private deliveries = 0;

  constructor(private readonly options: BucketSnapshotSourceOptions) {}

  /**
   * Subscribes a stream to its proxy's snapshot. Resolves once the listener has been given the
   * current snapshot. Rejects with {@link ProxyNotFoundError} when the mesh has no manifest or
   * the manifest does not name the proxy, and with {@link SnapshotUnavailableError} when
   * neither the manifest nor the snapshot can be read and nothing good is held.
   */
  async subscribe(proxy: ProxyId, listener: SnapshotListener): Promise<SnapshotSubscription> {
    if (this.closed) throw new SnapshotUnavailableError('the relay is shutting down');
    const mesh = this.meshWatch(proxy.mesh);
    const state = this.proxyWatch(mesh, proxy);
    state.pending += 1;
    try {
      // A proxy missing from a manifest we hold may have been compiled since our last poll:
      // read the manifest again before calling it unknown.
      if (!mesh.manifest?.proxies[state.key]) {
        if (!(await this.freshRefresh(mesh))) {
          throw new SnapshotUnavailableError(`cannot read the manifest of mesh ${proxy.mesh}; try again`);
        }
      }
      const entry = mesh.manifest?.proxies[state.key] ?? (await this.untilListed(mesh, state));
      if (this.closed) throw new SnapshotUnavailableError('the relay is shutting down');
      if (!entry) {
        throw new ProxyNotFoundError(
          mesh.manifest
            ? `${state.key} is not in the manifest of mesh ${proxy.mesh} (no such ${proxy.kind}, or not compiled yet)`
            : `mesh ${proxy.mesh} has no manifest (no such mesh, or nothing compiled yet)`,
        );
      }
      state.wanted ??= entry;
      // A load may be superseded by a newer manifest entry while it runs: wait for the newest.
      while (!state.served) {
        const { failure, wanted } = state;
        // A key that just failed is not fetched again for every reconnecting stream.
        if (!state.loading && failure && sameEntry(failure.entry, wanted) && this.now() < failure.retryAt) {
          throw new SnapshotUnavailableError(`cannot load the snapshot of ${state.nodeId}: ${failure.message}; try again`);
        }
        const loading = state.loading ?? this.load(mesh, state, wanted);
        await loading.promise;
        if (!state.served && !state.loading) {
          throw new SnapshotUnavailableError(
            `cannot load the snapshot of ${state.nodeId}: ${state.failure?.message ?? 'unknown error'}; try again`,
          );
        }
      }
      if (this.closed) throw new SnapshotUnavailableError('the relay is shutting down');
      if (!mesh.manifest?.proxies[state.key]) throw new ProxyNotFoundError(`${state.key} left the manifest of mesh ${proxy.mesh}`);
      state.listeners.add(listener);
      listener.snapshot(state.served.snapshot, state.served.delivery);
      this.schedule(mesh);
      return { close: () => this.unsubscribe(mesh, state, listener) };
    } finally {
      state.pending -= 1;
      this.release(mesh, state);
    }
  }

  /** Seconds since each mesh's oldest served snapshot was last confirmed current, for /metrics. */
  snapshotAges(): Sample[] {
    const now = this.now();
    const samples: Sample[] = [];
    for (const mesh of this.meshes.values()) {
      const confirmed = [...mesh.proxies.values()].flatMap((p) => (p.served ? [p.served.confirmedAt] : []));
      if (confirmed.length > 0) samples.push({ labels: { mesh: mesh.mesh }, value: (now - Math.min(...confirmed)) / 1000 });
    }
    return samples;
  }

  /** Stops every poll. Subscriptions stay usable for closing, nothing new is served. */
  close(): void {
    this.closed = true;
    for (const mesh of this.meshes.values()) {
      this.stop(mesh);
      // Subscribes waiting for their proxy give up now (SnapshotUnavailableError below).
      for (const waiter of [...mesh.readWaiters]) waiter();
    }
    this.meshes.clear();
  }

  private meshWatch(name: string): MeshWatch {
    let mesh = this.meshes.get(name);
    if (!mesh) {
      mesh = { mesh: name, proxies: new Map(), active: true, readWaiters: new Set() };
      this.meshes.set(name, mesh);
    }
    return mesh;
  }

  /**
   * Waits up to `unknownProxyWaitMs` for the mesh's manifest to list the proxy, polling it
   * meanwhile; resolves with its entry, or undefined when the wait ends without one.
   */
  private async untilListed(mesh: MeshWatch, state: ProxyWatch): Promise<ManifestEntry | undefined> {
    const waitMs = this.options.unknownProxyWaitMs ?? 0;
    if (waitMs <= 0) return undefined;
    const deadline = this.now() + waitMs;
    this.options.logger.debug('proxy not in its manifest yet; waiting for it', { mesh: mesh.mesh, proxy: state.key, waitMs });
    this.schedule(mesh);
    for (;;) {
      const entry = mesh.manifest?.proxies[state.key];
      const left = deadline - this.now();
      if (entry || left <= 0 || this.closed || !mesh.active) return entry;
      // The next manifest read, or the deadline, whichever comes first.
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          mesh.readWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        mesh.readWaiters.add(done);
      });
    }
  }

  private proxyWatch(mesh: MeshWatch, proxy: ProxyId): ProxyWatch {
    const key = proxyKey(proxy);
    let state = mesh.proxies.get(key);
    if (!state) {
      state = { key, nodeId: nodeIdOf(proxy), listeners: new Set(), pending: 0 };
      mesh.proxies.set(key, state);
    }
    return state;
  }

  private unsubscribe(mesh: MeshWatch, state: ProxyWatch, listener: SnapshotListener): void {
    state.listeners.delete(listener);
    this.release(mesh, state);
  }

  /** Forgets a proxy nobody streams for, and stops watching a mesh with no proxies left. */
  private release(mesh: MeshWatch, state: ProxyWatch): void {
    if (state.listeners.size === 0 && state.pending === 0 && mesh.proxies.get(state.key) === state) {
      mesh.proxies.delete(state.key);
    }
    if (mesh.proxies.size === 0 && this.meshes.get(mesh.mesh) === mesh) {
      this.stop(mesh);
      this.meshes.delete(mesh.mesh);
    }
  }

  private stop(mesh: MeshWatch): void {
    mesh.active = false;
    clearTimeout(mesh.timer);
    mesh.timer = undefined;
  }

  /** Polls the mesh's manifest every interval while the mesh is watched. */
  private schedule(mesh: MeshWatch): void {
    if (mesh.timer || !mesh.active) return;
    mesh.timer = setTimeout(() => {
      void this.refresh(mesh).finally(() => {
        mesh.timer = undefined;
        this.schedule(mesh);
      });
    }, this.options.pollIntervalMs);
  }

  /** One manifest read at a time per mesh; callers during a read share it. */
  private refresh(mesh: MeshWatch): Promise<boolean> {
    mesh.refreshing ??= this.readManifest(mesh).finally(() => {
      mesh.refreshing = undefined;
    });
    return mesh.refreshing;
  }

  /** A manifest read that starts after this call (a read already in flight may predate a write). */
  private async freshRefresh(mesh: MeshWatch): Promise<boolean> {
    if (mesh.refreshing) await mesh.refreshing;
    return this.refresh(mesh);
  }

  /** Reads the manifest if it changed, then brings every connected proxy of the mesh up to it. */
  private async readManifest(mesh: MeshWatch): Promise<boolean> {
    const { store, logger, metrics } = this.options;
    let result: Awaited<ReturnType<SnapshotStore['getManifestIfChanged']>>;
    try {
      result = await store.getManifestIfChanged(mesh.mesh, mesh.etag);
    } catch (error) {
      metrics.manifestErrors.inc({ mesh: mesh.mesh });
      // Every poll fails while S3 is down: log when the failure starts or changes, count always.
      if (mesh.failing !== message(error)) {
        mesh.failing = message(error);
        logger.warn('manifest read failed; serving the last good snapshots', { mesh: mesh.mesh, error: mesh.failing });
      }
      return false;
    }
    if (mesh.failing !== undefined) {
      logger.info('manifest readable again', { mesh: mesh.mesh });
      mesh.failing = undefined;
    }
    if (!mesh.active) return true;
    if (result.status === 'missing') {
      mesh.manifest = undefined;
      mesh.etag = undefined;
    } else if (result.status === 'found') {
      if (mesh.manifest) logger.debug('manifest changed', { mesh: mesh.mesh, etag: result.etag });
      mesh.manifest = result.manifest;
      mesh.etag = result.etag;
    }
    for (const state of [...mesh.proxies.values()]) this.reconcile(mesh, state);
    for (const waiter of [...mesh.readWaiters]) waiter();
    return true;
  }

  /** Compares a proxy with the manifest just read: confirm, load a newer snapshot, or end it. */
  private reconcile(mesh: MeshWatch, state: ProxyWatch): void {
    const entry = mesh.manifest?.proxies[state.key];
    if (!entry) {
      if (state.listeners.size === 0) return; // a subscribe in progress decides for itself
      const reason = mesh.manifest
        ? `${state.key} is no longer in the manifest of mesh ${mesh.mesh}`
        : `the manifest of mesh ${mesh.mesh} is gone`;
      this.options.logger.info('proxy left its mesh; ending its streams', { mesh: mesh.mesh, proxy: state.key, reason });
      const listeners = [...state.listeners];
      state.listeners.clear();
      for (const listener of listeners) listener.gone(reason);
      this.release(mesh, state);
      return;
    }
    state.wanted = entry;
    if (state.served?.entry.key === entry.key) {
      state.served.confirmedAt = this.now();
      return;
    }
    if (state.loading && sameEntry(state.loading.entry, entry)) return;
    // An entry that failed is retried with backoff; a new entry is tried at once.
    if (state.failure && sameEntry(state.failure.entry, entry) && this.now() < state.failure.retryAt) return;
    this.load(mesh, state, entry);
  }

  /** Loads a snapshot for a proxy and, if it is still the one wanted, serves it. */
  private load(mesh: MeshWatch, state: ProxyWatch, entry: ManifestEntry): { entry: ManifestEntry; promise: Promise<void> } {
    const { logger, metrics } = this.options;
    const promise = this.fetchSnapshot(entry)
      .then((snapshot) => {
        // Never serve a proxy anything but its own snapshot, whatever the manifest says.
        if (snapshot.proxy !== state.nodeId || snapshot.version !== entry.version) {
          throw new Error(
            `snapshot ${entry.key} is for ${snapshot.proxy} version ${snapshot.version}, expected ${state.nodeId} version ${entry.version}`,
          );
        }
        return snapshot;
      })
      .then(
        (snapshot) => {
          state.failure = undefined;
          // Superseded while loading: drop it, unless nothing is served yet (older beats nothing).
          if (state.served && !(state.wanted && sameEntry(state.wanted, entry))) return;
          const previous = state.served?.snapshot.version;
          const delivery = ++this.deliveries;
          state.served = { entry, snapshot, confirmedAt: this.now(), delivery };
          logger.info('snapshot loaded', { mesh: mesh.mesh, proxy: state.key, version: snapshot.version, previous });
          for (const listener of [...state.listeners]) listener.snapshot(snapshot, delivery);
        },
        (error: unknown) => {
          const count = state.failure && sameEntry(state.failure.entry, entry) ? state.failure.count + 1 : 1;
          const backoff = Math.min(this.options.pollIntervalMs * 2 ** count, this.options.maxRetryMs ?? 30_000);
          state.failure = { entry, count, retryAt: this.now() + backoff, message: message(error) };
          metrics.snapshotLoadErrors.inc({ mesh: mesh.mesh });
          logger.error('snapshot load failed; serving the last good snapshot', {
            mesh: mesh.mesh,
            proxy: state.key,
            key: entry.key,
            served: state.served?.snapshot.version,
            retryInMs: backoff,
            error: message(error),
          });
        },
      )
      .finally(() => {
        if (state.loading?.promise === promise) state.loading = undefined;
      });
    state.loading = { entry, promise };
    return state.loading;
  }

  /** One GET per snapshot at a time, answered from the cache when it was loaded recently. */
  private fetchSnapshot(entry: ManifestEntry): Promise<Snapshot> {
    // Keyed with the checksum too: an entry naming a key with a wrong checksum must fail on its
    // own, not be answered by (or poison) the load of the good one.
    const id = `${entry.key}#${entry.sha256}`;
    const cached = this.cache.get(id);
    if (cached) {
      this.cache.delete(id);
      this.cache.set(id, cached);
      return Promise.resolve(cached);
    }
    let load = this.loads.get(id);
    if (!load) {
      load = this.options.store
        .getSnapshot(entry)
        .then((snapshot) => {
          this.remember(id, snapshot);
          return snapshot;
        })
        .finally(() => this.loads.delete(id));
      this.loads.set(id, load);
    }
    return load;
  }

  private remember(key: string, snapshot: Snapshot): void {
    this.cache.set(key, snapshot);
    const limit = this.options.cacheSize ?? 128;
    for (const oldest of this.cache.keys()) {
      if (this.cache.size <= limit) break;
      this.cache.delete(oldest);
    }
  }
}
