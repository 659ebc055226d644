/**
 * Fuzz of the SigV4 verifier over what a caller controls: Authorization headers, query
 * strings, dates, percent-encodings, paths and sizes. Whatever arrives, readSignature and
 * verifySignature return a claim (or nothing) or throw one of the authentication errors,
 * never a TypeError, RangeError or URIError, and never take long.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grpcSignedRequest, payloadHash, readSignature, verifySignature, type SignedRequest } from '../../shared/auth/sigv4.js';
import {
  IncompleteSignatureError,
  InvalidSignatureError,
  UnrecognizedClientError,
} from '../../shared/errors.js';

const SEED = 20261125;
const NUM_RUNS = 500;
const NOW = new Date('2025-01-01T00:00:00Z');
const EXPECTED = { now: NOW, region: 'us-west-2', services: ['appmesh', 'execute-api'] };
const AUTH_ERRORS = [IncompleteSignatureError, InvalidSignatureError, UnrecognizedClientError];

/** Strings with the characters that matter to the parser, unicode, lone surrogates and controls. */
const anyText = (maxLength: number) =>
  fc.oneof(
    fc.string({ maxLength, unit: fc.constantFrom(...'AWS4-HMAC-SHA256 Credential=/,;%+&?.:Z0123456789abcdefT\t\n'.split('')) }),
    fc.string({ maxLength, unit: 'binary' }),
    fc.string({ maxLength, unit: 'grapheme-composite' }),
    fc.string({ maxLength }),
  );

const amzDate = fc.oneof(
  fc.constantFrom('20250101T000000Z', '20250101T001600Z', '20241231T234400Z', '20251345T996161Z', '2025-01-01T00:00:00Z', ''),
  fc.date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2200-01-01T00:00:00Z'), noInvalidDate: true }).map((date) =>
    date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, ''),
  ),
  anyText(24),
);

const credential = fc.oneof(
  fc
    .tuple(anyText(20), fc.constantFrom('20250101', '20241231', 'x'), fc.constantFrom('us-west-2', 'eu-west-1', ''), fc.constantFrom('appmesh', 'execute-api', 's3'), fc.constantFrom('aws4_request', 'aws4'))
    .map((parts) => parts.join('/')),
  anyText(60),
);

const signedHeaders = fc.oneof(
  fc.constantFrom('host;x-amz-date', 'host', 'x-amz-date', ';', '', 'host;;x-amz-date', 'Host;X-Amz-Date'),
  anyText(40),
);

const signature = fc.oneof(fc.string({ minLength: 64, maxLength: 64, unit: fc.constantFrom(...'0123456789abcdef'.split('')) }), anyText(80));

const authorization = fc.oneof(
  fc
    .tuple(fc.constantFrom('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA1', 'Bearer', ''), credential, signedHeaders, signature, fc.constantFrom(', ', ',', ' , ', ',,', ' '))
    .map(([algorithm, cred, headers, sig, separator]) =>
      `${algorithm} Credential=${cred}${separator}SignedHeaders=${headers}${separator}Signature=${sig}`,
    ),
  anyText(200),
  // Huge, but capped: API Gateway refuses headers past 10 KB long before this.
  fc.string({ minLength: 10_000, maxLength: 20_000, unit: fc.constantFrom('A', '=', ',', ' ', '/', '%') }),
);

const percentText = fc.oneof(
  fc.array(fc.oneof(fc.constantFrom('%', '%2', '%zz', '%FF', '%E1%88', '%E1%88%B4', '%00', '+', '&', '=', '%25'), anyText(4)), { maxLength: 20 }).map((parts) => parts.join('')),
  anyText(100),
);

const query = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('AWS4-HMAC-SHA256', 'x'),
      credential,
      amzDate,
      fc.constantFrom('1', '0', '604800', '604801', '-5', '1e3', '99999999999999999999', ''),
      signedHeaders,
      signature,
      percentText,
    )
    .map(([alg, cred, date, expires, headers, sig, extra]) =>
      [
        `X-Amz-Algorithm=${encodeURIComponent(alg)}`,
        `X-Amz-Credential=${cred}`,
        `X-Amz-Date=${date}`,
        `X-Amz-Expires=${expires}`,
        `X-Amz-SignedHeaders=${headers}`,
        `X-Amz-Signature=${sig}`,
        extra,
      ].join('&'),
    ),
  percentText,
  fc.constant(''),
);

