import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from './log.js';

/** PEM files of the relay's TLS identity and, for mTLS, the CA its clients' certificates chain to. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** With it, clients are asked for a certificate signed by this CA (mTLS). */
  clientCaFile?: string | undefined;
}

function read(files: TlsFiles): { cert: Buffer; key: Buffer; ca?: Buffer } {
  return {
    cert: readFileSync(files.certFile),
    key: readFileSync(files.keyFile),
    ...(files.clientCaFile ? { ca: readFileSync(files.clientCaFile) } : {}),
  };
}

/**
 * Server credentials from PEM files, re-read every `reloadMs` so rotated certificates (a
 * renewed Kubernetes secret, an ACM export) take effect on new connections without a restart.
 *
 * With a client CA the handshake asks for a client certificate but does not fail without one
 * (`rejectUnauthorized: false`): a client with no certificate, or one the CA did not sign, gets
 * a gRPC UNAUTHENTICATED status that says so, rather than a bare TLS failure. Such a connection
 * is never served: the relay checks the verified certificate of every stream (access.ts).
 */
export class RelayTlsCredentials extends grpc.ServerCredentials {
  private current: string;
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly files: TlsFiles,
    private readonly logger: Logger,
    reloadMs = 60_000,
  ) {
    const loaded = read(files);
    super({ requestCert: loaded.ca !== undefined, rejectUnauthorized: false }, loaded);
    this.current = fingerprint(loaded);
    if (reloadMs > 0) {
      this.timer = setInterval(() => this.reload(), reloadMs);
      this.timer.unref();
    }
  }

  /** Reads the files again and, if they changed, serves new connections with them. */
  reload(): void {
    let loaded: ReturnType<typeof read>;
    try {
      loaded = read(this.files);
    } catch (error) {
      this.logger.error('TLS files unreadable; keeping the loaded certificates', { error });
      return;
    }
    const next = fingerprint(loaded);
    if (next === this.current) return;
    this.current = next;
    this.updateSecureContextOptions(loaded);
    this.logger.info('TLS certificates reloaded', { cert: this.files.certFile });
  }

  close(): void {
    clearInterval(this.timer);
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

function fingerprint(loaded: { cert: Buffer; key: Buffer; ca?: Buffer }): string {
  return [loaded.cert, loaded.key, loaded.ca ?? Buffer.alloc(0)].map((b) => b.toString('base64')).join('|');
}
