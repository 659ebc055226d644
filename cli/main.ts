import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AppMeshClient } from '@aws-sdk/client-app-mesh';
import { envoyBootstrap, type Tracing } from './bootstrap.js';
import { parseWeights, shiftRoute } from './shift.js';

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<unknown>;
  /** Human output; `--json` prints the result as JSON instead. */
  print(result: unknown): string;
}

const COMMON = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const API_OPTIONS = {
  endpoint: { type: 'string' },
  region: { type: 'string' },
} as const;

/** An App Mesh client for Meshline's API: --endpoint, else MESHLINE_API, else the local stack. */
function appMesh(values: Record<string, string | boolean | undefined>): AppMeshClient {
  const endpoint = (values.endpoint as string | undefined) ?? process.env.MESHLINE_API ?? 'http://127.0.0.1:3000';
  const region = (values.region as string | undefined) ?? process.env.AWS_REGION ?? 'us-east-1';
  const local = /^http:\/\/(127\.|localhost)/.test(endpoint) && !process.env.AWS_ACCESS_KEY_ID;
  return new AppMeshClient({ endpoint, region, ...(local ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}) });
}

function option(values: Record<string, string | boolean | undefined>, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

const COMMANDS: Record<string, Command> = {
  bootstrap: {
    summary: 'print an Envoy bootstrap that takes its configuration from a Meshline relay',
    usage: `meshline bootstrap --node mesh/<mesh>/virtualNode/<name> [options]

  --node ID              the proxy's node id (mesh/<m>/virtualNode/<n>, mesh/<m>/virtualGateway/<n>, or its ARN)
  --relay HOST:PORT      the relay's ADS address (default 127.0.0.1:18000)
  --tls                  speak TLS to the relay; --ca FILE verifies it (default: the system CA bundle)
  --cert FILE --key FILE a client certificate for mTLS (its SAN names the proxy)
  --token TOKEN          a bearer token for the relay
  --admin-port PORT      Envoy's admin port (default 9901, as App Mesh)
  --statsd HOST:PORT     also send stats to statsd
  --tracing KIND         zipkin, opentelemetry or xray; --tracing-address HOST:PORT for its collector
  --region R --zone Z    the proxy's locality`,
    options: {
      node: { type: 'string' },
      relay: { type: 'string', default: '127.0.0.1:18000' },
      tls: { type: 'boolean', default: false },
      ca: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      token: { type: 'string' },
      'admin-port': { type: 'string' },
      statsd: { type: 'string' },
      tracing: { type: 'string' },
      'tracing-address': { type: 'string' },
      region: { type: 'string' },
      zone: { type: 'string' },
    },
    async run(values) {
      const node = option(values, 'node');
      if (!node) throw new UsageError('--node is required');
      const tracing = option(values, 'tracing');
      if (tracing && !['zipkin', 'opentelemetry', 'xray'].includes(tracing)) {
        throw new UsageError(`--tracing must be zipkin, opentelemetry or xray, got: ${tracing}`);
      }
      if (Boolean(option(values, 'cert')) !== Boolean(option(values, 'key'))) throw new UsageError('--cert and --key go together');
      const adminPort = option(values, 'admin-port');
      return envoyBootstrap({
        node,
        relay: option(values, 'relay') ?? '127.0.0.1:18000',
        tls: values.tls === true,
        ca: option(values, 'ca'),
        cert: option(values, 'cert'),
        key: option(values, 'key'),
        token: option(values, 'token'),
        adminPort: adminPort === undefined ? undefined : Number(adminPort),
        statsd: option(values, 'statsd'),
        tracing: tracing as Tracing | undefined,
        tracingAddress: option(values, 'tracing-address'),
        region: option(values, 'region'),
        zone: option(values, 'zone'),
      });
    },
    // A bootstrap is JSON either way: that is what Envoy reads.
    print: (result) => JSON.stringify(result, null, 2),
  },
  shift: {
    summary: "set a route's weighted targets in one call",
    usage: `meshline shift <mesh> <router> <route> --to <node>=<weight>,... [--endpoint URL]

  Sets the weight of every node named; targets not named keep their place with weight 0.`,
    options: { to: { type: 'string' }, ...API_OPTIONS },
    async run(values, positionals) {
      const [meshName, virtualRouterName, routeName] = positionals;
      if (!meshName || !virtualRouterName || !routeName) throw new UsageError('shift needs <mesh> <router> <route>');
      const to = option(values, 'to');
      if (!to) throw new UsageError('--to is required');
      const weights = parseWeights(to);
      return shiftRoute(appMesh(values), { meshName, virtualRouterName, routeName }, weights);
    },
    print: (result) => {
      const { version, targets } = result as Awaited<ReturnType<typeof shiftRoute>>;
      return [`route version ${version}`, ...targets.map((t) => `  ${t.virtualNode} ${t.weight}${t.port ? ` (port ${t.port})` : ''}`)].join('\n');
    },
  },
};

class UsageError extends Error {}

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return [
    'meshline: what the App Mesh API cannot say, for a Meshline control plane',
    '',
    'usage: meshline <command> [options]   (meshline <command> --help for its options)',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command takes --json for output a script can read.',
  ].join('\n');
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[], out = process.stdout, err = process.stderr): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out.write(`${help()}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    err.write(`meshline: unknown command ${name}\n\n${help()}\n`);
    return 2;
  }
  try {
    const { values, positionals } = parseArgs({ args: rest, options: { ...COMMON, ...command.options }, allowPositionals: true, strict: true });
    if (values.help) {
      out.write(`${command.usage}\n\n  --json                 print the result as JSON\n`);
      return 0;
    }
    const result = await command.run(values as Record<string, string | boolean | undefined>, positionals);
    out.write(`${values.json ? JSON.stringify(result, null, 2) : command.print(result)}\n`);
    return 0;
  } catch (error) {
    const message = (error as Error).message;
    err.write(`meshline ${name}: ${message}\n`);
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err.write(`\n${command.usage}\n`);
      return 2;
    }
    return 1;
  }
}
