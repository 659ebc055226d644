/**
 * The App Mesh model in zod: every bounded field of every create body accepts its bounds and
 * rejects one past them with a message naming the field; AWS's own example requests validate;
 * the messages read as App Mesh users expect; the operation table matches the model.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import * as errors from '../../shared/errors.js';
import { BadRequestError } from '../../shared/errors.js';
import {
  ClientPolicyTls,
  CreateGatewayRouteBody,
  CreateMeshBody,
  CreateRouteBody,
  CreateVirtualGatewayBody,
  CreateVirtualNodeBody,
  CreateVirtualRouterBody,
  CreateVirtualServiceBody,
  ERROR_STATUS,
  OPERATIONS,
  RouteSpec,
  VirtualGatewaySpec,
  VirtualNodeSpec,
  type OperationSpec,
} from '../../shared/model/shapes.js';
import { shapeInfo } from '../../shared/model/smithy.js';
import {
  boundedFields,
  boundsOf,
  parseInput,
  parseOperationInput,
  unwrap,
  type BoundedField,
  type PathSegment,
} from '../../shared/model/validate.js';

// CI lays the steering repo's shared/ beside the clone: <root>/../shared/corpus.
const CORPUS = fileURLToPath(new URL('../../../shared/corpus/appmesh-examples/', import.meta.url));

/** The smallest value `schema` accepts: required members only, the first branch of a union. */
function minimalValue(schema: z.ZodType): unknown {
  const s = unwrap(schema);
  if (s instanceof z.ZodObject) {
    const members = s.shape as Record<string, z.ZodType>;
    const info = shapeInfo(s);
    const value: Record<string, unknown> = {};
    for (const [name, member] of Object.entries(members)) {
      if (!(member instanceof z.ZodOptional)) value[name] = minimalValue(member);
    }
    for (const group of [info?.oneOf, info?.anyOf]) {
      const first = group?.[0];
      if (first !== undefined) value[first] = minimalValue(members[first]!);
    }
    return withDependents(members, info?.dependentRequired, value);
  }
  if (s instanceof z.ZodArray) return listOf(s, boundsOf(s).min ?? 0);
  if (s instanceof z.ZodEnum) return s.options[0];
  if (s instanceof z.ZodString) return 'a'.repeat(Math.max(boundsOf(s).min ?? 1, 1));
  if (s instanceof z.ZodNumber) return boundsOf(s).min ?? 0;
  if (s instanceof z.ZodBoolean) return false;
  throw new Error(`no minimal value for a ${s.type}`);
}

function listOf(list: z.ZodArray, size: number): unknown[] {
  return Array.from({ length: size }, () => minimalValue(list.element as z.ZodType));
}

function withDependents(
  members: Record<string, z.ZodType>,
  dependentRequired: Readonly<Record<string, readonly string[]>> | undefined,
  value: Record<string, unknown>,
): Record<string, unknown> {
  for (const [member, needs] of Object.entries(dependentRequired ?? {})) {
    if (value[member] === undefined) continue;
    for (const needed of needs) value[needed] ??= minimalValue(members[needed]!);
  }
  return value;
}

/** `base` (a valid value of `schema`) with the field at `path` set to `leaf`, still valid otherwise. */
function withField(schema: z.ZodType, path: readonly PathSegment[], leaf: unknown, base: unknown): unknown {
  const [head, ...rest] = path;
  if (head === undefined) return leaf;
  const s = unwrap(schema);
  if (s instanceof z.ZodObject && typeof head === 'string') {
    const members = s.shape as Record<string, z.ZodType>;
    const info = shapeInfo(s);
    const value = { ...(base as Record<string, unknown>) };
    // Entering one branch of a one-of leaves the others.
    for (const other of info?.oneOf?.includes(head) ? info.oneOf : []) if (other !== head) delete value[other];
    const member = members[head]!;
    value[head] = withField(member, rest, leaf, value[head] ?? minimalValue(member));
    return withDependents(members, info?.dependentRequired, value);
  }
  if (s instanceof z.ZodArray && typeof head === 'number') {
    const items = Array.isArray(base) && base.length > 0 ? [...(base as unknown[])] : listOf(s, 1);
    items[head] = withField(s.element as z.ZodType, rest, leaf, items[head]);
    return items;
  }
  throw new Error(`cannot follow ${String(head)} into a ${s.type}`);
}

