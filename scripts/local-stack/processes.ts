import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { StackLog } from './log.js';

/** A failure the user can act on; its message is one line that says what to do. */
export class StackError extends Error {
  override name = 'StackError';
}

/** A child process of the stack, leading its own process group. */
export interface Part {
  name: string;
  child: ChildProcess;
  /** Resolves when the child has exited, for whatever reason. */
  exited: Promise<void>;
  /** Resolves when the child prints a line matching `pattern`. */
  waitForLine(pattern: RegExp): Promise<void>;
}

/** Process groups this process started and has not stopped yet. */
const liveGroups = new Set<number>();
/** Temporary directories to remove if this process dies before removing them. */
const temporaryDirs = new Set<string>();
let watchdog: ChildProcess | undefined;
let exitHookInstalled = false;

/** Kills every live group now. Synchronous, so it can run in an 'exit' handler. */
export function killAllGroupsNow(): void {
  for (const pgid of liveGroups) signalGroup(pgid, 'SIGKILL');
  liveGroups.clear();
}

/**
 * Two safety nets for children outliving this process. An 'exit' handler covers a crash or
 * a process.exit() before stop() finished (vitest exits so on Ctrl-C); it cannot wait, so it
 * sends SIGKILL. The watchdog (watchdog.mjs) covers deaths that run no handler at all.
 */
function track(change: '+' | '-', kind: 'group' | 'dir', value: number | string): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAllGroupsNow);
  }
  if (kind === 'group') {
    if (change === '+') liveGroups.add(Number(value));
    else liveGroups.delete(Number(value));
  } else {
    if (change === '+') temporaryDirs.add(String(value));
    else temporaryDirs.delete(String(value));
  }

  if (change === '+' && watchdog === undefined) watchdog = startWatchdog();
  watchdog?.stdin?.write(`${change}${kind} ${value}\n`);
  if (liveGroups.size === 0 && temporaryDirs.size === 0) {
    // Nothing left to guard: let the watchdog go rather than idle until this process ends.
    watchdog?.stdin?.end();
    watchdog = undefined;
  }
}

function startWatchdog(): ChildProcess {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./watchdog.mjs', import.meta.url))], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.on('error', () => undefined); // without a watchdog, the 'exit' handler still helps
  child.stdin?.on('error', () => undefined);
  // Neither the watchdog nor the pipe to it may keep this process alive.
  child.unref();
  (child.stdin as Socket | null)?.unref();
  return child;
}

/** Removes `dir` if this process dies before it does (see track). */
export function guardTemporaryDir(dir: string): void {
  track('+', 'dir', dir);
}

/** Removes `dir` now, and from the watchdog's list. */
export function removeTemporaryDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  track('-', 'dir', dir);
}

/**
 * Starts a child in its own process group (detached), so stopping it can signal the whole
 * group: osls and DynamoDB Local leave grandchildren (esbuild, the JVM) behind otherwise.
 * Its stdout and stderr go to the log line by line under `name`.
 */
