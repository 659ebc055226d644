import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { BadRequestError } from '../../shared/errors.js';
import { OPERATIONS, type OperationName, type OperationSpec } from '../../shared/model/shapes.js';
import { parseOperationInput } from '../../shared/model/validate.js';
import { UnknownOperationError } from './errors.js';

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
  const raw: unknown = event.body;
  if (raw === undefined || raw === null || raw === '') return {};
  // API Gateway always sends the body as text; serverless-offline hands a falsy JSON body
  // (`false`, `0`) over already parsed. Either way it must come out a JSON object.
  if (typeof raw !== 'string') return jsonObject(raw);
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new BadRequestError(`The request body is not valid JSON: ${(error as Error).message}`);
  }
  return jsonObject(parsed);
}

function jsonObject(parsed: unknown): Record<string, unknown> {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new BadRequestError('The request body must be a JSON object.');
  }
  checkJsonValue(parsed);
  return parsed as Record<string, unknown>;
}

/** Deeper than any App Mesh input (a spec nests about a dozen levels). */
const MAX_BODY_DEPTH = 64;

/** A lone UTF-16 surrogate (a `\ud800` escape in JSON): not Unicode, and DynamoDB will not store it. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Checks a parsed body before validation walks it (recursively): JSON.parse accepts any depth,
 * so a hostile body could otherwise exhaust the stack; and every string, keys included, must be
 * well-formed Unicode. Iterative, so the check itself cannot overflow.
 */
function checkJsonValue(root: unknown): void {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number];
    if (typeof value === 'string') {
      if (LONE_SURROGATE.test(value)) throw new BadRequestError('The request body holds a string that is not valid Unicode (a lone surrogate).');
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth > MAX_BODY_DEPTH) throw new BadRequestError(`The request body nests deeper than ${MAX_BODY_DEPTH} levels.`);
    const children = Array.isArray(value) ? value : Object.entries(value).flat();
    for (const child of children) stack.push([child, depth + 1]);
  }
}

/** A request matched to its operation, with its input parsed and validated against the model. */
export interface RoutedRequest {
  operation: OperationName;
  input: Record<string, unknown>;
}

/** A request matched to its operation; its input not read yet (authorization comes first). */
export interface MatchedRoute {
  operation: OperationName;
  /** Builds the input from the path labels, the query string and the JSON body, validated. */
  parseInput(): Record<string, unknown>;
}

/**
 * Finds the operation of a request by method and path. No App Mesh operation there is an
 * UnknownOperation (404), as AWS answers it.
 */
export function matchRoute(event: APIGatewayProxyEventV2): MatchedRoute {
  const method = event.requestContext?.http?.method?.toUpperCase() ?? 'GET';
  const path = event.rawPath ?? '/';
  let pathMatched = false;
  for (const route of ROUTES) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    pathMatched = true;
    if (route.method !== method) continue;
    return {
      operation: route.operation.name,
      parseInput: function parseRouteInput() {
        const labels: Record<string, string> = {};
        route.labels.forEach((label, index) => {
          labels[label] = decodeLabel(label, match[index + 1] ?? '');
        });
        const query = Object.fromEntries(new URLSearchParams(event.rawQueryString ?? ''));
        const body = route.operation.body ? readBody(event) : undefined;
        return parseOperationInput(route.operation, { labels, query, body }) as Record<string, unknown>;
      },
    };
  }
  if (pathMatched) throw new UnknownOperationError(`${method} is not an App Mesh operation on ${path}.`);
  throw new UnknownOperationError(`No App Mesh operation at ${method} ${path}.`);
}

/**
 * Finds the operation of a request and builds its input from the path labels, the query
 * string and the JSON body, validated by the operation's input schema: a violation is a
 * BadRequest naming the member, the bound and the value.
 */
export function routeRequest(event: APIGatewayProxyEventV2): RoutedRequest {
  const route = matchRoute(event);
  return { operation: route.operation, input: route.parseInput() };
}
