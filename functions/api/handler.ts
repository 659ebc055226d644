import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { authorizeExtension, authorizeMesh, authorizeOperation, type Grant } from '../../shared/auth/policy.js';
import { apiAuthFromEnv, runtimeFromEnv } from '../runtime.js';
import { authenticate, meshOfInput } from './auth.js';
import { appMeshErrors, UnknownOperationError } from './errors.js';
import { EXTENSION_PREFIX, extensionAction, invokeExtension } from './extensions.js';
import { invokeOperation } from './operations.js';
import { matchRoute } from './router.js';

const runtime = runtimeFromEnv(process.env);
const auth = apiAuthFromEnv(process.env);

/**
 * The App Mesh REST API: authenticate the caller (SigV4 with a Meshline access key, unless auth
 * is off), route the request to its operation, authorize the key for it, validate its input
 * against the model, run the use case, and answer as App Mesh does: HTTP 200 with the output's
 * payload member as the body (MeshData for CreateMesh: the use cases return exactly that), or
 * the whole output where the operation has no payload member (ListMeshes, TagResource).
 * Meshline's own operations live under /meshline/ (functions/api/extensions.ts).
 */
async function appMeshApi(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  const grant = auth ? await authenticate(auth, event) : undefined;
  const result = (event.rawPath ?? '').startsWith(EXTENSION_PREFIX) ? await extension(event, grant) : await operation(event, grant);
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(result ?? {}),
  };
}

async function operation(event: APIGatewayProxyEventV2, grant: Grant | undefined): Promise<unknown> {
  const route = matchRoute(event);
  if (grant) authorizeOperation(runtime.account, grant, route.operation);
  const input = route.parseInput();
  if (!grant) return invokeOperation(runtime, route.operation, input);
  const mesh = meshOfInput(input);
  if (mesh !== undefined) authorizeMesh(runtime.account, grant, route.operation, mesh);
  // A key for named meshes lists those meshes only: their pages and tokens never pass over others.
  return invokeOperation(runtime, route.operation, input, grant.meshes === '*' ? {} : { onlyMeshes: grant.meshes });
}

async function extension(event: APIGatewayProxyEventV2, grant: Grant | undefined): Promise<unknown> {
  const action = extensionAction(event);
  // Nothing runs unauthorized: an extension that names no action is not one.
  if (grant && !action) throw new UnknownOperationError(`No Meshline operation at ${event.requestContext?.http?.method ?? 'GET'} ${event.rawPath ?? '/'}.`);
  if (grant && action) authorizeExtension(runtime.account, grant, action);
  return invokeExtension(runtime, event);
}

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
  .use(appMeshErrors())
  .handler(appMeshApi);
