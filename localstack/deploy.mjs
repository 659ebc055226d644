#!/usr/bin/env node
/**
 * `npm run deploy:local [-- <osls deploy options>]`: deploys serverless.yml, the same stack as
 * AWS gets, to a running LocalStack (localstack/docker-compose.yml), as stage `localstack` in
 * us-east-1. `npm run deploy:local -- remove` removes it again. osls has no LocalStack plugin that works with it (serverless-localstack patches the
 * provider API osls 4 removed), so the AWS SDK is pointed at LocalStack through its standard
 * endpoint variables. See README.md, "Deploying to LocalStack", for what the free edition runs.
 *
 *   MESHLINE_LOCALSTACK_ENDPOINT  LocalStack's gateway (default http://localhost:4566)
 *
 * It packages and deploys from a scratch directory that links to the sources, so a local stack
 * running from this checkout (`npm start`, whose functions serve from .esbuild/) is undisturbed.
 */
/* global fetch */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const endpoint = new URL(process.env.MESHLINE_LOCALSTACK_ENDPOINT || 'http://localhost:4566');
const port = endpoint.port || '4566';

let health;
try {
  health = await (await fetch(new URL('/_localstack/health', endpoint))).json();
} catch (error) {
  console.error(`No LocalStack answers at ${endpoint.origin} (${error.cause?.code ?? error.message}).`);
  console.error('Start it with: docker compose -f localstack/docker-compose.yml up -d --wait');
  process.exit(1);
}
const edition = health.edition ?? 'unknown';
console.log(`LocalStack ${health.version ?? ''} (${edition}) at ${endpoint.origin}`);
if (edition === 'community') {
  console.log('Free edition: the HTTP API (API Gateway v2) and the relay (ECS, ELBv2, Application Auto Scaling) are not emulated; README.md lists what runs.');
}

// The functions run in LocalStack's Lambda containers, where this name resolves to LocalStack.
// Setting the endpoints makes them use path-style S3 and emulator credentials (shared/store/clients.ts).
const inLambda = `http://localhost.localstack.cloud:${port}`;
const env = {
  ...process.env,
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_REGION: 'us-east-1',
  AWS_ENDPOINT_URL: endpoint.origin,
  // osls uploads the artifacts with virtual-hosted S3 requests (bucket.<host>); this public
  // name and its subdomains resolve to 127.0.0.1.
  AWS_ENDPOINT_URL_S3: `http://s3.localhost.localstack.cloud:${port}`,
  MESHLINE_DYNAMODB_ENDPOINT: inLambda,
  MESHLINE_S3_ENDPOINT: inLambda,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};
// A developer's real session must never reach the emulator, and the names the local stack sets
// would pin the functions to its tables instead of the stack's own.
for (const name of ['AWS_PROFILE', 'AWS_SESSION_TOKEN', 'MESHLINE_TABLE', 'MESHLINE_SYNC_TABLE', 'MESHLINE_BUCKET', 'MESHLINE_ACCOUNT_ID']) {
  delete env[name];
}

const work = mkdtempSync(join(tmpdir(), 'meshline-deploy-local-'));
const service = join(work, 'service');
mkdirSync(service);
for (const entry of ['functions', 'shared', 'node_modules', 'package.json', 'tsconfig.json']) symlinkSync(join(root, entry), join(service, entry));
cpSync(join(root, 'serverless.yml'), join(service, 'serverless.yml'));

const remove = process.argv[2] === 'remove';
const args = [
  join(root, 'node_modules', 'osls', 'bin', 'serverless.js'),
  remove ? 'remove' : 'deploy',
  '--stage', 'localstack',
  '--region', 'us-east-1',
  // So that `remove` can delete the table and the load balancer this creates.
  '--param', 'deletionProtection=false',
  '--verbose',
  ...process.argv.slice(remove ? 3 : 2),
];
const child = spawn(process.execPath, args, { cwd: service, env, stdio: 'inherit' });
const forward = (signal) => child.kill(signal);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
child.on('close', (code, signal) => {
  rmSync(work, { recursive: true, force: true });
  process.exit(code ?? (signal ? 1 : 0));
});
