/**
 * A proxyless gRPC client built on gRPC C-core (Debian's python3-grpcio 1.51), driven through
 * test/support/xds_grpc_client.py: a second, independent xDS client implementation next to
 * @grpc/grpc-js-xds. It reads its bootstrap from GRPC_XDS_BOOTSTRAP (a file written here) and
 * carries its per-proxy token in node metadata, as stackProxylessClient's clients do.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WHOAMI_PATH } from './xds-backend.js';

const PYTHON = '/usr/bin/python3';
const DRIVER = fileURLToPath(new URL('./xds_grpc_client.py', import.meta.url));

/**
 * Why C-core cannot be tested here (python3-grpcio not importable), or undefined when it can.
 * `.ci/run` installs the package when it is missing.
 */
export function coreClientMissing(): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import grpc; print(grpc.__version__)'], { encoding: 'utf8' });
  if (probe.error) return `${PYTHON} cannot run (${probe.error.message}); install python3-grpcio`;
  if (probe.status !== 0) return `python3-grpcio is not installed (${PYTHON} -c 'import grpc' failed); apt-get install -y python3-grpcio`;
  return undefined;
}

export interface CoreClientOptions {
  /** The relay's ADS address, `host:port`. */
  relayAddress: string;
  /** `mesh/<mesh>/virtualNode/<name>`. */
  nodeId: string;
  /** The proxy's token, sent as node metadata `meshline.proxyToken`. */
  proxyToken: string;
  /** Extra environment, e.g. `GRPC_TRACE` for debugging. */
  env?: Record<string, string>;
}

/** The outcome of a batch of calls: answers per backend name, failures per status code. */
export interface CallTally {
  answers: Record<string, number>;
  errors: Record<string, number>;
  lastError: string | null;
}

export interface CoreClient {
  /** Makes `calls` Whoami calls one after another on the client's one channel. */
  call(calls: number, options?: { metadata?: Record<string, string>; deadlineMs?: number }): Promise<CallTally>;
  /** What the client process wrote to stderr so far (C-core's log). */
  stderr(): string;
  /** Closes the channel (load not yet reported is lost) and waits for the process to exit. */
  close(): Promise<void>;
}

/** A gRPC xDS bootstrap (gRFC A27) for C-core: the relay, insecure, v3, one node with its token. */
export function coreBootstrap({ relayAddress, nodeId, proxyToken }: CoreClientOptions): object {
  return {
    xds_servers: [{ server_uri: relayAddress, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: nodeId, locality: { region: 'local', zone: 'local-a' }, metadata: { 'meshline.proxyToken': proxyToken } },
  };
}

/** Starts a C-core client of `xds:///<target>`; resolves once the process is ready for commands. */
export async function startCoreClient(target: string, options: CoreClientOptions): Promise<CoreClient> {
  const dir = mkdtempSync(join(tmpdir(), 'meshline-core-client-'));
  const bootstrap = join(dir, 'bootstrap.json');
  writeFileSync(bootstrap, JSON.stringify(coreBootstrap(options)), { mode: 0o600 });
  const child: ChildProcessWithoutNullStreams = spawn(PYTHON, [DRIVER, target, WHOAMI_PATH], {
    env: { ...process.env, GRPC_XDS_BOOTSTRAP: bootstrap, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines = createInterface({ input: child.stdout });
  const pending: ((line: string) => void)[] = [];
  const waiting: string[] = [];
  lines.on('line', (line) => {
    const next = pending.shift();
    if (next) next(line);
    else waiting.push(line);
  });
  const nextLine = () =>
    new Promise<string>((resolve, reject) => {
      const early = waiting.shift();
      if (early !== undefined) return resolve(early);
      pending.push(resolve);
      void exited.then((code) => reject(new Error(`the C-core client exited (${String(code)}):\n${stderr.slice(-2000)}`)));
    });
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    await nextLine();
  } catch (error) {
    cleanup();
    throw error;
  }
  return {
    async call(calls, { metadata, deadlineMs } = {}) {
      child.stdin.write(`${JSON.stringify({ calls, metadata, deadlineMs })}\n`);
      return JSON.parse(await nextLine()) as CallTally;
    },
    stderr: () => stderr,
    async close() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      cleanup();
    },
  };
}
