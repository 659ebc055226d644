/**
 * A property test (fast-check) of the API over plain HTTP: malformed and hostile bodies, paths
 * and query strings always get a 4xx with a JSON `message` and an `x-amzn-ErrorType` header,
 * never a 5xx, never a hang, and store nothing.
 *
 * Every generated request is invalid by construction (a hostile body, query or path, or a mesh
 * that does not exist), so any 2xx is a finding too. Names the test makes up end in `.fuzz`, so
 * no other test's mesh is ever hit, and afterwards no mesh of that name may exist.
 *
 * Not generated: paths with malformed percent-encoding (`%ZZ`, or bytes that are not UTF-8).
 * The local emulator's HTTP server (hapi, inside serverless-offline) refuses those itself with
 * its own 400 before the function runs; API Gateway has its own frontend answer for them too.
 * HEAD is left out because its answer has no body to check.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OPERATIONS, type OperationSpec } from '../../shared/model/shapes.js';
import { apiFetch } from '../support/appmesh.js';

const SEED = Number(process.env.MESHLINE_FUZZ_SEED ?? 20_261_125);
const RUNS = Number(process.env.MESHLINE_FUZZ_RUNS ?? 200);
const MARK = '.fuzz';
const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS'] as const;
const operations = Object.values(OPERATIONS) as OperationSpec[];

interface FuzzRequest {
  method: string;
  path: string;
  query: [string, string][];
  body?: string | undefined;
  contentType?: string | undefined;
}

/** Whether an App Mesh operation has this method and path (labels are one non-empty segment). */
function isOperation(method: string, path: string): boolean {
  return operations.some(
    (op) => op.method === method && new RegExp(`^${op.uri.replace(/\{\w+\}/g, '[^/]+')}$`).test(path),
  );
}

// Hostile text: anything Unicode, control characters, path tricks, very long.
const anyText = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.constantFrom('', ' ', '\u0000', '..', '%', '%25', '#', '/', '?', '&', '\\', '"', '__proto__', 'constructor', '\u202e', '😀'),
  fc.string({ minLength: 256, maxLength: 600 }),
);
/** A name that no other test uses: hostile text, then the mark. */
const fuzzName = anyText.map((text) => `${text}${MARK}`);
/** Text that may hold lone surrogates: fine in a JSON body (escaped), never in a URL. */
const binaryText = fc.string({ unit: 'binary', maxLength: 20 });

const hostileQueryValue = fc.oneof(
  anyText,
  fc.constantFrom('0', '-1', '101', '1.5', '1e3', 'NaN', '99999999999999999999', '１', ' 5'),
  fc.constantFrom(Buffer.from('null').toString('base64url'), Buffer.from('{"k":"mesh"}').toString('base64url'), Buffer.from('[]').toString('base64url')),
  fc.base64String({ maxLength: 60 }),
);
const hostileQuery = fc.array(
  fc.tuple(fc.oneof(fc.constantFrom('limit', 'nextToken', 'meshOwner', 'resourceArn', 'tagKeys'), anyText), hostileQueryValue),
  { maxLength: 4 },
);

/** JSON that is not an object, JSON that is not JSON, bodies too deep, and objects App Mesh never takes. */
const hostileBody = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 40 }).filter((text) => !isJsonObject(text)),
  fc.constantFrom('{', '{"meshName":', '{"a":1,}', "{'a':1}", '\u0000', '{"spec":{"listeners":[{]}}', '{}}', 'NaN'),
  fc.integer({ min: 65, max: 5000 }).map((depth) => `{"spec":${'['.repeat(depth)}${']'.repeat(depth)}}`),
  fc.integer({ min: 65, max: 500 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
  // A plausible body with one member the operation does not have (bodies are strict).
  fc.record({ meshName: fuzzName, spec: fc.constant({}), extra: fc.jsonValue({ maxDepth: 2 }) }).map((o) => JSON.stringify({ ...o, [`x-${o.meshName.length}`]: o.extra })),
  // Valid but for a name that cannot be stored: a lone surrogate, or too long once URI-encoded.
  binaryText.map((text) => JSON.stringify({ meshName: `${text}\udc00${MARK}` })),
  fc.constantFrom('é'.repeat(240), '中'.repeat(240), '😀'.repeat(120)).map((name) => JSON.stringify({ meshName: `${name}${MARK}` })),
  // Members of the wrong type, lone surrogates, and null where an object belongs.
  fc.record({ meshName: fc.oneof(binaryText.map((t) => `${t}\ud800${MARK}`), fc.integer(), fc.constant(null), fc.array(fuzzName, { maxLength: 2 })) }).map((o) => JSON.stringify({ ...o, spec: 'none' })),
  fc.record({ virtualNodeName: fuzzName, spec: fc.record({ listeners: fc.constant([{ portMapping: { port: 70_000, protocol: 'udp' } }]) }) }).map((o) => JSON.stringify(o)),
  fc.object({ maxDepth: 3 }).map((o) => JSON.stringify({ ...o, [`unknown${MARK}`]: true })),
);

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

const contentType = fc.option(fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'application/json; charset=utf-16'), { nil: undefined });

