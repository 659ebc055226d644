/**
 * The API's router and error mapping, without a stack: which operation a request reaches, what
 * a request no operation claims gets, and the body checks that run before validation.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { errorResponse, UnknownOperationError } from '../../functions/api/errors.js';
import { routeRequest } from '../../functions/api/router.js';
import { quotasFromEnv } from '../../functions/runtime.js';
import { BadRequestError } from '../../shared/errors.js';
import { DEFAULT_QUOTAS } from '../../shared/mesh/quotas.js';

function event(method: string, rawPath: string, body?: unknown, rawQueryString = ''): APIGatewayProxyEventV2 {
  return { rawPath, rawQueryString, body, isBase64Encoded: false, requestContext: { http: { method } } } as unknown as APIGatewayProxyEventV2;
}

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('routeRequest', () => {
  it('routes a request to its operation with labels, query and body as one input', () => {
    const routed = routeRequest(event('PUT', '/v20190125/meshes/m%231/virtualNodes', '{"virtualNodeName":"a","spec":{}}', 'meshOwner=111122223333'));
    expect(routed).toEqual({
      operation: 'CreateVirtualNode',
      input: { meshName: 'm#1', meshOwner: '111122223333', virtualNodeName: 'a', spec: {} },
    });
  });

  it.each([
    ['an unknown path', 'GET', '/v20190125/unknown'],
    ['a wrong method on a known path', 'POST', '/v20190125/meshes'],
    ['a path with an empty label', 'GET', '/v20190125/meshes//virtualNodes'],
  ])('answers %s with UnknownOperationException (404)', (_, method, path) => {
    const error = thrown(() => routeRequest(event(method, path)));
    expect(error).toBeInstanceOf(UnknownOperationError);
    expect(errorResponse(error)).toMatchObject({ statusCode: 404, headers: { 'x-amzn-ErrorType': 'UnknownOperationException' } });
  });

  it.each([
    ['malformed JSON', '{"meshName":', 'The request body is not valid JSON'],
    ['a JSON array', '[]', 'The request body must be a JSON object.'],
    ['a JSON string', '"mesh"', 'The request body must be a JSON object.'],
    ['nesting deeper than any App Mesh input', `{"spec":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, 'The request body nests deeper than 64 levels.'],
    ['a lone surrogate in a value', '{"meshName":"\\ud800"}', 'not valid Unicode'],
    ['a lone surrogate in a key', '{"\\udc00":1}', 'not valid Unicode'],
  ])('answers %s with BadRequestException, before validation walks the body', (_, body, message) => {
    const error = thrown(() => routeRequest(event('PUT', '/v20190125/meshes', body)));
    expect(error).toBeInstanceOf(BadRequestError);
    expect(error.message).toContain(message);
  });

  it('answers a body an emulator handed over already parsed (serverless-offline passes `false` so) like its text', () => {
    expect(thrown(() => routeRequest(event('PUT', '/v20190125/meshes', false))).message).toBe('The request body must be a JSON object.');
    expect(thrown(() => routeRequest(event('PUT', '/v20190125/meshes', 0))).message).toBe('The request body must be a JSON object.');
  });

  it('accepts a body nested as deep as App Mesh specs go, and surrogate pairs', () => {
    const body = JSON.stringify({
      virtualNodeName: 'n😀',
      spec: { backendDefaults: { clientPolicy: { tls: { validation: { trust: { file: { certificateChain: '/ca.pem' } }, subjectAlternativeNames: { match: { exact: ['a'] } } } } } } },
    });
    expect(routeRequest(event('PUT', '/v20190125/meshes/m/virtualNodes', body)).operation).toBe('CreateVirtualNode');
  });
});

describe('quotasFromEnv', () => {
  it('keeps the defaults, and reads each MESHLINE_QUOTA_* that is set', () => {
    expect(quotasFromEnv({})).toEqual(DEFAULT_QUOTAS);
    expect(quotasFromEnv({ MESHLINE_QUOTA_VIRTUAL_NODES_PER_MESH: '5000', MESHLINE_QUOTA_BACKENDS_PER_VIRTUAL_NODE: '' })).toEqual({
      ...DEFAULT_QUOTAS,
      virtualNodesPerMesh: 5000,
    });
  });

  it.each(['0', '-1', '1.5', 'many', '1e3'])('refuses %j at start rather than ignoring it', (value) => {
    expect(() => quotasFromEnv({ MESHLINE_QUOTA_MESHES_PER_ACCOUNT: value })).toThrow(
      `MESHLINE_QUOTA_MESHES_PER_ACCOUNT must be a positive integer, got: ${JSON.stringify(value)}`,
    );
  });

  it('defaults never below App Mesh service quotas, and at least 1,000 virtual nodes per mesh', () => {
    // App Mesh's defaults (Service Quotas, service code appmesh).
    const appMesh = {
      meshesPerAccount: 15,
      virtualNodesPerMesh: 200,
      virtualServicesPerMesh: 200,
      virtualRoutersPerMesh: 200,
      virtualGatewaysPerMesh: 3,
      routesPerVirtualRouter: 50,
      gatewayRoutesPerVirtualGateway: 10,
      backendsPerVirtualNode: 50,
    };
    for (const [quota, value] of Object.entries(appMesh)) expect(DEFAULT_QUOTAS[quota as keyof typeof appMesh], quota).toBeGreaterThanOrEqual(value);
    expect(DEFAULT_QUOTAS.virtualNodesPerMesh).toBeGreaterThanOrEqual(1000);
  });
});
