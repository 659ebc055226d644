import type { MeshTraffic } from '../shared/mesh/traffic.js';
import { callExtension, type Signer } from './signed-fetch.js';

/** Reads a mesh's traffic per edge over the last `seconds` from Meshline's API extension. */
export function fetchTraffic(endpoint: string, meshName: string, seconds: number | undefined, signer?: Signer): Promise<MeshTraffic> {
  const query = seconds === undefined ? '' : `?seconds=${seconds}`;
  return callExtension(endpoint, `/meshline/v1/meshes/${encodeURIComponent(meshName)}/traffic${query}`, {}, signer);
}

const figure = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/**
 * The human form: one row per edge, most requests first, with requests per second over the
 * span, the error rate and latency quantiles where a proxy reported them.
 */
export function formatTraffic(traffic: MeshTraffic): string {
  const title = `mesh ${traffic.meshName}: last ${traffic.seconds} s (windows of ${traffic.windowSeconds} s from ${traffic.from})`;
  if (traffic.traffic === 'not recorded') return `${title}\n  relays record no traffic: set MESHLINE_TRAFFIC_TABLE`;
  if (traffic.edges.length === 0) return `${title}\n  no traffic reported`;
  const span = Math.max(1, (Date.parse(traffic.to) - Date.parse(traffic.from)) / 1000);
  const rows = traffic.edges.map((e) => [
    e.source,
    e.target,
    figure(e.requests),
    figure(e.requests / span, 1),
    figure(e.successes),
    figure(e.errors),
    `${figure(e.errorRate, 2)}%`,
    figure(e.inProgress),
    e.latencyMs ? `${figure(e.latencyMs.p50, 1)}/${figure(e.latencyMs.p90, 1)}/${figure(e.latencyMs.p99, 1)}` : '-',
  ]);
  const header = ['SOURCE', 'TARGET', 'REQUESTS', 'RPS', 'OK', 'ERRORS', 'ERROR RATE', 'ACTIVE', 'P50/P90/P99 MS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  // Names left-aligned, figures right-aligned.
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  return [title, `  ${line(header)}`, ...rows.map((r) => `  ${line(r)}`)].join('\n');
}
