/**
 * Server-side verification of AWS Signature Version 4 (AWS4-HMAC-SHA256), for the access keys
 * Meshline issues itself (as S3-compatible stores do). Two callers:
 *
 * - the App Mesh REST API (Lambda behind API Gateway HTTP API), signed by unchanged
 *   `@aws-sdk/client-app-mesh` and `aws appmesh --endpoint-url ...`;
 * - gRPC ADS streams from App Mesh's Envoy image, signed per call by Envoy's
 *   `envoy.grpc_credentials.aws_iam` plugin ({@link grpcSignedRequest} rebuilds what it signed).
 *
 * The canonical request is the one of non-S3 services, built exactly as @smithy/signature-v4
 * (`SignatureV4Base.createCanonicalRequest`, `getCanonicalQuery`, `getCanonicalHeaders`) and
 * botocore (`SigV4Auth.canonical_request`) build it. The flow for a caller:
 * `readSignature` (undefined → MissingAuthenticationToken), look the access key up
 * (unknown → UnrecognizedClientError), then `verifySignature`.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { IncompleteSignatureError, InvalidSignatureError, UnrecognizedClientError } from '../errors.js';

/** What the verifier needs of a request. Header names lower-case; repeated headers joined with ','. */
export interface SignedRequest {
  method: string;
  /** The path as on the wire (percent-encoded), without the query. */
  path: string;
  /** The raw query, without '?'. */
  query: string;
  headers: Record<string, string | undefined>;
  /**
   * Hex SHA-256 of the body as received, or 'UNSIGNED-PAYLOAD' when the caller cannot hash it.
   * A request's own `x-amz-content-sha256` header takes its place in the canonical request, and
   * must then equal it (unless it is 'UNSIGNED-PAYLOAD').
   */
  payloadHash: string;
}

/** The parsed signature claim: who signed, for what scope, when. */
export interface SignatureClaim {
  accessKeyId: string;
  /** YYYYMMDD of the credential scope. */
  date: string;
  region: string;
  service: string;
  /** The signing time in ISO-8601 basic format (YYYYMMDDTHHMMSSZ), as it enters the string to sign. */
  amzDate: string;
  signedAt: Date;
  /** Signed header names as the client listed them. */
  signedHeaders: string[];
  signature: string;
  /** Present for presigned (query) authentication only: X-Amz-Expires in seconds. */
  expiresInSeconds?: number | undefined;
}

