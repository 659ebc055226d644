/**
 * The relay's identity check with access keys (relay/access.ts), over an in-memory key store:
 * each proof (per-proxy token in `authorization` or node metadata, SigV4 as Envoy's aws_iam
 * plugin signs, client certificate), each refusal and its gRPC status, and a fuzz test of
 * malformed credentials (fixed seed): never a crash, never an echoed secret.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AccessKey } from '../../shared/auth/keys.js';
import { formatProxyToken } from '../../shared/auth/keys.js';
import { parseNodeId, type ProxyId } from '../../shared/xds/node-id.js';
import {
  AccessCheckUnavailableError,
  checkAccess,
  KEY_RECHECK_CONCURRENCY,
  keyRevoked,
  PROXY_TOKEN_METADATA_KEY,
  type AccessKeyCheck,
  type AccessPolicy,
  type PeerCredentials,
  revokedKeys,
} from '../../relay/access.js';
import { decodeDeltaDiscoveryRequest, decodeDiscoveryRequest, ProtocolError, STREAM_AGGREGATED_RESOURCES } from '../../relay/protocol.js';
import { encodeDeltaDiscoveryRequest, encodeDiscoveryRequest, type TestNode } from '../support/xds-codecs.js';

const REGION = 'eu-west-1';
const NOW = new Date('2026-11-25T12:00:00Z');
const AUTHORITY = 'relay.example:18000';
const FRONT = 'mesh/shop/virtualNode/front';
const BACK = 'mesh/shop/virtualNode/back';

function proxy(nodeId: string): ProxyId {
  const parsed = parseNodeId(nodeId);
  if (!parsed) throw new Error(`not a node id: ${nodeId}`);
  return parsed;
}

/** A key of the in-memory store; ids have the real shape (MLAK + 16 base32). */
function key(suffix: string, fields: Partial<AccessKey>): { key: AccessKey; secret: string } {
  return {
    key: { accessKeyId: `MLAK${suffix.padEnd(16, 'A')}`, role: 'proxy', meshes: ['shop'], proxies: [FRONT], status: 'Active', createdAt: NOW.toISOString(), ...fields },
    secret: `S${suffix}`.padEnd(40, 'x'),
  };
}

const KEYS = {
  front: key('FRONT', {}),
  revoked: key('REVOKED', { status: 'Revoked' }),
  admin: key('ADMIN', { role: 'admin', meshes: ['shop'], proxies: [] }),
  otherAdmin: key('OTHERADMIN', { role: 'admin', meshes: ['elsewhere'], proxies: [] }),
  readOnly: key('READONLY', { role: 'read-only', meshes: '*', proxies: [] }),
};

function memoryKeys(entries = Object.values(KEYS)): AccessKeyCheck {
  const byId = new Map(entries.map((entry) => [entry.key.accessKeyId, entry]));
  return {
    region: REGION,
    now: () => NOW,
    store: {
      get: (accessKeyId) => Promise.resolve(byId.get(accessKeyId)?.key),
      secretOf: (found) => Promise.resolve(byId.get(found.accessKeyId)?.secret ?? ''),
    },
  };
}

const POLICY: AccessPolicy = { requireClientCertificate: false, keys: memoryKeys() };

function tokenOf(entry: { key: AccessKey; secret: string }): string {
  return formatProxyToken(entry.key.accessKeyId, entry.secret);
}

function peer(fields: Partial<PeerCredentials> = {}): PeerCredentials {
  return { authorization: [], call: { path: STREAM_AGGREGATED_RESOURCES, authority: AUTHORITY, metadata: {} }, ...fields };
}

/** What Envoy's envoy.grpc_credentials.aws_iam signs for an ADS call and sends as metadata (see grpcSignedRequest). */
async function envoySigned(entry: { key: AccessKey; secret: string }, options: { signingDate?: Date; region?: string; service?: string } = {}): Promise<PeerCredentials> {
  const signer = new SignatureV4({
    service: options.service ?? 'appmesh',
    region: options.region ?? REGION,
    credentials: { accessKeyId: entry.key.accessKeyId, secretAccessKey: entry.secret },
    sha256: Sha256,
  });
  const signed = await signer.sign(
    { method: 'POST', protocol: 'https:', hostname: AUTHORITY, path: STREAM_AGGREGATED_RESOURCES, query: {}, headers: { host: AUTHORITY } },
    { signingDate: options.signingDate ?? NOW },
  );
  const metadata: Record<string, string> = { 'content-type': 'application/grpc', te: 'trailers' };
  for (const [name, value] of Object.entries(signed.headers)) if (name !== 'host') metadata[name] = value;
  return peer({ authorization: [metadata.authorization ?? ''], call: { path: STREAM_AGGREGATED_RESOURCES, authority: AUTHORITY, metadata } });
}

