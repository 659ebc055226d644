import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AppMeshClient } from '@aws-sdk/client-app-mesh';
import { envoyBootstrap, type Tracing } from './bootstrap.js';
import { formatKeysResult, KEYS_OPTIONS, KEYS_USAGE, KeysUsageError, readLocalStackFile, runKeys, type KeysResult } from './keys.js';
import type { Signer } from './signed-fetch.js';
import { parseWeights, shiftRoute } from './shift.js';
import { fetchRollout, followRollout, formatRollout, formatRollouts, listRollouts, abortRollout, startRollout, type StartRolloutBody } from './rollout.js';
import { fetchProxyStatus, formatStatus, type MeshProxyStatus } from './status.js';
import type { Rollout } from '../shared/store/rollouts.js';
import { fetchTraffic, formatTraffic } from './traffic.js';
import type { MeshTraffic } from '../shared/mesh/traffic.js';

/** Parsed options: strings, booleans, and lists for options given `multiple`. */
type Values = Record<string, string | boolean | string[] | undefined>;

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /**
   * `progress` takes lines for a person watching (stderr), never part of the result; `out` is
   * standard output, for commands that refresh what they print (`traffic --watch`).
   */
  run(values: Values, positionals: string[], progress: (line: string) => void, out: NodeJS.WritableStream): Promise<unknown>;
  /** Human output; `--json` prints the result as JSON instead. */
  print(result: unknown): string;
  /** The exit code of a result (default 0): a rollout followed to its end that did not succeed is 1. */
  exitCode?(result: unknown): number;
}

