/**
 * The relay as a process (`relay/main.ts`): configured by environment, logs JSON lines on
 * stderr, serves ADS, and shuts down cleanly on SIGTERM.
 */
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { nodeIdOf } from '../../shared/xds/node-id.js';
import { CLUSTER } from '../../shared/xds/type-urls.js';
import { AdsTestClient, resourceNames } from '../support/xds-ads-client.js';
import { proxySnapshot, publish, virtualNode } from '../support/xds-fixtures.js';
import { stackBucket } from '../support/xds-relay.js';
import { spawnRelay } from '../support/xds-relay-process.js';

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
