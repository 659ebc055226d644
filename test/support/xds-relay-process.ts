import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { inject, onTestFinished } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A relay running as its own process, as in the local stack and in a container. */
export interface RelayProcess {
  child: ChildProcess;
  /** Every stderr line, parsed. */
  lines: Record<string, unknown>[];
  /** Every stdout line as written (EMF lines with MESHLINE_TRAFFIC_EMF=on). */
  stdout: string[];
  /** Resolves with the first log line (already written or to come) whose msg is `msg`. */
  waitForLog(msg: string): Promise<Record<string, unknown>>;
  /** The `relay listening` line's ADS and admin addresses. */
  listening(): Promise<{ ads: string; admin: string }>;
  exited: Promise<number | null>;
}

/**
 * Spawns the relay (`relay/main.ts` through tsx, or `command` such as a built bundle) against
 * the local stack's bucket on free ports, with `env` on top. Killed when the test ends.
 */
export function spawnRelay(env: Record<string, string | undefined>, command: string[] = ['--import', 'tsx', 'relay/main.ts']): RelayProcess {
  const stack = inject('stack');
  const child = spawn(process.execPath, command, {
    cwd: ROOT,
    env: {
      ...process.env,
      AWS_REGION: stack.region,
      MESHLINE_S3_ENDPOINT: stack.endpoints.s3,
      MESHLINE_BUCKET: stack.bucketName,
      MESHLINE_RELAY_PORT: '0',
      MESHLINE_RELAY_ADMIN_PORT: '0',
      MESHLINE_MANIFEST_POLL_MS: '50',
      // Access keys are tested in-process (relay-auth.test.ts); a test passes its own to turn them on.
      MESHLINE_RELAY_AUTH: 'off',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (text) => stdout.push(text));
  const lines: Record<string, unknown>[] = [];
  const waiters: { msg: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  createInterface({ input: child.stderr! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      line = { msg: '(not JSON)', text };
    }
    lines.push(line);
    for (const waiter of waiters.filter((w) => w.msg === line.msg)) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const waitForLog = (msg: string) => {
    const seen = lines.find((line) => line.msg === msg);
    if (seen) return Promise.resolve(seen);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      waiters.push({ msg, resolve });
      void exited.then((code) => reject(new Error(`relay exited (${code}) before logging "${msg}": ${JSON.stringify(lines)}`)));
    });
  };
  return {
    child,
    lines,
    stdout,
    exited,
    waitForLog,
    listening: async () => {
      const line = await waitForLog('relay listening');
      return { ads: String(line.ads), admin: String(line.admin) };
    },
  };
}
