/**
 * The relay as a process (`relay/main.ts`): configured by environment, logs JSON lines on
 * stderr, serves ADS, and shuts down cleanly on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { nodeIdOf } from '../../shared/xds/node-id.js';
import { CLUSTER } from '../../shared/xds/type-urls.js';
import { AdsTestClient, resourceNames } from '../support/xds-ads-client.js';
import { proxySnapshot, publish, virtualNode } from '../support/xds-fixtures.js';
import { stackBucket } from '../support/xds-relay.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface RelayProcess {
  child: ChildProcess;
  /** Every stderr line, parsed. */
  lines: Record<string, unknown>[];
  /** Resolves with the first log line whose msg is `msg`. */
  waitForLog(msg: string): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
}

function spawnRelay(env: Record<string, string | undefined>): RelayProcess {
  const stack = inject('stack');
  const child = spawn(process.execPath, ['--import', 'tsx', 'relay/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      AWS_REGION: stack.region,
      MESHLINE_S3_ENDPOINT: stack.endpoints.s3,
      MESHLINE_BUCKET: stack.bucketName,
      MESHLINE_RELAY_PORT: '0',
      MESHLINE_RELAY_ADMIN_PORT: '0',
      MESHLINE_MANIFEST_POLL_MS: '50',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
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
  return {
    child,
    lines,
    exited,
    waitForLog: (msg) => {
      const seen = lines.find((line) => line.msg === msg);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ msg, resolve });
        void exited.then((code) => reject(new Error(`relay exited (${code}) before logging "${msg}": ${JSON.stringify(lines)}`)));
      });
    },
  };
}

describe('relay: the process', () => {
  it('serves ADS from the bucket, reports ready, and on SIGTERM ends its streams and exits 0', async () => {
    const relay = spawnRelay({});
    const listening = await relay.waitForLog('relay listening');
    const ads = String(listening.ads);
    const admin = String(listening.admin);
    expect(ads).toMatch(/^127\.0\.0\.1:\d+$/);
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);

    const { store, s3 } = stackBucket();
    onTestFinished(() => s3.destroy());
    const mesh = `main-${randomUUID().slice(0, 8)}`;
    const node = virtualNode(mesh, 'front');
    await publish(store, mesh, [proxySnapshot(node, [{ name: 'alpha', endpoints: [{ host: '127.0.0.1', port: 9001 }] }])]);
    const client = new AdsTestClient(ads, nodeIdOf(node));
    onTestFinished(() => client.close());
    client.subscribe(CLUSTER);
    expect(resourceNames(await client.next())).toEqual(['alpha']);

    relay.child.kill('SIGTERM');
    expect(await client.end()).toMatchObject({ code: grpc.status.OK });
    expect(await relay.exited).toBe(0);
    expect(relay.lines.map((line) => line.msg)).toEqual(expect.arrayContaining(['shutting down', 'relay stopped']));
    expect(relay.lines.every((line) => typeof line.time === 'string' && typeof line.level === 'string')).toBe(true);
  });

  it('refuses to start without a bucket, saying so in a JSON log line', async () => {
    const relay = spawnRelay({ MESHLINE_BUCKET: '' });
    expect(await relay.exited).toBe(1);
    expect(relay.lines).toContainEqual(expect.objectContaining({ level: 'error', msg: expect.stringContaining('MESHLINE_BUCKET') }));
  });
});