const path = fc.oneof(
  percentText.map((text) => `/${text}`),
  fc.array(fc.constantFrom('.', '..', '', 'a', '%2F', 'ሴ', 'a b', '%zz'), { maxLength: 30 }).map((segments) => segments.join('/')),
  fc.string({ minLength: 5_000, maxLength: 10_000, unit: fc.constantFrom('/', '.', '%', 'a') }),
);

const request: fc.Arbitrary<SignedRequest> = fc.record({
  method: fc.constantFrom('GET', 'POST', 'PUT', ''),
  path,
  query,
  headers: fc.record(
    {
      host: fc.oneof(fc.constant('api.meshline.example'), anyText(30)),
      authorization: fc.oneof(authorization, fc.constant(undefined)),
      'x-amz-date': fc.oneof(amzDate, fc.constant(undefined)),
      date: fc.oneof(fc.constantFrom('Wed, 01 Jan 2025 00:00:00 GMT', 'Wed, 32 Jan 2025 00:00:00 GMT', 'yesterday'), anyText(30)),
      'x-amz-content-sha256': fc.oneof(fc.constantFrom(payloadHash(''), 'UNSIGNED-PAYLOAD'), anyText(64)),
      'x-amz-security-token': anyText(20),
    },
    { requiredKeys: ['host'] },
  ),
  payloadHash: fc.constantFrom(payloadHash(''), 'UNSIGNED-PAYLOAD', payloadHash('{}')),
});

/** Runs both steps as a caller would; returns what happened, rethrowing anything unexpected. */
function readAndVerify(candidate: SignedRequest): 'none' | 'verified' | 'refused' {
  try {
    const claim = readSignature(candidate);
    if (claim === undefined) return 'none';
    expect(typeof claim.accessKeyId).toBe('string');
    expect(Number.isNaN(claim.signedAt.getTime())).toBe(false);
    verifySignature(candidate, claim, 'secret', EXPECTED);
    return 'verified';
  } catch (error) {
    if (AUTH_ERRORS.some((type) => error instanceof type)) return 'refused';
    throw error;
  }
}

describe('SigV4 verifier under fuzzing', () => {
  const params = { seed: SEED, numRuns: NUM_RUNS };

  it('only returns a claim or throws an authentication error, for any request', () => {
    fc.assert(
      fc.property(request, (candidate) => {
        const started = performance.now();
        expect(readAndVerify(candidate)).not.toBe('verified');
        expect(performance.now() - started).toBeLessThan(500);
      }),
      params,
    );
  });

  it('only returns a claim or throws an authentication error, for any Authorization header', () => {
    fc.assert(
      fc.property(authorization, amzDate, (header, date) => {
        readAndVerify({ method: 'GET', path: '/', query: '', headers: { host: 'h', authorization: header, 'x-amz-date': date }, payloadHash: payloadHash('') });
      }),
      params,
    );
  });

  it('only returns a claim or throws an authentication error, for any presigned query', () => {
    fc.assert(
      fc.property(query, path, (rawQuery, rawPath) => {
        readAndVerify({ method: 'GET', path: rawPath, query: rawQuery, headers: { host: 'h' }, payloadHash: payloadHash('') });
      }),
      params,
    );
  });

  it('rebuilds a request from any gRPC call without throwing', () => {
    fc.assert(
      fc.property(
        path,
        anyText(40),
        fc.dictionary(fc.string({ maxLength: 20 }), fc.oneof(anyText(40), authorization, fc.constant(undefined)), { maxKeys: 10 }),
        (callPath, authority, metadata) => {
          const rebuilt = grpcSignedRequest({ path: callPath, authority, metadata });
          expect(rebuilt.method).toBe('POST');
          readAndVerify(rebuilt);
        },
      ),
      params,
    );
  });
});
