import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { RESOURCE_TYPE_URLS, type ResourceTypeUrl } from '../xds/type-urls.js';

/** One encoded xDS resource: its name, a version (hash of its bytes) and the bytes themselves. */
export interface SnapshotResource {
  name: string;
  version: string;
  value: Uint8Array;
  /**
   * Served only to clients that subscribe to it by name, never in a wildcard response: the
   * `api_listener`s of proxyless gRPC clients, which an Envoy sidecar must not receive.
   */
  onlyByName?: boolean;
}

/** Everything one proxy is served, encoded once at compile time. */
export interface Snapshot {
  /** The proxy's canonical node id, `mesh/<mesh>/<kind>/<name>`. */
  proxy: string;
  /** Hash of every resource version: equal snapshots have equal versions. */
  version: string;
  resources: Record<ResourceTypeUrl, SnapshotResource[]>;
  /**
   * The virtual node behind every cluster name the proxy may report load on: its egress
   * clusters, their EDS service names and their proxyless `_grpc` variants, each to
   * `virtualNode/<name>`. Empty in snapshots written before load reporting existed.
   */
  targets: Record<string, string>;
}

/** Where a proxy's current snapshot lives, as the mesh manifest lists it. */
export interface ManifestEntry {
  key: string;
  version: string;
  sha256: string;
}

/**
 * The pointer to every current snapshot of a mesh. Written after the snapshots it names, so a
 * reader never sees an entry whose object is missing.
 */
export interface Manifest {
  mesh: string;
  /** Keyed by `virtualNode/<name>` or `virtualGateway/<name>`. */
  proxies: Record<string, ManifestEntry>;
  /** Proxies whose last compile failed, with why; they keep their last good entry above. */
  errors: Record<string, string>;
}

const SNAPSHOT_FORMAT = 'meshline.snapshot/v1';
const MANIFEST_FORMAT = 'meshline.manifest/v1';

/** Thrown when an object in the bucket is missing, unreadable or fails its checksum. */
export class SnapshotStoreError extends Error {
  override name = 'SnapshotStoreError';
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The version of a resource or snapshot: a short content hash. */
export function contentVersion(bytes: Uint8Array | string): string {
  return sha256Hex(bytes).slice(0, 16);
}

/**
 * Builds a snapshot from encoded resources, sorting each type by name (and the targets by
 * cluster name) so equal input gives equal bytes.
 */
export function buildSnapshot(
  proxy: string,
  encoded: Partial<Record<ResourceTypeUrl, { name: string; value: Uint8Array; onlyByName?: boolean; version?: string }[]>>,
  targets: Record<string, string> = {},
): Snapshot {
  const resources = {} as Record<ResourceTypeUrl, SnapshotResource[]>;
  for (const typeUrl of RESOURCE_TYPE_URLS) {
    // A caller that encodes one resource for many snapshots may pass its version along.
    resources[typeUrl] = [...(encoded[typeUrl] ?? [])]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map(({ name, value, onlyByName, version }) => ({ name, value, version: version ?? contentVersion(value), ...(onlyByName ? { onlyByName } : {}) }));
  }
  const sortedTargets = sortedRecord(targets);
  // Targets follow from cluster names, so within one compiler they change only with the
  // resources. They are hashed anyway, appended only when there are any: a snapshot written
  // before targets existed has the same resources and would otherwise keep its version, and
  // the publisher keeps (never rewrites) a snapshot whose version is unchanged, so its targets
  // would stay empty. A proxy with no targets keeps the version it always had.
  const targetLines = Object.entries(sortedTargets).map(([cluster, node]) => `target|${cluster}|${node}`);
  const version = contentVersion(
    [
      ...RESOURCE_TYPE_URLS.map((t) => resources[t].map((r) => `${t}|${r.name}|${r.version}|${r.onlyByName ? 'named' : ''}`).join('\n')),
      ...(targetLines.length ? [targetLines.join('\n')] : []),
    ].join('\n'),
  );
  return { proxy, version, resources, targets: sortedTargets };
}

function sortedRecord<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.keys(record).sort().map((k) => [k, record[k] as T]));
}