function valueOfSize(body: z.ZodType, field: BoundedField, size: number): unknown {
  const schema = unwrap(body);
  let target: z.ZodType = schema;
  for (const segment of field.path) {
    const s = unwrap(target);
    target = s instanceof z.ZodObject ? (s.shape as Record<string, z.ZodType>)[segment as string]! : (s as z.ZodArray).element as z.ZodType;
  }
  if (field.kind === 'string') return 'a'.repeat(size);
  if (field.kind === 'list') return listOf(unwrap(target) as z.ZodArray, size);
  return size;
}

function rejection(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestError);
    return (error as Error).message;
  }
  throw new Error('expected a BadRequestError');
}

const CREATE_BODIES = {
  CreateMesh: CreateMeshBody,
  CreateVirtualNode: CreateVirtualNodeBody,
  CreateVirtualRouter: CreateVirtualRouterBody,
  CreateRoute: CreateRouteBody,
  CreateVirtualService: CreateVirtualServiceBody,
  CreateVirtualGateway: CreateVirtualGatewayBody,
  CreateGatewayRoute: CreateGatewayRouteBody,
} as const;

interface BoundCase {
  readonly name: string;
  readonly body: z.ZodObject;
  readonly value: unknown;
  readonly field: string;
  readonly accepted: boolean;
  readonly bound: number;
}

const boundCases: BoundCase[] = [];
const boundedCounts: Record<string, number> = {};
for (const [operation, body] of Object.entries(CREATE_BODIES)) {
  const base = minimalValue(body);
  const fields = boundedFields(body);
  boundedCounts[operation] = fields.length;
  for (const field of fields) {
    const { min, max } = field;
    const sizes: [number, boolean, string, number][] = [];
    if (min !== undefined) {
      sizes.push([min, true, 'min', min]);
      if (field.kind === 'number' || min > 0) sizes.push([min - 1, false, 'min-1', min]);
    }
    if (max !== undefined) sizes.push([max, true, 'max', max], [max + 1, false, 'max+1', max]);
    for (const [size, accepted, label, bound] of sizes) {
      boundCases.push({
        name: `${operation} ${field.field} (${field.shape ?? field.kind}) ${label} = ${size} is ${accepted ? 'accepted' : 'rejected'}`,
        body,
        value: withField(body, field.path, valueOfSize(body, field, size), base),
        field: field.field,
        accepted,
        bound,
      });
    }
  }
}

describe('model constraints, generated from the schemas', () => {
  it('finds the bounded fields of every create body', () => {
    expect(boundedCounts).toMatchInlineSnapshot(`
      {
        "CreateGatewayRoute": 48,
        "CreateMesh": 4,
        "CreateRoute": 73,
        "CreateVirtualGateway": 28,
        "CreateVirtualNode": 50,
        "CreateVirtualRouter": 5,
        "CreateVirtualService": 5,
      }
    `);
  });

  it.each(Object.entries(CREATE_BODIES))('a minimal %s body is valid', (_, body) => {
    expect(() => parseInput(body, minimalValue(body))).not.toThrow();
  });

  it.each(boundCases.map((boundCase) => [boundCase.name, boundCase] as const))('%s', (_, { body, value, field, accepted, bound }) => {
    if (accepted) {
      expect(() => parseInput(body, value)).not.toThrow();
      return;
    }
    // An empty string may break a pattern too; every message is about this field, one names the bound.
    const messages = rejection(() => parseInput(body, value)).split('; ');
    for (const message of messages) expect(message.startsWith(`${field} must `), message).toBe(true);
    expect(messages.some((message) => new RegExp(`\\b${bound}\\b.*, got: `).test(message)), messages.join('; ')).toBe(true);
  });
});

