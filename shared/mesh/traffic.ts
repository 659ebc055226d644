import { BadRequestError, NotFoundError } from '../errors.js';
import type { MeshRepository } from '../store/repository.js';
import { edgeTotals, windowStartOf, type EdgeTraffic, type TrafficStore } from '../store/traffic.js';

/** Where traffic is read; absent when the deployment records none. */
export interface TrafficSource {
  store: TrafficStore;
  /** The relays' window length (MESHLINE_TRAFFIC_WINDOW_SECONDS). */
  windowSeconds: number;
  /** How long windows are kept: the longest span that can be asked for. */
  retentionSeconds: number;
}

export interface MeshTrafficDeps {
  repository: MeshRepository;
  traffic?: TrafficSource | undefined;
  now?: () => number;
}

/** What `GET /meshline/v1/meshes/{mesh}/traffic` answers. */
export interface MeshTraffic {
  meshName: string;
  /** The span asked for, in seconds. */
  seconds: number;
  /** The windows read: from the start of the window holding `now - seconds` to now (ISO 8601). */
  from: string;
  to: string;
  windowSeconds: number;
  /** `recorded`, or `not recorded` when the deployment has no traffic table. */
  traffic: 'recorded' | 'not recorded';
  /** One entry per edge that carried traffic in the span, most requests first. */
  edges: EdgeTraffic[];
}

/** The span when none is asked for: the last minute. */
export const DEFAULT_TRAFFIC_SECONDS = 60;

/** `?seconds=N`: a whole number of seconds from 1 to the retention. */
export function trafficSeconds(raw: string | undefined, retentionSeconds: number): number {
  if (raw === undefined) return DEFAULT_TRAFFIC_SECONDS;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) < 1 || Number(raw) > retentionSeconds) {
    throw new BadRequestError(`seconds must be an integer between 1 and ${retentionSeconds}, got: ${JSON.stringify(raw)}`);
  }
  return Number(raw);
}

/**
 * A mesh's traffic per edge over the last `seconds`, as the relays wrote it: the windows that
 * overlap the span, every relay's figures added up. The window still open is not written yet,
 * so the newest figures lag by up to one window and one report interval.
 */
export async function meshTraffic(deps: MeshTrafficDeps, meshName: string, secondsRaw: string | undefined): Promise<MeshTraffic> {
  const retention = deps.traffic?.retentionSeconds ?? Number.MAX_SAFE_INTEGER;
  const seconds = trafficSeconds(secondsRaw, retention);
  const mesh = await deps.repository.get({ kind: 'mesh', meshName, name: meshName });
  if (!mesh) throw new NotFoundError(`Mesh ${meshName} does not exist.`);
  const now = (deps.now ?? Date.now)();
  const windowSeconds = deps.traffic?.windowSeconds ?? 60;
  const from = windowStartOf(now - seconds * 1000, windowSeconds);
  const to = Math.floor(now / 1000) + 1;
  const windows = deps.traffic ? await deps.traffic.store.windows(meshName, from, to) : [];
  return {
    meshName,
    seconds,
    from: new Date(from * 1000).toISOString(),
    to: new Date(now).toISOString(),
    windowSeconds,
    traffic: deps.traffic ? 'recorded' : 'not recorded',
    edges: edgeTotals(windows),
  };
}
