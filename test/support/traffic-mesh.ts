/**
 * A mesh that carries real traffic, for the end-to-end tests of releases, telemetry and
 * rollouts: gRPC backends on loopback as virtual nodes behind one virtual router, and a
 * proxyless client (@grpc/grpc-js-xds) of the local stack's relay as the node `client`.
 */
import {
  CreateMeshCommand,
  CreateRouteCommand,
  CreateVirtualNodeCommand,
  CreateVirtualRouterCommand,
  CreateVirtualServiceCommand,
  DeleteRouteCommand,
  UpdateRouteCommand,
  type GrpcRetryPolicy,
  type RouteSpec,
} from '@aws-sdk/client-app-mesh';
import * as grpc from '@grpc/grpc-js';
import { inject } from 'vitest';
import { createDocumentClient } from '../../shared/store/clients.js';
import { TrafficStore } from '../../shared/store/traffic.js';
import { appMeshClient, uniqueMeshName } from './appmesh.js';
import { stackProxylessClient } from './keys.js';
import type { TrafficBackend } from './traffic-backend.js';
import { WHOAMI_PATH } from './xds-backend.js';
import type { ProxylessClient } from './xds-client.js';

/** The virtual router of the mesh. */
export const ROUTER = 'app';
/** The gRPC service the backends serve (Whoami). */
export const SERVICE_NAME = 'meshline.test.Backend';

const appmesh = appMeshClient();

/** The local stack's traffic table, as relays write it and the API reads it. */
export function stackTrafficStore(): TrafficStore {
  const stack = inject('stack');
  const credentials = { accessKeyId: stack.env.AWS_ACCESS_KEY_ID ?? '', secretAccessKey: stack.env.AWS_SECRET_ACCESS_KEY ?? '' };
  return new TrafficStore(createDocumentClient({ region: stack.region, dynamodbEndpoint: stack.endpoints.dynamodb, dynamodbCredentials: credentials }), stack.env.MESHLINE_TRAFFIC_TABLE ?? '');
}

/** One Whoami call: the name of the backend that answered, or the error. */
export function call(client: grpc.Client, metadata: Record<string, string> = {}, deadlineMs = 5_000): Promise<string> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      WHOAMI_PATH,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      md,
      { deadline: Date.now() + deadlineMs },
      (error, response) => (error || !response ? reject(error ?? new Error('empty response')) : resolve(response.toString('utf8'))),
    );
  });
}

/** `calls` concurrent calls (at most 200 in flight); the count of answers by backend. */
export async function tally(client: grpc.Client, calls: number, metadata: Record<string, string> = {}): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let left = calls;
  await Promise.all(
    Array.from({ length: Math.min(200, calls) }, async () => {
      while (left > 0) {
        left -= 1;
        const answer = await call(client, metadata);
        counts[answer] = (counts[answer] ?? 0) + 1;
      }
    }),
  );
  return counts;
}

/** Polls (no event tells when a gRPC client has applied a configuration) until `done`, or fails at the deadline. */
export async function until(what: string, done: () => Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (await done().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${what}: not within ${deadlineMs} ms`);
}

/** Calls one at a time until `n` answers in a row satisfy `ok` (errors break the run). */
export async function untilInARow(client: grpc.Client, n: number, ok: (answer: string) => boolean, metadata: Record<string, string> = {}): Promise<void> {
  let inARow = 0;
  await until(`${n} answers in a row`, async () => {
    const answer = await call(client, metadata, 2_000).catch(() => '');
    inARow = ok(answer) ? inARow + 1 : 0;
    return inARow >= n;
  });
}

export function grpcRoute(targets: Record<string, number>, options: { priority: number; metadata?: Record<string, string>; retryPolicy?: GrpcRetryPolicy }): RouteSpec {
  return {
    priority: options.priority,
    grpcRoute: {
      match: {
        serviceName: SERVICE_NAME,
        ...(options.metadata ? { metadata: Object.entries(options.metadata).map(([name, exact]) => ({ name, match: { exact } })) } : {}),
      },
      action: { weightedTargets: Object.entries(targets).map(([virtualNode, weight]) => ({ virtualNode, weight })) },
      ...(options.retryPolicy ? { retryPolicy: options.retryPolicy } : {}),
    },
  };
}

export interface Mesh {
  meshName: string;
  client: ProxylessClient;
  createRoute(name: string, spec: RouteSpec): Promise<void>;
  updateRoute(name: string, spec: RouteSpec): Promise<void>;
  deleteRoute(name: string): Promise<void>;
}

/**
 * A mesh with the given backends as virtual nodes, a gRPC router providing one virtual
 * service, the given routes, and a client node whose proxyless client is returned.
 */
export async function meshWith(prefix: string, backends: TrafficBackend[], routes: Record<string, RouteSpec>): Promise<Mesh> {
  const meshName = uniqueMeshName(prefix);
  const service = `app.${meshName}.local`;
  await appmesh.send(new CreateMeshCommand({ meshName }));
  await Promise.all(
    backends.map((b) =>
      appmesh.send(
        new CreateVirtualNodeCommand({
          meshName,
          virtualNodeName: b.name,
          spec: { listeners: [{ portMapping: { port: b.port, protocol: 'grpc' } }], serviceDiscovery: { dns: { hostname: b.host } } },
        }),
      ),
    ),
  );
  await appmesh.send(new CreateVirtualRouterCommand({ meshName, virtualRouterName: ROUTER, spec: { listeners: [{ portMapping: { port: 50051, protocol: 'grpc' } }] } }));
  const mesh: Mesh = {
    meshName,
    client: undefined as unknown as ProxylessClient,
    createRoute: async (routeName, spec) => void (await appmesh.send(new CreateRouteCommand({ meshName, virtualRouterName: ROUTER, routeName, spec }))),
    updateRoute: async (routeName, spec) => void (await appmesh.send(new UpdateRouteCommand({ meshName, virtualRouterName: ROUTER, routeName, spec }))),
    deleteRoute: async (routeName) => void (await appmesh.send(new DeleteRouteCommand({ meshName, virtualRouterName: ROUTER, routeName }))),
  };
  for (const [name, spec] of Object.entries(routes)) await mesh.createRoute(name, spec);
  await appmesh.send(new CreateVirtualServiceCommand({ meshName, virtualServiceName: service, spec: { provider: { virtualRouter: { virtualRouterName: ROUTER } } } }));
  await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'client', spec: { backends: [{ virtualService: { virtualServiceName: service } }] } }));
  mesh.client = await stackProxylessClient(service, `mesh/${meshName}/virtualNode/client`);
  return mesh;
}