describe('validation messages', () => {
  const listener = (extra: object = {}) => ({ portMapping: { port: 8080, protocol: 'http' }, ...extra });
  const dns = { dns: { hostname: 'app.local' } };
  const healthCheck = { protocol: 'http', healthyThreshold: 2, unhealthyThreshold: 2, timeoutMillis: 2000, intervalMillis: 5000 };
  const node = (spec: object) => () => parseInput(CreateVirtualNodeBody, { virtualNodeName: 'app', spec });

  it.each([
    ['a number out of range', node({ serviceDiscovery: dns, listeners: [listener({ healthCheck: { ...healthCheck, healthyThreshold: 11 } })] }),
      'spec.listeners[0].healthCheck.healthyThreshold must be between 2 and 10, got: 11'],
    ['a name too long', () => parseInput(CreateVirtualNodeBody, { virtualNodeName: 'n'.repeat(256), spec: {} }),
      'virtualNodeName must be at most 255 characters long, got: 256 characters'],
    ['a value not in the enum', node({ serviceDiscovery: dns, listeners: [{ portMapping: { port: 80, protocol: 'udp' } }] }),
      'spec.listeners[0].portMapping.protocol must be one of http, tcp, http2, grpc, got: "udp"'],
    ['two members of a union', node({ serviceDiscovery: { ...dns, awsCloudMap: { namespaceName: 'ns', serviceName: 'svc' } } }),
      'spec.serviceDiscovery must set exactly one of dns, awsCloudMap, got: dns, awsCloudMap'],
    ['no member of a union', node({ serviceDiscovery: {} }),
      'spec.serviceDiscovery must set exactly one of dns, awsCloudMap, got: none'],
    ['a required member missing', node({ serviceDiscovery: dns, listeners: [{ portMapping: { protocol: 'http' } }] }),
      'spec.listeners[0].portMapping.port is required'],
    ['an unknown member', node({ bogus: 1 }), 'spec.bogus is not a member of VirtualNodeSpec'],
    ['an unknown body member', () => parseInput(CreateVirtualNodeBody, { virtualNodeName: 'app', spec: {}, meshName: 'm' }),
      'meshName is not a member of CreateVirtualNodeInput'],
    ['a fraction where an integer belongs', node({ serviceDiscovery: dns, listeners: [{ portMapping: { port: 80.5, protocol: 'http' } }] }),
      'spec.listeners[0].portMapping.port must be an integer, got: 80.5'],
    ['a string where an integer belongs', node({ serviceDiscovery: dns, listeners: [{ portMapping: { port: '80', protocol: 'http' } }] }),
      'spec.listeners[0].portMapping.port must be an integer, got: "80"'],
    ['a string breaking its pattern', node({ serviceDiscovery: { awsCloudMap: { namespaceName: 'ns', serviceName: 'svc', attributes: [{ key: 'k y', value: 'v' }] } } }),
      'spec.serviceDiscovery.awsCloudMap.attributes[0].key must match the pattern ^[a-zA-Z0-9!-~]+$, got: "k y"'],
    ['a list too long', () => parseInput(CreateVirtualNodeBody, { virtualNodeName: 'app', spec: {}, tags: Array.from({ length: 51 }, (_, i) => ({ key: `k${i}`, value: '' })) }),
      'tags must have at most 50 items, got: 51 items'],
    ['an account id of the wrong length', () => parseOperationInput(OPERATIONS.DescribeMesh, { labels: { meshName: 'm' }, query: { meshOwner: '1234' } }),
      'meshOwner must be exactly 12 characters long, got: 4 characters'],
    ['a limit out of range', () => parseOperationInput(OPERATIONS.ListMeshes, { query: { limit: '101' } }),
      'limit must be between 1 and 100, got: 101'],
    ['a limit that is not a number', () => parseOperationInput(OPERATIONS.ListMeshes, { query: { limit: 'ten' } }),
      'limit must be an integer, got: "ten"'],
    ['a null list item', () => parseInput(CreateVirtualNodeBody, { virtualNodeName: 'app', spec: {}, tags: [null] }),
      'tags[0] must be an object, got: null'],
    ['several problems, in order', node({ serviceDiscovery: dns, listeners: [{ portMapping: { port: 0, protocol: 'udp' } }], bogus: true }),
      'spec.listeners[0].portMapping.port must be between 1 and 65535, got: 0; spec.listeners[0].portMapping.protocol must be one of http, tcp, http2, grpc, got: "udp"; spec.bogus is not a member of VirtualNodeSpec'],
  ])('names the field, the bound and the value: %s', (_, run, message) => {
    expect(rejection(run)).toBe(message);
  });

  it('prefixes the paths with what was parsed', () => {
    expect(rejection(() => parseInput(VirtualNodeSpec, { listeners: [{ portMapping: { port: 70000, protocol: 'tcp' } }], serviceDiscovery: dns }, 'spec')))
      .toBe('spec.listeners[0].portMapping.port must be between 1 and 65535, got: 70000');
  });

  it('treats a member set to null as absent', () => {
    expect(parseInput(VirtualNodeSpec, { serviceDiscovery: dns, listeners: null, logging: null })).toEqual({ serviceDiscovery: dns });
  });
});

