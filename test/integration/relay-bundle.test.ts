/**
 * The relay as the container runs it: `npm run build:relay` bundles it into one ES module,
 * which plain `node` runs from a directory with no node_modules, configured by environment
 * (here with TLS and a bearer token), healthy, ready and serving both ADS protocols.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { nodeIdOf } from '../../shared/xds/node-id.js';
import { CLUSTER } from '../../shared/xds/type-urls.js';
import { AdsTestClient, DeltaTestClient, resourceNames } from '../support/xds-ads-client.js';
import { createTestCa, tlsCredentials } from '../support/xds-certs.js';
import { proxySnapshot, publish, virtualNode } from '../support/xds-fixtures.js';
import { stackBucket } from '../support/xds-relay.js';
import { ROOT, spawnRelay } from '../support/xds-relay-process.js';

/** The HEALTHCHECK of relay/Dockerfile, as the exec-form arguments Docker would run. */
function dockerHealthcheck(): string[] {
  const dockerfile = readFileSync(join(ROOT, 'relay', 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, '');
  const match = /^HEALTHCHECK .*?CMD (\[.*\])$/m.exec(dockerfile);
  if (!match?.[1]) throw new Error('relay/Dockerfile has no exec-form HEALTHCHECK');
  return JSON.parse(match[1]) as string[];
}

/** Runs the Docker health check against a relay's admin port: its exit code. */
function runHealthcheck(adminPort: string): number {
  const [command, ...args] = dockerHealthcheck();
  expect(command).toBe('node');
  try {
    execFileSync(process.execPath, args, { env: { ...process.env, MESHLINE_RELAY_ADMIN_PORT: adminPort }, stdio: 'pipe', timeout: 10_000 });
    return 0;
  } catch (error) {
    return (error as { status?: number }).status ?? -1;
  }
}

describe('relay: the bundle', () => {
  it('has a Dockerfile that runs the bundle with Node 22 as a non-root user', () => {
    const dockerfile = readFileSync(join(ROOT, 'relay', 'Dockerfile'), 'utf8');
    const stages = dockerfile.split(/^FROM /m).slice(1);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const runtime = stages.at(-1) ?? '';
    expect(runtime).toMatch(/^node:22[-\w.]*\n/);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^COPY --from=build .*\/src\/relay\/dist\/ /m);
    expect(runtime).toMatch(/^CMD \["node", "main\.mjs"\]$/m);
    expect(dockerfile).toMatch(/RUN npm run build:relay/);
  });


  it('builds to one file that node runs without node_modules, healthy, ready, over TLS with a token, serving SotW and delta', { timeout: 120_000 }, async () => {
    const outdir = mkdtempSync(join(tmpdir(), 'meshline-relay-bundle-'));
    onTestFinished(() => rmSync(outdir, { recursive: true, force: true }));
    execFileSync(process.execPath, ['--import', 'tsx', 'relay/build.ts', '--outdir', outdir], { cwd: ROOT, stdio: 'pipe' });
    const bundle = join(outdir, 'main.mjs');
    expect(existsSync(bundle)).toBe(true);
    expect(existsSync(join(outdir, 'node_modules'))).toBe(false);

    const ca = createTestCa();
    onTestFinished(() => ca.remove());
    const server = ca.issue('relay', ['DNS:localhost'], 'serverAuth');
    const token = randomUUID();
    const relay = spawnRelay(
      { MESHLINE_RELAY_TLS_CERT: server.certFile, MESHLINE_RELAY_TLS_KEY: server.keyFile, MESHLINE_RELAY_TOKEN: token },
      [bundle],
    );
    const { ads, admin } = await relay.listening();
    expect((await fetch(`${admin}/healthz`)).status).toBe(200);
    expect((await fetch(`${admin}/readyz`)).status).toBe(200);
    expect(await relay.waitForLog('relay listening')).toMatchObject({ tls: 'tls', token: true });
    const adminPort = new URL(admin).port;
    expect(runHealthcheck(adminPort)).toBe(0);

    const { store, s3 } = stackBucket();
    onTestFinished(() => s3.destroy());
    const mesh = `bundle-${randomUUID().slice(0, 8)}`;
    const node = virtualNode(mesh, 'front');
    await publish(store, mesh, [proxySnapshot(node, [{ name: 'alpha', endpoints: [{ host: '127.0.0.1', port: 9001 }] }])]);
    const options = {
      credentials: tlsCredentials(ca.ca),
      channelOptions: { 'grpc.ssl_target_name_override': 'localhost' },
      metadata: { authorization: `Bearer ${token}` },
    };
    const sotw = new AdsTestClient(ads, nodeIdOf(node), options);
    onTestFinished(() => sotw.close());
    sotw.subscribe(CLUSTER);
    expect(resourceNames(await sotw.next())).toEqual(['alpha']);
    const delta = new DeltaTestClient(ads, nodeIdOf(node), options);
    onTestFinished(() => delta.close());
    delta.subscribe(CLUSTER);
    expect((await delta.next()).resources.map((r) => r.name)).toEqual(['alpha']);

    relay.child.kill('SIGTERM');
    expect(await sotw.end()).toMatchObject({ code: grpc.status.OK });
    expect(await relay.exited).toBe(0);
    expect(runHealthcheck(adminPort)).toBe(1);
  });
});
