import { createHash, timingSafeEqual } from 'node:crypto';
import type { AccessKey, AccessKeyStore } from '../shared/auth/keys.js';
import { parseProxyToken } from '../shared/auth/keys.js';
import { mayServeProxy } from '../shared/auth/policy.js';
import { grpcSignedRequest, readSignature, verifySignature } from '../shared/auth/sigv4.js';
import { InvalidSignatureError, MeshlineError, NotFoundError } from '../shared/errors.js';
import { nodeIdOf, parseNodeId, type ProxyId } from '../shared/xds/node-id.js';
import { PROXY_TOKEN_METADATA_KEY } from './protocol.js';

/**
 * Who may open an ADS stream for a proxy. Every check is optional: without a policy the relay
 * serves any client that names a proxy of a manifest (as inside a private network).
 */
export interface AccessPolicy {
  /**
   * Clients must present a certificate, signed by the relay's client CA, with a SAN naming the
   * proxy they claim to be (see {@link certificateNames}). Needs TLS with a client CA.
   */
  requireClientCertificate: boolean;
  /** One token shared by every client of this relay, sent as `authorization: Bearer <token>`. */
  bearerToken?: string | undefined;
  /**
   * Meshline access keys: every stream must prove the identity it claims (see
   * {@link checkAccess}) with a key that is Active and may serve that proxy
   * (`mayServeProxy`: a proxy key naming its node id, or an admin key covering its mesh).
   */
  keys?: AccessKeyCheck | undefined;
}

/** Where access keys are looked up, and what SigV4 signatures must be scoped to. */
export interface AccessKeyCheck {
  store: Pick<AccessKeyStore, 'get' | 'secretOf'>;
  /** The region signatures must be scoped to: the relay's. */
  region: string;
  /** The clock signatures are checked against (15 minutes either way); the system clock by default. */
  now?: (() => Date) | undefined;
}

/** How many `authorization` metadata values of one stream are tried. */
export const MAX_AUTHORIZATION_VALUES = 2;

/** The signing name App Mesh's Envoy image signs ADS calls with (`envoy.grpc_credentials.aws_iam`). */
export const SIGNING_SERVICE = 'appmesh';

// The key of the per-proxy token in `node.metadata`, for clients that cannot add call metadata
// (grpc-js-xds); relay/protocol.ts reads it while decoding the node.
export { PROXY_TOKEN_METADATA_KEY } from './protocol.js';

/** What a client presented, read from its connection, call metadata and first request. */
export interface PeerCredentials {
  /**
   * The client certificate's subjectAltName as Node reports it (`DNS:a, URI:b`), present only
   * when the certificate verified against the client CA.
   */
  certificateSubjectAltName?: string | undefined;
  /** The values of the `authorization` metadata. */
  authorization: string[];
  /** The call as SigV4 signed it: its path, `:authority` and text metadata (lower-case keys, first value of each). */
  call?: { path: string; authority: string; metadata: Record<string, string> } | undefined;
  /**
   * `node.metadata["meshline.proxyToken"]` of the stream's first request: its string value, `''`
   * when present but not a string, undefined when absent.
   */
  nodeProxyToken?: string | undefined;
}

/** Why a stream was refused: a small fixed set, so it can label a metric. */
export type RefusalReason =
  | 'missing_token'
  | 'invalid_token'
  | 'missing_client_certificate'
  | 'certificate_names_another_proxy'
  | 'missing_credentials'
  | 'invalid_credentials'
  | 'identity_names_another_proxy'
  /** An open stream whose access key was revoked (or deleted) since it was granted: see {@link revokedKeys}. */
  | 'key_revoked';

/** Why a stream is not (or no longer) served. */
export interface AccessRefusal {
  allowed: false;
  /** UNAUTHENTICATED: no valid credentials. PERMISSION_DENIED: valid credentials of someone else. */
  code: 'UNAUTHENTICATED' | 'PERMISSION_DENIED';
  reason: RefusalReason;
  /** Says what was expected; never echoes a secret, token or signature. */
  message: string;
}

export type AccessDecision =
  | {
      allowed: true;
      /**
       * The access key that proved the identity, so the stream can end when it is revoked;
       * absent for a certificate, a shared token, or no check at all.
       */
      accessKeyId?: string;
    }
  | AccessRefusal;

/**
 * The access keys could not be read (DynamoDB or the secret sealer failing): the stream is
 * neither served nor refused, but answered UNAVAILABLE so the proxy retries.
 */
