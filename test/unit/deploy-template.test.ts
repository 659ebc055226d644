/**
 * The AWS deployment as CloudFormation will receive it: `osls package` runs here with no
 * credentials and no network (an unroutable proxy catches any AWS call), and the tests read the
 * template it writes. Three stages are packaged: the defaults (`--stage prod --region
 * eu-west-1`, no relay), the relay deployed, and a stage switched to a restored table.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { meshTableDefinition } from '../../shared/store/table.js';
import { SYNC_STATUS_TTL_ATTRIBUTE, syncStatusTableDefinition } from '../../shared/store/sync-status.js';
import { TRAFFIC_TTL_ATTRIBUTE, trafficTableDefinition } from '../../shared/store/traffic.js';
import { rolloutTableDefinition } from '../../shared/store/rollouts.js';
import { KEYS_TTL_ATTRIBUTE, keysTableDefinition } from '../../shared/auth/keys.js';
import { KMS_CONTEXT_KEY } from '../../shared/auth/sealer.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';

type Json = unknown;
interface Resource {
  Type: string;
  Condition?: string;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  DependsOn?: string | string[];
  Properties: Record<string, Json>;
}
interface Template {
  Parameters: Record<string, { Type: string; Default?: string }>;
  Conditions: Record<string, Json>;
  Rules: Record<string, { RuleCondition: Json; Assertions: { Assert: Json; AssertDescription: string }[] }>;
  Resources: Record<string, Resource>;
  Outputs: Record<string, { Condition?: string; Value: Json }>;
}
interface Packaged {
  dir: string;
  template: Template;
  createTemplate: Template;
  zips: Record<string, string[]>;
}

const RELAY_PARAMS = {
  relayImageTag: '2026.11.25-abc1234',
  vpcId: 'vpc-0123456789abcdef0',
  subnetIds: 'subnet-0aaaaaaaaaaaaaaaa,subnet-0bbbbbbbbbbbbbbbb',
  relayIngressCidr: '10.20.0.0/16',
  alarmEmail: 'oncall@example.com',
};
const RESTORED_TABLE = 'meshline-prod-restored-20261125';
const RESTORED_STREAM = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${RESTORED_TABLE}/stream/2026-11-25T09:00:00.000`;

const work = mkdtempSync(join(tmpdir(), 'meshline-deploy-template-'));
let defaults: Packaged;
let relay: Packaged;
let restored: Packaged;

/** Runs osls in a scratch service directory that links to the sources, so nothing in the repository (.esbuild/, .serverless/) is touched. */
function osls(name: string, args: string[], extraEnv: Record<string, string> = {}): Promise<{ dir: string; stdout: string }> {
  const dir = join(work, name);
  mkdirSync(dir);
  for (const entry of ['functions', 'shared', 'node_modules', 'package.json', 'tsconfig.json']) symlinkSync(join(ROOT, entry), join(dir, entry));
  cpSync(join(ROOT, 'serverless.yml'), join(dir, 'serverless.yml'));
  // No AWS_* and no MESHLINE_* from the developer's shell; a proxy nothing listens on, so any
  // request to AWS fails instead of reaching it.
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: join(dir, '.home'),
    HTTPS_PROXY: 'http://127.0.0.1:9',
    HTTP_PROXY: 'http://127.0.0.1:9',
    SLS_TELEMETRY_DISABLED: '1',
    ...extraEnv,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'node_modules', 'osls', 'bin', 'serverless.js'), ...args], { cwd: dir, env });
    let output = '';
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => ((stdout += chunk), (output += chunk)));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve({ dir, stdout }) : reject(new Error(`osls ${args.join(' ')} exited ${code}:\n${output}`))));
  });
}

/** The names of the entries of a zip file, from its central directory. */
function zipEntries(file: string): string[] {
  const zip = readFileSync(file);
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const names: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const nameLength = zip.readUInt16LE(at + 28);
    names.push(zip.toString('utf8', at + 46, at + 46 + nameLength));
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return names.sort();
}

async function packageStage(name: string, params: Record<string, string> = {}): Promise<Packaged> {
  const out = join(work, `${name}-package`);
  const args = ['package', '--stage', 'prod', '--region', REGION, '--package', out];
  for (const [key, value] of Object.entries(params)) args.push(`--param=${key}=${value}`);
  await osls(name, args);
  const template = JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
  const createTemplate = JSON.parse(readFileSync(join(out, 'cloudformation-template-create-stack.json'), 'utf8')) as Template;
  const zips: Record<string, string[]> = {};
  for (const fn of ['api', 'compile', 'reconcile', 'resolveCloudMap', 'rollouts']) zips[fn] = zipEntries(join(out, `${fn}.zip`));
  return { dir: out, template, createTemplate, zips };
}

beforeAll(async () => {
  [defaults, relay, restored] = await Promise.all([
    packageStage('defaults'),
    packageStage('relay', RELAY_PARAMS),
    packageStage('restored', { meshTable: RESTORED_TABLE, meshTableStreamArn: RESTORED_STREAM }),
  ]);
}, 120_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

// ---------------------------------------------------------------------------- evaluation

/** Evaluates a template's condition with its parameters at their defaults (what a deploy uses). */
function condition(template: Template, name: string): boolean {
  const value = (expr: Json): Json => {
    if (typeof expr !== 'object' || expr === null) return expr;
    const [fn, arg] = Object.entries(expr)[0] as [string, Json];
    if (fn === 'Ref') {
      const parameter = template.Parameters[arg as string];
      if (!parameter) throw new Error(`Ref ${String(arg)} in a condition`);
      return parameter.Type === 'CommaDelimitedList' ? (parameter.Default ?? '').split(',') : parameter.Default;
    }
    const args = arg as Json[];
    if (fn === 'Fn::Equals') return JSON.stringify(value(args[0])) === JSON.stringify(value(args[1]));
    if (fn === 'Fn::Not') return !value(args[0]);
    if (fn === 'Fn::And') return args.every((a) => value(a));
    if (fn === 'Fn::Or') return args.some((a) => value(a));
    if (fn === 'Condition') return condition(template, arg as string);
    throw new Error(`${fn} in a condition`);
  };
  return value(template.Conditions[name]) as boolean;
}

/**
 * Renders a value as CloudFormation would, with readable stand-ins for what only a deploy
 * knows: `ref:<Resource>` for a Ref, `arn:<Resource>` for a GetAtt of its Arn (and
 * `<Resource>.<Attribute>` for other attributes), the account and region above for the
 * pseudo-parameters. Fn::If takes the branch its condition chooses.
 */
function render(template: Template, value: Json): Json {
  if (Array.isArray(value)) return value.map((v) => render(template, v)).filter((v) => v !== NO_VALUE);
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value);
  const [fn, arg] = entries[0] ?? [];
  const pseudo: Record<string, string> = {
    'AWS::AccountId': ACCOUNT,
    'AWS::Region': REGION,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
  };
  const attribute = (name: string): string => {
    if (pseudo[name]) return pseudo[name];
    if (template.Parameters[name]) return template.Parameters[name].Default ?? '';
    const [resource, attr] = name.split('.');
    if (!template.Resources[resource ?? '']) throw new Error(`reference to a missing resource: ${name}`);
    return attr === undefined ? `ref:${resource}` : attr === 'Arn' ? `arn:${resource}` : `${resource}.${attr}`;
  };
  if (entries.length === 1 && fn === 'Ref') {
    if (arg === 'AWS::NoValue') return NO_VALUE;
    const parameter = template.Parameters[arg as string];
    if (parameter?.Type === 'CommaDelimitedList') return (parameter.Default ?? '').split(',');
    return attribute(arg as string);
  }
  if (entries.length === 1 && fn === 'Fn::GetAtt') return attribute((arg as string[]).join('.'));
  if (entries.length === 1 && fn === 'Fn::Sub') return (arg as string).replace(/\$\{([^}]+)\}/g, (_, name: string) => attribute(name));
  if (entries.length === 1 && fn === 'Fn::Join') {
    const [separator, parts] = arg as [string, Json[]];
    return (render(template, parts) as string[]).join(separator);
  }
  if (entries.length === 1 && fn === 'Fn::If') {
    const [name, yes, no] = arg as [string, Json, Json];
    return render(template, condition(template, name) ? yes : no);
  }
  const rendered = Object.fromEntries(entries.map(([k, v]) => [k, render(template, v)]).filter(([, v]) => v !== NO_VALUE));
  return rendered;
}
const NO_VALUE = Symbol('AWS::NoValue');

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
}

