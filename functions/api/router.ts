import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { z } from 'zod';
import { BadRequestError, NotFoundError } from '../../shared/errors.js';
import { OPERATIONS, type OperationName, type OperationSpec } from '../../shared/model/shapes.js';
import { parseInput } from '../../shared/model/validate.js';

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

function isNumberSchema(schema: z.ZodType): boolean {
  return (schema as unknown as { def?: { type?: string } }).def?.type === 'number';
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
    const input: Record<string, unknown> = {};
    const query = new URLSearchParams(event.rawQueryString ?? '');
    for (const [member, { name, schema }] of Object.entries(route.operation.query)) {
      const value = query.get(name);
      if (value === null) continue;
      // Query values are strings on the wire; numeric members (limit) are read as numbers.
      input[member] = isNumberSchema(schema) && /^-?\d+$/.test(value) ? Number(value) : value;
    }
    if (route.operation.body) {
      const body = readBody(event);
      for (const member of [...route.labels, ...Object.keys(route.operation.query)]) {
        if (member in body) throw new BadRequestError(`${member} belongs in the request ${route.labels.includes(member) ? 'path' : 'query string'}, not in the body.`);
      }
      Object.assign(input, body);
    }
    route.labels.forEach((label, index) => {
      input[label] = decodeLabel(label, match[index + 1] ?? '');
    });
    return {
      operation: route.operation.name,
      input: parseInput(route.operation.input, input) as Record<string, unknown>,
    };
  }
  if (pathMatched) throw new BadRequestError(`${method} is not an App Mesh operation on ${path}.`);
  throw new NotFoundError(`No App Mesh operation at ${method} ${path}.`);
}