/** What the request must be signed for. */
export interface ExpectedScope {
  now: Date;
  region: string;
  /** Accepted signing names; the first is named in the error message. */
  services: readonly string[];
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const TERMINATOR = 'aws4_request';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
/** SHA-256 of the empty string. */
const EMPTY_PAYLOAD_HASH = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const MAX_SKEW_MS = 15 * 60 * 1000;
/**
 * Presigned URLs live at most 15 minutes here, as long as a header signature may be skewed.
 * SigV4 allows 7 days (604800 s), but a presigned control-plane call (a DeleteMesh) that leaks
 * into a log or a chat should not stay usable for a week.
 */
const MAX_PRESIGNED_EXPIRES = 900;
/** Values echoed into messages are cut here, so a huge header does not make a huge response. */
const MAX_ECHO = 256;

const HEADER_PARTS = ['Credential', 'Signature', 'SignedHeaders'] as const;
const QUERY_PARTS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-SignedHeaders', 'X-Amz-Signature'] as const;

/** Hex SHA-256 of a body, as `SignedRequest.payloadHash` wants it. */
export function payloadHash(body: Uint8Array | string): string {
  return createHash('sha256').update(body).digest('hex');
}

/**
 * Reads the SigV4 claim of a request, from the Authorization header or the presigned query.
 * Returns undefined when the request carries no SigV4 at all (the caller answers
 * MissingAuthenticationTokenError); throws IncompleteSignatureError when the claim is malformed,
 * InvalidSignatureError when its credential terminator is not `aws4_request`, and
 * UnrecognizedClientError when it carries a session token (Meshline issues none).
 */
export function readSignature(request: SignedRequest): SignatureClaim | undefined {
  const headers = lowerCaseHeaders(request.headers);
  const query = parseQuery(request.query);
  const authorization = headers.get('authorization');
  const hasHeaderAuth = authorization !== undefined && authorization.trim() !== '';
  const hasQueryAuth = QUERY_PARTS.some((name) => query.has(name));
  if (!hasHeaderAuth && !hasQueryAuth) return undefined;
  if (hasHeaderAuth && query.has('X-Amz-Algorithm')) {
    throw new IncompleteSignatureError(
      "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.",
    );
  }
  const claim = hasHeaderAuth ? readHeaderClaim(authorization, headers) : readQueryClaim(query);
  if (headers.has('x-amz-security-token') || query.has('X-Amz-Security-Token')) {
    throw new UnrecognizedClientError();
  }
  return claim;
}

/**
 * Throws InvalidSignatureError unless the claim is scoped to `expected` (date, region, one of
 * the services), was made within 15 minutes of `expected.now` either way (or, presigned, has
 * not expired), signs `host`, and its signature is right for this secret. The comparison is
 * constant-time; no message carries the secret, the signing key or the expected signature.
 */
export function verifySignature(
  request: SignedRequest,
  claim: SignatureClaim,
  secretAccessKey: string,
  expected: ExpectedScope,
): void {
  checkScope(claim, expected);
  checkTime(claim, expected.now);
  if (!claim.signedHeaders.some((name) => name.toLowerCase() === 'host')) {
    throw new InvalidSignatureError("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  const headers = lowerCaseHeaders(request.headers);
  const hash = contentHash(request, headers);
  const signingKey = deriveSigningKey(secretAccessKey, claim);
  const provided = Buffer.from(claim.signature, 'utf8');
  let matched = false;
  for (const path of pathCandidates(request.path)) {
    for (const query of queryCandidates(request.query)) {
      const canonical = canonicalRequest(request.method, path, query, headers, claim.signedHeaders, hash);
      const computed = Buffer.from(signString(signingKey, stringToSign(claim, canonical)), 'utf8');
      // Every candidate is computed and compared, so timing does not tell which one matched.
      matched = constantTimeEqual(computed, provided) || matched;
    }
  }
  if (!matched) {
    throw new InvalidSignatureError(
      'The request signature we calculated does not match the signature you provided. ' +
        'Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
    );
  }
}

/**
 * Rebuilds, from what a gRPC server sees of a call, the request Envoy's
 * `envoy.grpc_credentials.aws_iam` plugin signed for it. Following envoyproxy/envoy:
 *
 * - `source/extensions/grpc_credentials/aws_iam/config.cc`,
 *   `AwsIamHeaderAuthenticator::buildMessageToSign`: the URI is `{service_url}/{method_name}`
 *   (gRPC core builds service_url as `https://{authority without :443}/{package.Service}`), so
 *   `:method` POST, `:path` the call's full path, `:authority` its host; `GetMetadata` calls
 *   `signer_->sign(message, false)` and `signedHeadersToMetadata` sends every non-pseudo header
 *   (authorization, x-amz-date, x-amz-content-sha256, x-amz-security-token) as metadata.
 * - `source/extensions/common/aws/signer_impl.cc`, `SignerImpl::createContentHash`: with
 *   sign_body false the payload hash is the SHA-256 of the empty string, and
 *   `SignerImpl::sign` sets it as `x-amz-content-sha256`. The stream's messages are therefore
 *   not covered by the signature; it authenticates the call, TLS protects the stream.
 * - `source/extensions/common/aws/utility.cc`, `Utility::canonicalizeHeaders`: `:authority` is
 *   signed as `host`, without a default port (80 or 443); `Utility::createCanonicalRequest`
 *   signs the query of `:path` if any. Its path encoding differs from the SDK's only for
 *   characters a gRPC method path does not contain.
 *
 * @param input.path the call's path as grpc-js gives it (`call.getPath()`).
 * @param input.authority the call's `:authority`.
 * @param input.metadata the call's metadata, keys lower-case, one value each.
 */
export function grpcSignedRequest(input: {
  path: string;
  authority: string;
  metadata: Record<string, string | undefined>;
}): SignedRequest {
  const queryAt = input.path.indexOf('?');
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(input.metadata)) {
    if (!name.startsWith(':')) headers[name.toLowerCase()] = value;
  }
  headers.host = hostWithoutDefaultPort(input.authority);
  return {
    method: 'POST',
    path: queryAt === -1 ? input.path : input.path.slice(0, queryAt),
    query: queryAt === -1 ? '' : input.path.slice(queryAt + 1),
    headers,
    payloadHash: EMPTY_PAYLOAD_HASH,
  };
}

/** Envoy's rule (`Utility::canonicalizeHeaders`): split at ':', drop the port when it is 80 or 443. */
function hostWithoutDefaultPort(authority: string): string {
  const parts = authority.split(':').filter((part) => part !== '');
  if (parts.length > 1 && (parts[1] === '80' || parts[1] === '443')) return parts[0] ?? '';
  return authority;
}

// ---------------------------------------------------------------------------------------------
// Reading the claim

function readHeaderClaim(authorization: string, headers: Map<string, string>): SignatureClaim {
  const trimmed = authorization.trim();
  const space = trimmed.search(/\s/);
  const algorithm = space === -1 ? trimmed : trimmed.slice(0, space);
  if (algorithm !== ALGORITHM) {
    throw new IncompleteSignatureError(`Unsupported AWS 'algorithm': '${echo(algorithm)}'`);
  }
  const parts = parseAuthorizationParts(space === -1 ? '' : trimmed.slice(space + 1), authorization);
  const amzDate = dateFromHeaders(headers);
  const missing = HEADER_PARTS.filter((name) => !parts.has(name)).map(
    (name) => `Authorization header requires '${name}' parameter.`,
  );
  if (amzDate === undefined) {
    missing.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
  }
  if (missing.length > 0 || amzDate === undefined) throw new IncompleteSignatureError(missing.join(' '));
  return buildClaim({
    credential: parts.get('Credential') ?? '',
    signedHeaders: parts.get('SignedHeaders') ?? '',
    signature: parts.get('Signature') ?? '',
    amzDate,
  });
}

/**
 * Splits `Credential=..., SignedHeaders=..., Signature=...` tolerating spacing and order, as
 * AWS does; the first occurrence of a key wins.
 */
function parseAuthorizationParts(rest: string, authorization: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const piece of rest.split(',')) {
    const part = piece.trim();
    if (part === '') continue;
    const equals = part.indexOf('=');
    if (equals === -1) {
      const digest = createHash('sha256').update(authorization).digest('base64');
      throw new IncompleteSignatureError(
        `Invalid key=value pair (missing equal-sign) in Authorization header (hashed with SHA-256 and encoded with Base64): '${digest}'.`,
      );
    }
    const key = part.slice(0, equals).trim();
    if (!parts.has(key)) parts.set(key, part.slice(equals + 1).trim());
  }
  return parts;
}

/** The signing time from `x-amz-date`, else from `date` (RFC 1123); undefined when neither is sent. */
function dateFromHeaders(headers: Map<string, string>): { amzDate: string; signedAt: Date } | undefined {
  const amzDate = headers.get('x-amz-date');
  if (amzDate !== undefined) return parseAmzDate(amzDate.trim());
  const httpDate = headers.get('date');
  if (httpDate === undefined) return undefined;
  const signedAt = parseHttpDate(httpDate.trim());
  if (signedAt === undefined) {
    throw new IncompleteSignatureError(`Date must be in RFC 1123 format. Got '${echo(httpDate)}'.`);
  }
  return { amzDate: formatAmzDate(signedAt), signedAt };
}

function readQueryClaim(query: Map<string, string>): SignatureClaim {
  const missing = QUERY_PARTS.filter((name) => !query.has(name));
  if (missing.length > 0) {
    const list = missing.map((name) => `'${name}'`).join(', ');
    throw new IncompleteSignatureError(
      `AWS query-string parameters must include ${list}. Re-examine the query-string parameters.`,
    );
  }
  const algorithm = query.get('X-Amz-Algorithm') ?? '';
  if (algorithm !== ALGORITHM) {
    throw new IncompleteSignatureError(`Unsupported AWS 'algorithm': '${echo(algorithm)}'`);
  }
  return buildClaim({
    credential: query.get('X-Amz-Credential') ?? '',
    signedHeaders: query.get('X-Amz-SignedHeaders') ?? '',
    signature: query.get('X-Amz-Signature') ?? '',
    amzDate: parseAmzDate(query.get('X-Amz-Date') ?? ''),
    expiresInSeconds: parseExpires(query.get('X-Amz-Expires')),
  });
}

function parseExpires(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = /^[0-9]{1,7}$/.test(value) ? Number(value) : NaN;
  if (!(seconds >= 1 && seconds <= MAX_PRESIGNED_EXPIRES)) {
    throw new IncompleteSignatureError(
      `X-Amz-Expires must be between 1 and ${MAX_PRESIGNED_EXPIRES} seconds, got '${echo(value)}'`,
    );
  }
  return seconds;
}

function buildClaim(parts: {
  credential: string;
  signedHeaders: string;
  signature: string;
  amzDate: { amzDate: string; signedAt: Date };
  expiresInSeconds?: number | undefined;
}): SignatureClaim {
  const scope = parts.credential.split('/');
  if (scope.length !== 5) {
    throw new IncompleteSignatureError(
      `Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '${echo(parts.credential)}'`,
    );
  }
  const [accessKeyId = '', date = '', region = '', service = '', terminator = ''] = scope;
  if (terminator !== TERMINATOR) {
    throw new InvalidSignatureError(
      `Credential should be scoped with a valid terminator: '${TERMINATOR}', not '${echo(terminator)}'. `,
    );
  }
  const signedHeaders = parts.signedHeaders.split(';');
  if (signedHeaders.some((name) => name === '')) {
    throw new IncompleteSignatureError(`SignedHeaders must be a ';'-separated list of header names, got '${echo(parts.signedHeaders)}'`);
  }
  return {
    accessKeyId,
    date,
    region,
    service,
    amzDate: parts.amzDate.amzDate,
    signedAt: parts.amzDate.signedAt,
    signedHeaders,
    signature: parts.signature,
    expiresInSeconds: parts.expiresInSeconds,
  };
}

// ---------------------------------------------------------------------------------------------
// Dates

/** ISO-8601 basic format, e.g. 20150830T123600Z; the calendar is checked by a round trip. */
function parseAmzDate(value: string): { amzDate: string; signedAt: Date } {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  const signedAt = match ? new Date(Date.UTC(+match[1]!, +match[2]! - 1, +match[3]!, +match[4]!, +match[5]!, +match[6]!)) : undefined;
  if (signedAt === undefined || Number.isNaN(signedAt.getTime()) || formatAmzDate(signedAt) !== value) {
    throw new IncompleteSignatureError(
      `Date must be in ISO-8601 'basic format'. Got '${echo(value)}'. See http://en.wikipedia.org/wiki/ISO_8601`,
    );
  }
  return { amzDate: value, signedAt };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 1123, e.g. `Sun, 30 Aug 2015 12:36:00 GMT`, as Date.prototype.toUTCString writes it. */
function parseHttpDate(value: string): Date | undefined {
  const match = /^[A-Z][a-z]{2}, (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/.exec(value);
  if (!match) return undefined;
  const month = MONTHS.indexOf(match[2]!);
  const date = new Date(Date.UTC(+match[3]!, month, +match[1]!, +match[4]!, +match[5]!, +match[6]!));
  return month !== -1 && date.toUTCString() === value ? date : undefined;
}

function formatAmzDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

// ---------------------------------------------------------------------------------------------
// Checks before the signature

function checkScope(claim: SignatureClaim, expected: ExpectedScope): void {
  const dateOfAmzDate = claim.amzDate.slice(0, 8);
  if (claim.date !== dateOfAmzDate) {
    throw new InvalidSignatureError(
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${echo(claim.date)}' != '${dateOfAmzDate}', from '${claim.amzDate}'.`,
    );
  }
  if (claim.region !== expected.region) {
    throw new InvalidSignatureError(`Credential should be scoped to a valid region, not '${echo(claim.region)}'. `);
  }
  if (!expected.services.includes(claim.service)) {
    throw new InvalidSignatureError(`Credential should be scoped to correct service: '${expected.services[0] ?? ''}'. `);
  }
}

function checkTime(claim: SignatureClaim, now: Date): void {
  const signedAt = claim.signedAt.getTime();
  const nowMs = now.getTime();
  if (signedAt > nowMs + MAX_SKEW_MS) {
    throw new InvalidSignatureError(
      `Signature not yet current: ${claim.amzDate} is still later than ${formatAmzDate(new Date(nowMs + MAX_SKEW_MS))} (${formatAmzDate(now)} + 15 min.)`,
    );
  }
  if (claim.expiresInSeconds !== undefined) {
    const expiresMs = claim.expiresInSeconds * 1000;
    if (nowMs > signedAt + expiresMs) {
      throw new InvalidSignatureError(
        `Signature expired: ${claim.amzDate} is now earlier than ${formatAmzDate(new Date(nowMs - expiresMs))} (${formatAmzDate(now)} - ${claim.expiresInSeconds} sec.)`,
      );
    }
    return;
  }
  if (signedAt < nowMs - MAX_SKEW_MS) {
    throw new InvalidSignatureError(
      `Signature expired: ${claim.amzDate} is now earlier than ${formatAmzDate(new Date(nowMs - MAX_SKEW_MS))} (${formatAmzDate(now)} - 15 min.)`,
    );
  }
}

/**
 * The payload hash line: the request's `x-amz-content-sha256` when it carries one (as the SDK
 * and botocore sign it), else the hash the caller computed. A header that disagrees with the
 * body as received would let a body be swapped under a valid signature, so it is refused.
 */
function contentHash(request: SignedRequest, headers: Map<string, string>): string {
  const declared = headers.get('x-amz-content-sha256');
  if (declared === undefined) return request.payloadHash;
  if (request.payloadHash !== UNSIGNED_PAYLOAD && declared.trim() !== request.payloadHash) {
    throw new InvalidSignatureError("The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  return declared.trim();
}

// ---------------------------------------------------------------------------------------------
// Canonical request and signature

function canonicalRequest(
  method: string,
  path: string,
  query: string,
  headers: Map<string, string>,
  signedHeaders: readonly string[],
  hash: string,
): string {
  const headerLines = signedHeaders.map((name) => `${name}:${canonicalHeaderValue(headers.get(name.toLowerCase()))}`);
  return [method, canonicalPath(path), canonicalQuery(query), ...headerLines, '', signedHeaders.join(';'), hash].join('\n');
}

/** Trimmed, runs of whitespace collapsed to one space (`getCanonicalHeaders`). */
function canonicalHeaderValue(value: string | undefined): string {
  return (value ?? '').trim().replace(/\s+/g, ' ');
}

/**
 * `SignatureV4Base.getCanonicalPath` with uriEscapePath: remove `.` and `..` segments and empty
 * ones, keep a leading and trailing slash, then URI-encode the result once more (the double
 * encoding of non-S3 SigV4: a wire `%20` signs as `%2520`).
 */
function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const leading = path.startsWith('/') ? '/' : '';
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return `${leading}${segments.map((segment) => uriEncode(Buffer.from(segment, 'utf8'))).join('/')}${trailing}`;
}

/**
 * The paths the client may have signed. API Gateway HTTP API can hand Lambda a `rawPath` with
 * some percent-escapes already decoded, and serverless-offline decodes some segments and not
 * others (`cli%20demo` stays, `web%3Av1` arrives as `web:v1`), while the client signed the
 * encoded path it sent. Clients encode path labels the RFC 3986 way (the SDKs, botocore), so
 * besides the path as given: each segment encoded once more (all of it was decoded), and each
 * segment decoded and encoded again (some of it was). Only distinct candidates are tried.
 */
function pathCandidates(path: string): string[] {
  const segments = path.split('/');
  const reencoded = segments.map((segment) => uriEncode(Buffer.from(segment, 'utf8'))).join('/');
  const normalized = segments.map((segment) => uriEncode(percentDecode(segment))).join('/');
  return [...new Set([path, reencoded, normalized])];
}

/**
 * The query as received, and, when it holds a '+', with each '+' read as a space: the local
 * stack's serverless-offline rebuilds `rawQueryString` with URLSearchParams, which writes a
 * space the client sent as %20 as '+'. API Gateway hands the query over as sent, where a '+'
 * is a literal plus (the SDK and botocore send a plus as %2B).
 */
function queryCandidates(query: string): string[] {
  return query.includes('+') ? [query, query.replaceAll('+', '%20')] : [query];
}

/**
 * `getCanonicalQuery`: each key and value percent-decoded, then RFC 3986-encoded; sorted by
 * encoded key, then value; X-Amz-Signature left out. Decoding works on bytes, so any escape
 * survives the round trip. A raw '+' is a literal plus: the SDK and botocore send a plus as
 * %2B, and @smithy/querystring-parser decodes with decodeURIComponent, which keeps '+'.
 */
function canonicalQuery(query: string): string {
  const pairs: Array<[string, string]> = [];
  for (const piece of query.split('&')) {
    if (piece === '') continue;
    const equals = piece.indexOf('=');
    const rawKey = equals === -1 ? piece : piece.slice(0, equals);
    const rawValue = equals === -1 ? '' : piece.slice(equals + 1);
    const key = uriEncode(percentDecode(rawKey));
    if (key.toLowerCase() === 'x-amz-signature') continue;
    pairs.push([key, uriEncode(percentDecode(rawValue))]);
  }
  pairs.sort(([keyA, valueA], [keyB, valueB]) => compareStrings(keyA, keyB) || compareStrings(valueA, valueB));
  return pairs.map(([key, value]) => `${key}=${value}`).join('&');
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function stringToSign(claim: SignatureClaim, canonical: string): string {
  const scope = `${claim.date}/${claim.region}/${claim.service}/${TERMINATOR}`;
  return `${ALGORITHM}\n${claim.amzDate}\n${scope}\n${createHash('sha256').update(canonical, 'utf8').digest('hex')}`;
}

function deriveSigningKey(secretAccessKey: string, claim: SignatureClaim): Buffer {
  const dateKey = hmac(`AWS4${secretAccessKey}`, claim.date);
  const regionKey = hmac(dateKey, claim.region);
  const serviceKey = hmac(regionKey, claim.service);
  return hmac(serviceKey, TERMINATOR);
}

function signString(signingKey: Buffer, value: string): string {
  return createHmac('sha256', signingKey).update(value, 'utf8').digest('hex');
}

function hmac(key: string | Buffer, value: string): Buffer {
  return createHmac('sha256', key).update(value, 'utf8').digest();
}

function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

// ---------------------------------------------------------------------------------------------
// Encoding helpers

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** RFC 3986 encoding of bytes: unreserved characters stay, every other byte becomes %XX. */
function uriEncode(bytes: Uint8Array): string {
  let encoded = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    encoded += byte < 0x80 && UNRESERVED.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return encoded;
}

/** Percent-decoding to bytes; a '%' not followed by two hex digits stays a literal '%'. */
function percentDecode(value: string): Buffer {
  if (!value.includes('%')) return Buffer.from(value, 'utf8');
  const bytes: number[] = [];
  for (let i = 0; i < value.length; ) {
    const hex = value.charAt(i) === '%' ? value.slice(i + 1, i + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 3;
      continue;
    }
    const codePoint = value.codePointAt(i) ?? 0;
    const char = String.fromCodePoint(codePoint);
    for (const byte of Buffer.from(char, 'utf8')) bytes.push(byte);
    i += char.length;
  }
  return Buffer.from(bytes);
}

/** The query as decoded strings, first occurrence of a name winning (for the auth parameters). */
function parseQuery(query: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const piece of query.split('&')) {
    if (piece === '') continue;
    const equals = piece.indexOf('=');
    const key = percentDecode(equals === -1 ? piece : piece.slice(0, equals)).toString('utf8');
    if (!params.has(key)) params.set(key, percentDecode(equals === -1 ? '' : piece.slice(equals + 1)).toString('utf8'));
  }
  return params;
}

function lowerCaseHeaders(headers: Record<string, string | undefined>): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) map.set(name.toLowerCase(), value);
  }
  return map;
}

function echo(value: string): string {
  return value.length > MAX_ECHO ? `${value.slice(0, MAX_ECHO)}...` : value;
}
