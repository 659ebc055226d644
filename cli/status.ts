import type { ProxyStatus } from '../shared/mesh/proxy-status.js';
import { callExtension, type Signer } from './signed-fetch.js';

/** What `GET /meshline/v1/meshes/{mesh}/proxyStatus` answers. */
export interface MeshProxyStatus {
  meshName: string;
  syncStatus: 'recorded' | 'not recorded';
  proxies: ProxyStatus[];
}

/** Reads a mesh's proxy status from Meshline's API extension, signed like the App Mesh calls. */
export function fetchProxyStatus(endpoint: string, meshName: string, signer?: Signer): Promise<MeshProxyStatus> {
  return callExtension(endpoint, `/meshline/v1/meshes/${encodeURIComponent(meshName)}/proxyStatus`, {}, signer);
}

/** Every NACK the proxies of a mesh report for their latest versions, as one line each. */
export function nacks(status: MeshProxyStatus): string[] {
  const lines: string[] = [];
  for (const proxy of status.proxies) {
    for (const connection of proxy.connections) {
      if (connection.lastNack) {
        lines.push(`${proxy.proxy} (${connection.instance}): ${connection.lastNack.type} NACK of ${connection.lastNack.version}: ${connection.lastNack.message}`);
      }
    }
  }
  return lines;
}

const short = (version: string | undefined) => (version ? version.slice(0, 8) : '-');

/** The human form: one line per proxy, one indented line per connected stream. */
export function formatStatus(status: MeshProxyStatus): string {
  const lines = [`mesh ${status.meshName}${status.syncStatus === 'recorded' ? '' : ' (relays record no sync status: set MESHLINE_SYNC_TABLE)'}`];
  if (status.proxies.length === 0) lines.push('  no proxies');
  const width = Math.max(5, ...status.proxies.map((p) => p.proxy.length));
  lines.push(`  ${'PROXY'.padEnd(width)}  LATEST    STREAMS`);
  for (const proxy of status.proxies) {
    const inSync = proxy.connections.filter((c) => c.inSync).length;
    lines.push(`  ${proxy.proxy.padEnd(width)}  ${short(proxy.latestVersion).padEnd(8)}  ${proxy.connections.length} connected, ${inSync} in sync${proxy.compileError ? `  COMPILE ERROR: ${proxy.compileError}` : ''}`);
    for (const c of proxy.connections) {
      const types = (['clusters', 'endpoints', 'listeners', 'routes'] as const)
        .map((t) => {
          const s = c.types[t];
          if (!s?.sent) return null;
          return `${t.slice(0, 3).toUpperCase()} ${s.acked === s.sent ? 'ACKED' : 'SENT'}`;
        })
        .filter(Boolean)
        .join(' ');
      lines.push(`    ${c.peer} ${c.protocol} via ${c.relay}: serves ${short(c.servedVersion)} ${c.inSync ? 'SYNCED' : 'STALE'}  ${types}`);
      if (c.lastNack) lines.push(`      last NACK (${c.lastNack.type}, ${c.lastNack.at}): ${c.lastNack.message}`);
    }
  }
  return lines.join('\n');
}
