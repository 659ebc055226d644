/**
 * `npm run deploy:local` without Docker: a stand-in for LocalStack's gateway on a loopback port
 * answers its health check and records the AWS calls osls makes, refusing the change set that
 * would create the stack so that nothing goes further (the artifact upload that follows would
 * need LocalStack's public S3 names).
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Call {
  host: string;
  path: string;
  params: URLSearchParams;
  authorization: string;
}

let server: Server;
let endpoint: string;
const calls: Call[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk));
    request.on('end', () => {
      if (request.url === '/_localstack/health') {
        response.setHeader('content-type', 'application/json');
        response.end(JSON.stringify({ edition: 'community', version: '4.14.0', services: {} }));
        return;
      }
      const params = new URLSearchParams(body);
      calls.push({ host: request.headers.host ?? '', path: request.url ?? '', params, authorization: request.headers.authorization ?? '' });
      response.statusCode = 400;
      response.setHeader('content-type', 'text/xml');
      const message = params.get('Action') === 'DescribeStacks' ? `Stack with id ${params.get('StackName')} does not exist` : 'refused by the test';
      response.end(`<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>${message}</Message></Error><RequestId>1</RequestId></ErrorResponse>`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function deployLocal(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['localstack/deploy.mjs'], { cwd: ROOT, env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('npm run deploy:local', () => {
  it('deploys stage localstack in us-east-1 through the LocalStack endpoint, with test credentials, whatever the shell says', async () => {
    const { code, output } = await deployLocal({
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      MESHLINE_LOCALSTACK_ENDPOINT: endpoint,
      SLS_AWS_REQUEST_MAX_RETRIES: '0',
      // What a developer's shell may hold: none of it may reach the emulator or the stack.
      AWS_PROFILE: 'production',
      AWS_ACCESS_KEY_ID: 'AKIAREALKEY',
      AWS_SECRET_ACCESS_KEY: 'real-secret',
      AWS_REGION: 'eu-west-1',
      MESHLINE_TABLE: 'meshline-local',
    });
    expect(code, output).not.toBe(0);
    expect(output).toContain('LocalStack 4.14.0 (community)');
    expect(output).toContain('refused by the test');
    const actions = calls.map((call) => call.params.get('Action'));
    expect(actions).toEqual(['GetCallerIdentity', 'DescribeStacks', 'CreateChangeSet']);
    const create = calls.find((call) => call.params.get('Action') === 'CreateChangeSet');
    expect(create?.params.get('StackName')).toBe('meshline-localstack');
    expect(create?.params.get('ChangeSetType')).toBe('CREATE');
    for (const call of calls) {
      expect(call.host).toBe(new URL(endpoint).host);
      expect(call.authorization).toContain('Credential=test/');
      expect(call.authorization).toContain('/us-east-1/');
    }
  }, 120_000);

  it('says how to start LocalStack when none answers', async () => {
    const { code, output } = await deployLocal({ PATH: process.env.PATH ?? '', MESHLINE_LOCALSTACK_ENDPOINT: 'http://127.0.0.1:9' });
    expect(code).toBe(1);
    expect(output).toContain('docker compose -f localstack/docker-compose.yml up -d --wait');
  });
});