export function spawnPart(
  log: StackLog,
  name: string,
  command: string,
  args: string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Part {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const watchers = new Set<{ pattern: RegExp; resolve: () => void }>();
  const onLine = (line: string) => {
    log.line(name, line);
    for (const watcher of watchers) {
      if (watcher.pattern.test(line)) {
        watchers.delete(watcher);
        watcher.resolve();
      }
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
  }

  const exited = new Promise<void>((resolve) => {
    child.once('error', (error) => {
      log.line(name, `failed to start: ${error.message}`);
      resolve();
    });
    child.once('exit', (code, signal) => {
      log.line(name, `exited (${signal ?? `code ${code}`})`);
      resolve();
    });
  });
  if (child.pid !== undefined) track('+', 'group', child.pid);

  return {
    name,
    child,
    exited,
    waitForLine: (pattern) => new Promise((resolve) => watchers.add({ pattern, resolve })),
  };
}

/**
 * Stops a part: SIGTERM to its whole group, SIGKILL if it has not exited after `graceMs`,
 * then waits (bounded) until no process of the group is left.
 */
export async function stopPart(part: Part, graceMs = 5_000): Promise<void> {
  const pgid = part.child.pid;
  if (pgid === undefined) return;
  if (part.child.exitCode === null && part.child.signalCode === null) {
    signalGroup(pgid, 'SIGTERM');
    if (!(await settlesWithin(part.exited, graceMs))) {
      signalGroup(pgid, 'SIGKILL');
      await settlesWithin(part.exited, 2_000);
    }
  }
  // The leader is gone; its group may still hold grandchildren that ignored SIGTERM.
  if (!(await groupGoneWithin(pgid, 1_000))) {
    signalGroup(pgid, 'SIGKILL');
    await groupGoneWithin(pgid, 1_000);
  }
  track('-', 'group', pgid);
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

/**
 * Whether any live process is left in the group. On Linux this reads /proc and ignores zombies:
 * an orphan's zombie stays a member until init reaps it, and some container inits never do
 * (osls's esbuild children end up so). Elsewhere, signal 0 to the group tells.
 */
function groupExists(pgid: number): boolean {
  if (existsSync('/proc/self/stat')) {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // exited while we looked
      }
      // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ')'.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') return true;
    }
    return false;
  }
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

async function groupGoneWithin(pgid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (groupExists(pgid)) {
    if (Date.now() > deadline) return false;
    await delay(25);
  }
  return true;
}

async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timeout = new AbortController();
  const timedOut = delay(ms, false, { signal: timeout.signal }).catch(() => false);
  try {
    return await Promise.race([promise.then(() => true), timedOut]);
  } finally {
    timeout.abort();
  }
}

/**
 * Waits until `ready` resolves. Fails with a clear StackError when `part` exits first or
 * `timeoutMs` passes. `ready` gets a signal that is aborted once the wait is over, so a
 * polling loop inside it stops either way.
 */
export async function awaitReady(
  what: string,
  timeoutMs: number,
  part: Part | undefined,
  ready: (signal: AbortSignal) => Promise<void>,
): Promise<void> {
  const done = new AbortController();
  const failures: Promise<never>[] = [
    delay(timeoutMs, undefined, { signal: done.signal }).then(() => {
      throw new StackError(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    }),
  ];
  if (part) {
    failures.push(
      part.exited.then(() => {
        throw new StackError(`${part.name} exited before ${what}; see its output above`);
      }),
    );
  }
  try {
    await Promise.race([ready(done.signal), ...failures]);
  } finally {
    done.abort();
  }
}

/** Calls `check` every `intervalMs` until it returns true; errors count as "not yet". */
export async function pollUntil(
  check: () => Promise<boolean>,
  signal: AbortSignal,
  intervalMs = 100,
): Promise<void> {
  while (!signal.aborted) {
    if (await check().catch(() => false)) return;
    await delay(intervalMs, undefined, { signal }).catch(() => undefined);
  }
}

/** Asks the OS for a free TCP port. Another process could take it before we bind it; rare. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

/**
 * Fails with a clear message when `port` is taken. Without this a stale emulator from an
 * earlier run would answer our readiness checks while our own child dies on EADDRINUSE.
 */
export async function assertPortFree(port: number, what: string, envName: string): Promise<void> {
  const server = createServer();
  // No host: binding the wildcard also collides with a listener on 127.0.0.1 or ::1.
  server.listen(port);
  try {
    await once(server, 'listening');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new StackError(
      `port ${port} (${what}) is ${code === 'EADDRINUSE' ? 'already in use' : `unusable (${code})`}; ` +
        `stop whatever listens there (ss -ltnp 'sport = :${port}') or set ${envName} to another port (0 picks a free one)`,
    );
  }
  server.close();
  await once(server, 'close');
}