/** Every statement of every policy of an IAM role, rendered, with actions and resources as sorted lists. */
function roleStatements(template: Template, role: string): { sid: string | undefined; actions: string[]; resources: string[] }[] {
  const properties = render(template, template.Resources[role]?.Properties) as { Policies: { PolicyDocument: { Statement: Statement[] } }[] };
  return properties.Policies.flatMap((policy) =>
    policy.PolicyDocument.Statement.map((statement) => {
      expect(statement.Effect).toBe('Allow');
      return {
        sid: statement.Sid,
        actions: [statement.Action].flat().sort(),
        resources: [statement.Resource].flat().sort(),
      };
    }),
  );
}

function resourcesOfType(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);
}

const tableArn = (name: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;

/** The resources a value refers to (Ref, Fn::GetAtt, Fn::Sub), following only the branch of each Fn::If its condition chooses. */
function references(template: Template, value: Json): string[] {
  const found = new Set<string>();
  const visit = (v: Json): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (typeof v !== 'object' || v === null) return;
    for (const [key, arg] of Object.entries(v)) {
      if (key === 'Ref' && typeof arg === 'string') found.add(arg);
      else if (key === 'Fn::GetAtt') found.add((arg as string[])[0] ?? '');
      else if (key === 'Fn::Sub') for (const [, name] of String(arg).matchAll(/\$\{([^}.!]+)[^}]*\}/g)) found.add(name ?? '');
      else if (key === 'Fn::If') {
        const [name, yes, no] = arg as [string, Json, Json];
        visit(condition(template, name) ? yes : no);
      } else visit(arg);
    }
  };
  visit(value);
  return [...found].filter((name) => template.Resources[name]).sort();
}

/** Whether a resource or output exists under the template's parameters. */
function exists(template: Template, item: { Condition?: string } | undefined): boolean {
  return item !== undefined && (item.Condition === undefined || condition(template, item.Condition));
}

// ---------------------------------------------------------------------------- tests

