import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { S3Client } from '@aws-sdk/client-s3';
import { inject } from 'vitest';
import { SnapshotStore } from '../../shared/store/snapshots.js';

/** How the faulty S3 answers: passes through, fails every request with 503, or never answers. */
export type S3Mode = 'forward' | 'error' | 'hang';

/**
 * An HTTP proxy in front of the local stack's S3 that can be switched, between requests, to
 * fail or to stop answering: S3 outages as a relay sees them.
 */
export interface FaultyS3 {
  endpoint: string;
  mode: S3Mode;
  /** Requests that reached the proxy, by mode at the time. */
  requests: Record<S3Mode, number>;
  /** A snapshot store reading through the proxy, with short timeouts and no retries. */
  store: SnapshotStore;
  close(): Promise<void>;
}

export async function startFaultyS3(): Promise<FaultyS3> {
  const target = new URL(inject('stack').endpoints.s3);
  const sockets = new Set<Socket>();
  const faulty = { mode: 'forward' as S3Mode, requests: { forward: 0, error: 0, hang: 0 } };
  const server: Server = createServer((req, res) => {
    const mode = faulty.mode;
    faulty.requests[mode] += 1;
    if (mode === 'hang') return; // the socket stays open and silent until the client gives up
    if (mode === 'error') {
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>injected by the test</Message></Error>');
      return;
    }
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (response) => {
        res.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const s3 = new S3Client({
    region: inject('stack').region,
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 300, requestTimeout: 300, throwOnRequestTimeout: true },
  });
  return Object.assign(faulty, {
    endpoint,
    store: new SnapshotStore(s3, inject('stack').bucketName),
    close: async () => {
      s3.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}
