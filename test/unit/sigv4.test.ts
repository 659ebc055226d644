/**
 * The SigV4 verifier: AWS's published test suite is accepted and one changed hex digit is not;
 * requests signed by the real @smithy/signature-v4 (and by an unchanged App Mesh client) are
 * accepted, and each way of getting them wrong is refused with AWS's error and wording; what
 * Envoy's aws_iam gRPC plugin signs verifies through grpcSignedRequest.
 */
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { AppMeshClient, ListMeshesCommand } from '@aws-sdk/client-app-mesh';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import {
  grpcSignedRequest,
  payloadHash,
  readSignature,
  verifySignature,
  type SignedRequest,
} from '../../shared/auth/sigv4.js';
import {
  IncompleteSignatureError,
  InvalidSignatureError,
  UnrecognizedClientError,
} from '../../shared/errors.js';

interface SuiteVector {
  name: string;
  source: string;
  request: { method: string; path: string; query: string; headers: Record<string, string>; body: string };
  authorization: string;
  signature: string;
}
interface Suite {
  secretAccessKey: string;
  region: string;
  service: string;
  now: string;
  vectors: SuiteVector[];
}

const suite = JSON.parse(
  readFileSync(new URL('../fixtures/sigv4/aws4-testsuite.json', import.meta.url), 'utf8'),
) as Suite;

const MISMATCH =
  'The request signature we calculated does not match the signature you provided. ' +
  'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytesOf(data: SourceData): string | Uint8Array {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** The hash constructor @smithy/signature-v4 wants, on node:crypto. */