describe('relay access with keys: what proves an identity', () => {
  const grantedBy = (entry: { key: AccessKey }) => ({ allowed: true, accessKeyId: entry.key.accessKeyId });

  it('accepts a per-proxy token as "authorization: Bearer" or in node metadata, for the proxy it names (node id or ARN)', async () => {
    const token = tokenOf(KEYS.front);
    expect(await checkAccess(POLICY, peer({ authorization: [`Bearer ${token}`] }), proxy(FRONT))).toEqual(grantedBy(KEYS.front));
    expect(await checkAccess(POLICY, peer({ authorization: [`bearer  ${token} `] }), proxy(FRONT))).toEqual(grantedBy(KEYS.front));
    expect(await checkAccess(POLICY, peer({ nodeProxyToken: token }), proxy(FRONT))).toEqual(grantedBy(KEYS.front));
    expect(await checkAccess(POLICY, peer({ nodeProxyToken: token }), proxy('arn:aws:appmesh:eu-west-1:111122223333:mesh/shop/virtualNode/front'))).toEqual(
      grantedBy(KEYS.front),
    );
  });

  it('accepts an admin key for the mesh, and SigV4 signed as Envoy signs an ADS call', async () => {
    expect(await checkAccess(POLICY, peer({ authorization: [`Bearer ${tokenOf(KEYS.admin)}`] }), proxy(BACK))).toEqual(grantedBy(KEYS.admin));
    expect(await checkAccess(POLICY, await envoySigned(KEYS.front), proxy(FRONT))).toEqual(grantedBy(KEYS.front));
    // 14 minutes of skew either way is fine.
    expect(await checkAccess(POLICY, await envoySigned(KEYS.front, { signingDate: new Date(NOW.getTime() - 14 * 60_000) }), proxy(FRONT))).toEqual(
      grantedBy(KEYS.front),
    );
  });

  it('a grant by an access key carries that key id (the stream is rechecked against it); a certificate or shared-token grant carries none', async () => {
    // When a token of one key fails and another's proves the identity, the grant names the one that proved it.
    const decision = await checkAccess(POLICY, peer({ authorization: [`Bearer ${tokenOf(KEYS.revoked)}`, `Bearer ${tokenOf(KEYS.admin)}`] }), proxy(FRONT));
    expect(decision).toEqual({ allowed: true, accessKeyId: KEYS.admin.key.accessKeyId });
    // A certificate naming the proxy proves it before any token is read.
    const certified = await checkAccess(POLICY, peer({ certificateSubjectAltName: `URI:${FRONT}`, authorization: [`Bearer ${tokenOf(KEYS.front)}`] }), proxy(FRONT));
    expect(certified).toEqual({ allowed: true });
    expect(await checkAccess({ requireClientCertificate: false, bearerToken: 'shared' }, peer({ authorization: ['Bearer shared'] }), proxy(FRONT))).not.toHaveProperty(
      'accessKeyId',
    );
  });

  it('accepts a verified client certificate naming the proxy without any key', async () => {
    expect(await checkAccess(POLICY, peer({ certificateSubjectAltName: `URI:${FRONT}` }), proxy(FRONT))).toEqual({ allowed: true });
  });
});