describe('osls package, offline', () => {
  it('packages every function into its own zip: the bundle, and for the compilers the Envoy protos they load at run time', () => {
    expect(defaults.zips.api).toEqual(['functions/api/handler.mjs', 'functions/api/handler.mjs.map'].sort());
    for (const [fn, bundle] of [
      ['compile', 'functions/compile/handler.mjs'],
      ['reconcile', 'functions/compile/reconcile.mjs'],
    ] as const) {
      const entries = defaults.zips[fn] ?? [];
      expect(entries).toContain(bundle);
      // shared/xds/protos.ts resolves the protos through @grpc/grpc-js-xds's package.json.
      expect(entries).toContain('node_modules/@grpc/grpc-js-xds/package.json');
      expect(entries).toContain('node_modules/protobufjs/google/protobuf/descriptor.json');
      for (const proto of ['envoy-api/envoy/config/cluster/v3/cluster.proto', 'envoy-api/envoy/config/listener/v3/listener.proto', 'xds/udpa/annotations/status.proto', 'googleapis/google/api/annotations.proto', 'protoc-gen-validate/validate/validate.proto']) {
        expect(entries).toContain(`node_modules/@grpc/grpc-js-xds/deps/${proto}`);
      }
      // Nothing else from node_modules: the AWS SDK and every other dependency are in the bundle.
      expect(entries.filter((e) => e.startsWith('node_modules/') && !e.startsWith('node_modules/@grpc/grpc-js-xds/') && !e.startsWith('node_modules/protobufjs/'))).toEqual([]);
      expect(entries.some((e) => e.startsWith('functions/api/'))).toBe(false);
    }
  });

  it("keeps the framework's deployment bucket private, in both templates", () => {
    for (const t of [defaults.createTemplate, defaults.template]) {
      expect(t.Resources.ServerlessDeploymentBucket?.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
    }
  });

  it('needs no account id to package: the bucket name and every ARN are built by CloudFormation', () => {
    const text = JSON.stringify(defaults.template);
    expect(text).not.toMatch(/arn:aws[^"]*:\d{12}:/);
    expect(defaults.template.Resources.SnapshotBucket?.Properties.BucketName).toEqual({ 'Fn::Sub': 'meshline-prod-${AWS::AccountId}-${AWS::Region}' });
  });

  it('runs every function on nodejs22.x, arm64, under its own role, with a log group kept 30 days', () => {
    expect(defaults.template.Resources.IamRoleLambdaExecution).toBeUndefined();
    const functions = resourcesOfType(defaults.template, 'AWS::Lambda::Function');
    expect(functions.map(([name]) => name).sort()).toEqual(['ApiLambdaFunction', 'CompileLambdaFunction', 'ReconcileLambdaFunction', 'ResolveCloudMapLambdaFunction', 'RolloutsLambdaFunction']);
    for (const [name, fn] of functions) {
      const base = name.replace(/LambdaFunction$/, '');
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.Role).toEqual({ 'Fn::GetAtt': [`${base}Role`, 'Arn'] });
      expect(defaults.template.Resources[`${base}LogGroup`]?.Properties.RetentionInDays).toBe(30);
    }
    expect(defaults.template.Resources.HttpApiLogGroup?.Properties.RetentionInDays).toBe(30);
    expect(defaults.template.Resources.ReconcileLambdaFunction?.Properties.ReservedConcurrentExecutions).toBe(1);
    expect(defaults.template.Resources.ResolveCloudMapLambdaFunction?.Properties.ReservedConcurrentExecutions).toBe(1);
    expect(defaults.template.Resources.RolloutsLambdaFunction?.Properties.ReservedConcurrentExecutions).toBe(1);
  });

  it('refers only to resources that exist under the same parameters (CloudFormation would refuse the stack otherwise)', () => {
    for (const packaged of [defaults, relay, restored]) {
      const t = packaged.template;
      const items = [...Object.entries(t.Resources), ...Object.entries(t.Outputs).map(([name, output]) => [`output ${name}`, output] as const)];
      for (const [name, item] of items) {
        if (!exists(t, item)) continue;
        const dependsOn = [(item as Resource).DependsOn ?? []].flat();
        for (const target of [...references(t, item), ...dependsOn]) {
          expect(exists(t, t.Resources[target]), `${name} refers to ${target}`).toBe(true);
        }
      }
    }
  });

  it('gives the functions names CloudFormation resolves, and the account from AWS::AccountId', () => {
    const env = (defaults.template.Resources.ApiLambdaFunction?.Properties.Environment as { Variables: Record<string, Json> }).Variables;
    expect(env).toMatchObject({
      MESHLINE_TABLE: 'meshline-prod',
      MESHLINE_SYNC_TABLE: 'meshline-prod-sync-status',
      MESHLINE_TRAFFIC_TABLE: 'meshline-prod-traffic',
      MESHLINE_TRAFFIC_WINDOW_SECONDS: '60',
      MESHLINE_BUCKET: { Ref: 'SnapshotBucket' },
      MESHLINE_ACCOUNT_ID: { Ref: 'AWS::AccountId' },
      MESHLINE_DYNAMODB_ENDPOINT: '',
      MESHLINE_S3_ENDPOINT: '',
      // Authentication: the stage's keys table and KMS alias, by name (what `meshline keys --stage` finds).
      MESHLINE_AUTH: 'on',
      MESHLINE_KEYS_TABLE: 'meshline-prod-keys',
      MESHLINE_KMS_KEY_ID: 'alias/meshline-prod-keys',
      MESHLINE_KEY_FILE: '',
      MESHLINE_AUTH_RATE_LIMIT: '50',
    });
    // Only the api function authenticates callers.
    for (const fn of ['CompileLambdaFunction', 'ReconcileLambdaFunction', 'ResolveCloudMapLambdaFunction']) {
      const vars = (defaults.template.Resources[fn]?.Properties.Environment as { Variables: Record<string, Json> }).Variables;
      expect(Object.keys(vars).filter((name) => /^MESHLINE_(AUTH|KEYS|KMS|KEY_FILE)/.test(name))).toEqual([]);
    }
  });

  it('lets the environment win over the CloudFormation values, as the local stack needs (serverless-offline passes them as they are)', async () => {
    const localEnv = {
      MESHLINE_TABLE: 'meshline-local',
      MESHLINE_SYNC_TABLE: 'meshline-local-sync-status',
      MESHLINE_BUCKET: 'meshline-local',
      MESHLINE_ACCOUNT_ID: '111122223333',
      MESHLINE_DYNAMODB_ENDPOINT: 'http://127.0.0.1:8000',
      MESHLINE_S3_ENDPOINT: 'http://127.0.0.1:4569',
    };
    // The local stack seals secrets with a key file and sets the KMS key id to '' (exactly one of
    // the two may be set): the empty value must reach the function, not the stage's alias.
    const localAuthEnv = {
      MESHLINE_KEYS_TABLE: 'meshline-local-keys',
      MESHLINE_KEY_FILE: '/tmp/meshline.local/keys.key',
      MESHLINE_KMS_KEY_ID: '',
      MESHLINE_AUTH_RATE_LIMIT: '1000',
    };
    const { stdout } = await osls('print-local', ['print', '--format', 'json'], { ...localEnv, ...localAuthEnv, MESHLINE_LAMBDA_PORT: '3002' });
    const config = JSON.parse(stdout.slice(stdout.indexOf('{'))) as {
      provider: { environment: Record<string, Json> };
      functions: Record<string, { environment?: Record<string, Json> }>;
      resources: { Resources: Template['Resources'] };
    };
    expect(config.provider.environment).toMatchObject(localEnv);
    expect(config.functions.api?.environment).toEqual({ MESHLINE_AUTH: 'on', ...localAuthEnv });
    // Every variable is a string: no Ref object reaches a function under serverless-offline.
    for (const value of [...Object.values(config.provider.environment), ...Object.values(config.functions.api?.environment ?? {})]) {
      expect(typeof value).toBe('string');
    }
    // The stream plugin finds the local table through MeshTable's name.
    expect(config.resources.Resources.MeshTable?.Properties.TableName).toBe('meshline-local');
  }, 60_000);

  it('takes auth off only from --param auth=off, never from a MESHLINE_AUTH left in the environment', async () => {
    const authOf = async (args: string[], env: Record<string, string>) => {
      const { stdout } = await osls(`print-auth-${args.length}`, ['print', '--format', 'json', ...args], env);
      return (JSON.parse(stdout.slice(stdout.indexOf('{'))) as { functions: Record<string, { environment?: Record<string, Json> }> }).functions.api?.environment?.MESHLINE_AUTH;
    };
    expect(await authOf([], { MESHLINE_AUTH: 'off' })).toBe('on');
    expect(await authOf(['--param=auth=off'], {})).toBe('off');
  }, 60_000);
});

describe('the compile trigger', () => {
  it('reads the table stream in batches, bisects failures, retries 5 times, reports partial failures and dead-letters what still fails', () => {
    const [[name, mapping]] = resourcesOfType(defaults.template, 'AWS::Lambda::EventSourceMapping') as [[string, Resource]];
    expect(name).toBe('CompileEventSourceMappingDynamodbMeshTable');
    expect(mapping.Properties).toEqual({
      BatchSize: 100,
      Enabled: true,
      EventSourceArn: { 'Fn::GetAtt': ['MeshTable', 'StreamArn'] },
      FunctionName: { 'Fn::GetAtt': ['CompileLambdaFunction', 'Arn'] },
      StartingPosition: 'TRIM_HORIZON',
      MaximumBatchingWindowInSeconds: 1,
      MaximumRetryAttempts: 5,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRecordAgeInSeconds: 3600,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['CompileDeadLetterQueue', 'Arn'] } } },
    });
    expect([mapping.DependsOn].flat()).toContain('CompileRole');
  });

  it('keeps dead letters 14 days, encrypted', () => {
    expect(defaults.template.Resources.CompileDeadLetterQueue?.Properties).toMatchObject({ MessageRetentionPeriod: 1_209_600, SqsManagedSseEnabled: true });
  });

  it('runs the reconcile every 10 minutes, and the Cloud Map resolver and the rollouts every minute', () => {
    const schedules = Object.fromEntries(
      resourcesOfType(defaults.template, 'AWS::Events::Rule').map(([, rule]) => {
        const [target] = render(defaults.template, rule.Properties.Targets) as { Arn: string }[];
        return [target?.Arn, rule.Properties.ScheduleExpression];
      }),
    );
    expect(schedules).toEqual({ 'arn:ReconcileLambdaFunction': 'rate(10 minutes)', 'arn:ResolveCloudMapLambdaFunction': 'rate(1 minute)', 'arn:RolloutsLambdaFunction': 'rate(1 minute)' });
    expect(defaults.zips.rollouts).toEqual(['functions/rollouts/handler.mjs', 'functions/rollouts/handler.mjs.map']);
    // The resolver's bundle is its own: nothing of the Envoy protos, the AWS SDK bundled.
    expect(defaults.zips.resolveCloudMap).toEqual(['functions/compile/resolver.mjs', 'functions/compile/resolver.mjs.map']);
  });
});

