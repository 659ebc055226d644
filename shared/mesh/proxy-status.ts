import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NotFoundError } from '../errors.js';
import type { MeshRepository } from '../store/repository.js';
import type { SnapshotStore } from '../store/snapshots.js';
import { listSyncStatus, type ProxySyncStatus, type SyncTypeName, type TypeSyncStatus } from '../store/sync-status.js';

/** Where the relays record sync status; absent when they record none. */
export interface SyncStatusSource {
  client: DynamoDBDocumentClient;
  tableName: string;
}

export interface ProxyStatusDeps {
  repository: MeshRepository;
  snapshots: SnapshotStore;
  syncStatus?: SyncStatusSource | undefined;
  now?: () => number;
}

/** One connected stream of a proxy, as its relay last recorded it. */
export interface ProxyConnection {
  instance: string;
  relay: string;
  nodeId: string;
  protocol: 'sotw' | 'delta';
  peer: string;
  userAgent?: string | undefined;
  connectedAt: string;
  /** The snapshot version the relay serves this stream. */
  servedVersion?: string | undefined;
  /** Every type's latest response was ACKed, and what is served is the latest compile. */
  inSync: boolean;
  types: Partial<Record<SyncTypeName, TypeSyncStatus>>;
  /** The most recent NACK of any type. */
  lastNack?: (NonNullable<TypeSyncStatus['nack']> & { type: SyncTypeName }) | undefined;
  updatedAt: string;
}

/** A proxy of the mesh: what it should run, why it cannot (if so), and what its streams run. */
export interface ProxyStatus {
  /** `virtualNode/<name>` or `virtualGateway/<name>`. */
  proxy: string;
  /** The version of its latest compiled snapshot; absent if it was never compiled or is gone. */
  latestVersion?: string | undefined;
  /** Why its latest change did not compile (it keeps its last good snapshot). */
  compileError?: string | undefined;
  connections: ProxyConnection[];
}

function lastNack(types: ProxySyncStatus['types']): ProxyConnection['lastNack'] {
  let latest: ProxyConnection['lastNack'];
  for (const [type, status] of Object.entries(types) as [SyncTypeName, TypeSyncStatus][]) {
    if (status.nack && (!latest || status.nack.at > latest.at)) latest = { ...status.nack, type };
  }
  return latest;
}

function connection(status: ProxySyncStatus, latestVersion: string | undefined): ProxyConnection {
  const acked = Object.values(status.types).every((t) => t.sent === undefined || t.sent === t.acked);
  return {
    instance: status.instance,
    relay: status.relay,
    nodeId: status.nodeId,
    protocol: status.protocol,
    peer: status.peer,
    userAgent: status.userAgent,
    connectedAt: status.connectedAt,
    servedVersion: status.snapshotVersion,
    inSync: acked && status.snapshotVersion !== undefined && status.snapshotVersion === latestVersion,
    types: status.types,
    lastNack: lastNack(status.types),
    updatedAt: status.updatedAt,
  };
}

/**
 * Which proxies of a mesh run which configuration, as `istioctl proxy-status` shows for Istio:
 * the latest compiled version of every proxy (from the mesh manifest), and for every connected
 * stream the version its relay serves, what it ACKed per type, and its last NACK.
 */
export async function proxyStatus(deps: ProxyStatusDeps, meshName: string): Promise<{ meshName: string; syncStatus: 'recorded' | 'not recorded'; proxies: ProxyStatus[] }> {
  const mesh = await deps.repository.get({ kind: 'mesh', meshName, name: meshName });
  if (!mesh) throw new NotFoundError(`Mesh ${meshName} does not exist.`);
  const [manifest, statuses] = await Promise.all([
    deps.snapshots.getManifest(meshName),
    deps.syncStatus ? listSyncStatus(deps.syncStatus.client, deps.syncStatus.tableName, meshName, (deps.now ?? Date.now)()) : Promise.resolve([]),
  ]);
  const proxies = new Map<string, ProxyStatus>();
  const entry = (proxy: string): ProxyStatus => {
    let found = proxies.get(proxy);
    if (!found) {
      found = {
        proxy,
        latestVersion: manifest?.proxies[proxy]?.version,
        compileError: manifest?.errors[proxy],
        connections: [],
      };
      proxies.set(proxy, found);
    }
    return found;
  };
  for (const proxy of Object.keys(manifest?.proxies ?? {})) entry(proxy);
  for (const proxy of Object.keys(manifest?.errors ?? {})) entry(proxy);
  for (const status of statuses) {
    const proxy = entry(status.proxy);
    proxy.connections.push(connection(status, proxy.latestVersion));
  }
  return {
    meshName,
    syncStatus: deps.syncStatus ? 'recorded' : 'not recorded',
    proxies: [...proxies.values()].sort((a, b) => (a.proxy < b.proxy ? -1 : 1)),
  };
}
