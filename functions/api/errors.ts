import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { MeshlineError } from '../../shared/errors.js';

/**
 * No App Mesh operation has this method and path. This is the protocol's answer, not an error
 * of the App Mesh model: AWS's service frontend answers a request no operation claims with
 * `UnknownOperationException` and HTTP 404, whether the path is unknown or only the method is
 * wrong. It lives here, with the HTTP layer, rather than among the domain errors.
 */
export class UnknownOperationError extends MeshlineError {
  override name = 'UnknownOperationError';
  readonly code = 'UnknownOperationException';
  readonly statusCode = 404;
}

/**
 * The one place errors become HTTP: App Mesh's wire format, which the SDKs parse into their
 * typed exceptions (error code in `x-amzn-ErrorType`, message in the body). Anything that is
 * not a MeshlineError is logged and answered as a generic 500 that leaks nothing.
 */
export function errorResponse(error: unknown): APIGatewayProxyStructuredResultV2 {
  if (error instanceof MeshlineError) {
    return {
      statusCode: error.statusCode,
      headers: { 'content-type': 'application/json', 'x-amzn-ErrorType': error.code },
      body: JSON.stringify({ message: error.message }),
    };
  }
  console.error(JSON.stringify({ level: 'error', msg: 'internal error', error: String((error as Error)?.stack ?? error) }));
  return {
    statusCode: 500,
    headers: { 'content-type': 'application/json', 'x-amzn-ErrorType': 'InternalServerErrorException' },
    body: JSON.stringify({ message: 'An internal error occurred; the request may be retried.' }),
  };
}

/** middy middleware: turns any error of the handler into an App Mesh error response. */
export function appMeshErrors(): MiddlewareObj<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2> {
  return {
    onError: async function appMeshErrorResponse(request) {
      request.response = errorResponse(request.error);
    },
  };
}