class NodeSha256 {
  private readonly hash;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

function suiteRequest(vector: SuiteVector, headers: Record<string, string> = vector.request.headers): SignedRequest {
  return {
    method: vector.request.method,
    path: vector.request.path,
    query: vector.request.query,
    headers: { ...headers, authorization: vector.authorization },
    payloadHash: payloadHash(vector.request.body),
  };
}

function changeOneHexDigit(signature: string): string {
  const last = signature.at(-1) === '0' ? '1' : '0';
  return signature.slice(0, -1) + last;
}

function verifyRequest(request: SignedRequest, secret: string, expected: { now: Date; region: string; services: string[] }): void {
  const claim = readSignature(request);
  if (claim === undefined) throw new Error('no signature');
  verifySignature(request, claim, secret, expected);
}

describe('AWS SigV4 test suite (botocore aws4_testsuite)', () => {
  const expected = { now: new Date(suite.now), region: suite.region, services: [suite.service] };
  const withToken = suite.vectors.filter((vector) => 'x-amz-security-token' in vector.request.headers);
  const plain = suite.vectors.filter((vector) => !withToken.includes(vector));

  it('has the vectors it names', () => {
    expect(plain.map((vector) => vector.name)).toEqual(
      expect.arrayContaining([
        'get-vanilla',
        'get-vanilla-query-order-key-case',
        'get-utf8',
        'normalize-path/get-space',
        'normalize-path/get-relative-relative',
        'normalize-path/get-slashes',
        'post-x-www-form-urlencoded',
        'post-header-key-sort',
        'get-header-value-trim',
        'get-header-value-multiline',
      ]),
    );
    expect(plain.length).toBeGreaterThanOrEqual(30);
  });

  for (const vector of plain) {
    it(`accepts ${vector.name}`, () => {
      expect(() => verifyRequest(suiteRequest(vector), suite.secretAccessKey, expected)).not.toThrow();
    });

    it(`refuses ${vector.name} with one hex digit of the signature changed`, () => {
      const request = suiteRequest(vector);
      request.headers.authorization = vector.authorization.replace(vector.signature, changeOneHexDigit(vector.signature));
      expect(() => verifyRequest(request, suite.secretAccessKey, expected)).toThrow(new InvalidSignatureError(MISMATCH));
    });
  }

  for (const vector of withToken) {
    it(`refuses ${vector.name}: Meshline issues no session tokens`, () => {
      expect(() => readSignature(suiteRequest(vector))).toThrow(UnrecognizedClientError);
    });
  }
});

// ---------------------------------------------------------------------------------------------

const KEY_ID = 'AKIAMESHLINEEXAMPLE1';
const SECRET = 'meshline/secret+Key0123456789abcdefghijklmn';
const REGION = 'us-west-2';
const SIGNED_AT = new Date('2025-01-01T00:00:00Z');
const EXPECTED = { now: SIGNED_AT, region: REGION, services: ['appmesh', 'execute-api'] };

function escapeUri(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

interface SdkRequest {
  method?: string;
  path?: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
}

function sdkSigner(options: { service?: string; region?: string; secret?: string; sessionToken?: string; applyChecksum?: boolean } = {}): SignatureV4 {
  return new SignatureV4({
    credentials: { accessKeyId: KEY_ID, secretAccessKey: options.secret ?? SECRET, sessionToken: options.sessionToken },
    region: options.region ?? REGION,
    service: options.service ?? 'appmesh',
    sha256: NodeSha256,
    applyChecksum: options.applyChecksum ?? true,
  });
}

function httpRequest(input: SdkRequest) {
  return {
    method: input.method ?? 'GET',
    protocol: 'https:',
    hostname: 'api.meshline.example',
    path: input.path ?? '/v20190125/meshes',
    query: input.query ?? {},
    headers: input.headers ?? { host: 'api.meshline.example' },
    body: input.body,
  };
}

/** The request as the server receives it: the wire query, lower-case headers, the body hashed. */
function asReceived(signed: { method: string; path: string; query?: Record<string, unknown>; headers: Record<string, string> }, body?: string): SignedRequest {
  const query = Object.entries(signed.query ?? {})
    .map(([key, value]) => `${escapeUri(key)}=${escapeUri(String(value))}`)
    .join('&');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) headers[name.toLowerCase()] = value;
  return { method: signed.method, path: signed.path, query, headers, payloadHash: payloadHash(body ?? '') };
}

async function signed(input: SdkRequest = {}, options: Parameters<typeof sdkSigner>[0] = {}, signingDate = SIGNED_AT): Promise<SignedRequest> {
  const request = await sdkSigner(options).sign(httpRequest(input), { signingDate });
  return asReceived(request, input.body);
}

describe('requests signed by @smithy/signature-v4', () => {
  it('accepts a GET with a query, signed for appmesh', async () => {
    const request = await signed({ query: { limit: '10', nextToken: 'a b/c+d=e' } });
    const claim = readSignature(request);
    expect(claim).toMatchObject({ accessKeyId: KEY_ID, date: '20250101', region: REGION, service: 'appmesh', amzDate: '20250101T000000Z' });
    expect(() => verifySignature(request, claim!, SECRET, EXPECTED)).not.toThrow();
  });

  it('accepts a PUT with a JSON body and an encoded path, signed for execute-api', async () => {
    const body = JSON.stringify({ spec: { egressFilter: { type: 'ALLOW_ALL' } } });
    const request = await signed(
      { method: 'PUT', path: '/v20190125/meshes/my%3Amesh', body, headers: { host: 'api.meshline.example', 'content-type': 'application/json' } },
      { service: 'execute-api' },
    );
    expect(() => verifyRequest(request, SECRET, EXPECTED)).not.toThrow();
  });

  it('accepts a path that API Gateway decoded after the SDK signed it encoded', async () => {
    const request = await signed({ path: '/v20190125/meshes/my%3Amesh/virtualNodes/a%40b' });
    expect(() => verifyRequest({ ...request, path: '/v20190125/meshes/my:mesh/virtualNodes/a@b' }, SECRET, EXPECTED)).not.toThrow();
  });

  it('accepts a path of which some segments arrive decoded and others not (serverless-offline: a space stays %20, a colon is decoded)', async () => {
    const request = await signed({ path: '/v20190125/meshes/cli%20demo/virtualNodes/web%3Av1~x' });
    expect(() => verifyRequest({ ...request, path: '/v20190125/meshes/cli%20demo/virtualNodes/web:v1~x' }, SECRET, EXPECTED)).not.toThrow();
    // Still a different path: another name is refused.
    expect(() => verifyRequest({ ...request, path: '/v20190125/meshes/cli%20demo/virtualNodes/web:v2~x' }, SECRET, EXPECTED)).toThrow(InvalidSignatureError);
  });

  it('accepts a request signed without x-amz-content-sha256 (payload hash from the body)', async () => {
    const body = '{"meshName":"m"}';
    const request = await signed({ method: 'POST', body }, { applyChecksum: false });
    expect(request.headers['x-amz-content-sha256']).toBeUndefined();
    expect(() => verifyRequest(request, SECRET, EXPECTED)).not.toThrow();
  });

  it('accepts a skew of exactly 15 minutes either way', async () => {
    const request = await signed();
    for (const minutes of [-15, 15]) {
      const now = new Date(SIGNED_AT.getTime() + minutes * 60_000);
      expect(() => verifyRequest(request, SECRET, { ...EXPECTED, now })).not.toThrow();
    }
  });

  it('accepts a request from the unchanged App Mesh client', async () => {
    let captured: { method: string; path: string; query?: Record<string, unknown>; headers: Record<string, string>; body?: unknown } | undefined;
    const client = new AppMeshClient({
      region: REGION,
      endpoint: 'https://api.meshline.example',
      credentials: { accessKeyId: KEY_ID, secretAccessKey: SECRET },
      maxAttempts: 1,
      requestHandler: {
        handle: async (request: typeof captured) => {
          captured = request;
          throw new Error('captured');
        },
      },
    });
    await expect(client.send(new ListMeshesCommand({ limit: 5 }))).rejects.toThrow('captured');
    const request = asReceived(captured!, typeof captured!.body === 'string' ? captured!.body : '');
    expect(request.query).toBe('limit=5');
    expect(() => verifyRequest(request, SECRET, { ...EXPECTED, now: new Date() })).not.toThrow();
  });

  it('refuses a wrong secret', async () => {
    const request = await signed({}, { secret: 'another-secret' });
    expect(() => verifyRequest(request, SECRET, EXPECTED)).toThrow(new InvalidSignatureError(MISMATCH));
  });

  it('refuses another service', async () => {
    const request = await signed({}, { service: 'dynamodb' });
    expect(() => verifyRequest(request, SECRET, EXPECTED)).toThrow(
      new InvalidSignatureError("Credential should be scoped to correct service: 'appmesh'. "),
    );
  });

  it('refuses another region', async () => {
    const request = await signed({}, { region: 'eu-west-1' });
    expect(() => verifyRequest(request, SECRET, EXPECTED)).toThrow(
      new InvalidSignatureError("Credential should be scoped to a valid region, not 'eu-west-1'. "),
    );
  });

  it('refuses a signature 16 minutes old', async () => {
    const request = await signed();
    const now = new Date(SIGNED_AT.getTime() + 16 * 60_000);
    expect(() => verifyRequest(request, SECRET, { ...EXPECTED, now })).toThrow(
      new InvalidSignatureError('Signature expired: 20250101T000000Z is now earlier than 20250101T000100Z (20250101T001600Z - 15 min.)'),
    );
  });

  it('refuses a signature 16 minutes in the future', async () => {
    const request = await signed();
    const now = new Date(SIGNED_AT.getTime() - 16 * 60_000);
    expect(() => verifyRequest(request, SECRET, { ...EXPECTED, now })).toThrow(
      new InvalidSignatureError('Signature not yet current: 20250101T000000Z is still later than 20241231T235900Z (20241231T234400Z + 15 min.)'),
    );
  });

  it('refuses a signed header changed after signing', async () => {
    const request = await signed({ headers: { host: 'api.meshline.example', 'x-meshline-note': 'one' } });
    request.headers['x-meshline-note'] = 'two';
    expect(() => verifyRequest(request, SECRET, EXPECTED)).toThrow(new InvalidSignatureError(MISMATCH));
  });

  it('refuses a changed host', async () => {
    const request = await signed();
    request.headers.host = 'evil.example';
    expect(() => verifyRequest(request, SECRET, EXPECTED)).toThrow(new InvalidSignatureError(MISMATCH));
  });

  it('refuses a changed body, whether x-amz-content-sha256 was sent or not', async () => {
    const withHeader = await signed({ method: 'POST', body: '{"a":1}' });
    expect(() => verifyRequest({ ...withHeader, payloadHash: payloadHash('{"a":2}') }, SECRET, EXPECTED)).toThrow(
      new InvalidSignatureError("The provided 'x-amz-content-sha256' header does not match what was computed."),
    );
    const withoutHeader = await signed({ method: 'POST', body: '{"a":1}' }, { applyChecksum: false });
    expect(() => verifyRequest({ ...withoutHeader, payloadHash: payloadHash('{"a":2}') }, SECRET, EXPECTED)).toThrow(
      new InvalidSignatureError(MISMATCH),
    );
  });

  it('refuses a signed-headers list without host', async () => {
    const request = await signed({ headers: { 'x-meshline-note': 'one' } });
    expect(readSignature(request)?.signedHeaders).not.toContain('host');
    request.headers.host = 'api.meshline.example';
    expect(() => verifyRequest(request, SECRET, EXPECTED)).toThrow(
      new InvalidSignatureError("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."),
    );
  });

  it('refuses a session token', async () => {
    const request = await signed({}, { sessionToken: 'FwoGZXIvYXdzEXAMPLE' });
    expect(() => readSignature(request)).toThrow(new UnrecognizedClientError('The security token included in the request is invalid.'));
  });

  it('refuses a credential date that is not the request date', async () => {
    const request = await signed();
    request.headers['x-amz-date'] = '20250102T000000Z';
    expect(() => verifyRequest(request, SECRET, { ...EXPECTED, now: new Date('2025-01-02T00:00:00Z') })).toThrow(
      new InvalidSignatureError(
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20250101' != '20250102', from '20250102T000000Z'.",
      ),
    );
  });

  it('never puts the secret, the signing key or the expected signature into a message', async () => {
    const request = await signed({}, { secret: 'another-secret' });
    const claim = readSignature(request)!;
    const right = await signed();
    const rightSignature = readSignature(right)!.signature;
    try {
      verifySignature(request, claim, SECRET, EXPECTED);
      expect.unreachable();
    } catch (error) {
      const message = (error as Error).message;
      expect(message).not.toContain(SECRET);
      expect(message).not.toContain(rightSignature);
    }
  });
});

describe('presigned query authentication', () => {
  async function presigned(expiresIn: number): Promise<SignedRequest> {
    const request = await sdkSigner().presign(httpRequest({ query: { limit: '1' } }), { signingDate: SIGNED_AT, expiresIn });
    return asReceived(request);
  }

  it('accepts a presigned URL before it expires, refuses it after', async () => {
    const request = await presigned(300);
    expect(readSignature(request)?.expiresInSeconds).toBe(300);
    expect(() => verifyRequest(request, SECRET, { ...EXPECTED, now: new Date(SIGNED_AT.getTime() + 300_000) })).not.toThrow();
    expect(() => verifyRequest(request, SECRET, { ...EXPECTED, now: new Date(SIGNED_AT.getTime() + 301_000) })).toThrow(
      new InvalidSignatureError('Signature expired: 20250101T000000Z is now earlier than 20250101T000001Z (20250101T000501Z - 300 sec.)'),
    );
  });

  it('refuses a presigned URL with a changed query', async () => {
    const request = await presigned(300);
    expect(() => verifyRequest({ ...request, query: request.query.replace('limit=1', 'limit=2') }, SECRET, EXPECTED)).toThrow(
      new InvalidSignatureError(MISMATCH),
    );
  });

  it('refuses X-Amz-Expires out of 1..900: presigned calls of a control plane live 15 minutes at most', async () => {
    const request = await presigned(300);
    for (const bad of ['0', '901', '604800', '-1', 'soon']) {
      expect(() => readSignature({ ...request, query: request.query.replace('X-Amz-Expires=300', `X-Amz-Expires=${bad}`) })).toThrow(
        IncompleteSignatureError,
      );
    }
  });
});

describe('malformed Authorization headers', () => {
  const base: SignedRequest = {
    method: 'GET',
    path: '/',
    query: '',
    headers: { host: 'api.meshline.example', 'x-amz-date': '20250101T000000Z' },
    payloadHash: payloadHash(''),
  };
  const read = (authorization: string, headers: Record<string, string> = {}) =>
    () => readSignature({ ...base, headers: { ...base.headers, ...headers, authorization } });

  it('finds no signature when there is none', () => {
    expect(readSignature(base)).toBeUndefined();
  });

  it('lists each missing part', () => {
    expect(read('AWS4-HMAC-SHA256 SignedHeaders=host')).toThrow(
      new IncompleteSignatureError(
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter.",
      ),
    );
    const headers = { host: 'api.meshline.example', authorization: 'AWS4-HMAC-SHA256' };
    expect(() => readSignature({ ...base, headers })).toThrow(
      new IncompleteSignatureError(
        "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. " +
          "Authorization header requires 'SignedHeaders' parameter. " +
          "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
      ),
    );
  });

  it('asks for a date when there is neither X-Amz-Date nor Date', () => {
    const headers = { host: 'api.meshline.example', authorization: 'AWS4-HMAC-SHA256 Credential=a/20250101/r/s/aws4_request, SignedHeaders=host, Signature=00' };
    expect(() => readSignature({ ...base, headers })).toThrow(
      new IncompleteSignatureError("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."),
    );
  });

  it('reads the date from an RFC 1123 Date header', () => {
    const headers = { host: 'h', date: 'Wed, 01 Jan 2025 00:00:00 GMT', authorization: 'AWS4-HMAC-SHA256 Credential=a/20250101/r/s/aws4_request,SignedHeaders=host;date,Signature=00' };
    expect(readSignature({ ...base, headers })).toMatchObject({ amzDate: '20250101T000000Z', signedHeaders: ['host', 'date'] });
  });

  it('refuses a credential without 5 elements', () => {
    expect(read('AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=00')).toThrow(
      new IncompleteSignatureError("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got 'a/b/c'"),
    );
  });

  it('refuses another algorithm', () => {
    expect(read('AWS4-HMAC-SHA1 Credential=a/b/c/d/aws4_request, SignedHeaders=host, Signature=00')).toThrow(
      new IncompleteSignatureError("Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1'"),
    );
  });

  it('tolerates spacing and order', () => {
    expect(read('  AWS4-HMAC-SHA256   Signature=00 ,SignedHeaders=host;x-amz-date,Credential=a/20250101/r/s/aws4_request  ')()).toMatchObject({
      accessKeyId: 'a',
      signedHeaders: ['host', 'x-amz-date'],
      signature: '00',
    });
  });
});

// ---------------------------------------------------------------------------------------------

describe('Envoy envoy.grpc_credentials.aws_iam calls', () => {
  const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
  const EMPTY_HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

  /** What Envoy signs (config.cc buildMessageToSign + SignerImpl::sign), then sends as metadata. */
  async function envoyMetadata(authority: string): Promise<Record<string, string>> {
    const host = authority.replace(/:(80|443)$/, '');
    const request = {
      method: 'POST',
      protocol: 'https:',
      hostname: host,
      path: ADS_PATH,
      query: {},
      headers: { host, 'x-amz-content-sha256': EMPTY_HASH },
    };
    const signedRequest = await sdkSigner({ applyChecksum: false }).sign(request, { signingDate: SIGNED_AT });
    const metadata: Record<string, string> = {
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'grpc-c++/1.46.6 grpc-c/24.0.0 (linux; chttp2)',
      'grpc-accept-encoding': 'identity,deflate,gzip',
    };
    for (const [name, value] of Object.entries(signedRequest.headers)) {
      if (name !== 'host') metadata[name.toLowerCase()] = value;
    }
    return metadata;
  }

  it('accepts the call as Envoy signed it, :authority with or without :443', async () => {
    for (const authority of ['meshline.example:443', 'meshline.example']) {
      const metadata = await envoyMetadata(authority);
      expect(Object.keys(metadata)).toEqual(expect.arrayContaining(['authorization', 'x-amz-date', 'x-amz-content-sha256']));
      const request = grpcSignedRequest({ path: ADS_PATH, authority, metadata });
      expect(request).toMatchObject({ method: 'POST', path: ADS_PATH, query: '', payloadHash: EMPTY_HASH });
      expect(() => verifyRequest(request, SECRET, EXPECTED)).not.toThrow();
    }
  });

  it('accepts a non-default port signed as part of host', async () => {
    const metadata = await envoyMetadata('meshline.example:18000');
    expect(() => verifyRequest(grpcSignedRequest({ path: ADS_PATH, authority: 'meshline.example:18000', metadata }), SECRET, EXPECTED)).not.toThrow();
  });

  it('refuses a call to another method or authority than signed', async () => {
    const metadata = await envoyMetadata('meshline.example:443');
    const delta = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';
    expect(() => verifyRequest(grpcSignedRequest({ path: delta, authority: 'meshline.example:443', metadata }), SECRET, EXPECTED)).toThrow(
      new InvalidSignatureError(MISMATCH),
    );
    expect(() => verifyRequest(grpcSignedRequest({ path: ADS_PATH, authority: 'evil.example:443', metadata }), SECRET, EXPECTED)).toThrow(
      new InvalidSignatureError(MISMATCH),
    );
  });
});
