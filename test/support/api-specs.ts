/**
 * Specs and helpers shared by the API tests (test/integration/api-*.test.ts): small valid
 * App Mesh specs of every kind, and a way to catch the error an SDK call ends with.
 */
import { expect } from 'vitest';

/** A virtual node listening on `ports` (HTTP), found by DNS. */
export function nodeSpec(...ports: number[]) {
  return {
    listeners: ports.map((port) => ({ portMapping: { port, protocol: 'http' as const } })),
    serviceDiscovery: { dns: { hostname: 'app.local' } },
  };
}

/** A virtual router listening on `ports` (HTTP). */
export function routerSpec(...ports: number[]) {
  return { listeners: ports.map((port) => ({ portMapping: { port, protocol: 'http' as const } })) };
}

/** An HTTP route sending everything under `prefix` to weighted targets `[node, weight]`. */
export function routeSpec(targets: [string, number][], prefix = '/') {
  return {
    httpRoute: {
      match: { prefix },
      action: { weightedTargets: targets.map(([virtualNode, weight]) => ({ virtualNode, weight })) },
    },
  };
}

/** A virtual service provided by a virtual node, a virtual router, or nothing. */
export function serviceSpec(provider?: { node: string } | { router: string }) {
  if (!provider) return {};
  if ('node' in provider) return { provider: { virtualNode: { virtualNodeName: provider.node } } };
  return { provider: { virtualRouter: { virtualRouterName: provider.router } } };
}

/** A virtual gateway listening on `ports` (HTTP). */
export function gatewaySpec(...ports: number[]) {
  return { listeners: ports.map((port) => ({ portMapping: { port, protocol: 'http' as const } })) };
}

/** An HTTP gateway route sending everything under `prefix` to a virtual service. */
export function gatewayRouteSpec(virtualServiceName: string, prefix = '/') {
  return { httpRoute: { match: { prefix }, action: { target: { virtualService: { virtualServiceName } } } } };
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/**
 * Expects a call to fail with an App Mesh error of this class (the SDK's typed exception, so
 * the code, status and body were all on the wire as App Mesh sends them); returns its message.
 */
export async function rejectsWith(promise: Promise<unknown>, errorClass: abstract new (...args: never[]) => Error): Promise<string> {
  const error = await failure(promise);
  expect(error, `${error.name}: ${error.message}`).toBeInstanceOf(errorClass);
  return error.message;
}