/** A request to a real operation, with hostile labels, query and body, in meshes that do not exist. */
const operationRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    operation: fc.constantFrom(...operations),
    labels: fc.array(fuzzName, { minLength: 3, maxLength: 3 }),
    query: hostileQuery,
    body: hostileBody,
    contentType,
    garbageToken: fc.base64String({ minLength: 4, maxLength: 40 }),
  })
  .map(({ operation, labels, query, body, contentType, garbageToken }) => {
    let i = 0;
    const path = operation.uri.replace(/\{\w+\}/g, () => encodeURIComponent(labels[i++] ?? 'x'));
    // The only operation valid without a mesh and without a body: give it a token it never issued.
    const extra: [string, string][] = operation.name === 'ListMeshes' ? [['nextToken', `${garbageToken}!`]] : [];
    return { method: operation.method, path, query: [...query, ...extra], body: operation.method === 'GET' ? undefined : body, contentType };
  });

/** A method and path no operation has: random segments, or a real path with the wrong method. */
const unknownRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    method: fc.constantFrom(...METHODS),
    segments: fc.array(fc.oneof(anyText, fc.constantFrom('v20190125', 'meshes', 'virtualNodes', 'virtualRouter', 'routes', 'tags', 'tag')), { maxLength: 7 }),
    query: hostileQuery,
    body: fc.option(hostileBody, { nil: undefined }),
    contentType,
  })
  .map(({ method, segments, query, body, contentType }) => ({
    method,
    // As fetch will send it: `a/../meshes` is `/meshes` on the wire.
    path: new URL(`http://host/${segments.map((s) => encodeURIComponent(s)).join('/')}`).pathname,
    query,
    body: method === 'GET' ? undefined : body,
    contentType,
  }))
  .filter((request) => !isOperation(request.method, request.path));

interface Answer {
  status: number;
  errorType: string | null;
  body: string;
}

async function send(request: FuzzRequest): Promise<Answer> {
  const query = new URLSearchParams(request.query).toString();
  const response = await apiFetch(`${request.path}${query ? `?${query}` : ''}`, {
    method: request.method,
    ...(request.body !== undefined ? { body: request.body } : {}),
    headers: request.contentType ? { 'content-type': request.contentType } : {},
    // Never a hang: an answer within this bound, or the property fails.
    signal: AbortSignal.timeout(15_000),
  });
  return { status: response.status, errorType: response.headers.get('x-amzn-errortype'), body: await response.text() };
}

function messageOf(body: string): unknown {
  try {
    return (JSON.parse(body) as { message?: unknown }).message;
  } catch {
    return undefined;
  }
}

async function allMeshNames(): Promise<string[]> {
  const names: string[] = [];
  let nextToken: string | undefined;
  do {
    const response = await apiFetch(`/v20190125/meshes${nextToken ? `?nextToken=${encodeURIComponent(nextToken)}` : ''}`);
    const page = (await response.json()) as { meshes: { meshName: string }[]; nextToken?: string };
    names.push(...page.meshes.map((mesh) => mesh.meshName));
    nextToken = page.nextToken;
  } while (nextToken);
  return names;
}

describe('hostile requests', () => {
  it(`always answer 4xx with an App Mesh error and store nothing (fast-check, seed ${SEED}, ${RUNS} runs)`, async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(fc.oneof({ arbitrary: operationRequest, weight: 3 }, { arbitrary: unknownRequest, weight: 1 }), async (request) => {
        const answer = await send(request);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const seen = `${request.method} ${request.path} -> ${answer.status} ${answer.errorType} ${answer.body.slice(0, 200)}`;
        expect(answer.status, seen).toBeGreaterThanOrEqual(400);
        expect(answer.status, seen).toBeLessThan(500);
        expect(answer.errorType, seen).toMatch(/^[A-Za-z]+Exception$/);
        expect(typeof messageOf(answer.body), seen).toBe('string');
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    // Nothing stored: no mesh carries a name the property made up.
    expect((await allMeshNames()).filter((name) => name.endsWith(MARK))).toEqual([]);
    // The runs reached the operations, not only the router: validation, lookups and the router all answered.
    expect([...statuses.keys()].sort()).toEqual(expect.arrayContaining([400, 404]));
  }, 300_000);
});