describe('App Mesh rules the model does not encode', () => {
  const target = { weightedTargets: [{ virtualNode: 'app', weight: 1 }] };
  const httpRoute = { match: { prefix: '/' }, action: target };

  it('a route spec has exactly one route type', () => {
    expect(rejection(() => parseInput(RouteSpec, { priority: 1 }, 'spec')))
      .toBe('spec must set exactly one of httpRoute, tcpRoute, http2Route, grpcRoute, got: none');
    expect(rejection(() => parseInput(RouteSpec, { httpRoute, tcpRoute: { action: target } }, 'spec')))
      .toBe('spec must set exactly one of httpRoute, tcpRoute, http2Route, grpcRoute, got: httpRoute, tcpRoute');
  });

  it('a virtual node with listeners needs service discovery', () => {
    expect(rejection(() => parseInput(VirtualNodeSpec, { listeners: [{ portMapping: { port: 80, protocol: 'http' } }] }, 'spec')))
      .toBe('spec.serviceDiscovery is required when spec.listeners is set');
    expect(() => parseInput(VirtualNodeSpec, { listeners: [] })).not.toThrow();
  });

  it('listener ports are unique', () => {
    const portMapping = { port: 8080, protocol: 'http' };
    expect(rejection(() => parseInput(VirtualGatewaySpec, { listeners: [{ portMapping }, { portMapping: { ...portMapping, protocol: 'grpc' } }] }, 'spec')))
      .toBe('spec.listeners[1].portMapping.port must be unique, got: 8080, the same as spec.listeners[0].portMapping.port');
  });

  it('a retry policy names at least one kind of retry event', () => {
    const retryPolicy = { maxRetries: 2, perRetryTimeout: { value: 1, unit: 's' } };
    expect(rejection(() => parseInput(RouteSpec, { httpRoute: { ...httpRoute, retryPolicy } }, 'spec')))
      .toBe('spec.httpRoute.retryPolicy must set at least one of httpRetryEvents, tcpRetryEvents, got: none');
  });

  it('a gRPC method match needs a service name', () => {
    expect(rejection(() => parseInput(RouteSpec, { grpcRoute: { match: { methodName: 'Get' }, action: target } }, 'spec')))
      .toBe('spec.grpcRoute.match.serviceName is required when spec.grpcRoute.match.methodName is set');
  });

  it('a port set has no duplicates (smithy.api#uniqueItems)', () => {
    const validation = { trust: { file: { certificateChain: '/ca.pem' } } };
    expect(rejection(() => parseInput(ClientPolicyTls, { ports: [443, 8443, 443], validation }, 'tls')))
      .toBe('tls.ports[2] must be unique, got: 443, the same as tls.ports[0]');
  });
});