describe('the tables', () => {
  it('creates the mesh table as shared/store/table.ts defines it: on demand, with its stream, point-in-time recovery and deletion protection, kept if removed from the stack', () => {
    const table = defaults.template.Resources.MeshTable as Resource;
    expect(table.Condition).toBe('CreateMeshTable');
    expect(condition(defaults.template, 'CreateMeshTable')).toBe(true);
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    expect(table.Properties).toEqual({
      TableName: 'meshline-prod',
      BillingMode: meshTableDefinition.BillingMode,
      AttributeDefinitions: meshTableDefinition.AttributeDefinitions,
      KeySchema: meshTableDefinition.KeySchema,
      StreamSpecification: { StreamViewType: meshTableDefinition.StreamSpecification?.StreamViewType },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
    });
  });

  it('creates the sync status table as shared/store/sync-status.ts defines it: its TTL attribute, and no stream', () => {
    expect(defaults.template.Resources.SyncStatusTable?.Properties).toEqual({
      TableName: 'meshline-prod-sync-status',
      BillingMode: syncStatusTableDefinition.BillingMode,
      AttributeDefinitions: syncStatusTableDefinition.AttributeDefinitions,
      KeySchema: syncStatusTableDefinition.KeySchema,
      TimeToLiveSpecification: { AttributeName: SYNC_STATUS_TTL_ATTRIBUTE, Enabled: true },
    });
  });

  it('creates the traffic table as shared/store/traffic.ts defines it: its TTL attribute, no stream, no backups', () => {
    expect(defaults.template.Resources.TrafficTable?.Properties).toEqual({
      TableName: 'meshline-prod-traffic',
      BillingMode: trafficTableDefinition.BillingMode,
      AttributeDefinitions: trafficTableDefinition.AttributeDefinitions,
      KeySchema: trafficTableDefinition.KeySchema,
      TimeToLiveSpecification: { AttributeName: TRAFFIC_TTL_ATTRIBUTE, Enabled: true },
    });
  });

  it('creates the keys table as shared/auth/keys.ts defines it: its TTL, no stream, backups, deletion protection, encryption, kept if removed', () => {
    const table = defaults.template.Resources.KeysTable as Resource;
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    expect(table.Condition).toBeUndefined();
    expect(table.Properties).toEqual({
      TableName: 'meshline-prod-keys',
      BillingMode: keysTableDefinition.BillingMode,
      AttributeDefinitions: keysTableDefinition.AttributeDefinitions,
      KeySchema: keysTableDefinition.KeySchema,
      TimeToLiveSpecification: { AttributeName: KEYS_TTL_ATTRIBUTE, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      DeletionProtectionEnabled: true,
      SSESpecification: { SSEEnabled: true },
    });
    expect(table.Properties.StreamSpecification).toBeUndefined();
    expect(render(defaults.template, defaults.template.Outputs.KeysTableName?.Value)).toBe('ref:KeysTable');
  });

  it('creates the rollouts table as shared/store/rollouts.ts defines it: no stream, no TTL (the history is kept), backups, kept if removed', () => {
    const table = defaults.template.Resources.RolloutTable as Resource;
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    expect(table.Properties).toEqual({
      TableName: 'meshline-prod-rollouts',
      BillingMode: rolloutTableDefinition.BillingMode,
      AttributeDefinitions: rolloutTableDefinition.AttributeDefinitions,
      KeySchema: rolloutTableDefinition.KeySchema,
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    expect(render(defaults.template, defaults.template.Outputs.RolloutTableName?.Value)).toBe('ref:RolloutTable');
  });

  it('seals secrets with a KMS key of its own: rotated, kept if removed, named alias/meshline-<stage>-keys, administered by the account, refusing any use without the access key context', () => {
    const key = defaults.template.Resources.KeysKmsKey as Resource;
    expect(key.Type).toBe('AWS::KMS::Key');
    expect(key.DeletionPolicy).toBe('Retain');
    expect(key.UpdateReplacePolicy).toBe('Retain');
    const properties = render(defaults.template, key.Properties) as Record<string, Json>;
    expect(properties).toMatchObject({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', EnableKeyRotation: true });
    expect((properties.KeyPolicy as { Statement: Json[] }).Statement).toEqual([
      { Sid: 'AccountAdministersTheKey', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' },
      {
        Sid: 'OnlyWithAnAccessKeyContext',
        Effect: 'Deny',
        Principal: '*',
        Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext'],
        Resource: '*',
        Condition: { Null: { [`kms:EncryptionContext:${KMS_CONTEXT_KEY}`]: 'true' } },
      },
    ]);
    expect(defaults.template.Resources.KeysKmsKeyAlias?.Properties).toEqual({ AliasName: 'alias/meshline-prod-keys', TargetKeyId: { Ref: 'KeysKmsKey' } });
  });

  it('switches a stage to a restored table: the stack lets go of its own table (kept), and the functions, their permissions and the trigger use the restored one', () => {
    const t = restored.template;
    expect(condition(t, 'CreateMeshTable')).toBe(false);
    expect(t.Resources.MeshTable?.DeletionPolicy).toBe('Retain');
    const [[, mapping]] = resourcesOfType(t, 'AWS::Lambda::EventSourceMapping') as [[string, Resource]];
    expect(mapping.Properties.EventSourceArn).toBe(RESTORED_STREAM);
    for (const fn of ['ApiLambdaFunction', 'CompileLambdaFunction', 'ReconcileLambdaFunction', 'ResolveCloudMapLambdaFunction']) {
      expect((t.Resources[fn]?.Properties.Environment as { Variables: Record<string, Json> }).Variables.MESHLINE_TABLE).toBe(RESTORED_TABLE);
    }
    const compile = roleStatements(t, 'CompileRole');
    expect(compile.find((s) => s.sid === 'MeshTable')?.resources).toEqual([tableArn(RESTORED_TABLE)]);
    expect(compile.find((s) => s.sid === 'MeshTableStream')?.resources).toEqual([RESTORED_STREAM]);
    // Nothing refers to the table the stack no longer has (the consistency test checks the rest).
    expect(references(t, t.Resources)).not.toContain('MeshTable');
    expect(t.Outputs.MeshTableName?.Value).toBe(RESTORED_TABLE);
  });
});

describe('the snapshot bucket', () => {
  const bucket = () => defaults.template.Resources.SnapshotBucket as Resource;

  it('is versioned, encrypted, private and kept if removed from the stack', () => {
    expect(bucket().DeletionPolicy).toBe('Retain');
    expect(bucket().Properties).toMatchObject({
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: true }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
  });

  it('refuses every request without TLS 1.2, to the bucket and to its objects', () => {
    const policy = render(defaults.template, defaults.template.Resources.SnapshotBucketPolicy?.Properties) as { Bucket: string; PolicyDocument: { Statement: Record<string, Json>[] } };
    expect(policy.Bucket).toBe('ref:SnapshotBucket');
    const resources = ['arn:SnapshotBucket', 'arn:SnapshotBucket/*'];
    expect(policy.PolicyDocument.Statement).toEqual([
      { Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: resources, Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
      { Sid: 'DenyTlsBelow12', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: resources, Condition: { NumericLessThan: { 's3:TlsVersion': '1.2' } } },
    ]);
  });

  it('never expires a current snapshot or manifest by age: only old versions, and snapshots tagged unreferenced', () => {
    const rules = (bucket().Properties.LifecycleConfiguration as { Rules: Record<string, Json>[] }).Rules;
    expect(rules).toEqual([
      {
        Id: 'expire-noncurrent-versions',
        Status: 'Enabled',
        NoncurrentVersionExpiration: { NoncurrentDays: 30 },
        ExpiredObjectDeleteMarker: true,
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      },
      {
        Id: 'expire-unreferenced-snapshots',
        Status: 'Enabled',
        Prefix: 'snapshots/',
        TagFilters: [{ Key: 'meshline:unreferenced', Value: 'true' }],
        ExpirationInDays: 7,
      },
    ]);
    // The invariant, whatever the rules become: a rule that expires current objects must be
    // narrowed by a tag (a manifest still names every untagged snapshot).
    for (const rule of rules) {
      if ('ExpirationInDays' in rule || 'ExpirationDate' in rule) expect(rule.TagFilters).toBeDefined();
    }
  });
});

describe('least privilege', () => {
  const bucketObjects = (...prefixes: string[]) => prefixes.map((p) => `arn:SnapshotBucket/${p}/*`);

  it('gives the api function the mesh table (read and conditional writes), manifests, the sync status and traffic', () => {
    expect(roleStatements(defaults.template, 'ApiRole')).toEqual([
      { sid: 'Logs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: ['arn:ApiLogGroup'] },
      {
        sid: 'MeshTable',
        actions: ['dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
        resources: [tableArn('meshline-prod')],
      },
      { sid: 'Manifests', actions: ['s3:GetObject'], resources: bucketObjects('manifests') },
      { sid: 'MissingKeysAre404', actions: ['s3:ListBucket'], resources: ['arn:SnapshotBucket'] },
      { sid: 'SyncStatus', actions: ['dynamodb:Query'], resources: ['arn:SyncStatusTable'] },
      { sid: 'Traffic', actions: ['dynamodb:Query'], resources: ['arn:TrafficTable'] },
      { sid: 'Rollouts', actions: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'], resources: ['arn:RolloutTable'] },
      { sid: 'AccessKeys', actions: ['dynamodb:GetItem'], resources: ['arn:KeysTable'] },
      { sid: 'RateWindows', actions: ['dynamodb:UpdateItem'], resources: ['arn:KeysTable'] },
      { sid: 'OpenSecrets', actions: ['kms:Decrypt'], resources: ['arn:KeysKmsKey'] },
    ]);
  });

  it('gives the compile function table reads, its stream, snapshots and manifests, and the dead-letter queue', () => {
    expect(roleStatements(defaults.template, 'CompileRole')).toEqual([
      { sid: 'Logs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: ['arn:CompileLogGroup'] },
      { sid: 'MeshTable', actions: ['dynamodb:GetItem', 'dynamodb:Query'], resources: [tableArn('meshline-prod')] },
      {
        sid: 'CloudMapSubscriptions',
        actions: ['dynamodb:PutItem'],
        resources: [tableArn('meshline-prod')],
      },
      {
        sid: 'MeshTableStream',
        actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams'],
        resources: ['MeshTable.StreamArn'],
      },
      { sid: 'Snapshots', actions: ['s3:GetObject', 's3:PutObject'], resources: bucketObjects('manifests', 'snapshots') },
      { sid: 'MissingKeysAre404', actions: ['s3:ListBucket'], resources: ['arn:SnapshotBucket'] },
      { sid: 'DeadLetters', actions: ['sqs:SendMessage'], resources: ['arn:CompileDeadLetterQueue'] },
    ]);
  });

  it('gives the reconcile function table reads and snapshots and manifests, nothing of the stream or the queue', () => {
    expect(roleStatements(defaults.template, 'ReconcileRole')).toEqual([
      { sid: 'Logs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: ['arn:ReconcileLogGroup'] },
      { sid: 'MeshTable', actions: ['dynamodb:GetItem', 'dynamodb:Query'], resources: [tableArn('meshline-prod')] },
      {
        sid: 'CloudMapSubscriptions',
        actions: ['dynamodb:PutItem'],
        resources: [tableArn('meshline-prod')],
      },
      { sid: 'Snapshots', actions: ['s3:GetObject', 's3:PutObject'], resources: bucketObjects('manifests', 'snapshots') },
      { sid: 'MissingKeysAre404', actions: ['s3:ListBucket'], resources: ['arn:SnapshotBucket'] },
    ]);
  });

  it('gives the rollouts function routes (read, and UpdateRoute\'s conditional writes), the rollouts table, traffic and sync status', () => {
    expect(roleStatements(defaults.template, 'RolloutsRole')).toEqual([
      { sid: 'Logs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: ['arn:RolloutsLogGroup'] },
      {
        sid: 'MeshTable',
        actions: ['dynamodb:ConditionCheckItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
        resources: [tableArn('meshline-prod')],
      },
      { sid: 'Rollouts', actions: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query'], resources: ['arn:RolloutTable'] },
      { sid: 'Traffic', actions: ['dynamodb:Query'], resources: ['arn:TrafficTable'] },
      { sid: 'SyncStatus', actions: ['dynamodb:Query'], resources: ['arn:SyncStatusTable'] },
    ]);
  });

  it('confines the Cloud Map subscription and instance writes to cloudmap# partitions of the table', () => {
    for (const [role, sid] of [['CompileRole', 'CloudMapSubscriptions'], ['ReconcileRole', 'CloudMapSubscriptions'], ['ResolveCloudMapRole', 'CloudMapInstances']] as const) {
      const properties = defaults.template.Resources[role]?.Properties as { Policies: { PolicyDocument: { Statement: (Statement & { Condition?: Json })[] } }[] };
      const statement = properties.Policies.flatMap((p) => p.PolicyDocument.Statement).find((st) => st.Sid === sid);
      expect(statement?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['cloudmap#*'] } });
    }
  });

  it('gives the Cloud Map resolver table reads, instance writes, and DiscoverInstances', () => {
    expect(roleStatements(defaults.template, 'ResolveCloudMapRole')).toEqual([
      { sid: 'Logs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: ['arn:ResolveCloudMapLogGroup'] },
      { sid: 'MeshTable', actions: ['dynamodb:GetItem', 'dynamodb:Query'], resources: [tableArn('meshline-prod')] },
      { sid: 'CloudMapInstances', actions: ['dynamodb:DeleteItem', 'dynamodb:PutItem'], resources: [tableArn('meshline-prod')] },
      { sid: 'DiscoverInstances', actions: ['servicediscovery:DiscoverInstances'], resources: ['*'] },
    ]);
  });

  it('lets the relay read manifests and snapshots, record sync status, write traffic windows and read and open access keys, and nothing else', () => {
    expect(roleStatements(relay.template, 'RelayTaskRole')).toEqual([
      { sid: 'Snapshots', actions: ['s3:GetObject'], resources: bucketObjects('manifests', 'snapshots') },
      { sid: 'MissingKeysAre404', actions: ['s3:ListBucket'], resources: ['arn:SnapshotBucket'] },
      { sid: 'SyncStatus', actions: ['dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:Query'], resources: ['arn:SyncStatusTable'] },
      { sid: 'Traffic', actions: ['dynamodb:BatchWriteItem', 'dynamodb:PutItem'], resources: ['arn:TrafficTable'] },
      { sid: 'AccessKeys', actions: ['dynamodb:GetItem'], resources: ['arn:KeysTable'] },
      { sid: 'OpenSecrets', actions: ['kms:Decrypt'], resources: ['arn:KeysKmsKey'] },
    ]);
  });

  it('confines access keys: reads of key items only, rate-window updates only in rate# partitions, Decrypt only with the access key context, and only for the api and the relay', () => {
    const raw = (template: Template, role: string) =>
      (render(template, template.Resources[role]?.Properties) as { Policies: { PolicyDocument: { Statement: (Statement & { Condition?: Json })[] } }[] }).Policies.flatMap(
        (policy) => policy.PolicyDocument.Statement,
      );
    for (const role of ['ApiRole', 'RelayTaskRole']) {
      const statements = raw(relay.template, role);
      expect(statements.find((s) => s.Sid === 'AccessKeys')?.Condition).toEqual({ 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['accessKey'] } });
      expect(statements.find((s) => s.Sid === 'OpenSecrets')?.Condition).toEqual({ Null: { [`kms:EncryptionContext:${KMS_CONTEXT_KEY}`]: 'false' } });
    }
    expect(raw(relay.template, 'ApiRole').find((s) => s.Sid === 'RateWindows')?.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['rate#*'] } });
    for (const packaged of [defaults, relay, restored]) {
      for (const [role] of resourcesOfType(packaged.template, 'AWS::IAM::Role')) {
        if (role === 'ApiRole' || role === 'RelayTaskRole') continue;
        for (const statement of roleStatements(packaged.template, role)) {
          expect(statement.resources.filter((arn) => arn.includes('Keys')), `${role} ${statement.sid}`).toEqual([]);
          expect(statement.actions.filter((action) => action.startsWith('kms:')), `${role} ${statement.sid}`).toEqual([]);
        }
      }
    }
  });

  it('lets ECS pull the relay image from its repository and write its logs, and nothing else (proxies bring their own tokens: no shared secret)', () => {
    expect(roleStatements(relay.template, 'RelayExecutionRole')).toEqual([
      { sid: 'RegistryLogin', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] },
      {
        sid: 'PullRelayImage',
        actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
        resources: [`arn:aws:ecr:${REGION}:${ACCOUNT}:repository/meshline-relay`],
      },
      { sid: 'Logs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: ['arn:RelayLogGroup'] },
    ]);
  });

  it('scopes every statement of every role to named resources: "*" only for ecr:GetAuthorizationToken and servicediscovery:DiscoverInstances, which have no resource-level permissions', () => {
    for (const packaged of [defaults, relay, restored]) {
      for (const [role, resource] of resourcesOfType(packaged.template, 'AWS::IAM::Role')) {
        // Only our roles exist: the framework's shared role is not created.
        expect(['ApiRole', 'CompileRole', 'ReconcileRole', 'ResolveCloudMapRole', 'RolloutsRole', 'RelayExecutionRole', 'RelayTaskRole']).toContain(role);
        expect(resource.Properties.ManagedPolicyArns).toBeUndefined();
        for (const statement of roleStatements(packaged.template, role)) {
          for (const action of statement.actions) expect(action).not.toContain('*');
          for (const arn of statement.resources) {
            if (arn === '*') {
              expect([['ecr:GetAuthorizationToken'], ['servicediscovery:DiscoverInstances']]).toContainEqual(statement.actions);
              continue;
            }
            // A wildcard only as the key of an object under a named prefix of the bucket.
            if (arn.includes('*')) expect(arn).toMatch(/^arn:SnapshotBucket\/(manifests|snapshots)\/\*$/);
          }
        }
      }
    }
  });

  it('lets only ECS tasks of this account assume the relay roles', () => {
    for (const role of ['RelayTaskRole', 'RelayExecutionRole']) {
      const trust = relay.template.Resources[role]?.Properties.AssumeRolePolicyDocument as { Statement: Record<string, Json>[] };
      expect(trust.Statement).toEqual([
        { Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } } },
      ]);
    }
  });
});

describe('the relay service', () => {
  const t = () => relay.template;
  const props = (name: string) => render(t(), t().Resources[name]?.Properties) as Record<string, Json>;

  it('is deployed once its image tag is given, and refused without a network', () => {
    expect(condition(defaults.template, 'DeployRelay')).toBe(false);
    expect(condition(t(), 'DeployRelay')).toBe(true);
    const relayResources = Object.entries(t().Resources).filter(([name]) => name.startsWith('Relay'));
    expect(relayResources.length).toBeGreaterThan(15);
    for (const [, resource] of relayResources) expect(resource.Condition).toBe('DeployRelay');
    const rule = t().Rules.RelayNeedsANetwork;
    expect(rule?.Assertions.map((a) => a.AssertDescription)).toEqual([
      'relayImageTag needs vpcId',
      'relayImageTag needs subnetIds',
      'loadBalancerSubnetIds must not be empty',
      'relayImageTag needs relayIngressCidr',
    ]);
  });

  it('runs the relay image from its ECR repository on Fargate arm64, configured for the stack', () => {
    const task = props('RelayTaskDefinition');
    expect(task).toMatchObject({
      RequiresCompatibilities: ['FARGATE'],
      NetworkMode: 'awsvpc',
      RuntimePlatform: { CpuArchitecture: 'ARM64', OperatingSystemFamily: 'LINUX' },
      Cpu: '512',
      Memory: '1024',
      ExecutionRoleArn: 'arn:RelayExecutionRole',
      TaskRoleArn: 'arn:RelayTaskRole',
    });
    const [container] = task.ContainerDefinitions as Record<string, Json>[];
    expect(container).toMatchObject({
      Image: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/meshline-relay:${RELAY_PARAMS.relayImageTag}`,
      ReadonlyRootFilesystem: true,
      PortMappings: [
        { Name: 'ads', ContainerPort: 18000, Protocol: 'tcp' },
        { Name: 'admin', ContainerPort: 18001, Protocol: 'tcp' },
      ],
      LogConfiguration: { LogDriver: 'awslogs', Options: { 'awslogs-group': 'ref:RelayLogGroup', 'awslogs-region': REGION, 'awslogs-stream-prefix': 'relay' } },
    });
    // No shared token: with access keys on, the relay refuses to start with one (relay/main.ts).
    expect(container).not.toHaveProperty('Secrets');
    const env = Object.fromEntries((container?.Environment as { Name: string; Value: string }[]).map((e) => [e.Name, e.Value]));
    expect(env).toMatchObject({
      MESHLINE_BUCKET: 'ref:SnapshotBucket',
      MESHLINE_SYNC_TABLE: 'ref:SyncStatusTable',
      // Telemetry: the same window as the API and rollouts read with, and CloudWatch metrics by EMF on stdout.
      MESHLINE_TRAFFIC_TABLE: 'ref:TrafficTable',
      MESHLINE_TRAFFIC_WINDOW_SECONDS: '60',
      MESHLINE_TRAFFIC_RETENTION_SECONDS: '604800',
      MESHLINE_LOAD_REPORT_INTERVAL_MS: '10000',
      MESHLINE_TRAFFIC_EMF: 'on',
      MESHLINE_RELAY_HOST: '0.0.0.0',
      MESHLINE_RELAY_PORT: '18000',
      MESHLINE_RELAY_ADMIN_PORT: '18001',
      MESHLINE_MANIFEST_POLL_MS: '1000',
      MESHLINE_AUTH: 'on',
      MESHLINE_KEYS_TABLE: 'ref:KeysTable',
      MESHLINE_KMS_KEY_ID: 'arn:KeysKmsKey',
    });
    expect(env.MESHLINE_KEY_FILE).toBeUndefined();
    // The ports the image listens on (relay/Dockerfile) are the ports mapped here.
    expect(readFileSync(join(ROOT, 'relay', 'Dockerfile'), 'utf8')).toMatch(/EXPOSE 18000 18001/);
  });

  it('puts a TCP listener of a Network Load Balancer in front, health-checked on the relay admin port', () => {
    expect(props('RelayLoadBalancer')).toMatchObject({
      Type: 'network',
      Scheme: 'internal',
      Subnets: RELAY_PARAMS.subnetIds.split(','),
      SecurityGroups: ['ref:RelayLoadBalancerSecurityGroup'],
    });
    expect(props('RelayListener')).toEqual({
      LoadBalancerArn: 'ref:RelayLoadBalancer',
      Protocol: 'TCP',
      Port: 18000,
      DefaultActions: [{ Type: 'forward', TargetGroupArn: 'ref:RelayTargetGroup' }],
    });
    const group = props('RelayTargetGroup');
    expect(group).toMatchObject({
      TargetType: 'ip',
      Protocol: 'TCP',
      Port: 18000,
      VpcId: RELAY_PARAMS.vpcId,
      HealthCheckProtocol: 'HTTP',
      HealthCheckPort: '18001',
      HealthCheckPath: '/readyz',
    });
    const attributes = Object.fromEntries((group.TargetGroupAttributes as { Key: string; Value: string }[]).map((a) => [a.Key, a.Value]));
    expect(attributes['deregistration_delay.connection_termination.enabled']).toBe('false');
    // Draining ends long before the relay's own connection age would move a proxy.
    const [container] = props('RelayTaskDefinition').ContainerDefinitions as { Environment: { Name: string; Value: string }[] }[];
    const maxAgeMs = Number(container?.Environment.find((e) => e.Name === 'MESHLINE_RELAY_MAX_CONNECTION_AGE_MS')?.Value);
    expect(Number(attributes['deregistration_delay.timeout_seconds']) * 1000).toBeLessThan(maxAgeMs);
  });

  it('admits ADS only from the proxies network to the load balancer, and only from the load balancer to the tasks', () => {
    const lbSg = props('RelayLoadBalancerSecurityGroup');
    expect(lbSg.SecurityGroupIngress).toEqual([
      { IpProtocol: 'tcp', FromPort: 18000, ToPort: 18000, CidrIp: RELAY_PARAMS.relayIngressCidr, Description: 'ADS from the proxies' },
    ]);
    // Rules listed inline replace the default allow-all egress.
    expect(lbSg.SecurityGroupEgress).toEqual([
      { IpProtocol: 'tcp', FromPort: 18000, ToPort: 18000, DestinationSecurityGroupId: 'ref:RelaySecurityGroup', Description: 'ADS to the relay' },
      { IpProtocol: 'tcp', FromPort: 18001, ToPort: 18001, DestinationSecurityGroupId: 'ref:RelaySecurityGroup', Description: 'Health checks of the relay' },
    ]);
    expect(resourcesOfType(t(), 'AWS::EC2::SecurityGroupEgress')).toEqual([]);
    const relaySg = props('RelaySecurityGroup');
    expect(relaySg.SecurityGroupIngress).toBeUndefined();
    expect(relaySg.SecurityGroupEgress).toEqual([{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '0.0.0.0/0', Description: 'AWS APIs' }]);
    const ingress = resourcesOfType(t(), 'AWS::EC2::SecurityGroupIngress').map(([, r]) => render(t(), r.Properties) as Record<string, Json>);
    expect(ingress.map((r) => [r.GroupId, r.FromPort, r.SourceSecurityGroupId])).toEqual([
      ['ref:RelaySecurityGroup', 18000, 'ref:RelayLoadBalancerSecurityGroup'],
      ['ref:RelaySecurityGroup', 18001, 'ref:RelayLoadBalancerSecurityGroup'],
    ]);
  });

  it('rolls out new tasks before stopping old ones, rolls back a failing deployment, and lets autoscaling own the task count', () => {
    const service = props('RelayService');
    expect(service).toMatchObject({
      LaunchType: 'FARGATE',
      DeploymentConfiguration: { MinimumHealthyPercent: 100, MaximumPercent: 200, DeploymentCircuitBreaker: { Enable: true, Rollback: true } },
      LoadBalancers: [{ ContainerName: 'relay', ContainerPort: 18000, TargetGroupArn: 'ref:RelayTargetGroup' }],
      NetworkConfiguration: { AwsvpcConfiguration: { Subnets: RELAY_PARAMS.subnetIds.split(','), SecurityGroups: ['ref:RelaySecurityGroup'], AssignPublicIp: 'DISABLED' } },
    });
    expect(service.DesiredCount).toBeUndefined();
    expect(props('RelayScalableTarget')).toMatchObject({ ServiceNamespace: 'ecs', ScalableDimension: 'ecs:service:DesiredCount', MinCapacity: 2, MaxCapacity: 10 });
    expect(props('RelayCpuScaling')).toMatchObject({
      PolicyType: 'TargetTrackingScaling',
      ScalingTargetId: 'ref:RelayScalableTarget',
      TargetTrackingScalingPolicyConfiguration: { PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' }, TargetValue: 60 },
    });
    expect(props('RelayLogGroup').RetentionInDays).toBe(30);
  });

  it('outputs the relay address for proxies', () => {
    expect(render(t(), t().Outputs.RelayEndpoint?.Value)).toBe('RelayLoadBalancer.DNSName:18000');
  });
});

describe('alarms', () => {
  it('alarms on any dead-lettered compile, a lagging stream and a failing reconcile', () => {
    const alarm = (name: string) => render(defaults.template, defaults.template.Resources[name]?.Properties) as Record<string, Json>;
    expect(alarm('CompileDeadLetterAlarm')).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: 'CompileDeadLetterQueue.QueueName' }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: ['ref:AlarmTopic'],
    });
    expect(alarm('CompileIteratorAgeAlarm')).toMatchObject({ MetricName: 'IteratorAge', Dimensions: [{ Name: 'FunctionName', Value: 'ref:CompileLambdaFunction' }] });
    expect(alarm('ReconcileErrorsAlarm')).toMatchObject({ MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: 'ref:ReconcileLambdaFunction' }] });
  });

  it("counts NACKs from the relay's JSON logs, by the message relay/ads.ts logs, and alarms on them", () => {
    const filter = render(relay.template, relay.template.Resources.RelayNackMetricFilter?.Properties) as { LogGroupName: string; FilterPattern: string; MetricTransformations: Record<string, Json>[] };
    expect(filter.LogGroupName).toBe('ref:RelayLogGroup');
    const message = /^\{ \$\.msg = "(.+)" \}$/.exec(filter.FilterPattern)?.[1];
    expect(message).toBeDefined();
    expect(readFileSync(join(ROOT, 'relay', 'ads.ts'), 'utf8')).toContain(`logger.warn('${message}'`);
    expect(filter.MetricTransformations).toEqual([{ MetricNamespace: 'Meshline/prod', MetricName: 'RelayNacks', MetricValue: '1', Unit: 'Count' }]);
    expect(render(relay.template, relay.template.Resources.RelayNackAlarm?.Properties)).toMatchObject({
      Namespace: 'Meshline/prod',
      MetricName: 'RelayNacks',
      Statistic: 'Sum',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      AlarmActions: ['ref:AlarmTopic'],
    });
    expect(relay.template.Resources.AlarmEmailSubscription?.Condition).toBe('HasAlarmEmail');
    expect(condition(relay.template, 'HasAlarmEmail')).toBe(true);
  });
});

describe('the HTTP API', () => {
  it('routes every request to the api function, throttled, with access logs', () => {
    expect(defaults.template.Resources.HttpApiRouteDefault?.Properties.RouteKey).toBe('$default');
    expect(defaults.template.Resources.HttpApiStage?.Properties).toMatchObject({
      DefaultRouteSettings: { DetailedMetricsEnabled: false, ThrottlingBurstLimit: 200, ThrottlingRateLimit: 100 },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': ['HttpApiLogGroup', 'Arn'] } },
    });
  });
});

describe('LocalStack', () => {
  const hook = () => readFileSync(join(ROOT, 'localstack', 'init', 'ready.d', '10-meshline.sh'), 'utf8');
  const pairs = (items: object[] | undefined) =>
    (items ?? []).map((item) => Object.entries(item).map(([key, value]) => `${key}=${String(value)}`).join(',')).join(' ');

  it.each([
    { table: 'SYNC_TABLE', source: 'shared/store/sync-status.ts', definition: syncStatusTableDefinition, ttl: SYNC_STATUS_TTL_ATTRIBUTE },
    { table: 'TRAFFIC_TABLE', source: 'shared/store/traffic.ts', definition: trafficTableDefinition, ttl: TRAFFIC_TTL_ATTRIBUTE },
    { table: 'KEYS_TABLE', source: 'shared/auth/keys.ts', definition: keysTableDefinition, ttl: KEYS_TTL_ATTRIBUTE },
    { table: 'ROLLOUT_TABLE', source: 'shared/store/rollouts.ts', definition: rolloutTableDefinition, ttl: undefined },
  ])('has its READY hook create $table as $source defines it: no stream, its TTL if it has one', ({ table, definition, ttl }) => {
    const text = hook();
    const block = text.slice(text.indexOf(`--table-name "$${table}"`), text.indexOf(`created table $${table}`));
    expect(block).toContain(`--billing-mode ${definition.BillingMode}`);
    expect(block).toContain(`--attribute-definitions ${pairs(definition.AttributeDefinitions)}`);
    expect(block).toContain(`--key-schema ${pairs(definition.KeySchema)}`);
    expect(block).not.toContain('--stream-specification');
    if (ttl) expect(block).toContain(`Enabled=true,AttributeName=${ttl}`);
    else expect(block).not.toContain('time-to-live');
  });
});
