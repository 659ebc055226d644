/**
 * The Cloud Map instance-registration extension over the wire: instances registered through
 * the API reach a proxyless gRPC client of a service provided by a Cloud Map virtual node, as
 * endpoint (EDS) updates; and the API answers bad registrations in App Mesh's error format.
 */
import * as grpc from '@grpc/grpc-js';
import { CreateMeshCommand, CreateVirtualNodeCommand, CreateVirtualServiceCommand } from '@aws-sdk/client-app-mesh';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiFetch, appMeshClient, uniqueMeshName } from '../support/appmesh.js';
import { stackProxylessClient } from '../support/keys.js';
import { WHOAMI_PATH } from '../support/xds-backend.js';
import type { ProxylessClient } from '../support/xds-client.js';

const appmesh = appMeshClient();

interface Backend {
  name: string;
  calls: number;
  server: grpc.Server;
}

/** A Whoami server on `host:port` (port 0: any free port). */
async function startBackend(name: string, host: string, port: number): Promise<Backend & { port: number }> {
  const server = new grpc.Server();
  const backend = { name, calls: 0, server, port };
  const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
  server.addService(
    { Whoami: { path: WHOAMI_PATH, requestStream: false, responseStream: false, requestSerialize: raw.serialize, requestDeserialize: raw.deserialize, responseSerialize: raw.serialize, responseDeserialize: raw.deserialize } },
    {
      Whoami(_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
        backend.calls += 1;
        callback(null, Buffer.from(name, 'utf8'));
      },
    },
  );
  backend.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return backend;
}

function stop(backend: Backend | undefined): Promise<void> {
  return new Promise((resolve) => (backend ? backend.server.tryShutdown(() => resolve()) : resolve()));
}

let one: Backend & { port: number };
let two: Backend & { port: number };

beforeAll(async () => {
  // Cloud Map endpoints take the listener's port: two instances on one port, two loopback addresses.
  one = await startBackend('one', '127.0.0.1', 0);
  two = await startBackend('two', '127.0.0.2', one.port);
});

afterAll(async () => {
  await Promise.all([stop(one), stop(two)]);
});

/** The path (from the API's root) of a service's instances, or of one instance. */
function instancesUrl(namespace: string, service: string, instanceId?: string): string {
  const base = `/meshline/v1/cloudmap/namespaces/${encodeURIComponent(namespace)}/services/${encodeURIComponent(service)}/instances`;
  return instanceId === undefined ? base : `${base}/${encodeURIComponent(instanceId)}`;
}

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; errorType: string | null; body: Record<string, unknown> }> {
  const response = await apiFetch(path, { method, ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } }) });
  return { status: response.status, errorType: response.headers.get('x-amzn-errortype'), body: (await response.json()) as Record<string, unknown> };
}

/** Calls until the set of backends answering within a window is `expected`, or the deadline passes. */
async function untilAnswering(client: ProxylessClient, expected: string[], deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let seen: string[] = [];
  while (Date.now() < deadline) {
    const answers = new Set<string>();
    for (let i = 0; i < 12; i++) answers.add(await client.whoami(2_000).catch((error: unknown) => `error: ${(error as Error).message}`));
    seen = [...answers].sort();
    if (JSON.stringify(seen) === JSON.stringify([...expected].sort())) return;
  }
  throw new Error(`expected answers from ${expected.join(', ')} within ${deadlineMs} ms; last: ${seen.join(', ')}`);
}

