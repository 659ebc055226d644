import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { BadRequestError } from '../../shared/errors.js';
import { proxyStatus } from '../../shared/mesh/proxy-status.js';
import type { Runtime } from '../runtime.js';
import { UnknownOperationError } from './errors.js';

/**
 * Meshline's own operations, for what the App Mesh API cannot say. They live under their own
 * path (`/meshline/v1/...`) and never change the meaning of an App Mesh operation.
 */
export const EXTENSION_PREFIX = '/meshline/';

const PROXY_STATUS = /^\/meshline\/v1\/meshes\/([^/]+)\/proxyStatus$/;

function label(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadRequestError(`meshName is not a valid URI path segment, got: ${JSON.stringify(raw)}`);
  }
}

/** Runs a Meshline extension operation; the caller checked the path starts with EXTENSION_PREFIX. */
export async function invokeExtension(runtime: Runtime, event: APIGatewayProxyEventV2): Promise<unknown> {
  const method = event.requestContext?.http?.method?.toUpperCase() ?? 'GET';
  const path = event.rawPath ?? '/';
  const status = PROXY_STATUS.exec(path);
  if (status && method === 'GET') return proxyStatus(runtime, label(status[1] ?? ''));
  throw new UnknownOperationError(`No Meshline operation at ${method} ${path}.`);
}