/** The serialized form of a snapshot (JSON; resource bytes in base64). */
export function serializeSnapshot(snapshot: Snapshot): string {
  const resources: Record<string, { name: string; version: string; value: string; onlyByName?: boolean }[]> = {};
  for (const typeUrl of RESOURCE_TYPE_URLS) {
    resources[typeUrl] = snapshot.resources[typeUrl].map((r) => ({
      name: r.name,
      version: r.version,
      value: Buffer.from(r.value).toString('base64'),
      ...(r.onlyByName ? { onlyByName: true } : {}),
    }));
  }
  return JSON.stringify({ format: SNAPSHOT_FORMAT, proxy: snapshot.proxy, version: snapshot.version, resources, targets: sortedRecord(snapshot.targets) });
}

/** Parses a serialized snapshot; throws SnapshotStoreError on anything malformed. */
export function parseSnapshot(body: string): Snapshot {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new SnapshotStoreError('snapshot is not JSON');
  }
  const doc = parsed as { format?: unknown; proxy?: unknown; version?: unknown; resources?: Record<string, unknown>; targets?: unknown };
  if (doc.format !== SNAPSHOT_FORMAT || typeof doc.proxy !== 'string' || typeof doc.version !== 'string') {
    throw new SnapshotStoreError(`snapshot is not in format ${SNAPSHOT_FORMAT}`);
  }
  const resources = {} as Record<ResourceTypeUrl, SnapshotResource[]>;
  for (const typeUrl of RESOURCE_TYPE_URLS) {
    const list = doc.resources?.[typeUrl] ?? [];
    if (!Array.isArray(list)) throw new SnapshotStoreError(`snapshot resources of ${typeUrl} are not a list`);
    resources[typeUrl] = list.map((r: { name?: unknown; version?: unknown; value?: unknown; onlyByName?: unknown }) => {
      if (typeof r.name !== 'string' || typeof r.version !== 'string' || typeof r.value !== 'string') {
        throw new SnapshotStoreError(`snapshot resource of ${typeUrl} is malformed`);
      }
      const value = Buffer.from(r.value, 'base64');
      return { name: r.name, version: r.version, value, ...(r.onlyByName === true ? { onlyByName: true } : {}) };
    });
  }
  return { proxy: doc.proxy, version: doc.version, resources, targets: parseTargets(doc.targets) };
}

/**
 * A snapshot's targets, leniently: absent (a snapshot from before load reporting) is empty,
 * and an entry that is not a string to a string is dropped (its load is then refused, as for
 * any cluster with no target) rather than failing the whole snapshot.
 */
function parseTargets(value: unknown): Record<string, string> {
  const targets: Record<string, string> = {};
  if (!value || typeof value !== 'object' || Array.isArray(value)) return targets;
  for (const [cluster, node] of Object.entries(value as Record<string, unknown>)) {
    if (typeof node === 'string') targets[cluster] = node;
  }
  return targets;
}

function meshPrefix(mesh: string): string {
  return encodeURIComponent(mesh);
}

/** The key of a mesh's manifest. */
export function manifestKey(mesh: string): string {
  return `manifests/${meshPrefix(mesh)}.json`;
}

function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

function isNotModified(error: unknown): boolean {
  return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 304;
}