export class AccessCheckUnavailableError extends Error {
  override name = 'AccessCheckUnavailableError';
  constructor(
    message: string,
    override readonly cause: unknown,
  ) {
    super(message);
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Compares secrets in constant time (over digests, so lengths do not leak either). */
function sameSecret(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Splits Node's subjectAltName string (`DNS:a, URI:b`; values with special characters are
 * JSON-quoted, as Node does since v17) into [kind, value] pairs.
 */
export function subjectAltNames(subjectAltName: string): [string, string][] {
  const names: [string, string][] = [];
  const pattern = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/gy;
  for (const match of subjectAltName.matchAll(pattern)) {
    const [, kind = '', raw = ''] = match;
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        continue;
      }
    }
    names.push([kind, value]);
  }
  return names;
}

/**
 * The proxies a client certificate names: each URI or DNS SAN that is a node id
 * (`mesh/<mesh>/virtualNode/<name>`, `mesh/<mesh>/virtualGateway/<name>`) or a proxy's App Mesh
 * ARN (`arn:aws:appmesh:<region>:<account>:mesh/<mesh>/virtualNode/<name>`).
 */
export function certificateNames(subjectAltName: string): ProxyId[] {
  return subjectAltNames(subjectAltName).flatMap(([kind, value]) => {
    if (kind !== 'URI' && kind !== 'DNS') return [];
    const proxy = parseNodeId(value);
    return proxy ? [proxy] : [];
  });
}

function sameProxy(a: ProxyId, b: ProxyId): boolean {
  return a.mesh === b.mesh && a.kind === b.kind && a.name === b.name;
}

function refuse(code: 'UNAUTHENTICATED' | 'PERMISSION_DENIED', reason: RefusalReason, message: string): AccessRefusal {
  return { allowed: false, code, reason, message };
}

const ALLOWED: AccessDecision = { allowed: true };

/**
 * Decides whether a client may be served the configuration of the proxy it claims to be: the
 * one place identity is checked, once per stream (the relay then rechecks only that the key of a
 * grant stays Active: {@link revokedKeys}). Without `keys`, the shared bearer token and
 * the client certificate are checked as configured. With `keys`, the client must prove the
 * identity it claims by one of: a verified client certificate naming the proxy, a per-proxy
 * token (`authorization: Bearer <accessKeyId>.<secret>`, or in node metadata
 * `meshline.proxyToken`), or a SigV4 signature of the call as Envoy's `aws_iam` gRPC
 * credentials make it. Throws {@link AccessCheckUnavailableError} when keys cannot be read.
 */
export async function checkAccess(policy: AccessPolicy, peer: PeerCredentials, claimed: ProxyId): Promise<AccessDecision> {
  if (policy.bearerToken !== undefined) {
    const header = peer.authorization[0];
    if (header === undefined) return refuse('UNAUTHENTICATED', 'missing_token', 'this relay requires "authorization: Bearer <token>" metadata');
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (!match?.[1] || !sameSecret(match[1], policy.bearerToken)) {
      return refuse('UNAUTHENTICATED', 'invalid_token', 'the bearer token is not valid for this relay');
    }
  }
  if (policy.requireClientCertificate) {
    if (peer.certificateSubjectAltName === undefined) {
      return refuse('UNAUTHENTICATED', 'missing_client_certificate', 'this relay requires a client certificate signed by its client CA');
    }
    const certificate = checkCertificate(peer.certificateSubjectAltName, claimed);
    // A certificate naming the proxy proves its identity; keys add nothing to it.
    if (certificate) return certificate;
  }
  return policy.keys ? checkIdentity(policy.keys, peer, claimed) : ALLOWED;
}

/** Allowed if the certificate names the claimed proxy, else certificate_names_another_proxy. */
function checkCertificate(subjectAltName: string, claimed: ProxyId): AccessDecision {
  if (certificateNames(subjectAltName).some((proxy) => sameProxy(proxy, claimed))) return ALLOWED;
  return refuse(
    'PERMISSION_DENIED',
    'certificate_names_another_proxy',
    `the client certificate does not name mesh/${claimed.mesh}/${claimed.kind}/${claimed.name} ` +
      '(a URI or DNS SAN must be its node id or ARN)',
  );
}

/**
 * Tries each proof presented (certificate, authorization values, node metadata token) until one
 * proves the claimed identity. Otherwise: a valid identity of someone else is PERMISSION_DENIED
 * (it names the key, never its secret), anything else UNAUTHENTICATED.
 */