describe('relay access with keys: refusals', () => {
  const refused = (code: string, reason: string) => expect.objectContaining({ allowed: false, code, reason });

  it('no credentials at all: UNAUTHENTICATED missing_credentials, saying what is expected', async () => {
    const decision = await checkAccess(POLICY, peer(), proxy(FRONT));
    expect(decision).toEqual(refused('UNAUTHENTICATED', 'missing_credentials'));
    expect(decision).toMatchObject({ message: expect.stringMatching(/Bearer <accessKeyId>\.<secret>.*AWS4-HMAC-SHA256.*appmesh in eu-west-1.*meshline\.proxyToken/) });
    // A verified certificate naming no proxy proves nothing, and refuses nothing either.
    expect(await checkAccess(POLICY, peer({ certificateSubjectAltName: 'DNS:front.example' }), proxy(FRONT))).toEqual(refused('UNAUTHENTICATED', 'missing_credentials'));
  });

  it('malformed, unknown, revoked, wrong secret, non-string node token, other schemes: UNAUTHENTICATED invalid_credentials', async () => {
    const wrongSecret = formatProxyToken(KEYS.front.key.accessKeyId, 'W'.repeat(40));
    const cases: PeerCredentials[] = [
      peer({ authorization: ['Bearer not-a-token'] }),
      peer({ authorization: ['Bearer '] }),
      peer({ authorization: [`Bearer ${formatProxyToken('MLAKUNKNOWNUNKNOWNUN', 'x'.repeat(40))}`] }),
      peer({ authorization: [`Bearer ${tokenOf(KEYS.revoked)}`] }),
      peer({ authorization: [`Bearer ${wrongSecret}`] }),
      peer({ authorization: [`Basic ${Buffer.from('a:b').toString('base64')}`] }),
      peer({ nodeProxyToken: '' }),
      peer({ nodeProxyToken: wrongSecret }),
    ];
    for (const credentials of cases) {
      const decision = await checkAccess(POLICY, credentials, proxy(FRONT));
      expect(decision).toEqual(refused('UNAUTHENTICATED', 'invalid_credentials'));
      expect(JSON.stringify(decision)).not.toContain('W'.repeat(40));
    }
  });

  it('SigV4 expired, signed with a wrong secret, for another region or service, or by a revoked key: UNAUTHENTICATED invalid_credentials', async () => {
    const cases = [
      [await envoySigned(KEYS.front, { signingDate: new Date(NOW.getTime() - 16 * 60_000) }), /expired or not yet valid/],
      [await envoySigned(KEYS.front, { signingDate: new Date(NOW.getTime() + 16 * 60_000) }), /expired or not yet valid/],
      [await envoySigned({ key: KEYS.front.key, secret: 'Q'.repeat(40) }), /does not match/],
      [await envoySigned(KEYS.front, { region: 'us-east-1' }), /scoped to region eu-west-1 and service appmesh/],
      [await envoySigned(KEYS.front, { service: 'execute-api' }), /scoped to region eu-west-1 and service appmesh/],
      [await envoySigned(KEYS.revoked), /unknown or revoked/],
      [peer({ authorization: ['AWS4-HMAC-SHA256 Credential=MLAKFRONTAAAAAAAAAAA/20261125'] }), /malformed/],
    ] as const;
    for (const [credentials, message] of cases) {
      const decision = await checkAccess(POLICY, credentials, proxy(FRONT));
      expect(decision).toEqual(refused('UNAUTHENTICATED', 'invalid_credentials'));
      expect(decision).toMatchObject({ message: expect.stringMatching(message) });
      const signature = /Signature=([0-9a-f]+)/.exec(credentials.authorization[0] ?? '')?.[1];
      if (signature) expect(JSON.stringify(decision)).not.toContain(signature);
    }
  });

  it('SigV4 of the other ADS method or another authority than the call: refused', async () => {
    const signed = await envoySigned(KEYS.front);
    const call = { ...signed.call!, path: '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources' };
    expect(await checkAccess(POLICY, { ...signed, call }, proxy(FRONT))).toEqual(refused('UNAUTHENTICATED', 'invalid_credentials'));
    expect(await checkAccess(POLICY, { ...signed, call: { ...signed.call!, authority: 'evil.example:18000' } }, proxy(FRONT))).toEqual(
      refused('UNAUTHENTICATED', 'invalid_credentials'),
    );
  });

  it('a valid identity of another proxy, an admin key of another mesh, or a read-only key: PERMISSION_DENIED identity_names_another_proxy', async () => {
    for (const [credentials, claimed] of [
      [peer({ authorization: [`Bearer ${tokenOf(KEYS.front)}`] }), BACK],
      [peer({ nodeProxyToken: tokenOf(KEYS.front) }), BACK],
      [await envoySigned(KEYS.front), BACK],
      [peer({ authorization: [`Bearer ${tokenOf(KEYS.otherAdmin)}`] }), FRONT],
      [peer({ authorization: [`Bearer ${tokenOf(KEYS.readOnly)}`] }), FRONT],
    ] as const) {
      const decision = await checkAccess(POLICY, credentials, proxy(claimed));
      expect(decision).toEqual(refused('PERMISSION_DENIED', 'identity_names_another_proxy'));
      expect(decision).toMatchObject({ message: expect.stringContaining(`may not receive the configuration of ${claimed}`) });
    }
    // A certificate of another proxy keeps its own reason.
    expect(await checkAccess(POLICY, peer({ certificateSubjectAltName: `URI:${BACK}` }), proxy(FRONT))).toEqual(
      refused('PERMISSION_DENIED', 'certificate_names_another_proxy'),
    );
  });

  it('a key store that fails is no refusal: AccessCheckUnavailableError (UNAVAILABLE at the relay)', async () => {
    const failing: AccessPolicy = {
      requireClientCertificate: false,
      keys: { region: REGION, store: { get: () => Promise.reject(new Error('connect ECONNREFUSED')), secretOf: () => Promise.resolve('') } },
    };
    await expect(checkAccess(failing, peer({ authorization: [`Bearer ${tokenOf(KEYS.front)}`] }), proxy(FRONT))).rejects.toBeInstanceOf(AccessCheckUnavailableError);
  });

  it('without keys, the shared token and certificate modes keep their reasons', async () => {
    const shared: AccessPolicy = { requireClientCertificate: false, bearerToken: 'shared' };
    expect(await checkAccess(shared, peer(), proxy(FRONT))).toEqual(refused('UNAUTHENTICATED', 'missing_token'));
    expect(await checkAccess(shared, peer({ authorization: ['Bearer shared'] }), proxy(FRONT))).toEqual({ allowed: true });
    expect(await checkAccess({ requireClientCertificate: false }, peer(), proxy(FRONT))).toEqual({ allowed: true });
  });
});