const COMMON = {
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

const API_OPTIONS = {
  endpoint: { type: 'string' },
  region: { type: 'string' },
} as const;

/** The health gate of a rollout, as `rollout start` and `shift --steps` take it. */
const GATE_OPTIONS = {
  'max-error-rate': { type: 'string' },
  'min-requests': { type: 'string', default: '100' },
  'max-p99': { type: 'string' },
  'max-wait': { type: 'string' },
} as const;

/** Meshline's API: --endpoint, else MESHLINE_API, else the local stack. */
function apiEndpoint(values: Values): string {
  return option(values, 'endpoint') ?? process.env.MESHLINE_API ?? 'http://127.0.0.1:3000';
}

function apiRegion(values: Values): string {
  return option(values, 'region') ?? process.env.AWS_REGION ?? 'us-east-1';
}

/**
 * The credentials to sign API requests with: the default AWS credential chain when the
 * environment names credentials (AWS_ACCESS_KEY_ID, AWS_PROFILE); else, for a local endpoint,
 * the admin key of the local stack that `npm start` wrote to `.meshline/stack.json` in this
 * directory (if that stack serves this endpoint), or else a placeholder key that only a local
 * API running with MESHLINE_AUTH=off accepts; for any other endpoint the default chain (undefined).
 */
export function apiCredentials(endpoint: string, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): { accessKeyId: string; secretAccessKey: string } | undefined {
  if (env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE) return undefined;
  if (!/^http:\/\/(127\.|localhost[:/]|localhost$|\[::1\])/.test(endpoint)) return undefined;
  const placeholder = { accessKeyId: 'local', secretAccessKey: 'local' };
  const stack = readLocalStackFile(cwd);
  if (!stack?.adminKey) return placeholder;
  const served = stack.endpoints?.api ?? stack.env.MESHLINE_API_ENDPOINT;
  if (served !== undefined && served.replace(/\/$/, '') !== endpoint.replace(/\/$/, '')) return placeholder;
  return { accessKeyId: stack.adminKey.accessKeyId, secretAccessKey: stack.adminKey.secretAccessKey };
}

/** An App Mesh client for Meshline's API. */
function appMesh(values: Values): AppMeshClient {
  const endpoint = apiEndpoint(values);
  const credentials = apiCredentials(endpoint);
  return new AppMeshClient({ endpoint, region: apiRegion(values), ...(credentials ? { credentials } : {}) });
}

/** A signer for Meshline's extension operations, with the credentials `appMesh` would use. */
function apiSigner(values: Values): Signer {
  const client = appMesh(values);
  return { region: apiRegion(values), credentials: () => client.config.credentials() };
}

function option(values: Values, name: string): string | undefined {
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
  --token TOKEN          the proxy's token (meshline keys create --role proxy --proxy <node id>), sent as
                         authorization: Bearer <token> on the ADS stream
  --admin-port PORT      Envoy's admin port (default 9901, as App Mesh)
  --statsd HOST:PORT     also send stats to statsd
  --metrics              also stream stats to the relay's metrics service (latency and response codes
                         per cluster for meshline traffic); --metrics-interval D flushes every D
                         (default 10s: match the relay's load report interval). Load reports (LRS)
                         to the relay are always on.
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
      metrics: { type: 'boolean', default: false },
      'metrics-interval': { type: 'string' },
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
      const metricsInterval = option(values, 'metrics-interval');
      if (metricsInterval !== undefined && values.metrics !== true) throw new UsageError('--metrics-interval goes with --metrics');
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
        metrics: values.metrics === true,
        metricsIntervalMs: metricsInterval === undefined ? undefined : parseDuration(metricsInterval, '--metrics-interval'),
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
    summary: "set a route's weights in one call, or walk a canary step by step, gated on its health",
    usage: `meshline shift <mesh> <router> <route> --to <node>=<weight>,... [--endpoint URL]
meshline shift <mesh> <router> <route> --to <canary-node> --steps 10,25,50,100 [--interval 30s]
    [--max-error-rate 1] [--min-requests 100] [--max-p99 250ms] [--max-wait 90s]

  With weights: sets the weight of every node named; targets not named keep their place with weight 0.
  With --steps: starts a rollout on the server (as meshline rollout start, with these defaults) and
  follows it to its end: the canary gets each percentage in turn and advances only while its own
  traffic in the step stays healthy; otherwise the route gets its original weights back. Exit 0 when
  the canary takes 100 %, 1 when the rollout rolled back, paused or was aborted. Stopping this
  command does not stop the rollout (meshline rollout abort does).`,
    options: { to: { type: 'string' }, steps: { type: 'string' }, interval: { type: 'string', default: '30s' }, ...GATE_OPTIONS, 'max-error-rate': { type: 'string', default: '1' }, ...API_OPTIONS },
    async run(values, positionals, progress) {
      const [meshName, virtualRouterName, routeName] = positionals;
      if (!meshName || !virtualRouterName || !routeName) throw new UsageError('shift needs <mesh> <router> <route>');
      const to = option(values, 'to');
      if (!to) throw new UsageError('--to is required');
      const route = { meshName, virtualRouterName, routeName };
      if (!option(values, 'steps')) return shiftRoute(appMesh(values), route, parseWeights(to));
      if (to.includes('=')) throw new UsageError('with --steps, --to names the canary node only');
      const signer = apiSigner(values);
      const rollout = await startRollout(apiEndpoint(values), meshName, rolloutBody(values, virtualRouterName, routeName, to), signer);
      return followRollout(apiEndpoint(values), rollout, progress, { signer });
    },
    print: (result) => {
      if ('rolloutId' in (result as object)) return formatRollout(result as Rollout);
      const { version, targets } = result as Awaited<ReturnType<typeof shiftRoute>>;
      return [`route version ${version}`, ...targets.map((t) => `  ${t.virtualNode} ${t.weight}${t.port ? ` (port ${t.port})` : ''}`)].join('\n');
    },
    exitCode: rolloutExitCode,
  },
  rollout: {
    summary: 'walk a canary through steps on the server, advancing only while its own traffic stays healthy',
    usage: `meshline rollout start <mesh> <router> <route> --to <node> --steps 10,25,50,100 --interval 60s
    --max-error-rate 1 [--min-requests 100] [--max-p99 250ms] [--max-wait 3m] [--follow]
meshline rollout status <mesh> [<rollout-id>] [--state RUNNING|PAUSED|SUCCEEDED|ROLLED_BACK|ABORTED|all]
meshline rollout abort <mesh> <rollout-id>

  start: gives --to each percentage of the route in turn (the other targets share the rest as they
  did). After each step's --interval, the canary's traffic in that step alone decides: at least
  --min-requests requests (default 100; fewer waits up to --max-wait for more, default 3
  intervals, then rolls back: too little traffic never passes), an error rate of at most
  --max-error-rate percent, a p99 of at most --max-p99 where proxies report latency, and no NACK.
  Healthy: the next step; else the route's original weights come back and the reason names the
  figure. It runs on the server (the scheduler); --follow watches it until it ends (exit 1 unless
  it succeeded). A change of the route by anyone else pauses it.
  status: one rollout with every step's figures and decision, or the mesh's rollouts, newest first.
  abort: restores the original weights (a paused rollout leaves the route as it was changed).`,
    options: { to: { type: 'string' }, steps: { type: 'string' }, interval: { type: 'string' }, ...GATE_OPTIONS, follow: { type: 'boolean', default: false }, state: { type: 'string' }, ...API_OPTIONS },
    async run(values, positionals, progress) {
      const [action, meshName, ...rest] = positionals;
      const endpoint = apiEndpoint(values);
      const signer = apiSigner(values);
      if (action === 'start') {
        const [virtualRouterName, routeName] = rest;
        if (!meshName || !virtualRouterName || !routeName || rest.length > 2) throw new UsageError('rollout start needs <mesh> <router> <route>');
        const to = option(values, 'to');
        if (!to) throw new UsageError('--to is required');
        const rollout = await startRollout(endpoint, meshName, rolloutBody(values, virtualRouterName, routeName, to), signer);
        if (!values.follow) return rollout;
        const ended = await followRollout(endpoint, rollout, progress, { signer });
        followed.add(ended);
        return ended;
      }
      if (action === 'status') {
        if (!meshName || rest.length > 1) throw new UsageError('rollout status needs <mesh> [<rollout-id>]');
        return rest[0] ? fetchRollout(endpoint, meshName, rest[0], signer) : listRollouts(endpoint, meshName, option(values, 'state'), signer);
      }
      if (action === 'abort') {
        if (!meshName || rest.length !== 1 || !rest[0]) throw new UsageError('rollout abort needs <mesh> <rollout-id>');
        return abortRollout(endpoint, meshName, rest[0], signer);
      }
      throw new UsageError(`rollout takes start, status or abort, got: ${action ?? 'nothing'}`);
    },
    print: (result) => ('rollouts' in (result as object) ? formatRollouts(result as { rollouts: Rollout[] }) : formatRollout(result as Rollout)),
    // Only a rollout followed to its end fails the command; status of a rolled back one does not.
    exitCode: (result) => (followed.has(result as object) ? rolloutExitCode(result) : 0),
  },
  status: {
    summary: 'show every proxy of a mesh: its latest version, what its streams ACKed, its last NACK',
    usage: `meshline status <mesh> [--endpoint URL]`,
    options: { ...API_OPTIONS },
    async run(values, positionals) {
      const [meshName] = positionals;
      if (!meshName) throw new UsageError('status needs <mesh>');
      return fetchProxyStatus(apiEndpoint(values), meshName, apiSigner(values));
    },
    print: (result) => formatStatus(result as MeshProxyStatus),
  },
  traffic: {
    summary: 'show the traffic between the virtual nodes and gateways of a mesh, as its proxies report it',
    usage: `meshline traffic <mesh> [--seconds N] [--watch [--interval 5s]] [--endpoint URL]

  One row per edge (the reporting proxy to the virtual node behind the cluster), most requests
  first: requests, requests per second, successes, errors, error rate, requests in progress, and
  p50/p90/p99 latency where Envoy streams it (meshline bootstrap --metrics). Over the last
  --seconds (default 60). --watch redraws the table every --interval until interrupted.`,
    options: { seconds: { type: 'string' }, watch: { type: 'boolean', default: false }, interval: { type: 'string', default: '5s' }, ...API_OPTIONS },
    async run(values, positionals, _progress, out) {
      const [meshName] = positionals;
      if (!meshName) throw new UsageError('traffic needs <mesh>');
      const secondsOption = option(values, 'seconds');
      if (secondsOption !== undefined && !/^[1-9]\d*$/.test(secondsOption)) throw new UsageError(`--seconds takes a whole number of seconds, got: ${secondsOption}`);
      const seconds = secondsOption === undefined ? undefined : Number(secondsOption);
      const read = () => fetchTraffic(apiEndpoint(values), meshName, seconds, apiSigner(values));
      if (!values.watch) return read();
      const intervalMs = parseDuration(option(values, 'interval') ?? '5s');
      // Redraw in place on a terminal; elsewhere (a pipe, a log) one table after another.
      const tty = (out as { isTTY?: boolean }).isTTY === true;
      for (;;) {
        const traffic = await read();
        const frame = values.json ? JSON.stringify(traffic) : `${formatTraffic(traffic)}\n  (every ${intervalMs / 1000} s; Ctrl-C stops)`;
        out.write(`${tty ? '\x1b[H\x1b[2J' : ''}${frame}\n${tty || values.json ? '' : '\n'}`);
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
      }
    },
    print: (result) => formatTraffic(result as MeshTraffic),
  },
  keys: {
    summary: 'issue, list and revoke the access keys of Meshline (straight to its keys table, with your AWS credentials)',
    usage: KEYS_USAGE,
    options: KEYS_OPTIONS,
    run: (values, positionals, progress) => runKeys(values, positionals, progress),
    print: (result) => formatKeysResult(result as KeysResult),
  },
};

