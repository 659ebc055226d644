import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { runtimeFromEnv } from '../runtime.js';
import { appMeshErrors } from './errors.js';
import { EXTENSION_PREFIX, invokeExtension } from './extensions.js';
import { invokeOperation } from './operations.js';
import { routeRequest } from './router.js';

const runtime = runtimeFromEnv(process.env);

/**
 * The App Mesh REST API: route the request to its operation, validate its input against the
 * model, run the use case, and answer as App Mesh does: HTTP 200 with the output's payload
 * member as the body (MeshData for CreateMesh: the use cases return exactly that), or the whole
 * output where the operation has no payload member (ListMeshes, TagResource). Meshline's own
 * operations live under /meshline/ (functions/api/extensions.ts).
 */
async function appMeshApi(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  let result: unknown;
  if ((event.rawPath ?? '').startsWith(EXTENSION_PREFIX)) {
    result = await invokeExtension(runtime, event);
  } else {
    const { operation, input } = routeRequest(event);
    result = await invokeOperation(runtime, operation, input);
  }
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(result ?? {}),
  };
}

export const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
  .use(appMeshErrors())
  .handler(appMeshApi);
