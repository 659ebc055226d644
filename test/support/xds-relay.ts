import type { S3Client } from '@aws-sdk/client-s3';
import { inject, onTestFinished } from 'vitest';
import { createS3Client } from '../../shared/store/clients.js';
import { SnapshotStore } from '../../shared/store/snapshots.js';
import type { LogFields, Logger } from '../../relay/log.js';
import { startRelay, type Relay, type RelayOptions } from '../../relay/server.js';

/** One log line the relay wrote. */
export interface LogEntry extends LogFields {
  level: string;
  msg: string;
}

/** A relay logger for tests: keeps every entry, and lets a test await one. */
export class LogRecorder implements Logger {
  readonly entries: LogEntry[] = [];
  private readonly waiters = new Set<{ match: (entry: LogEntry) => boolean; resolve: (entry: LogEntry) => void }>();

  debug = (msg: string, fields?: LogFields) => this.record('debug', msg, fields);
  info = (msg: string, fields?: LogFields) => this.record('info', msg, fields);
  warn = (msg: string, fields?: LogFields) => this.record('warn', msg, fields);
  error = (msg: string, fields?: LogFields) => this.record('error', msg, fields);

  /** Resolves with the first entry (already logged or to come) that matches. */
  waitFor(match: (entry: LogEntry) => boolean, timeoutMs = 10_000): Promise<LogEntry> {
    const logged = this.entries.find(match);
    if (logged) return Promise.resolve(logged);
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve: (entry: LogEntry) => (clearTimeout(timer), resolve(entry)) };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching relay log entry within ${timeoutMs} ms; logged:\n${this.entries.map((e) => JSON.stringify(e)).join('\n')}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  private record(level: string, msg: string, fields: LogFields = {}): void {
    const entry: LogEntry = { ...fields, level, msg };
    this.entries.push(entry);
    for (const waiter of this.waiters) {
      if (waiter.match(entry)) {
        this.waiters.delete(waiter);
        waiter.resolve(entry);
      }
    }
  }
}

/** A client and store for the local stack's bucket (tests keep apart by unique mesh names). */
export function stackBucket(): { s3: S3Client; store: SnapshotStore; bucket: string } {
  const stack = inject('stack');
  const s3 = createS3Client({
    region: stack.region,
    s3Endpoint: stack.endpoints.s3,
    // s3rver accepts only this pair; LocalStack accepts any.
    s3Credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  return { s3, store: new SnapshotStore(s3, stack.bucketName), bucket: stack.bucketName };
}

/** An in-process relay on free ports over the stack's bucket, with its logs recorded. */
export interface TestRelay {
  relay: Relay;
  store: SnapshotStore;
  s3: S3Client;
  bucket: string;
  logs: LogRecorder;
  /** The current value of a metric series from /metrics (0 when absent). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

/**
 * Starts a relay on free ports (unless `port` says otherwise) over the stack's bucket, or over
 * `store` (e.g. a faulty S3), with any other relay option.
 */
export async function startTestRelay(options: Partial<Omit<RelayOptions, 'logger'>> = {}): Promise<TestRelay> {
  const { s3, store, bucket } = stackBucket();
  const logs = new LogRecorder();
  const relay = await startRelay({ host: '127.0.0.1', port: 0, adminPort: 0, pollIntervalMs: 50, ...options, store: options.store ?? store, logger: logs });
  return {
    relay,
    store,
    s3,
    bucket,
    logs,
    metric: async (name, labels = {}) => readMetric(await (await fetch(`${relay.adminUrl}/metrics`)).text(), name, labels),
    async close() {
      await relay.close();
      s3.destroy();
    },
  };
}

/** Reads one series from Prometheus text: the sample of `name` whose labels include `labels`. */
export function readMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => present[k] === v)) return Number(match[3]);
  }
  return 0;
}

/**
 * Retries `check` until it returns a value other than undefined, for state with no event to
 * await (a counter on /metrics); fails after `timeoutMs`.
 */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A test relay that closes when the current test finishes. */
export async function relayForTest(options: Parameters<typeof startTestRelay>[0] = {}): Promise<TestRelay> {
  const relay = await startTestRelay(options);
  onTestFinished(() => relay.close());
  return relay;
}

/** Waits until the relay has received `count` requests of a type (no event tells the client). */
export function requestsReceived(relay: TestRelay, type: string, count: number): Promise<number> {
  return eventually(async () => {
    const seen = await relay.metric('meshline_relay_requests_total', { type });
    return seen >= count ? seen : undefined;
  }, `${count} ${type} request(s) at the relay`);
}