describe('the operation table', () => {
  const operations = Object.values(OPERATIONS) as OperationSpec[];

  it('has the 38 operations of App Mesh 2019-01-25', () => {
    expect(operations).toHaveLength(38);
  });

  it.each(operations.map((operation) => [operation.name, operation] as const))('%s splits its input into labels, query and body', (_, operation) => {
    expect(operation.uri.match(/\{(\w+)\}/g)?.map((label) => label.slice(1, -1)) ?? []).toEqual(Object.keys(operation.labels));
    const parts = [...Object.keys(operation.labels), ...Object.keys(operation.query), ...Object.keys(operation.body?.shape ?? {})];
    expect(parts.sort()).toEqual(Object.keys(operation.input.shape).sort());
  });

  it('reads a whole request: labels, integer query members and body', () => {
    const input = parseOperationInput(OPERATIONS.CreateVirtualNode, {
      labels: { meshName: 'mesh' },
      query: { meshOwner: '111122223333' },
      body: { virtualNodeName: 'app', spec: {} },
    });
    expect(input).toEqual({ meshName: 'mesh', meshOwner: '111122223333', virtualNodeName: 'app', spec: {} });
    expect(parseOperationInput(OPERATIONS.ListVirtualNodes, { labels: { meshName: 'mesh' }, query: { limit: ['25'] } }))
      .toEqual({ meshName: 'mesh', limit: 25 });
  });

  it('rejects a label member sent in the body', () => {
    expect(rejection(() => parseOperationInput(OPERATIONS.CreateVirtualNode, { labels: { meshName: 'mesh' }, body: { virtualNodeName: 'app', spec: {}, meshName: 'other' } })))
      .toBe('meshName is not a member of CreateVirtualNodeInput');
  });

  it('gives each error of shared/errors.ts the status the model gives its code, or AWS frontends give it', () => {
    // Authentication and authorization are answered by AWS's frontend, before App Mesh: their
    // codes are not in App Mesh's model, and these are the statuses AWS answers them with.
    const FRONTEND_STATUS: Record<string, number> = {
      MissingAuthenticationTokenException: 403,
      IncompleteSignatureException: 400,
      InvalidSignatureException: 403,
      UnrecognizedClientException: 403,
      AccessDeniedException: 403,
    };
    const errorClasses = (Object.values(errors) as unknown[]).filter(
      (value): value is new (message: string) => errors.MeshlineError =>
        typeof value === 'function' && value.prototype instanceof errors.MeshlineError,
    );
    expect(errorClasses.length).toBeGreaterThan(0);
    for (const ErrorClass of errorClasses) {
      const error = new ErrorClass('x');
      const status = ERROR_STATUS[error.code as keyof typeof ERROR_STATUS] ?? FRONTEND_STATUS[error.code];
      expect(status, error.code).toBe(error.statusCode);
    }
  });
});

describe('the App Mesh examples corpus', () => {
  const operationsByFileName = (Object.values(OPERATIONS) as OperationSpec[])
    .map((operation) => ({ operation, kebab: operation.name.replace(/[A-Z]/g, (c, i: number) => (i ? '-' : '') + c.toLowerCase()) }))
    .sort((a, b) => b.kebab.length - a.kebab.length);
  const requests = readdirSync(CORPUS)
    .filter((entry) => entry !== 'k8s' && statSync(CORPUS + entry).isDirectory())
    .flatMap((scenario) => readdirSync(CORPUS + scenario).filter((file) => file.endsWith('.json')).map((file) => `${scenario}/${file}`))
    .sort();

  it('holds the request files its README counts', () => {
    expect(requests).toHaveLength(366);
  });

  it.each(requests)('%s validates against its operation', (file) => {
    const name = file.split('/')[1]!.replace(/^\d+-/, '');
    const match = operationsByFileName.find(({ kebab }) => name.startsWith(`${kebab}-`));
    expect(match, `no operation for ${file}`).toBeDefined();
    const operation = match!.operation;
    const input = JSON.parse(readFileSync(CORPUS + file, 'utf8')) as Record<string, unknown>;
    const body = Object.fromEntries(Object.entries(input).filter(([member]) => !(member in operation.labels) && !(member in operation.query)));
    if (operation.body) expect(() => parseInput(operation.body!, body)).not.toThrow();
    else expect(body).toEqual({});
    expect(() => parseInput(operation.input, input)).not.toThrow();
  });
});
