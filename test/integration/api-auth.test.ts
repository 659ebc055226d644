/**
 * The App Mesh API authenticates every caller with SigV4 against access keys Meshline issues,
 * as AWS does: requests signed by the unchanged @aws-sdk/client-app-mesh with an issued key
 * pass; missing, wrong, expired, revoked, out-of-scope and throttled requests are refused with
 * the error AWS answers with, and change nothing.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import {
  AppMeshClient,
  CreateMeshCommand,
  CreateVirtualNodeCommand,
  DeleteMeshCommand,
  DescribeMeshCommand,
  DescribeVirtualNodeCommand,
  ListMeshesCommand,
  NotFoundException,
  TagResourceCommand,
} from '@aws-sdk/client-app-mesh';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { signedFetch } from '../../cli/signed-fetch.js';
import { adminCredentials, apiFetch, appMeshClient, uniqueMeshName } from '../support/appmesh.js';
import { issueKey, stackKeyStore } from '../support/keys.js';

const stack = inject('stack');
const admin = appMeshClient();

/** The error an SDK call failed with: its name (the x-amzn-ErrorType), message and HTTP status. */
async function failure(promise: Promise<unknown>): Promise<{ name: string; message: string; status: number | undefined }> {
  try {
    await promise;
  } catch (error) {
    const e = error as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('the call succeeded');
}

/** An SDK client with other settings than the suite's (a signing name, a clock offset, a region). */
function client(credentials: { accessKeyId: string; secretAccessKey: string }, extra: Partial<ConstructorParameters<typeof AppMeshClient>[0]> = {}): AppMeshClient {
  return new AppMeshClient({ endpoint: stack.endpoints.api, region: stack.region, credentials, maxAttempts: 1, ...extra });
}

async function meshExists(meshName: string): Promise<boolean> {
  try {
    await admin.send(new DescribeMeshCommand({ meshName }));
    return true;
  } catch (error) {
    if (error instanceof NotFoundException) return false;
    throw error;
  }
}

describe('API authentication', () => {
  let meshName: string;
  beforeAll(async () => {
    meshName = uniqueMeshName('auth');
    await admin.send(new CreateMeshCommand({ meshName }));
  });

  it('accepts a request the App Mesh SDK signed with an issued admin key', async () => {
    const described = await admin.send(new DescribeMeshCommand({ meshName }));
    expect(described.mesh?.meshName).toBe(meshName);
  });

  it('verifies requests whose path carries names with reserved and non-ASCII characters', async () => {
    // The SDK percent-encodes them in the path it signs; the emulator hands some segments over decoded.
    const mesh = uniqueMeshName('a b:c');
    const virtualNodeName = 'web:v1~x @é+(1)';
    await admin.send(new CreateMeshCommand({ meshName: mesh }));
    await admin.send(new CreateVirtualNodeCommand({ meshName: mesh, virtualNodeName, spec: {} }));
    const described = await admin.send(new DescribeVirtualNodeCommand({ meshName: mesh, virtualNodeName }));
    expect(described.virtualNode?.virtualNodeName).toBe(virtualNodeName);
  });

  it('accepts the signing name execute-api as well as appmesh, and no other', async () => {
    const signedAs = (service: string) =>
      signedFetch(`${stack.endpoints.api}/v20190125/meshes/${meshName}`, {}, { credentials: adminCredentials(), region: stack.region, service });
    expect((await signedAs('execute-api')).status).toBe(200);
    const lambda = await signedAs('lambda');
    expect([lambda.status, lambda.headers.get('x-amzn-errortype')]).toEqual([403, 'InvalidSignatureException']);
    expect(((await lambda.json()) as { message: string }).message).toContain('service');
  });

  it('refuses an unsigned request with 403 MissingAuthenticationTokenException, and creates nothing', async () => {
    const unsignedMesh = uniqueMeshName('unsigned');
    const response = await apiFetch('/v20190125/meshes', { method: 'PUT', body: JSON.stringify({ meshName: unsignedMesh }) }, null);
    expect(response.status).toBe(403);
    expect(response.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
    expect(((await response.json()) as { message: string }).message).toBe('Missing Authentication Token');
    expect(await meshExists(unsignedMesh)).toBe(false);
  });

  it('refuses an unknown access key with UnrecognizedClientException', async () => {
    const unknown = client({ accessKeyId: 'MLAKAAAAAAAAAAAAAAAA', secretAccessKey: 'x'.repeat(40) });
    const error = await failure(unknown.send(new ListMeshesCommand({})));
    expect(error).toMatchObject({ name: 'UnrecognizedClientException', status: 403, message: 'The security token included in the request is invalid.' });
  });

  it('refuses a wrong secret with InvalidSignatureException, and creates nothing', async () => {
    const { accessKeyId } = adminCredentials();
    const wrongMesh = uniqueMeshName('wrong-secret');
    const error = await failure(client({ accessKeyId, secretAccessKey: 'y'.repeat(40) }).send(new CreateMeshCommand({ meshName: wrongMesh })));
    expect(error.name).toBe('InvalidSignatureException');
    expect(error.status).toBe(403);
    expect(error.message).toMatch(/^The request signature we calculated does not match the signature you provided/);
    expect(await meshExists(wrongMesh)).toBe(false);
  });

  it('refuses a signature older than 15 minutes, and one from 15 minutes ahead, as AWS words it', async () => {
    const expired = await failure(client(adminCredentials(), { systemClockOffset: -16 * 60_000 }).send(new ListMeshesCommand({})));
    expect(expired.name).toBe('InvalidSignatureException');
    expect(expired.message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 15 min\.\)$/);
    const future = await failure(client(adminCredentials(), { systemClockOffset: 16 * 60_000 }).send(new ListMeshesCommand({})));
    expect(future.name).toBe('InvalidSignatureException');
    expect(future.message).toMatch(/^Signature not yet current: /);
  });

  it("lets the SDK correct a skewed clock from the answer's Date header, as it does with AWS", async () => {
    const skewed = client(adminCredentials(), { systemClockOffset: -20 * 60_000, maxAttempts: 2 });
    expect((await skewed.send(new DescribeMeshCommand({ meshName }))).mesh?.meshName).toBe(meshName);
    expect(Math.abs(skewed.config.systemClockOffset ?? 0)).toBeLessThan(60_000);
  });

  it('accepts a signature 14 minutes old (within the allowed skew)', async () => {
    const skewed = client(adminCredentials(), { systemClockOffset: -14 * 60_000 });
    expect((await skewed.send(new DescribeMeshCommand({ meshName }))).mesh?.meshName).toBe(meshName);
  });

  it('refuses a credential scoped to another region', async () => {
    const otherRegion = await failure(client(adminCredentials(), { region: 'eu-west-1' }).send(new ListMeshesCommand({})));
    expect(otherRegion.name).toBe('InvalidSignatureException');
    expect(otherRegion.message).toContain('region');
  });

  it('refuses a revoked key on the very next request', async () => {
    const issued = await issueKey({ role: 'admin', meshes: '*' });
    const holder = client(issued);
    await holder.send(new ListMeshesCommand({}));
    await stackKeyStore().revoke(issued.accessKeyId);
    const error = await failure(holder.send(new ListMeshesCommand({})));
    expect(error).toMatchObject({ name: 'UnrecognizedClientException', status: 403 });
  });

  it('accepts a presigned URL (query-string SigV4) and refuses it once its X-Amz-Expires passed', async () => {
    const { accessKeyId, secretAccessKey } = adminCredentials();
    const url = new URL(`${stack.endpoints.api}/v20190125/meshes/${meshName}`);
    const signer = new SignatureV4({ service: 'appmesh', region: stack.region, credentials: { accessKeyId, secretAccessKey }, sha256: Sha256 });
    const request = { method: 'GET', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: url.pathname, headers: { host: url.host } };
    const fresh = await signer.presign(request, { expiresIn: 60 });
    const ok = await fetch(`${url.href}?${new URLSearchParams(fresh.query as Record<string, string>).toString()}`);
    expect(ok.status).toBe(200);
    const old = await signer.presign(request, { expiresIn: 60, signingDate: new Date(Date.now() - 120_000) });
    const refused = await fetch(`${url.href}?${new URLSearchParams(old.query as Record<string, string>).toString()}`);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
  });
});

describe('API authorization by key role and meshes', () => {
  let meshName: string;
  let otherMesh: string;
  beforeAll(async () => {
    meshName = uniqueMeshName('scoped');
    otherMesh = uniqueMeshName('other');
    await admin.send(new CreateMeshCommand({ meshName }));
    await admin.send(new CreateMeshCommand({ meshName: otherMesh }));
  });

  it('lets a read-only key describe and list, and refuses its writes with AccessDeniedException', async () => {
    const reader = client(await issueKey({ role: 'read-only', meshes: '*' }));
    expect((await reader.send(new DescribeMeshCommand({ meshName }))).mesh?.meshName).toBe(meshName);
    const error = await failure(reader.send(new DeleteMeshCommand({ meshName })));
    expect(error.name).toBe('AccessDeniedException');
    expect(error.status).toBe(403);
    expect(error.message).toMatch(/^User: arn:aws:iam::\d{12}:user\/meshline\/MLAK\w{16} is not authorized to perform: appmesh:DeleteMesh/);
    expect(await meshExists(meshName)).toBe(true);
  });

  it('keeps a key for named meshes inside them: other meshes are denied, ListMeshes shows only its own', async () => {
    const scoped = client(await issueKey({ role: 'admin', meshes: [meshName] }));
    await scoped.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'inside', spec: {} }));
    const denied = await failure(scoped.send(new CreateVirtualNodeCommand({ meshName: otherMesh, virtualNodeName: 'outside', spec: {} })));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toContain(`mesh/${otherMesh}`);
    const tagOther = await failure(
      scoped.send(new TagResourceCommand({ resourceArn: `arn:aws:appmesh:${stack.region}:111122223333:mesh/${otherMesh}`, tags: [{ key: 'a', value: 'b' }] })),
    );
    expect(tagOther.name).toBe('AccessDeniedException');
    const names: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await scoped.send(new ListMeshesCommand({ nextToken }));
      names.push(...(page.meshes ?? []).map((mesh) => mesh.meshName ?? ''));
      nextToken = page.nextToken;
    } while (nextToken);
    expect(names).toEqual([meshName]);
  });

  it('pages ListMeshes for a key of named meshes through those meshes only: no page or token tells of another', async () => {
    const second = uniqueMeshName('scoped-2');
    await admin.send(new CreateMeshCommand({ meshName: second }));
    // Three names, one of them a mesh that does not exist (yet): it is simply not listed.
    const scoped = client(await issueKey({ role: 'read-only', meshes: [meshName, second, uniqueMeshName('absent')] }));
    const names: string[] = [];
    const tokens: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await scoped.send(new ListMeshesCommand({ limit: 1, nextToken }));
      expect((page.meshes ?? []).length).toBeLessThanOrEqual(1);
      names.push(...(page.meshes ?? []).map((mesh) => mesh.meshName ?? ''));
      nextToken = page.nextToken;
      if (nextToken) tokens.push(nextToken);
    } while (nextToken);
    expect(names.sort()).toEqual([meshName, second].sort());
    for (const token of tokens) expect(Buffer.from(token, 'base64url').toString('utf8')).not.toContain(otherMesh);
    // Its tokens continue only its own listing.
    expect((await failure(admin.send(new ListMeshesCommand({ nextToken: tokens[0] })))).name).toBe('BadRequestException');
  });

  it('refuses every API operation to a proxy key, which only streams from a relay', async () => {
    const proxy = client(await issueKey({ role: 'proxy', proxies: [`mesh/${meshName}/virtualNode/inside`] }));
    const error = await failure(proxy.send(new DescribeMeshCommand({ meshName })));
    expect(error.name).toBe('AccessDeniedException');
  });

  it("authorizes Meshline's extensions: proxy status needs read access to the mesh, instance registration an admin key", async () => {
    const reader = await issueKey({ role: 'read-only', meshes: [meshName] });
    expect((await apiFetch(`/meshline/v1/meshes/${meshName}/proxyStatus`, {}, reader)).status).toBe(200);
    const otherStatus = await apiFetch(`/meshline/v1/meshes/${otherMesh}/proxyStatus`, {}, reader);
    expect([otherStatus.status, otherStatus.headers.get('x-amzn-errortype')]).toEqual([403, 'AccessDeniedException']);
    const register = await apiFetch('/meshline/v1/cloudmap/namespaces/ns/services/svc/instances/i-1', { method: 'PUT', body: JSON.stringify({ Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1' } }) }, reader);
    expect([register.status, register.headers.get('x-amzn-errortype')]).toEqual([403, 'AccessDeniedException']);
  });
});

describe('per-key throttling', () => {
  it('answers requests over a key\'s rate limit with 429 TooManyRequestsException', async () => {
    const limited = await issueKey({ role: 'read-only', meshes: '*', rateLimit: 2 });
    // One request opens the window (see auth-keys.test.ts on DynamoDB Local and concurrent creation), then a burst.
    const started = Date.now();
    const first = await apiFetch('/v20190125/meshes?limit=1', {}, limited);
    const responses = [first, ...(await Promise.all(Array.from({ length: 11 }, () => apiFetch('/v20190125/meshes?limit=1', {}, limited))))];
    // The one-second windows the requests can have been counted in (a loaded machine may take
    // more than a second for the burst): 2 pass in each at most.
    const windows = Math.floor(Date.now() / 1000) - Math.floor(started / 1000) + 1;
    const statuses = responses.map((response) => response.status);
    const throttled = responses.filter((response) => response.status === 429);
    expect(statuses.filter((status) => status === 200).length).toBeLessThanOrEqual(2 * windows);
    expect(statuses.filter((status) => status !== 200 && status !== 429)).toEqual([]);
    expect(throttled.length).toBeGreaterThanOrEqual(12 - 2 * windows);
    expect(throttled.length).toBeGreaterThan(0);
    expect(throttled[0]?.headers.get('x-amzn-errortype')).toBe('TooManyRequestsException');
    // Another key is not affected by this one's limit.
    expect((await apiFetch('/v20190125/meshes?limit=1')).status).toBe(200);
  });
});

describe('malformed signatures over the wire', () => {
  const REFUSALS = ['MissingAuthenticationTokenException', 'IncompleteSignatureException', 'InvalidSignatureException', 'UnrecognizedClientException'];
  const token = fc.stringMatching(/^[A-Za-z0-9/+=_.-]{0,60}$/);
  const authorization = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc
      .record({
        algorithm: fc.constantFrom('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA512', 'aws4-hmac-sha256', ''),
        credential: fc.oneof(token, fc.constant(`${adminCredentials().accessKeyId}/20261125/us-east-1/appmesh/aws4_request`)),
        signedHeaders: fc.oneof(token, fc.constant('host;x-amz-date')),
        signature: fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), token),
        separator: fc.constantFrom(', ', ',', ' ', ',,'),
      })
      .map(({ algorithm, credential, signedHeaders, signature, separator }) =>
        `${algorithm} Credential=${credential}${separator}SignedHeaders=${signedHeaders}${separator}Signature=${signature}`,
      ),
  );
  const amzDate = fc.oneof(fc.constant(undefined), fc.string({ maxLength: 30 }), fc.date({ noInvalidDate: true }).map((d) => d.toISOString().replace(/[-:]|\.\d{3}/g, '')));

  it('never crash the API: every answer is a 4xx refusal with its AWS error code, and nothing is created (fast-check, seed 20261125, 100 runs)', async () => {
    const meshName = uniqueMeshName('fuzz-auth');
    await fc.assert(
      fc.asyncProperty(authorization, amzDate, async (auth, date) => {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        // fetch refuses header values with control characters itself; those never reach a server.
        if (/^[\x20-\x7e]*$/.test(auth)) headers.authorization = auth;
        if (date !== undefined && /^[\x20-\x7e]*$/.test(date)) headers['x-amz-date'] = date;
        const response = await fetch(`${stack.endpoints.api}/v20190125/meshes`, { method: 'PUT', headers, body: JSON.stringify({ meshName }), signal: AbortSignal.timeout(15_000) });
        const errorType = response.headers.get('x-amzn-errortype');
        await response.body?.cancel();
        expect([response.status >= 400 && response.status < 500, errorType], auth).toEqual([true, expect.toBeOneOf(REFUSALS)]);
      }),
      { seed: 20261125, numRuns: 100 },
    );
    expect(await meshExists(meshName)).toBe(false);
  });
});