describe('Cloud Map instance registration', () => {
  it('sends traffic to registered instances of a Cloud Map virtual node, and stops when one is deregistered', async () => {
    const meshName = uniqueMeshName('cloudmap');
    const namespace = `${meshName}.local`;
    const serviceName = 'backend';
    const service = `backend.${meshName}.local`;
    await appmesh.send(new CreateMeshCommand({ meshName }));
    await appmesh.send(
      new CreateVirtualNodeCommand({
        meshName,
        virtualNodeName: 'backend',
        spec: {
          listeners: [{ portMapping: { port: one.port, protocol: 'grpc' } }],
          serviceDiscovery: { awsCloudMap: { namespaceName: namespace, serviceName, attributes: [{ key: 'stage', value: 'live' }] } },
        },
      }),
    );
    await appmesh.send(new CreateVirtualServiceCommand({ meshName, virtualServiceName: service, spec: { provider: { virtualNode: { virtualNodeName: 'backend' } } } }));
    await appmesh.send(new CreateVirtualNodeCommand({ meshName, virtualNodeName: 'frontend', spec: { backends: [{ virtualService: { virtualServiceName: service } }] } }));

    // An instance the node's attribute filter excludes never receives traffic.
    expect((await call('PUT', instancesUrl(namespace, serviceName, 'canary'), { Attributes: { AWS_INSTANCE_IPV4: '127.0.0.3', stage: 'canary' } })).status).toBe(200);
    const registered = await call('PUT', instancesUrl(namespace, serviceName, 'one'), { Attributes: { AWS_INSTANCE_IPV4: '127.0.0.1', AWS_INSTANCE_PORT: String(one.port), stage: 'live' } });
    expect(registered).toMatchObject({ status: 200, body: { OperationId: expect.any(String) } });

    const client = await stackProxylessClient(service, `mesh/${meshName}/virtualNode/frontend`);
    try {
      await untilAnswering(client, ['one']);

      expect((await call('PUT', instancesUrl(namespace, serviceName, 'two'), { Attributes: { AWS_INSTANCE_IPV4: '127.0.0.2', stage: 'live' } })).status).toBe(200);
      await untilAnswering(client, ['one', 'two']);

      const listed = await call('GET', instancesUrl(namespace, serviceName));
      expect(listed.status).toBe(200);
      expect((listed.body.Instances as { Id: string }[]).map((i) => i.Id)).toEqual(['canary', 'one', 'two']);

      expect((await call('DELETE', instancesUrl(namespace, serviceName, 'one'))).status).toBe(200);
      await untilAnswering(client, ['two']);
      const before = one.calls;
      for (let i = 0; i < 10; i++) expect(await client.whoami(2_000)).toBe('two');
      expect(one.calls).toBe(before);
    } finally {
      client.close();
    }
  });

  it('answers invalid registrations with BadRequestException, unknown instances with NotFoundException', async () => {
    const ns = 'validation.local';
    const cases: [string, unknown][] = [
      ['no address', { Attributes: { AWS_INSTANCE_PORT: '80' } }],
      ['bad IPv4', { Attributes: { AWS_INSTANCE_IPV4: '10.0.0.256' } }],
      ['bad IPv6', { Attributes: { AWS_INSTANCE_IPV6: '2001:db8::g' } }],
      ['port 0', { Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1', AWS_INSTANCE_PORT: '0' } }],
      ['port 65536', { Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1', AWS_INSTANCE_PORT: '65536' } }],
      ['key too long', { Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1', ['k'.repeat(256)]: 'v' } }],
      ['value too long', { Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1', k: 'v'.repeat(1025) }  }],
      ['31 custom attributes', { Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1', ...Object.fromEntries(Array.from({ length: 31 }, (_, i) => [`k${i}`, 'v'])) } }],
      ['a number', { Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1', weight: 3 } }],
      ['unknown member', { Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1' }, Atributes: {} }],
      ['not JSON', '{'],
    ];
    for (const [label, body] of cases) {
      const answer = await call('PUT', instancesUrl(ns, 'svc', 'i-1'), body);
      expect({ label, status: answer.status, errorType: answer.errorType, message: typeof answer.body.message }).toEqual({ label, status: 400, errorType: 'BadRequestException', message: 'string' });
    }
    const badId = await call('PUT', instancesUrl(ns, 'svc', 'bad id!'), { Attributes: { AWS_INSTANCE_IPV4: '10.0.0.1' } });
    expect(badId).toMatchObject({ status: 400, errorType: 'BadRequestException' });
    // The limits themselves are fine: 255-character key, 1,024-character value, 30 custom attributes, IPv6 only.
    const atLimits = await call('PUT', instancesUrl(ns, 'svc', 'i-limits'), { Attributes: { AWS_INSTANCE_IPV6: '2001:db8::1', ['k'.repeat(255)]: 'v'.repeat(1024), ...Object.fromEntries(Array.from({ length: 29 }, (_, i) => [`k${i}`, 'v'])) } });
    expect(atLimits.status).toBe(200);
    expect(await call('DELETE', instancesUrl(ns, 'svc', 'never-registered'))).toMatchObject({ status: 404, errorType: 'NotFoundException' });
    expect(await call('POST', instancesUrl(ns, 'svc', 'i-1'), {})).toMatchObject({ status: 404, errorType: 'UnknownOperationException' });
  });
});