async function checkIdentity(keys: AccessKeyCheck, peer: PeerCredentials, claimed: ProxyId): Promise<AccessDecision> {
  const refusals: AccessDecision[] = [];
  if (peer.certificateSubjectAltName !== undefined && certificateNames(peer.certificateSubjectAltName).length > 0) {
    const certificate = checkCertificate(peer.certificateSubjectAltName, claimed);
    if (certificate.allowed) return certificate;
    refusals.push(certificate);
  }
  const proofs: (() => Promise<AccessDecision>)[] = [
    // At most MAX_AUTHORIZATION_VALUES of them: each may cost a key read, and a client has no
    // reason to send more than one (a token or a signature).
    ...peer.authorization.slice(0, MAX_AUTHORIZATION_VALUES).map((value) => () => checkAuthorization(keys, peer, value, claimed)),
    ...(peer.nodeProxyToken !== undefined ? [() => checkProxyToken(keys, peer.nodeProxyToken ?? '', 'node metadata meshline.proxyToken', claimed)] : []),
  ];
  for (const proof of proofs) {
    const decision = await proof();
    if (decision.allowed) return decision;
    refusals.push(decision);
  }
  const denied = refusals.find((decision) => !decision.allowed && decision.code === 'PERMISSION_DENIED');
  if (denied) return denied;
  return (
    refusals[0] ??
    refuse(
      'UNAUTHENTICATED',
      'missing_credentials',
      `this relay requires proof of the identity a proxy claims: "authorization: Bearer <accessKeyId>.<secret>" metadata, ` +
        `a SigV4 (AWS4-HMAC-SHA256) signature of the call for service ${SIGNING_SERVICE} in ${keys.region}, ` +
        `the token in node metadata "${PROXY_TOKEN_METADATA_KEY}", or a client certificate naming the proxy`,
    )
  );
}

function invalid(message: string): AccessDecision {
  return refuse('UNAUTHENTICATED', 'invalid_credentials', message);
}

/** One `authorization` value: a per-proxy token or a SigV4 signature. */
function checkAuthorization(keys: AccessKeyCheck, peer: PeerCredentials, value: string, claimed: ProxyId): Promise<AccessDecision> {
  const trimmed = value.trim();
  const bearer = /^Bearer\s+(\S*)$/i.exec(trimmed);
  if (bearer) return checkProxyToken(keys, bearer[1] ?? '', 'the bearer token', claimed);
  if (/^AWS4-HMAC-SHA256(\s|$)/.test(trimmed)) return checkSignature(keys, peer, trimmed, claimed);
  return Promise.resolve(
    invalid('authorization metadata must be "Bearer <accessKeyId>.<secret>" (a proxy token) or an AWS4-HMAC-SHA256 signature'),
  );
}

/** A per-proxy token `<accessKeyId>.<secret>`; the secret compared in constant time. */
async function checkProxyToken(keys: AccessKeyCheck, token: string, what: string, claimed: ProxyId): Promise<AccessDecision> {
  const parsed = parseProxyToken(token);
  if (!parsed) return invalid(`${what} is not a proxy token of the form <accessKeyId>.<secret> (meshline keys create --role proxy prints one)`);
  const key = await activeKey(keys, parsed.accessKeyId);
  if (!key) return invalid(`${what} names an access key that is unknown or revoked`);
  if (!sameSecret(parsed.secretAccessKey, await secretOf(keys, key))) return invalid(`${what} is not valid: its secret does not match its access key`);
  return authorize(key, claimed);
}

/** A SigV4 signature of the call, as Envoy's `envoy.grpc_credentials.aws_iam` signs it (service `appmesh`). */
async function checkSignature(keys: AccessKeyCheck, peer: PeerCredentials, authorization: string, claimed: ProxyId): Promise<AccessDecision> {
  const call = peer.call ?? { path: '', authority: '', metadata: {} };
  const request = grpcSignedRequest({ path: call.path, authority: call.authority, metadata: { ...call.metadata, authorization } });
  let claim: ReturnType<typeof readSignature>;
  try {
    claim = readSignature(request);
  } catch (error) {
    if (!(error instanceof MeshlineError)) throw error;
    return invalid(
      'the AWS4-HMAC-SHA256 authorization is malformed: it needs Credential=<accessKeyId>/<date>/<region>/appmesh/aws4_request, ' +
        'SignedHeaders and Signature, an x-amz-date metadata value, and no session token',
    );
  }
  if (!claim) return invalid('the AWS4-HMAC-SHA256 authorization is malformed');
  const key = await activeKey(keys, claim.accessKeyId);
  if (!key) return invalid('the SigV4 signature names an access key that is unknown or revoked');
  try {
    verifySignature(request, claim, await secretOf(keys, key), { now: keys.now?.() ?? new Date(), region: keys.region, services: [SIGNING_SERVICE] });
  } catch (error) {
    if (!(error instanceof InvalidSignatureError)) throw error;
    return invalid(signatureProblem(error.message, keys.region));
  }
  return authorize(key, claimed);
}

