/** The fleet of the relay benchmark, shared by its processes: proxies, services, snapshots. */
import { buildSnapshot, type Snapshot } from '../../shared/store/snapshots.js';
import { nodeIdOf, type ProxyId } from '../../shared/xds/node-id.js';
import { proxySnapshot } from '../support/xds-fixtures.js';

/** How big the benchmark is; set by the orchestrator (relay.ts) from the environment. */
export interface FleetSize {
  streams: number;
  proxies: number;
  /** Services per proxy: one cluster, endpoint set, listener and route configuration each. */
  services: number;
  rounds: number;
}

export const MESH = 'bench';

export function proxyAt(index: number): ProxyId {
  return { mesh: MESH, kind: 'virtualNode', name: `node-${index}` };
}

export function nodeIdAt(index: number): string {
  return nodeIdOf(proxyAt(index));
}

export function serviceNames(size: FleetSize): string[] {
  return Array.from({ length: size.services }, (_, i) => `service-${i}.bench.local`);
}

/** A proxy's snapshot in generation `generation`: every service's endpoint port moves with it (an EDS change). */
export function snapshotOf(size: FleetSize, index: number, generation: number): Snapshot {
  const proxy = proxyAt(index);
  const base = proxySnapshot(
    proxy,
    serviceNames(size).map((name, s) => ({ name, endpoints: [{ host: '10.0.0.1', port: 10_000 + s * 10 + (generation % 10) }] })),
  );
  // Every service's cluster leads to a virtual node of its own, for the load reports of the telemetry benchmark.
  const targets = Object.fromEntries(serviceNames(size).map((name, s) => [name, `virtualNode/service-${s}`]));
  return buildSnapshot(nodeIdOf(proxy), base.resources, targets);
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export function wallClock(): number {
  return performance.timeOrigin + performance.now();
}