describe('revokedKeys: the recheck of the keys of open streams', () => {
  it('reads each distinct key once, at most KEY_RECHECK_CONCURRENCY at a time, and names those missing or not Active', async () => {
    const many = Array.from({ length: 40 }, (_, i) => key(`MANY${String.fromCharCode(65 + (i % 26))}${String.fromCharCode(65 + Math.floor(i / 26))}`, {}));
    const base = memoryKeys([...Object.values(KEYS), ...many]);
    const reads: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const counted: AccessKeyCheck = {
      ...base,
      store: {
        ...base.store,
        get: async (accessKeyId) => {
          reads.push(accessKeyId);
          maxInFlight = Math.max(maxInFlight, (inFlight += 1));
          await new Promise((resolve) => setTimeout(resolve, 1));
          inFlight -= 1;
          return base.store.get(accessKeyId);
        },
      },
    };
    const unknown = 'MLAKUNKNOWNUNKNOWNUN';
    const ids = [KEYS.front, KEYS.front, KEYS.revoked, KEYS.admin, KEYS.revoked, ...many].map((entry) => entry.key.accessKeyId);
    const { revoked, unreadable } = await revokedKeys(counted, [...ids, unknown, unknown]);
    expect([...revoked].sort()).toEqual([KEYS.revoked.key.accessKeyId, unknown].sort());
    expect(unreadable.size).toBe(0);
    expect(reads.sort()).toEqual([...new Set([...ids, unknown])].sort());
    expect(maxInFlight).toBe(KEY_RECHECK_CONCURRENCY);
  });

  it('a failing read revokes nothing: the key is unreadable and its streams are kept', async () => {
    const base = memoryKeys();
    const failing: AccessKeyCheck = {
      ...base,
      store: { ...base.store, get: (id) => (id === KEYS.front.key.accessKeyId ? Promise.reject(new Error('connect ECONNREFUSED')) : base.store.get(id)) },
    };
    const { revoked, unreadable } = await revokedKeys(failing, [KEYS.front.key.accessKeyId, KEYS.revoked.key.accessKeyId]);
    expect([...revoked]).toEqual([KEYS.revoked.key.accessKeyId]);
    expect([...unreadable.keys()]).toEqual([KEYS.front.key.accessKeyId]);
  });

  it('the refusal of a revoked key is UNAUTHENTICATED key_revoked, naming the key', () => {
    expect(keyRevoked(KEYS.front.key.accessKeyId)).toEqual({
      allowed: false,
      code: 'UNAUTHENTICATED',
      reason: 'key_revoked',
      message: expect.stringMatching(new RegExp(`^access key ${KEYS.front.key.accessKeyId} was revoked`)),
    });
  });
});

