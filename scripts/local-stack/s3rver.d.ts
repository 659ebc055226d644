// s3rver 3.7 ships no types; this declares the part of its API the local stack uses.
declare module 's3rver' {
  import type { Server } from 'node:http';
  import type { AddressInfo } from 'node:net';

  interface S3rverOptions {
    address?: string;
    /** 0 asks the OS for a free port; run() resolves to the address actually bound. */
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
  }

  export default class S3rver {
    constructor(options?: S3rverOptions);
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
    httpServer?: Server;
    /** Koa's error event: every failed request, S3 errors (404, 304 ...) included. */
    on(event: 'error', listener: (error: Error & { status?: number }) => void): this;
  }
}
