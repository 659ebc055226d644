/**
 * `npm start`: runs Meshline locally (API, compile function, relay and the emulators behind
 * them) until Ctrl-C. Data persists under .meshline/; `npm start -- --in-memory` keeps nothing.
 * Ports and a LocalStack endpoint come from the environment (see scripts/local-stack).
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startLocalStack, stackOptionsFromEnv, StackError } from './local-stack/index.js';

const USAGE = `usage: npm start [-- --in-memory] [-- --no-auth]
  --in-memory   keep nothing: tables and objects live in a temporary directory removed on exit
  --no-auth     for throwaway runs only: no SigV4 on the API, no proxy identities at the relay
environment:
  MESHLINE_AUTH=off                                           the same as --no-auth
  MESHLINE_{API,LAMBDA,DYNAMODB,S3,RELAY,RELAY_ADMIN}_PORT   ports (0 picks a free one)
  MESHLINE_AWS_ENDPOINT=http://localhost:4566                 use LocalStack for DynamoDB and S3`;

const startedAt = performance.now();

function parseFlags(): { inMemory: boolean; noAuth: boolean } {
  try {
    const { values } = parseArgs({
      options: {
        'in-memory': { type: 'boolean', default: false },
        'no-auth': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    return { inMemory: values['in-memory'], noAuth: values['no-auth'] };
  } catch (error) {
    console.error(`meshline: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

const { inMemory, noAuth } = parseFlags();
/** Where the CLI finds the running stack (`meshline keys`, and credentials for `status`/`shift`). */
const STATE_FILE = join(fileURLToPath(new URL('..', import.meta.url)), '.meshline', 'stack.json');
// The AWS SDK warns that Node 20 support ends; we support Node 20 on purpose (ARCHITECTURE.md).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

try {
  const fromEnv = stackOptionsFromEnv(process.env);
  const stack = await startLocalStack({
    ...fromEnv,
    auth: noAuth ? false : fromEnv.auth,
    stateFile: STATE_FILE,
    inMemory,
    // Ctrl-C and SIGTERM stop every part and exit 0; a part that dies stops the rest, exit 1.
    ownsProcess: true,
  });
  const { endpoints, adminKey } = stack;
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);
  const lines = [
    '',
    `Meshline is running (${inMemory ? 'in memory' : 'data in .meshline/'}), ready in ${seconds} s:`,
    `  App Mesh API        ${endpoints.api}`,
    `  DynamoDB            ${endpoints.dynamodb}   table ${stack.tableName}`,
    `  S3                  ${endpoints.s3}   bucket ${stack.bucketName}`,
    endpoints.relayAds
      ? `  relay ADS (gRPC)    ${endpoints.relayAds}   also load reports (LRS) and Envoy's metrics service`
      : '  relay               not started (relay/main.ts is missing)',
    ...(endpoints.relayAdmin ? [`  relay health        ${endpoints.relayAdmin}/readyz   metrics ${endpoints.relayAdmin}/metrics`] : []),
    `  traffic             table ${stack.env.MESHLINE_TRAFFIC_TABLE}, windows of ${stack.env.MESHLINE_TRAFFIC_WINDOW_SECONDS} s: npx meshline traffic <mesh>`,
    `  full log            ${stack.logFile}`,
    '',
    ...(adminKey
      ? [
          'Admin access key (all meshes; also in .meshline/stack.json, which the meshline CLI reads):',
          `  AWS_ACCESS_KEY_ID=${adminKey.accessKeyId}`,
          `  AWS_SECRET_ACCESS_KEY=${adminKey.secretAccessKey}`,
          'More keys: npx meshline keys create --role read-only|admin|proxy ...',
          '',
          `Try: AWS_ACCESS_KEY_ID=${adminKey.accessKeyId} AWS_SECRET_ACCESS_KEY=<secret above> \\`,
          `       aws appmesh --region ${stack.region} --endpoint-url ${endpoints.api} list-meshes`,
        ]
      : [
          'AUTH IS OFF (--no-auth / MESHLINE_AUTH=off): anyone who reaches these ports can change the mesh.',
          '',
          `Try: aws appmesh --endpoint-url ${endpoints.api} list-meshes`,
        ]),
    'Ctrl-C stops everything.',
    '',
  ];
  console.log(lines.join('\n'));
} catch (error) {
  // A StackError says what to do in one line; anything else is a bug, so show where.
  console.error(error instanceof StackError ? `meshline: ${error.message}` : error);
  process.exit(1);
}
