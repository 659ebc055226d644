import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsRegistry } from './metrics.js';

export interface AdminServer {
  /** `http://host:port` */
  url: string;
  close(): Promise<void>;
}

export interface AdminOptions {
  host: string;
  port: number;
  /** Whether the relay can take streams: /readyz answers 200 only then. */
  ready: () => boolean;
  metrics: MetricsRegistry;
}

/** `host:port` with IPv6 hosts bracketed, as URLs and gRPC targets need. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * The relay's admin endpoints: `/healthz` (the process is up), `/readyz` (the gRPC server is
 * bound and not shutting down) and `/metrics` (Prometheus text format).
 */
export async function startAdmin(options: AdminOptions): Promise<AdminServer> {
  const server: Server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://admin').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ready = options.ready();
      response.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(ready ? 'ready\n' : 'not ready\n');
    } else if (path === '/metrics') {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(options.metrics.render());
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${hostPort(options.host, port)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Scrapers keep connections alive; do not wait for them to go.
        server.closeAllConnections();
      }),
  };
}
