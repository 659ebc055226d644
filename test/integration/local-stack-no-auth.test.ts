/**
 * Auth off is an explicit choice for throwaway runs (`npm start -- --no-auth`, or
 * MESHLINE_AUTH=off): a stack started so answers unsigned App Mesh calls and serves a proxy
 * that only names itself, and issues no admin key. Unset means on.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalStack, stackOptionsFromEnv, type LocalStack } from '../../scripts/local-stack/index.js';
import { LISTENER } from '../../shared/xds/type-urls.js';
import { AdsTestClient } from '../support/xds-ads-client.js';

let stack: LocalStack;
beforeAll(async () => {
  stack = await startLocalStack({ inMemory: true, quiet: true, auth: false, ports: { api: 0, lambda: 0, dynamodb: 0, s3: 0, relay: 0, relayAdmin: 0 } });
}, 120_000);
afterAll(() => stack?.stop());

describe('a local stack with auth off', () => {
  it('is what MESHLINE_AUTH=off asks for, and only that: unset or on means on', () => {
    expect(stackOptionsFromEnv({ MESHLINE_AUTH: 'off' }).auth).toBe(false);
    expect(stackOptionsFromEnv({}).auth).toBe(true);
    expect(stackOptionsFromEnv({ MESHLINE_AUTH: 'on' }).auth).toBe(true);
    expect(() => stackOptionsFromEnv({ MESHLINE_AUTH: 'no' })).toThrow('MESHLINE_AUTH must be on or off, got: "no"');
  });

  it('answers unsigned App Mesh calls, issues no admin key, and serves a proxy without credentials', async () => {
    expect(stack.adminKey).toBeUndefined();
    const meshName = `open-${randomUUID().slice(0, 8)}`;
    const put = (path: string, body: unknown) =>
      fetch(`${stack.endpoints.api}${path}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await put('/v20190125/meshes', { meshName })).status).toBe(200);
    const node = { virtualNodeName: 'web', spec: { listeners: [{ portMapping: { port: 8080, protocol: 'http' } }], serviceDiscovery: { dns: { hostname: 'web.local' } } } };
    expect((await put(`/v20190125/meshes/${meshName}/virtualNodes`, node)).status).toBe(200);

    // The node may not be compiled yet: the relay answers NOT_FOUND until it is, then serves it.
    await expect
      .poll(
        async () => {
          const proxy = new AdsTestClient(stack.endpoints.relayAds ?? '', `mesh/${meshName}/virtualNode/web`);
          try {
            proxy.subscribe(LISTENER);
            return (await proxy.next(5_000).catch(() => undefined))?.resources.length ?? 0;
          } finally {
            proxy.close();
          }
        },
        { timeout: 20_000 },
      )
      .toBeGreaterThan(0);
  });
});