describe('node metadata meshline.proxyToken', () => {
  const node = (metadata?: object): TestNode => ({ id: FRONT, ...(metadata ? { metadata } : {}) }) as TestNode;
  const tokenOfSotw = (bytes: Uint8Array) => decodeDiscoveryRequest(bytes).node?.proxy_token;

  it('is read from the encoded first request of either protocol, and the relay decoder still reads the node', () => {
    const metadata = { fields: { other: { stringValue: 'x' }, [PROXY_TOKEN_METADATA_KEY]: { stringValue: 'MLAK.token' } } };
    const sotw = encodeDiscoveryRequest({ node: node(metadata), type_url: 'type.googleapis.com/envoy.config.cluster.v3.Cluster' });
    expect(tokenOfSotw(sotw)).toBe('MLAK.token');
    expect(decodeDiscoveryRequest(sotw).node?.id).toBe(FRONT);
    const delta = encodeDeltaDiscoveryRequest({ node: node(metadata), type_url: 'type.googleapis.com/envoy.config.cluster.v3.Cluster' });
    expect(decodeDeltaDiscoveryRequest(delta).node?.proxy_token).toBe('MLAK.token');
    expect(decodeDeltaDiscoveryRequest(delta).node?.id).toBe(FRONT);
  });

  it('is undefined when absent, and empty when it holds something other than a string', () => {
    expect(tokenOfSotw(encodeDiscoveryRequest({ node: node(), type_url: 'x' }))).toBeUndefined();
    expect(tokenOfSotw(encodeDiscoveryRequest({ node: node({ fields: { other: { stringValue: 'x' } } }), type_url: 'x' }))).toBeUndefined();
    expect(tokenOfSotw(encodeDiscoveryRequest({ node: node({ fields: { [PROXY_TOKEN_METADATA_KEY]: { numberValue: 7 } } }), type_url: 'x' }))).toBe('');
  });

  it('never fails otherwise than as a malformed request on malformed bytes (fuzz, fixed seed)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        let token: string | undefined;
        try {
          token = tokenOfSotw(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
          return;
        }
        expect(token === undefined || typeof token === 'string').toBe(true);
      }),
      { seed: 20261125, numRuns: 2_000 },
    );
  });
});

describe('relay access with keys: fuzz of malformed credentials (fixed seed)', () => {
  const printable = fc.string({ unit: fc.constantFrom(...' !"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~'), maxLength: 120 });
  const sigv4Part = fc.oneof(
    fc.constant('Credential=MLAKFRONTAAAAAAAAAAA/20261125/eu-west-1/appmesh/aws4_request'),
    printable.map((value) => `Credential=${value}`),
    fc.constant('SignedHeaders=host;x-amz-date'),
    printable.map((value) => `SignedHeaders=${value}`),
    fc.stringMatching(/^[0-9a-f]{0,64}$/).map((value) => `Signature=${value}`),
    printable,
  );
  const authorization = fc.oneof(
    printable,
    printable.map((value) => `Bearer ${value}`),
    fc.tuple(fc.stringMatching(/^MLAK[A-Z2-7]{16}$/), printable).map(([id, secret]) => `Bearer ${id}.${secret}`),
    fc.constant(`Bearer ${KEYS.front.key.accessKeyId}.`).chain((prefix) => fc.stringMatching(/^[A-Za-z0-9]{40}$/).map((secret) => prefix + secret)),
    fc.array(sigv4Part, { maxLength: 5 }).map((parts) => `AWS4-HMAC-SHA256 ${parts.join(', ')}`),
  );

  it('refuses every malformed authorization or node token as UNAUTHENTICATED or PERMISSION_DENIED, never throws, never echoes it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(authorization, { maxLength: 2 }),
        fc.option(printable, { nil: undefined }),
        fc.option(fc.oneof(printable, fc.constant('20261125T120000Z')), { nil: undefined }),
        async (values, nodeToken, amzDate) => {
          const metadata: Record<string, string> = amzDate === undefined ? {} : { 'x-amz-date': amzDate };
          const decision = await checkAccess(
            POLICY,
            peer({ authorization: values, nodeProxyToken: nodeToken, call: { path: STREAM_AGGREGATED_RESOURCES, authority: AUTHORITY, metadata } }),
            proxy(FRONT),
          );
          expect(decision.allowed).toBe(false);
          if (decision.allowed) return;
          expect(['UNAUTHENTICATED', 'PERMISSION_DENIED']).toContain(decision.code);
          for (const value of [...values, nodeToken ?? '']) {
            const secretPart = value.replace(/^(Bearer|AWS4-HMAC-SHA256)\s*/i, '');
            if (secretPart.length >= 12) expect(decision.message).not.toContain(secretPart);
          }
        },
      ),
      { seed: 20261125, numRuns: 1_000 },
    );
  });
});
