import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';

/** A certificate and its key, as PEM files and their contents. */
export interface IssuedCert {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

/** A throwaway CA in a temporary directory; nothing of it outlives the test run. */
export interface TestCa {
  dir: string;
  caFile: string;
  ca: Buffer;
  /** Issues a certificate with these subjectAltName entries (e.g. `URI:mesh/m/virtualNode/n`, `DNS:localhost`). */
  issue(name: string, subjectAltNames: string[], usage: 'serverAuth' | 'clientAuth'): IssuedCert;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** Creates a CA with `openssl` (present on the machine), valid for a day. */
export function createTestCa(label = 'meshline-test'): TestCa {
  const dir = mkdtempSync(join(tmpdir(), `${label}-pki-`));
  openssl(
    ['req', '-x509', ...EC_KEY, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', `/CN=${label} CA`, '-days', '1',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'],
    dir,
  );
  const caFile = join(dir, 'ca.crt');
  return {
    dir,
    caFile,
    ca: readFileSync(caFile),
    issue(name, subjectAltNames, usage) {
      writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${subjectAltNames.join(',')}\nextendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`);
      openssl(['req', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
      openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`], dir);
      const certFile = join(dir, `${name}.crt`);
      const keyFile = join(dir, `${name}.key`);
      return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Channel credentials trusting `ca`, presenting `client` when given (mTLS). */
export function tlsCredentials(ca: Buffer, client?: IssuedCert): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(ca, client?.key ?? null, client?.cert ?? null);
}