/** The body of StartRollout from the command line; the API checks the bounds. */
function rolloutBody(values: Values, virtualRouterName: string, routeName: string, to: string): StartRolloutBody {
  const steps = option(values, 'steps');
  if (!steps) throw new UsageError('--steps is required');
  const interval = option(values, 'interval');
  if (!interval) throw new UsageError('--interval is required');
  const number = (name: string, integer = false): number | undefined => {
    const raw = option(values, name);
    if (raw === undefined) return undefined;
    const value = Number(raw.trim());
    if (raw.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) throw new UsageError(`--${name} takes ${integer ? 'a whole number' : 'a number'}, got: ${raw}`);
    return value;
  };
  const maxErrorRate = number('max-error-rate');
  if (maxErrorRate === undefined) throw new UsageError('--max-error-rate is required (percent of the canary\'s requests that may fail)');
  const maxP99 = option(values, 'max-p99');
  const maxWait = option(values, 'max-wait');
  return {
    virtualRouterName,
    routeName,
    to,
    steps: parseSteps(steps),
    intervalSeconds: parseDuration(interval) / 1000,
    maxErrorRate,
    minRequests: number('min-requests', true) ?? 100,
    ...(maxP99 !== undefined ? { maxP99Ms: parseDuration(maxP99, '--max-p99') } : {}),
    ...(maxWait !== undefined ? { maxWaitSeconds: parseDuration(maxWait, '--max-wait') / 1000 } : {}),
  };
}

