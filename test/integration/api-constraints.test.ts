/**
 * The model's constraint table, sampled over the wire: for a few bounded fields of every kind,
 * the bounds are read from the operation's schema (as test/unit/model.test.ts does for every
 * field), and the API accepts min and max and answers min-1 and max+1 with a
 * BadRequestException that names the field and the bound, storing nothing.
 */
import * as AppMesh from '@aws-sdk/client-app-mesh';
import { BadRequestException, DeleteMeshCommand } from '@aws-sdk/client-app-mesh';
import { beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import * as shapes from '../../shared/model/shapes.js';
import { boundsOf, fieldPath, schemaAt, unwrap, type PathSegment } from '../../shared/model/validate.js';
import { appMeshClient, uniqueMeshName } from '../support/appmesh.js';
import { gatewayRouteSpec, gatewaySpec, nodeSpec, rejectsWith, routeSpec, routerSpec } from '../support/api-specs.js';

const appmesh = appMeshClient();
type Command = new (input: unknown) => Parameters<typeof appmesh.send>[0];
type Json = Record<string, unknown>;

function command(operation: string): Command {
  return (AppMesh as unknown as Record<string, Command>)[`${operation}Command`] as Command;
}

/** A bounded field to sample: the operation whose body holds it, and a valid body around it. */
interface Sample {
  operation: keyof typeof shapes.OPERATIONS;
  path: PathSegment[];
  /** A valid request (labels included); called once per value, so creates get fresh names. */
  request: (meshName: string) => Json;
  /** The member of the output holding the resource, to check the version an update moved to. */
  payload: string;
}

const listener = { portMapping: { port: 8080, protocol: 'http' }, healthCheck: { protocol: 'http', path: '/', healthyThreshold: 2, unhealthyThreshold: 2, timeoutMillis: 2000, intervalMillis: 5000 } };
const gatewayListener = { ...listener, connectionPool: { http: { maxConnections: 10 } } };

const SAMPLES: Sample[] = [
  { operation: 'CreateMesh', path: ['meshName'], payload: 'mesh', request: () => ({ meshName: uniqueMeshName('c') }) },
  { operation: 'CreateMesh', path: ['tags', 0, 'key'], payload: 'mesh', request: () => ({ meshName: uniqueMeshName('c'), tags: [{ key: 'k', value: 'v' }] }) },
  { operation: 'CreateMesh', path: ['tags', 0, 'value'], payload: 'mesh', request: () => ({ meshName: uniqueMeshName('c'), tags: [{ key: 'k', value: 'v' }] }) },
  { operation: 'CreateMesh', path: ['tags'], payload: 'mesh', request: () => ({ meshName: uniqueMeshName('c'), tags: [{ key: 'k', value: 'v' }] }) },
  ...(['portMapping.port', 'healthCheck.healthyThreshold', 'healthCheck.timeoutMillis'] as const).map((field): Sample => ({
    operation: 'UpdateVirtualNode',
    path: ['spec', 'listeners', 0, ...field.split('.')],
    payload: 'virtualNode',
    request: (meshName) => ({ meshName, virtualNodeName: 'node', spec: { ...nodeSpec(), listeners: [listener] } }),
  })),
  {
    operation: 'UpdateVirtualNode',
    path: ['spec', 'logging', 'accessLog', 'file', 'path'],
    payload: 'virtualNode',
    request: (meshName) => ({ meshName, virtualNodeName: 'node', spec: { logging: { accessLog: { file: { path: '/dev/stdout' } } } } }),
  },
  {
    operation: 'UpdateVirtualRouter',
    path: ['spec', 'listeners', 0, 'portMapping', 'port'],
    payload: 'virtualRouter',
    request: (meshName) => ({ meshName, virtualRouterName: 'router', spec: routerSpec(8080) }),
  },
  { operation: 'CreateVirtualService', path: ['virtualServiceName'], payload: 'virtualService', request: (meshName) => ({ meshName, virtualServiceName: 'service', spec: {} }) },
  ...([['priority'], ['httpRoute', 'action', 'weightedTargets'], ['httpRoute', 'action', 'weightedTargets', 0, 'weight'], ['httpRoute', 'match', 'headers', 0, 'name']] as PathSegment[][]).map(
    (path): Sample => ({
      operation: 'UpdateRoute',
      path: ['spec', ...path],
      payload: 'route',
      request: (meshName) => {
        const route = routeSpec([['node', 1], ['other', 1]]);
        return { meshName, virtualRouterName: 'router', routeName: 'route', spec: { priority: 1, httpRoute: { ...route.httpRoute, match: { prefix: '/', headers: [{ name: 'x-h' }] } } } };
      },
    }),
  ),
  ...(['healthCheck.intervalMillis', 'connectionPool.http.maxConnections'] as const).map((field): Sample => ({
    operation: 'UpdateVirtualGateway',
    path: ['spec', 'listeners', 0, ...field.split('.')],
    payload: 'virtualGateway',
    request: (meshName) => ({ meshName, virtualGatewayName: 'gateway', spec: { listeners: [gatewayListener] } }),
  })),
  ...([['priority'], ['httpRoute', 'match', 'hostname', 'exact'], ['httpRoute', 'action', 'rewrite', 'prefix', 'value']] as PathSegment[][]).map(
    (path): Sample => ({
      operation: 'UpdateGatewayRoute',
      path: ['spec', ...path],
      payload: 'gatewayRoute',
      request: (meshName) => {
        const spec = gatewayRouteSpec('web.local', '/web/');
        return {
          meshName,
          virtualGatewayName: 'gateway',
          gatewayRouteName: 'gr',
          spec: {
            priority: 1,
            httpRoute: { match: { ...spec.httpRoute.match, hostname: { exact: 'example.com' } }, action: { ...spec.httpRoute.action, rewrite: { prefix: { value: '/' } } } },
          },
        };
      },
    }),
  ),
];

/** `request` with the field at `path` (inside the body) replaced by `value`. */
function withValue(request: Json, path: PathSegment[], value: unknown): Json {
  const copy = structuredClone(request);
  let container: Record<PathSegment, unknown> = copy;
  path.slice(0, -1).forEach((segment) => (container = container[segment] as Record<PathSegment, unknown>));
  container[path[path.length - 1] as PathSegment] = value;
  return copy;
}

/** A value of `size`: a number, a string of that length, or a list of that many copies of the first item. */
function valueOfSize(schema: z.ZodType, request: Json, path: PathSegment[], size: number): unknown {
  const kind = unwrap(schema).type;
  if (kind === 'string') return 'a'.repeat(size);
  if (kind === 'array') {
    let list: unknown = request;
    for (const segment of path) list = (list as Record<PathSegment, unknown>)[segment];
    return Array.from({ length: size }, () => structuredClone((list as unknown[])[0]));
  }
  return size;
}

interface Case {
  name: string;
  sample: Sample;
  size: number;
  accepted: boolean;
  bound: number;
}

const CASES: Case[] = SAMPLES.flatMap((sample) => {
  const body = shapes.OPERATIONS[sample.operation].body;
  const schema = body && schemaAt(body, sample.path);
  if (!schema) throw new Error(`${sample.operation} has no field ${fieldPath(sample.path)}`);
  const { min, max } = boundsOf(schema);
  const sizes: [string, number, boolean, number][] = [];
  if (min !== undefined) {
    sizes.push(['min', min, true, min]);
    if (unwrap(schema).type === 'number' || min > 0) sizes.push(['min-1', min - 1, false, min]);
  }
  if (max !== undefined) sizes.push(['max', max, true, max], ['max+1', max + 1, false, max]);
  return sizes.map(([label, size, accepted, bound]) => ({
    name: `${sample.operation} ${fieldPath(sample.path)} ${label} = ${size} is ${accepted ? 'accepted' : 'rejected'}`,
    sample,
    size,
    accepted,
    bound,
  }));
});

const meshName = uniqueMeshName('constraints');

beforeAll(async () => {
  const send = (operation: string, input: Json) => appmesh.send(new (command(operation))(input));
  await send('CreateMesh', { meshName });
  await send('CreateVirtualNode', { meshName, virtualNodeName: 'node', spec: nodeSpec(8080) });
  await send('CreateVirtualNode', { meshName, virtualNodeName: 'other', spec: nodeSpec(8080) });
  await send('CreateVirtualRouter', { meshName, virtualRouterName: 'router', spec: routerSpec(8080) });
  await send('CreateRoute', { meshName, virtualRouterName: 'router', routeName: 'route', spec: routeSpec([['node', 1]]) });
  await send('CreateVirtualGateway', { meshName, virtualGatewayName: 'gateway', spec: gatewaySpec(8080) });
  await send('CreateVirtualService', { meshName, virtualServiceName: 'web.local', spec: {} });
  await send('CreateGatewayRoute', { meshName, virtualGatewayName: 'gateway', gatewayRouteName: 'gr', spec: gatewayRouteSpec('web.local') });
});

describe('model constraints over the wire, sampled from the schemas', () => {
  it('samples every kind', () => {
    expect(new Set(SAMPLES.map((s) => s.operation.replace(/^(Create|Update)/, '')))).toEqual(
      new Set(['Mesh', 'VirtualNode', 'VirtualRouter', 'Route', 'VirtualService', 'VirtualGateway', 'GatewayRoute']),
    );
    expect(CASES.length).toBeGreaterThanOrEqual(60);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_, { sample, size, accepted, bound }) => {
    const body = shapes.OPERATIONS[sample.operation].body as z.ZodObject;
    const base = sample.request(meshName);
    const request = withValue(base, sample.path, valueOfSize(schemaAt(body, sample.path) as z.ZodType, base, sample.path, size));
    const { spec: _spec, tags: _tags, ...key } = request;
    const describe = () => appmesh.send(new (command(sample.operation.replace(/^(Create|Update)/, 'Describe')))(key)) as unknown as Promise<Json>;
    const version = async () => ((await describe())[sample.payload] as { metadata: { version: number } }).metadata.version;
    const before = sample.operation.startsWith('Update') ? await version() : 0;
    const send = () => appmesh.send(new (command(sample.operation))(request)) as unknown as Promise<Json>;
    if (accepted) {
      const output = (await send())[sample.payload] as { metadata: { version: number } };
      expect(output.metadata.version).toBe(before + 1);
      if (sample.operation === 'CreateMesh') await appmesh.send(new DeleteMeshCommand({ meshName: request.meshName as string }));
      return;
    }
    const message = await rejectsWith(send(), BadRequestException);
    expect(message).toContain(`${fieldPath(sample.path)} must `);
    expect(message).toMatch(new RegExp(`\\b${bound}\\b`));
    // Nothing was stored: an update left its version, a create left no resource.
    if (before > 0) expect(await version()).toBe(before);
    else if (!String(sample.path[0]).endsWith('Name')) await rejectsWith(describe(), AppMesh.NotFoundException);
  });
});
