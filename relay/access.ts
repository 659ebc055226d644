import { createHash, timingSafeEqual } from 'node:crypto';
import { parseNodeId, type ProxyId } from '../shared/xds/node-id.js';

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
}

/** What a client presented, read from its connection and call metadata. */
export interface PeerCredentials {
  /**
   * The client certificate's subjectAltName as Node reports it (`DNS:a, URI:b`), present only
   * when the certificate verified against the client CA.
   */
  certificateSubjectAltName?: string | undefined;
  /** The values of the `authorization` metadata. */
  authorization: string[];
}

/** Why a stream was refused: a small fixed set, so it can label a metric. */
export type RefusalReason = 'missing_token' | 'invalid_token' | 'missing_client_certificate' | 'certificate_names_another_proxy';

export type AccessDecision =
  | { allowed: true }
  | {
      allowed: false;
      /** UNAUTHENTICATED: no valid credentials. PERMISSION_DENIED: valid credentials of someone else. */
      code: 'UNAUTHENTICATED' | 'PERMISSION_DENIED';
      reason: RefusalReason;
      message: string;
    };

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

function refuse(code: 'UNAUTHENTICATED' | 'PERMISSION_DENIED', reason: RefusalReason, message: string): AccessDecision {
  return { allowed: false, code, reason, message };
}

/**
 * Decides whether a client may be served the configuration of the proxy it claims to be. The
 * one place identity is checked: the per-proxy tokens and SigV4 of later work plug in here.
 */
export function checkAccess(policy: AccessPolicy, peer: PeerCredentials, claimed: ProxyId): AccessDecision {
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
      return refuse('UNAUTHENTICATED', 'missing_client_certificate', "this relay requires a client certificate signed by its client CA");
    }
    const named = certificateNames(peer.certificateSubjectAltName);
    if (!named.some((proxy) => sameProxy(proxy, claimed))) {
      return refuse(
        'PERMISSION_DENIED',
        'certificate_names_another_proxy',
        `the client certificate does not name mesh/${claimed.mesh}/${claimed.kind}/${claimed.name} ` +
          '(a URI or DNS SAN must be its node id or ARN)',
      );
    }
  }
  return { allowed: true };
}