/** Reads and writes snapshots and manifests in one bucket. */
export class SnapshotStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  /**
   * Writes a snapshot under a content-addressed key (immutable: the same content always lands on
   * the same key) with its human-readable JSON twin beside it. Returns its manifest entry.
   */
  async putSnapshot(mesh: string, snapshot: Snapshot, twin: unknown): Promise<ManifestEntry> {
    const body = serializeSnapshot(snapshot);
    const sha256 = sha256Hex(body);
    const key = `snapshots/${meshPrefix(mesh)}/${sha256}.json`;
    await this.put(`snapshots/${meshPrefix(mesh)}/${sha256}.twin.json`, JSON.stringify(twin, null, 2));
    await this.put(key, body);
    return { key, version: snapshot.version, sha256 };
  }

  /** Reads a snapshot and checks it against the checksum its manifest entry carries. */
  async getSnapshot(entry: ManifestEntry): Promise<Snapshot> {
    const body = await this.get(entry.key);
    if (body === undefined) throw new SnapshotStoreError(`snapshot ${entry.key} is missing`);
    const actual = sha256Hex(body);
    if (actual !== entry.sha256) {
      throw new SnapshotStoreError(`snapshot ${entry.key} fails its checksum (expected ${entry.sha256}, got ${actual})`);
    }
    return parseSnapshot(body);
  }

  async putManifest(manifest: Manifest): Promise<void> {
    await this.put(manifestKey(manifest.mesh), serializeManifest(manifest));
  }

  /** Writes the manifest unless it is byte-for-byte the one already there (relays then see no change). */
  async putManifestIfChanged(manifest: Manifest, previous: Manifest | undefined): Promise<boolean> {
    if (previous && serializeManifest(previous) === serializeManifest(manifest)) return false;
    await this.putManifest(manifest);
    return true;
  }

  /** The manifest of a mesh, or undefined when the mesh has none. */
  async getManifest(mesh: string): Promise<Manifest | undefined> {
    const result = await this.getManifestIfChanged(mesh, undefined);
    return result.status === 'found' ? result.manifest : undefined;
  }

  /**
   * A conditional GET of a mesh's manifest: `unchanged` when its ETag still matches, `missing`
   * when there is none, else the manifest and its new ETag.
   */
  async getManifestIfChanged(
    mesh: string,
    etag: string | undefined,
  ): Promise<{ status: 'unchanged' } | { status: 'missing' } | { status: 'found'; manifest: Manifest; etag: string | undefined }> {
    try {
      const response = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: manifestKey(mesh), ...(etag ? { IfNoneMatch: etag } : {}) }),
      );
      const body = await response.Body?.transformToString('utf8');
      if (body === undefined) throw new SnapshotStoreError(`manifest of mesh ${mesh} has no body`);
      return { status: 'found', manifest: parseManifest(body, mesh), etag: response.ETag };
    } catch (error) {
      if (isNotModified(error)) return { status: 'unchanged' };
      if (isNotFound(error)) return { status: 'missing' };
      throw error;
    }
  }

  private async put(key: string, body: string): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json' }),
    );
  }

  private async get(key: string): Promise<string | undefined> {
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await response.Body?.transformToString('utf8');
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}

/** Manifests are written with sorted keys so an unchanged mesh writes identical bytes. */
export function serializeManifest(manifest: Manifest): string {
  const sorted = <T>(record: Record<string, T>) =>
    Object.fromEntries(Object.keys(record).sort().map((k) => [k, record[k] as T]));
  return JSON.stringify({
    format: MANIFEST_FORMAT,
    mesh: manifest.mesh,
    proxies: sorted(manifest.proxies),
    errors: sorted(manifest.errors),
  });
}

export function parseManifest(body: string, mesh: string): Manifest {
  let doc: { format?: unknown; mesh?: unknown; proxies?: unknown; errors?: unknown };
  try {
    doc = JSON.parse(body) as typeof doc;
  } catch {
    throw new SnapshotStoreError(`manifest of mesh ${mesh} is not JSON`);
  }
  if (doc.format !== MANIFEST_FORMAT || doc.mesh !== mesh || typeof doc.proxies !== 'object' || doc.proxies === null) {
    throw new SnapshotStoreError(`manifest of mesh ${mesh} is not in format ${MANIFEST_FORMAT}`);
  }
  return {
    mesh,
    proxies: doc.proxies as Record<string, ManifestEntry>,
    errors: (doc.errors ?? {}) as Record<string, string>,
  };
}
