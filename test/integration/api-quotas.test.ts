/**
 * Quotas, race-free: the use cases run in this process against the local stack's DynamoDB, on
 * a table of their own (the account's mesh count is per table) and with quotas small enough to
 * reach. Concurrent creates never pass a quota, and a delete makes room again.
 */
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LimitExceededError, NotFoundError } from '../../shared/errors.js';
import { DEFAULT_QUOTAS, type Quotas } from '../../shared/mesh/quotas.js';
import { createResource, deleteResource, listResources, type MeshDeps } from '../../shared/mesh/resources.js';
import { awsSettingsFromEnv, createDocumentClient } from '../../shared/store/clients.js';
import { MeshRepository } from '../../shared/store/repository.js';
import { meshTableDefinition } from '../../shared/store/table.js';
import { nodeSpec, routeSpec } from '../support/api-specs.js';

const stack = inject('stack');
const settings = awsSettingsFromEnv(stack.env);
const tableName = `quotas-${randomUUID().slice(0, 8)}`;
const dynamodb = new DynamoDBClient({
  region: settings.region,
  endpoint: settings.dynamodbEndpoint,
  ...(settings.dynamodbCredentials ? { credentials: settings.dynamodbCredentials } : {}),
});

beforeAll(async () => {
  await dynamodb.send(new CreateTableCommand({ ...meshTableDefinition, TableName: tableName }));
});

afterAll(async () => {
  await dynamodb.send(new DeleteTableCommand({ TableName: tableName }));
  dynamodb.destroy();
});

function deps(quotas: Partial<Quotas>): MeshDeps {
  return {
    repository: new MeshRepository(createDocumentClient(settings), tableName),
    account: { partition: 'aws', region: 'us-east-1', accountId: '111122223333' },
    quotas: { ...DEFAULT_QUOTAS, ...quotas },
  };
}

/** The outcome of each call: its result, or the class name of the error it threw. */
async function outcomes(calls: (() => Promise<unknown>)[]): Promise<string[]> {
  const settled = await Promise.allSettled(calls.map((call) => call()));
  return settled.map((s) => (s.status === 'fulfilled' ? 'ok' : (s.reason as Error).constructor.name));
}

function mesh(name: string) {
  return { kind: 'mesh' as const, meshName: name, name };
}

