/**
 * The one error hierarchy of Meshline. Each error carries the App Mesh error code it is
 * answered with; the API maps them to HTTP in one place (functions/api/errors.ts). Anything
 * that is not a MeshlineError is an internal error and is never shown to the caller.
 */
export abstract class MeshlineError extends Error {
  /** The App Mesh error code, sent as `x-amzn-ErrorType` and `__type`. */
  abstract readonly code: string;
  abstract readonly statusCode: number;
}

/** The request is malformed or breaks a model constraint (HTTP 400). */
export class BadRequestError extends MeshlineError {
  override name = 'BadRequestError';
  readonly code = 'BadRequestException';
  readonly statusCode = 400;
}

/** The mesh, parent or referenced resource does not exist (HTTP 404). */
export class NotFoundError extends MeshlineError {
  override name = 'NotFoundError';
  readonly code = 'NotFoundException';
  readonly statusCode = 404;
}

/** A resource of that name exists, or a client token was reused with another request (HTTP 409). */
export class ConflictError extends MeshlineError {
  override name = 'ConflictError';
  readonly code = 'ConflictException';
  readonly statusCode = 409;
}

/** The resource is still referenced by, or still holds, other resources (HTTP 409). */
export class ResourceInUseError extends MeshlineError {
  override name = 'ResourceInUseError';
  readonly code = 'ResourceInUseException';
  readonly statusCode = 409;
}

/** A quota would be exceeded (HTTP 400). */
export class LimitExceededError extends MeshlineError {
  override name = 'LimitExceededError';
  readonly code = 'LimitExceededException';
  readonly statusCode = 400;
}

/** More than 50 tags on one resource (HTTP 400). */
export class TooManyTagsError extends MeshlineError {
  override name = 'TooManyTagsError';
  readonly code = 'TooManyTagsException';
  readonly statusCode = 400;
}

/** The caller is throttled, or a write kept losing a race and should be retried (HTTP 429). */
export class TooManyRequestsError extends MeshlineError {
  override name = 'TooManyRequestsError';
  readonly code = 'TooManyRequestsException';
  readonly statusCode = 429;
}

/*
 * Authentication and authorization, answered as AWS's service frontend answers them (the
 * codes the SDKs and the CLI know, including the clock-skew codes the SDKs retry after
 * correcting their clock). The messages are AWS's own wording where it has one.
 */

/** The request carries no signature at all (HTTP 403). */
export class MissingAuthenticationTokenError extends MeshlineError {
  override name = 'MissingAuthenticationTokenError';
  readonly code = 'MissingAuthenticationTokenException';
  readonly statusCode = 403;
  constructor(message = 'Missing Authentication Token') {
    super(message);
  }
}

/** The Authorization header or the presigned query is malformed or incomplete (HTTP 400). */
export class IncompleteSignatureError extends MeshlineError {
  override name = 'IncompleteSignatureError';
  readonly code = 'IncompleteSignatureException';
  readonly statusCode = 400;
}

/** The signature does not match, is expired or not yet valid, or is scoped wrongly (HTTP 403). */
export class InvalidSignatureError extends MeshlineError {
  override name = 'InvalidSignatureError';
  readonly code = 'InvalidSignatureException';
  readonly statusCode = 403;
}

/** The access key is unknown or revoked, or a session token was sent (HTTP 403). */
export class UnrecognizedClientError extends MeshlineError {
  override name = 'UnrecognizedClientError';
  readonly code = 'UnrecognizedClientException';
  readonly statusCode = 403;
  constructor(message = 'The security token included in the request is invalid.') {
    super(message);
  }
}

/** A valid key that may not perform this action on this resource (HTTP 403). */
export class AccessDeniedError extends MeshlineError {
  override name = 'AccessDeniedError';
  readonly code = 'AccessDeniedException';
  readonly statusCode = 403;
}