/** Rollouts `rollout start --follow` watched to their end. */
const followed = new WeakSet<object>();

/** 1 for a rollout followed to an end other than success (or left paused), else 0. */
function rolloutExitCode(result: unknown): number {
  const rollout = result as Partial<Rollout>;
  if (typeof rollout.rolloutId !== 'string' || !rollout.state) return 0;
  return rollout.state === 'SUCCEEDED' || rollout.state === 'RUNNING' ? 0 : 1;
}

/** `10,25,50,100`: increasing percentages, each 0..100. */
function parseSteps(value: string): number[] {
  const steps = value.split(',').map((s) => Number(s.trim()));
  if (steps.some((s) => !Number.isInteger(s) || s < 0 || s > 100) || steps.some((s, i) => i > 0 && s <= (steps[i - 1] ?? 0))) {
    throw new UsageError(`--steps takes increasing percentages 0..100, got: ${value}`);
  }
  return steps;
}

/** `30s`, `500ms`, `2m`. */
export function parseDuration(value: string, option = '--interval'): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(value.trim());
  if (!match) throw new UsageError(`${option} takes a duration like 30s, 500ms or 2m, got: ${value}`);
  const amount = Number(match[1]);
  return Math.round(match[2] === 'ms' ? amount : match[2] === 's' ? amount * 1000 : amount * 60_000);
}

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
    const result = await command.run(values as Values, positionals, (line) => err.write(`${line}\n`), out);
    out.write(`${values.json ? JSON.stringify(result, null, 2) : command.print(result)}\n`);
    return command.exitCode?.(result) ?? 0;
  } catch (error) {
    const message = (error as Error).message;
    err.write(`meshline ${name}: ${message}\n`);
    if (error instanceof UsageError || error instanceof KeysUsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      err.write(`\n${command.usage}\n`);
      return 2;
    }
    return 1;
  }
}