describe('quotas', () => {
  it('holds the meshes per account, and a deleted mesh makes room', async () => {
    const d = deps({ meshesPerAccount: 2 });
    const names = ['qa', 'qb', 'qc'].map((n) => `${n}-${randomUUID().slice(0, 6)}`) as [string, string, string];
    await createResource(d, { ...mesh(names[0]), spec: {} });
    await createResource(d, { ...mesh(names[1]), spec: {} });
    const error = await createResource(d, { ...mesh(names[2]), spec: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LimitExceededError);
    expect((error as Error).message).toBe('The account already has 2 meshes, its quota (meshesPerAccount, set by MESHLINE_QUOTA_MESHES_PER_ACCOUNT).');
    await deleteResource(d, mesh(names[0]));
    await createResource(d, { ...mesh(names[2]), spec: {} });
    for (const name of names.slice(1)) await deleteResource(d, mesh(name));
  });

  it('never lets concurrent creates pass the virtual nodes per mesh', async () => {
    const d = deps({ virtualNodesPerMesh: 3 });
    const meshName = `nodes-${randomUUID().slice(0, 6)}`;
    await createResource(d, { ...mesh(meshName), spec: {} });
    const results = await outcomes(
      Array.from({ length: 12 }, (_, i) => () => createResource(d, { kind: 'virtualNode', meshName, name: `n${i}`, spec: {} })),
    );
    expect(results.filter((r) => r === 'ok')).toHaveLength(3);
    expect(results.filter((r) => r !== 'ok')).toEqual(Array(9).fill('LimitExceededError'));
    const listed = await listResources(d, { kind: 'virtualNode', meshName });
    expect(listed.virtualNodes).toHaveLength(3);
    // Deleting one makes room for exactly one.
    const first = (listed.virtualNodes as { virtualNodeName: string }[])[0]?.virtualNodeName ?? '';
    await deleteResource(d, { kind: 'virtualNode', meshName, name: first });
    expect(await outcomes([1, 2].map((i) => () => createResource(d, { kind: 'virtualNode', meshName, name: `again${i}`, spec: {} })))).toContain('ok');
    expect((await listResources(d, { kind: 'virtualNode', meshName })).virtualNodes).toHaveLength(3);
  });

  it('counts each kind of a mesh on its own', async () => {
    const d = deps({ virtualServicesPerMesh: 1, virtualRoutersPerMesh: 1, virtualGatewaysPerMesh: 1 });
    const meshName = `kinds-${randomUUID().slice(0, 6)}`;
    await createResource(d, { ...mesh(meshName), spec: {} });
    const gateway = { listeners: [{ portMapping: { port: 8080, protocol: 'http' } }] };
    for (const [kind, spec] of [['virtualService', {}], ['virtualRouter', {}], ['virtualGateway', gateway]] as const) {
      await createResource(d, { kind, meshName, name: 'one', spec });
      await expect(createResource(d, { kind, meshName, name: 'two', spec })).rejects.toBeInstanceOf(LimitExceededError);
    }
    // Nodes have their own quota, untouched by the others.
    await createResource(d, { kind: 'virtualNode', meshName, name: 'node', spec: nodeSpec(8080) });
  });

  it('holds the routes per virtual router and the gateway routes per virtual gateway, per parent', async () => {
    const d = deps({ routesPerVirtualRouter: 2, gatewayRoutesPerVirtualGateway: 1 });
    const meshName = `routes-${randomUUID().slice(0, 6)}`;
    await createResource(d, { ...mesh(meshName), spec: {} });
    await createResource(d, { kind: 'virtualNode', meshName, name: 'blue', spec: nodeSpec(8080) });
    for (const router of ['r1', 'r2']) await createResource(d, { kind: 'virtualRouter', meshName, name: router, spec: {} });
    const route = (router: string, name: string) =>
      () => createResource(d, { kind: 'route', meshName, parentName: router, name, spec: routeSpec([['blue', 1]]) });
    const results = await outcomes([route('r1', 'a'), route('r1', 'b'), route('r1', 'c'), route('r1', 'd')]);
    expect(results.filter((r) => r === 'ok')).toHaveLength(2);
    expect(results.filter((r) => r !== 'ok')).toEqual(['LimitExceededError', 'LimitExceededError']);
    // Another router has its own room.
    await route('r2', 'a')();

    await createResource(d, { kind: 'virtualService', meshName, name: 'web.local', spec: {} });
    await createResource(d, { kind: 'virtualGateway', meshName, name: 'gw', spec: { listeners: [{ portMapping: { port: 8443, protocol: 'http' } }] } });
    const gatewayRoute = (name: string) => ({
      kind: 'gatewayRoute' as const,
      meshName,
      parentName: 'gw',
      name,
      spec: { httpRoute: { match: { prefix: '/' }, action: { target: { virtualService: { virtualServiceName: 'web.local' } } } } },
    });
    await createResource(d, gatewayRoute('g1'));
    const error = await createResource(d, gatewayRoute('g2')).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      `Virtual gateway gw in mesh ${meshName} already has 1 gateway route, its quota (gatewayRoutesPerVirtualGateway, set by MESHLINE_QUOTA_GATEWAY_ROUTES_PER_VIRTUAL_GATEWAY).`,
    );
  });

  it('answers a missing container with NotFound, not a quota', async () => {
    const d = deps({ routesPerVirtualRouter: 1 });
    const meshName = `missing-${randomUUID().slice(0, 6)}`;
    await expect(createResource(d, { kind: 'virtualNode', meshName, name: 'n', spec: {} })).rejects.toBeInstanceOf(NotFoundError);
    await createResource(d, { ...mesh(meshName), spec: {} });
    await expect(createResource(d, { kind: 'route', meshName, parentName: 'nope', name: 'r', spec: routeSpec([['n', 1]]) })).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });
});
