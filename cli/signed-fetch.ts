import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';

/** An access key, as the AWS SDKs hold one. */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

/** Who signs, and for which region: what an App Mesh SDK client is configured with. */
export interface Signer {
  credentials: Credentials | (() => Promise<Credentials>);
  region: string;
  /** The signing name; default `appmesh` (Meshline accepts `execute-api` too). */
  service?: string;
}

/** The parts of a fetch request that are signed (and an abort signal). */
export interface SignedFetchInit {
  method?: string;
  body?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * fetch, signed with SigV4 (service `appmesh`) as the App Mesh SDK signs its own requests, for
 * Meshline's extension operations under /meshline/ that the SDK has no command for. Without a
 * signer the request goes out unsigned (an API running with MESHLINE_AUTH=off).
 */
export async function signedFetch(url: string, init: SignedFetchInit = {}, signer?: Signer): Promise<Response> {
  const method = init.method ?? 'GET';
  const rest = {
    ...(init.body !== undefined ? { body: init.body } : {}),
    ...(init.signal ? { signal: init.signal } : {}),
  };
  if (!signer) return fetch(url, { method, headers: init.headers ?? {}, ...rest });
  const target = new URL(url);
  const query: Record<string, string> = {};
  for (const [name, value] of target.searchParams) query[name] = value;
  const headers: Record<string, string> = { ...init.headers, host: target.host };
  if (init.body !== undefined && !Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
    headers['content-type'] = 'application/json';
  }
  const v4 = new SignatureV4({ service: signer.service ?? 'appmesh', region: signer.region, credentials: signer.credentials, sha256: Sha256 });
  const signed = await v4.sign({
    method,
    protocol: target.protocol,
    hostname: target.hostname,
    ...(target.port ? { port: Number(target.port) } : {}),
    path: target.pathname,
    query,
    headers,
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  const sent = { ...signed.headers };
  // fetch sets Host itself, from the URL: the same value that was signed.
  delete sent.host;
  return fetch(url, { method, headers: sent, ...rest });
}

/**
 * Calls one of Meshline's extension operations (`path` under the API endpoint, e.g.
 * `/meshline/v1/meshes/demo/traffic`) and returns its JSON body; an error answer becomes an
 * Error reading `<code>: <message>`, as the API said it.
 */
export async function callExtension<T>(endpoint: string, path: string, init: SignedFetchInit = {}, signer?: Signer): Promise<T> {
  const response = await signedFetch(`${endpoint.replace(/\/$/, '')}${path}`, init, signer);
  const body = (await response.json().catch(() => ({}))) as { message?: string };
  if (!response.ok) {
    const code = response.headers.get('x-amzn-errortype') ?? `HTTP ${response.status}`;
    throw new Error(`${code}: ${body.message ?? response.statusText}`);
  }
  return body as T;
}
