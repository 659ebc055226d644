import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { AccessKeyStore } from '../../shared/auth/keys.js';
import type { Grant } from '../../shared/auth/policy.js';
import type { RateLimiter } from '../../shared/auth/rate-limit.js';
import { payloadHash, readSignature, verifySignature, type SignedRequest } from '../../shared/auth/sigv4.js';
import { MissingAuthenticationTokenError, TooManyRequestsError, UnrecognizedClientError } from '../../shared/errors.js';
import { parseArn } from '../../shared/mesh/kinds.js';

/** The signing names an unchanged client may use: App Mesh's own, and API Gateway's. */
export const SIGNING_NAMES = ['appmesh', 'execute-api'] as const;

/** What the API needs to authenticate callers; absent when auth is off (MESHLINE_AUTH=off). */
export interface ApiAuth {
  keys: Pick<AccessKeyStore, 'get' | 'secretOf'>;
  rateLimiter: Pick<RateLimiter, 'take'>;
  /** Requests per second of a key that sets no rate limit of its own. */
  defaultRateLimit: number;
  /** The region credentials must be scoped to: this deployment's. */
  region: string;
}

/** The request as it was signed: the raw path and query API Gateway hands over, and the body's hash. */
export function signedRequestOf(event: APIGatewayProxyEventV2): SignedRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value;
  return {
    method: event.requestContext?.http?.method?.toUpperCase() ?? 'GET',
    path: event.rawPath ?? '/',
    query: event.rawQueryString ?? '',
    headers,
    payloadHash: payloadHash(bodyBytes(event)),
  };
}

/**
 * The body's bytes as the client sent them. API Gateway hands them over as text (or base64);
 * serverless-offline hands a falsy JSON body over parsed (`false`, `0`, and `null`, which
 * only its content-length tells from no body at all).
 */
function bodyBytes(event: APIGatewayProxyEventV2): Uint8Array | string {
  const raw: unknown = event.body;
  if (raw === undefined) return '';
  if (raw === null) return Number(event.headers?.['content-length'] ?? 0) > 0 ? 'null' : '';
  if (typeof raw !== 'string') return JSON.stringify(raw);
  return event.isBase64Encoded ? Buffer.from(raw, 'base64') : raw;
}

/**
 * Authenticates a request as AWS's frontend does, before anything else reads it: a SigV4
 * signature (header or presigned query) by an active Meshline access key, scoped to this
 * region and to `appmesh` or `execute-api`, within 15 minutes of now; then the key's rate
 * limit. Returns the key's grant. Every refusal is the error AWS answers with: no signature
 * MissingAuthenticationToken, an unknown or revoked key UnrecognizedClient, a bad signature
 * InvalidSignature, a full rate window TooManyRequests. Proxy keys authenticate here too and
 * are then refused every operation by authorization.
 */
export async function authenticate(auth: ApiAuth, event: APIGatewayProxyEventV2, now = new Date()): Promise<Grant> {
  const request = signedRequestOf(event);
  const claim = readSignature(request);
  if (!claim) throw new MissingAuthenticationTokenError();
  const key = await auth.keys.get(claim.accessKeyId);
  if (!key || key.status !== 'Active') throw new UnrecognizedClientError();
  verifySignature(request, claim, await auth.keys.secretOf(key), { now, region: auth.region, services: SIGNING_NAMES });
  const allowed = await auth.rateLimiter.take(key.accessKeyId, key.rateLimit ?? auth.defaultRateLimit, now.getTime());
  if (!allowed) throw new TooManyRequestsError('Rate exceeded');
  return { accessKeyId: key.accessKeyId, role: key.role, meshes: key.meshes, proxies: key.proxies ?? [] };
}

/**
 * The mesh an App Mesh operation acts on, from its validated input: `meshName`, or the mesh of
 * a tag operation's `resourceArn`. Undefined for ListMeshes, which acts on no one mesh.
 */
export function meshOfInput(input: Record<string, unknown>): string | undefined {
  if (typeof input.meshName === 'string') return input.meshName;
  if (typeof input.resourceArn === 'string') {
    const key = parseArn(input.resourceArn);
    // Not an App Mesh ARN: no mesh to scope by (''), so only a key for all meshes passes, and
    // the operation then answers the ARN's problem itself.
    return key?.meshName ?? '';
  }
  return undefined;
}
