import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { BadRequestError, NotFoundError } from '../../shared/errors.js';
import { OPERATIONS, type OperationName, type OperationSpec } from '../../shared/model/shapes.js';
import { parseOperationInput } from '../../shared/model/validate.js';

/** One compiled route of the App Mesh REST surface. */
interface Route {
  operation: OperationSpec & { name: OperationName };
  method: string;
  pattern: RegExp;
  labels: string[];
}

/** The routes, built once from the model's http traits: `{label}` matches one path segment. */
const ROUTES: Route[] = Object.values(OPERATIONS).map((operation) => {
  const labels: string[] = [];
  const source = operation.uri.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{(\w+)\\?\}/g, (_m, label: string) => {
    labels.push(label);
    return '([^/]+)';
  });
  return { operation: operation as Route['operation'], method: operation.method, pattern: new RegExp(`^${source}$`), labels };
});

function decodeLabel(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new BadRequestError(`${name} is not a valid URI path segment, got: ${JSON.stringify(raw)}`);
  }
}

function readBody(event: APIGatewayProxyEventV2): Record<string, unknown> {
  if (event.body === undefined || event.body === null || event.body === '') return {};
  const text = event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(`The request body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BadRequestError('The request body must be a JSON object.');
  }
  return parsed as Record<string, unknown>;
}

/** A request matched to its operation, with its input parsed and validated against the model. */
export interface RoutedRequest {
  operation: OperationName;
  input: Record<string, unknown>;
}

/**
 * Finds the operation of a request and builds its input from the path labels, the query
 * string and the JSON body, validated by the operation's input schema: a violation is a
 * BadRequest naming the member, the bound and the value.
 */
export function routeRequest(event: APIGatewayProxyEventV2): RoutedRequest {
  const method = event.requestContext?.http?.method?.toUpperCase() ?? 'GET';
  const path = event.rawPath ?? '/';
  let pathMatched = false;
  for (const route of ROUTES) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    pathMatched = true;
    if (route.method !== method) continue;
    const labels: Record<string, string> = {};
    route.labels.forEach((label, index) => {
      labels[label] = decodeLabel(label, match[index + 1] ?? '');
    });
    const query = Object.fromEntries(new URLSearchParams(event.rawQueryString ?? ''));
    const body = route.operation.body ? readBody(event) : undefined;
    return {
      operation: route.operation.name,
      input: parseOperationInput(route.operation, { labels, query, body }) as Record<string, unknown>,
    };
  }
  if (pathMatched) throw new BadRequestError(`${method} is not an App Mesh operation on ${path}.`);
  throw new NotFoundError(`No App Mesh operation at ${method} ${path}.`);
}