/** What is wrong with a signature, in words of our own: the verifier's message may quote the request. */
function signatureProblem(message: string, region: string): string {
  if (/^Signature (expired|not yet current)/.test(message)) return 'the SigV4 signature is expired or not yet valid: it must be made within 15 minutes of the relay\'s clock';
  if (/scope|scoped/i.test(message)) return `the SigV4 credential must be scoped to region ${region} and service ${SIGNING_SERVICE}`;
  if (/SignedHeader/.test(message)) return 'the SigV4 signature must sign the host (:authority)';
  return 'the SigV4 signature does not match: it must sign the call (POST, its path, :authority) with the secret of its access key';
}

/** A valid key: may it receive this proxy's configuration? */
function authorize(key: AccessKey, claimed: ProxyId): AccessDecision {
  if (mayServeProxy({ accessKeyId: key.accessKeyId, role: key.role, meshes: key.meshes, proxies: key.proxies ?? [] }, claimed)) {
    return { allowed: true, accessKeyId: key.accessKeyId };
  }
  return refuse(
    'PERMISSION_DENIED',
    'identity_names_another_proxy',
    `access key ${key.accessKeyId} may not receive the configuration of ${nodeIdOf(claimed)} ` +
      '(a proxy key must name that node id, or an admin key its mesh)',
  );
}

/** The key if it exists and is Active. A failing read is no refusal: UNAVAILABLE, and the proxy retries. */
async function activeKey(keys: AccessKeyCheck, accessKeyId: string): Promise<AccessKey | undefined> {
  let key: AccessKey | undefined;
  try {
    key = await keys.store.get(accessKeyId);
  } catch (error) {
    throw new AccessCheckUnavailableError('access keys cannot be read right now; retry', error);
  }
  return key?.status === 'Active' ? key : undefined;
}

async function secretOf(keys: AccessKeyCheck, key: AccessKey): Promise<string> {
  try {
    return await keys.store.secretOf(key);
  } catch (error) {
    // Deleted between the two reads: as unknown. Anything else (KMS, a sealed secret that does
    // not open) is the relay's problem, not the client's.
    if (error instanceof NotFoundError) return '';
    throw new AccessCheckUnavailableError('access keys cannot be read right now; retry', error);
  }
}

// --- Revocation of open streams ------------------------------------------------------------------

/** How many access keys {@link revokedKeys} reads at once by default. */
export const KEY_RECHECK_CONCURRENCY = 16;

/** What a recheck found: keys that no longer grant access, and keys that could not be read. */
export interface KeyRecheck {
  /** Missing or not Active: their streams end (`key_revoked`). */
  revoked: Set<string>;
  /** The read failed (DynamoDB down): neither revoked nor confirmed, so their streams are kept. */
  unreadable: Map<string, unknown>;
}

/**
 * Reads each distinct access key once (consistently, as at a stream's start), at most
 * `concurrency` at a time, and says which no longer grant access. Never throws: a failing read
 * lands in `unreadable`, since a transient store error must not cut proxies off.
 */
export async function revokedKeys(keys: AccessKeyCheck, accessKeyIds: Iterable<string>, concurrency = KEY_RECHECK_CONCURRENCY): Promise<KeyRecheck> {
  const pending = [...new Set(accessKeyIds)];
  const result: KeyRecheck = { revoked: new Set(), unreadable: new Map() };
  async function readNext(): Promise<void> {
    for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
      try {
        const key = await keys.store.get(id);
        if (key?.status !== 'Active') result.revoked.add(id);
      } catch (error) {
        result.unreadable.set(id, error);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, pending.length)) }, readNext));
  return result;
}

/** The refusal that ends an open stream whose access key was revoked: names the key, never a secret. */
export function keyRevoked(accessKeyId: string): AccessRefusal {
  return refuse(
    'UNAUTHENTICATED',
    'key_revoked',
    `access key ${accessKeyId} was revoked (or deleted) while this stream was open; reconnect with valid credentials`,
  );
}

// --- Node metadata -----------------------------------------------------------------------------
