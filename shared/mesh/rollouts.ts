/**
 * Rollouts gated on health: a route's canary target is walked through steps of weight, and after
 * each step's interval the canary's own traffic in that step decides whether it advances, waits
 * for more traffic, or is rolled back to the weights the route had before (docs/rollouts.md).
 *
 * Plain async functions over their dependencies: the API extension creates, reads and aborts
 * rollouts; the scheduled function (functions/rollouts/handler.ts) calls `advanceRollouts`.
 * Every route write goes through the UpdateRoute use case, conditional on the version the
 * rollout last wrote, so a change by someone else is never overwritten: it pauses the rollout.
 */
import { BadRequestError, ConflictError, NotFoundError } from '../errors.js';
import { listSyncStatus } from '../store/sync-status.js';
import {
  inProgress,
  newRolloutId,
  type Rollout,
  type RolloutSettings,
  type RolloutState,
  type RolloutStep,
  type RolloutStore,
  type RolloutTarget,
} from '../store/rollouts.js';
import { edgeTotals, windowSettledAt, type TrafficStore } from '../store/traffic.js';
import type { StoredResource } from '../store/repository.js';
import { canaryWeights, shiftedTargets } from './canary.js';
import type { SyncStatusSource } from './proxy-status.js';
import { updateResource, type MeshDeps } from './resources.js';

/** What rollouts need: the mesh use cases' deps, the rollouts table, traffic and sync status. */
export interface RolloutDeps extends MeshDeps {
  rollouts: RolloutStore;
  traffic: Pick<TrafficStore, 'windows'>;
  /** Where relays record NACKs; without it no NACK can stop a rollout. */
  syncStatus?: SyncStatusSource | undefined;
  /** The telemetry window (MESHLINE_TRAFFIC_WINDOW_SECONDS). */
  windowSeconds: number;
}

export const ROLLOUT_STATES: readonly RolloutState[] = ['RUNNING', 'PAUSED', 'SUCCEEDED', 'ROLLED_BACK', 'ABORTED'];

const ROUTE_TYPES = ['httpRoute', 'http2Route', 'grpcRoute', 'tcpRoute'] as const;
const MAX_STEPS = 20;
const MAX_INTERVAL_SECONDS = 86_400;
/** A step with too little traffic waits this many intervals unless maxWaitSeconds says otherwise. */
export const DEFAULT_MAX_WAIT_INTERVALS = 3;

type RouteSpec = Record<string, { action?: { weightedTargets?: RolloutTarget[] } } | undefined>;

const iso = (ms: number) => new Date(ms).toISOString();

function nowOf(deps: RolloutDeps): number {
  return (deps.now ?? Date.now)();
}

function routeKey(r: Pick<RolloutSettings, 'meshName' | 'virtualRouterName' | 'routeName'>) {
  return { kind: 'route' as const, meshName: r.meshName, parentName: r.virtualRouterName, name: r.routeName };
}

/** The route's type member (`httpRoute`, ...) and its weighted targets. */
function routeTargets(spec: unknown): { type: (typeof ROUTE_TYPES)[number]; targets: RolloutTarget[] } | undefined {
  const s = (spec ?? {}) as RouteSpec;
  const type = ROUTE_TYPES.find((t) => s[t]);
  const targets = type ? s[type]?.action?.weightedTargets : undefined;
  return type && targets?.length ? { type, targets } : undefined;
}

/** The route's spec with other weighted targets, everything else as it is. */
function withTargets(spec: unknown, targets: RolloutTarget[]): unknown {
  const copy = structuredClone(spec) as RouteSpec;
  const found = routeTargets(copy);
  const action = found && copy[found.type]?.action;
  if (!action) throw new Error('the route has no weighted targets');
  action.weightedTargets = targets.map((t) => ({ ...t }));
  return copy;
}

// ---------------------------------------------------------------- validation

function field(body: Record<string, unknown>, name: string): unknown {
  return body[name];
}

function requiredName(body: Record<string, unknown>, name: string): string {
  const value = field(body, name);
  if (typeof value !== 'string' || value.length < 1 || value.length > 255) {
    throw new BadRequestError(`${name} must be a string of 1 to 255 characters, got: ${JSON.stringify(value ?? null)}`);
  }
  return value;
}

function numberIn(body: Record<string, unknown>, name: string, min: number, max: number, options: { integer?: boolean; optional?: boolean } = {}): number | undefined {
  const value = field(body, name);
  if (value === undefined && options.optional) return undefined;
  const kind = options.integer ? 'an integer' : 'a number';
  if (typeof value !== 'number' || !Number.isFinite(value) || (options.integer && !Number.isInteger(value)) || value < min || value > max) {
    throw new BadRequestError(`${name} must be ${kind} between ${min} and ${max}, got: ${JSON.stringify(value ?? null)}`);
  }
  return value;
}

/**
 * The settings of a rollout from a request body, each checked with a message that names the
 * field, the bound and the value.
 */
export function parseRolloutSettings(meshName: string, body: unknown): RolloutSettings {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('The body must be a JSON object.');
  const b = body as Record<string, unknown>;
  const known = new Set(['virtualRouterName', 'routeName', 'to', 'steps', 'intervalSeconds', 'maxErrorRate', 'minRequests', 'maxP99Ms', 'maxWaitSeconds']);
  const unknown = Object.keys(b).filter((k) => !known.has(k));
  if (unknown.length) throw new BadRequestError(`Unknown member${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}.`);
  const virtualRouterName = requiredName(b, 'virtualRouterName');
  const routeName = requiredName(b, 'routeName');
  const to = requiredName(b, 'to');
  const steps = b.steps;
  if (!Array.isArray(steps) || steps.length < 1 || steps.length > MAX_STEPS) {
    throw new BadRequestError(`steps must be a list of 1 to ${MAX_STEPS} percentages, got: ${JSON.stringify(steps ?? null)}`);
  }
  steps.forEach((step: unknown, index) => {
    if (typeof step !== 'number' || !Number.isInteger(step) || step < 1 || step > 100) {
      throw new BadRequestError(`steps[${index}] must be an integer between 1 and 100, got: ${JSON.stringify(step)}`);
    }
    if (index > 0 && step <= (steps[index - 1] as number)) {
      throw new BadRequestError(`steps must be ascending: steps[${index}] must be greater than ${String(steps[index - 1])}, got: ${step}`);
    }
  });
  if (steps[steps.length - 1] !== 100) throw new BadRequestError(`steps must end at 100, got: ${JSON.stringify(steps)}`);
  const intervalSeconds = numberIn(b, 'intervalSeconds', 1, MAX_INTERVAL_SECONDS) as number;
  const maxErrorRate = numberIn(b, 'maxErrorRate', 0, 100) as number;
  const minRequests = numberIn(b, 'minRequests', 0, 1_000_000_000, { integer: true }) as number;
  const maxP99Ms = numberIn(b, 'maxP99Ms', 1, 3_600_000, { optional: true });
  const maxWaitSeconds = numberIn(b, 'maxWaitSeconds', 0, 7 * MAX_INTERVAL_SECONDS, { optional: true }) ?? DEFAULT_MAX_WAIT_INTERVALS * intervalSeconds;
  return { meshName, virtualRouterName, routeName, to, steps: steps as number[], intervalSeconds, maxErrorRate, minRequests, maxP99Ms, maxWaitSeconds };
}

// ---------------------------------------------------------------- route writes

/** The weighted targets of one step, from the route's original targets. */
function stepTargets(rollout: Pick<Rollout, 'originalTargets' | 'to'>, percent: number): RolloutTarget[] {
  return shiftedTargets(rollout.originalTargets, canaryWeights(rollout.originalTargets, rollout.to, percent)) as RolloutTarget[];
}

/**
 * Writes the route's weighted targets through the UpdateRoute use case, only on top of
 * `expectedVersion`. Returns the new version, or undefined if the route is at another version
 * (someone else changed it) or gone.
 */
async function writeTargets(deps: RolloutDeps, rollout: Rollout, targets: RolloutTarget[], expectedVersion: number): Promise<number | undefined> {
  const route = await deps.repository.get(routeKey(rollout));
  if (!route || route.version !== expectedVersion) return undefined;
  try {
    const data = await updateResource(deps, { ...routeKey(rollout), spec: withTargets(route.spec, targets), expectedVersion });
    return (data.metadata as { version: number }).version;
  } catch (error) {
    if (error instanceof ConflictError || error instanceof NotFoundError) return undefined;
    throw error;
  }
}

function weightsOf(targets: RolloutTarget[]): Record<string, number> {
  return Object.fromEntries(targets.map((t) => [t.virtualNode, t.weight]));
}

// ---------------------------------------------------------------- create, read, abort

/**
 * Starts a rollout: checks the settings and the route (it exists and has weighted targets other
 * than the canary), remembers its weighted targets and version, takes the route's lock
 * (ConflictError if it has a rollout in progress) and writes the first step.
 */
export async function startRollout(deps: RolloutDeps, meshName: string, body: unknown): Promise<Rollout> {
  const settings = parseRolloutSettings(meshName, body);
  const mesh = await deps.repository.get({ kind: 'mesh', meshName, name: meshName });
  if (!mesh) throw new NotFoundError(`Mesh ${meshName} does not exist.`);
  const route = await deps.repository.get(routeKey(settings));
  if (!route) throw new NotFoundError(`Route ${settings.routeName} in virtual router ${settings.virtualRouterName} in mesh ${meshName} does not exist.`);
  const found = routeTargets(route.spec);
  if (!found) throw new BadRequestError(`Route ${settings.routeName} has no weightedTargets to shift.`);
  const node = await deps.repository.get({ kind: 'virtualNode', meshName, name: settings.to });
  if (!node) throw new NotFoundError(`to: virtual node ${settings.to} does not exist in mesh ${meshName}.`);
  if (!found.targets.some((t) => t.virtualNode !== settings.to)) {
    throw new BadRequestError(`to: route ${settings.routeName} has no target other than ${settings.to} to shift traffic from.`);
  }
  const now = nowOf(deps);
  const rollout: Rollout = {
    ...settings,
    rolloutId: newRolloutId(now),
    state: 'RUNNING',
    originalTargets: found.targets.map((t) => ({ ...t })),
    originalVersion: route.version,
    routeVersion: route.version,
    history: [],
    createdAt: iso(now),
    updatedAt: iso(now),
    revision: 0,
  };
  await deps.rollouts.create(rollout);
  const first = settings.steps[0] as number;
  const targets = stepTargets(rollout, first);
  const version = await writeTargets(deps, rollout, targets, route.version);
  if (version === undefined) {
    await deps.rollouts.save({ ...rollout, state: 'ABORTED', reason: 'The route changed while the rollout started; nothing was written.', endedAt: iso(nowOf(deps)) });
    throw new ConflictError(`Route ${settings.routeName} was changed by another request while the rollout started; try again.`);
  }
  const startedAt = nowOf(deps);
  return deps.rollouts.save({
    ...rollout,
    routeVersion: version,
    history: [{ percent: first, weights: weightsOf(targets), routeVersion: version, startedAt: iso(startedAt) }],
    updatedAt: iso(startedAt),
  });
}

export async function describeRollout(deps: Pick<RolloutDeps, 'rollouts'>, meshName: string, rolloutId: string): Promise<Rollout> {
  const rollout = await deps.rollouts.get(meshName, rolloutId);
  if (!rollout) throw new NotFoundError(`Rollout ${rolloutId} does not exist in mesh ${meshName}.`);
  return rollout;
}

/** A mesh's rollouts, newest first; only those in `state` when given. */
export async function listRollouts(deps: Pick<RolloutDeps, 'rollouts' | 'repository'>, meshName: string, state?: string): Promise<{ rollouts: Rollout[] }> {
  if (state !== undefined && state !== 'all' && !ROLLOUT_STATES.includes(state as RolloutState)) {
    throw new BadRequestError(`state must be one of ${ROLLOUT_STATES.join(', ')} or all, got: ${JSON.stringify(state)}`);
  }
  const mesh = await deps.repository.get({ kind: 'mesh', meshName, name: meshName });
  if (!mesh) throw new NotFoundError(`Mesh ${meshName} does not exist.`);
  const all = (await deps.rollouts.list(meshName)).reverse();
  return { rollouts: state === undefined || state === 'all' ? all : all.filter((r) => r.state === state) };
}

/** How often an abort that finds the route moved reads the rollout again before it calls the move someone else's. */
const ABORT_ATTEMPTS = 5;

/**
 * Aborts a rollout in progress. A running one gets the route's original weighted targets back;
 * a paused one (the route was changed by someone else) leaves the route as that change left it,
 * and its reason says so. ConflictError for a rollout that already ended.
 */
export async function abortRollout(deps: RolloutDeps, meshName: string, rolloutId: string): Promise<Rollout> {
  for (let attempt = 1; ; attempt++) {
    const rollout = await describeRollout(deps, meshName, rolloutId);
    if (!inProgress(rollout.state)) throw new ConflictError(`Rollout ${rolloutId} already ended (${rollout.state}).`);
    const now = nowOf(deps);
    const step = rollout.history[rollout.history.length - 1];
    let reason: string;
    if (rollout.state === 'PAUSED') {
      reason = `Aborted while paused: the route keeps the change made by someone else; the original weights were not restored. ${rollout.reason ?? ''}`.trim();
    } else {
      const restored = await writeTargets(deps, rollout, rollout.originalTargets, rollout.routeVersion);
      if (restored === undefined) {
        // The scheduler may have just written the next step and not yet saved it: read again.
        const again = await deps.rollouts.get(meshName, rolloutId);
        if (again && again.revision !== rollout.revision && attempt < 2 * ABORT_ATTEMPTS) continue;
        if (attempt < ABORT_ATTEMPTS) {
          await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
          continue;
        }
        reason = 'Aborted: the route had been changed by someone else, so its original weights were not restored; it keeps that change.';
      } else {
        reason = `Aborted: the route's original weights are restored (route version ${restored}).`;
        rollout.routeVersion = restored;
      }
    }
    // The current step ends here, unless it was already judged (a paused one keeps PAUSED).
    const open = step && (step.decision === undefined || step.decision === 'WAITING');
    const history = open ? [...rollout.history.slice(0, -1), { ...step, decision: 'ABORTED' as const }] : rollout.history;
    try {
      return await deps.rollouts.save({ ...rollout, history, state: 'ABORTED', reason, updatedAt: iso(now), endedAt: iso(now) });
    } catch (error) {
      if (error instanceof ConflictError && attempt < ABORT_ATTEMPTS) continue;
      throw error;
    }
  }
}

// ---------------------------------------------------------------- advancing

/** The canary's figures over a span of windows. */
interface StepFigures {
  window: NonNullable<RolloutStep['window']>;
  requests: number;
  errors: number;
  errorRate: number;
  p99Ms?: number | undefined;
}

/** The canary's traffic in windows [from, to): every edge whose target is the canary, added up, latency merged. */
async function canaryFigures(deps: RolloutDeps, rollout: Rollout, from: number, to: number): Promise<StepFigures> {
  const target = `virtualNode/${rollout.to}`;
  const windows = (await deps.traffic.windows(rollout.meshName, from, to)).filter((w) => w.target === target);
  // One source for all: edgeTotals then adds every edge into the canary and merges their histograms.
  const [total] = edgeTotals(windows.map((w) => ({ ...w, source: '*' })));
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return {
    window: { from, to, windowSeconds: deps.windowSeconds },
    requests: total?.requests ?? 0,
    errors: total?.errors ?? 0,
    errorRate: round(total?.errorRate ?? 0),
    ...(total?.latencyMs ? { p99Ms: round(total.latencyMs.p99) } : {}),
  };
}

/** NACKs recorded by the mesh's relays since `since` (ISO 8601), one line each. */
async function nacksSince(deps: RolloutDeps, meshName: string, since: string): Promise<string[]> {
  if (!deps.syncStatus) return [];
  const statuses = await listSyncStatus(deps.syncStatus.client, deps.syncStatus.tableName, meshName, nowOf(deps));
  const lines: string[] = [];
  for (const status of statuses) {
    for (const [type, s] of Object.entries(status.types)) {
      if (s?.nack && s.nack.at >= since) lines.push(`${status.proxy} NACKed ${type} version ${s.nack.version}: ${s.nack.message}`);
    }
  }
  return lines;
}

/** What happened to one rollout in one tick. */
export interface AdvanceOutcome {
  meshName: string;
  rolloutId: string;
  /** The state after the tick, or `unchanged` when it was not yet time to judge. */
  result: RolloutState | 'WAITING' | 'ADVANCED' | 'unchanged' | 'conflict';
}

/**
 * Moves every running rollout on by what its current step's traffic says (see
 * {@link advanceRollout}). One failing rollout does not stop the others; their errors are
 * collected and thrown together at the end, after every rollout had its turn.
 */
export async function advanceRollouts(deps: RolloutDeps): Promise<AdvanceOutcome[]> {
  const rollouts = (await deps.rollouts.listInProgress()).filter((r) => r.state === 'RUNNING');
  const outcomes: AdvanceOutcome[] = [];
  const failures: unknown[] = [];
  for (const rollout of rollouts) {
    try {
      outcomes.push({ meshName: rollout.meshName, rolloutId: rollout.rolloutId, result: await advanceRollout(deps, rollout) });
    } catch (error) {
      if (error instanceof ConflictError) {
        // An abort or another tick wrote it first: it is judged again next tick.
        outcomes.push({ meshName: rollout.meshName, rolloutId: rollout.rolloutId, result: 'conflict' });
      } else {
        failures.push(error);
      }
    }
  }
  if (failures.length) throw new AggregateError(failures, `${failures.length} rollout(s) failed to advance`);
  return outcomes;
}

/**
 * One tick of one running rollout. If the route is not at the version the rollout last wrote,
 * someone else changed it: the rollout pauses. Otherwise, once the step's interval has passed
 * and the telemetry windows of the step have settled, the step is judged on the canary's
 * traffic since the step began (whole windows only): at least minRequests requests (else it
 * waits, up to maxWaitSeconds once it could first be judged, then rolls back: too little traffic never
 * passes), error rate at most maxErrorRate, p99 at most maxP99Ms where latency was reported,
 * and no NACK since the step began. Healthy: the next step, or success after 100 %. Not: the
 * route's original weighted targets are restored and the reason names the figure. Before the
 * interval has passed a step can only fail (see judgeEarly).
 */
export async function advanceRollout(deps: RolloutDeps, rollout: Rollout): Promise<AdvanceOutcome['result']> {
  const now = nowOf(deps);
  const step = rollout.history[rollout.history.length - 1];
  if (!step) return 'unchanged';
  const route = await deps.repository.get(routeKey(rollout));
  if (!route || route.version !== rollout.routeVersion) return pause(deps, rollout, route, now);

  const W = deps.windowSeconds;
  const startedAt = Date.parse(step.startedAt);
  const dueAt = startedAt + rollout.intervalSeconds * 1000;
  // Whole windows inside the step: the first that starts at or after the step began...
  const from = Math.ceil(startedAt / 1000 / W) * W;
  if (now < dueAt) return judgeEarly(deps, rollout, step, from, now);
  // ...to the last that ended by the interval's end (at least one), or later ones while it waits.
  const intervalEnd = Math.max(from + W, Math.floor(dueAt / 1000 / W) * W);
  let to = intervalEnd;
  while (windowSettledAt(to, W) <= now) to += W;
  if (windowSettledAt(to - W, W) > now) return 'unchanged';

  const figures = await canaryFigures(deps, rollout, from, to);
  const judged: RolloutStep = { ...step, ...figures, evaluatedAt: iso(now) };
  const nacks = await nacksSince(deps, rollout.meshName, step.startedAt);
  if (nacks.length) return rollBack(deps, rollout, { ...judged, nacks }, `proxies NACKed the configuration of step ${step.percent}%: ${nacks.join('; ')}`, now);
  if (figures.requests < rollout.minRequests) {
    // The wait runs from when the step could first be judged: its interval passed and the
    // interval's windows settled (so a step always gets the whole wait, whatever the settle lag).
    const waitUntil = Math.max(dueAt, windowSettledAt(intervalEnd - W, W)) + rollout.maxWaitSeconds * 1000;
    if (now < waitUntil) {
      const reason = `too little traffic so far: ${figures.requests} requests to ${rollout.to}, fewer than minRequests ${rollout.minRequests}; waiting until ${iso(waitUntil)}`;
      // Written only when the figures moved, not every tick.
      if (step.decision === 'WAITING' && step.requests === figures.requests && step.window?.to === to) return 'unchanged';
      await saveStep(deps, rollout, { ...judged, decision: 'WAITING', reason }, {}, now);
      return 'WAITING';
    }
    return rollBack(
      deps,
      rollout,
      judged,
      `too little traffic: ${figures.requests} requests to ${rollout.to} in step ${step.percent}%, fewer than minRequests ${rollout.minRequests}, after waiting ${rollout.maxWaitSeconds} s for more`,
      now,
    );
  }
  const failed = unhealthy(rollout, step, figures);
  if (failed) return rollBack(deps, rollout, judged, failed, now);
  const healthy = `${figures.requests} requests, error rate ${figures.errorRate}%${figures.p99Ms !== undefined ? `, p99 ${figures.p99Ms} ms` : ''}`;
  const index = rollout.steps.indexOf(step.percent);
  const next = rollout.steps[index + 1];
  if (next === undefined) {
    await saveStep(deps, rollout, { ...judged, decision: 'SUCCEEDED', reason: healthy }, { state: 'SUCCEEDED', reason: `${rollout.to} takes 100% of the route.`, endedAt: iso(now) }, now);
    return 'SUCCEEDED';
  }
  const targets = stepTargets(rollout, next);
  const version = await writeTargets(deps, rollout, targets, rollout.routeVersion);
  if (version === undefined) return pause(deps, rollout, await deps.repository.get(routeKey(rollout)), now);
  const nextStep: RolloutStep = { percent: next, weights: weightsOf(targets), routeVersion: version, startedAt: iso(nowOf(deps)) };
  try {
    await saveStep(deps, rollout, { ...judged, decision: 'ADVANCED', reason: healthy }, { routeVersion: version, nextStep }, now);
  } catch (error) {
    await undoLostWrite(deps, rollout, version);
    throw error;
  }
  return 'ADVANCED';
}

/** The figure that fails a step with enough requests, in words; undefined when it is healthy. */
function unhealthy(rollout: Rollout, step: RolloutStep, figures: StepFigures): string | undefined {
  if (figures.errorRate > rollout.maxErrorRate) {
    return `error rate ${figures.errorRate}% (${figures.errors} of ${figures.requests} requests to ${rollout.to}) in step ${step.percent}% is above maxErrorRate ${rollout.maxErrorRate}%`;
  }
  if (rollout.maxP99Ms !== undefined && figures.p99Ms !== undefined && figures.p99Ms > rollout.maxP99Ms) {
    return `p99 latency ${figures.p99Ms} ms of ${rollout.to} in step ${step.percent}% is above maxP99Ms ${rollout.maxP99Ms} ms`;
  }
  return undefined;
}

/**
 * Before a step's interval has passed, it can only fail: a NACK, or, once the settled windows of
 * the step already hold minRequests requests, an error rate or p99 out of bounds roll it back
 * then, rather than leaving a failing canary in place for the rest of its interval. A healthy
 * step still waits for its interval.
 */
async function judgeEarly(deps: RolloutDeps, rollout: Rollout, step: RolloutStep, from: number, now: number): Promise<AdvanceOutcome['result']> {
  const nacks = await nacksSince(deps, rollout.meshName, step.startedAt);
  if (nacks.length) return rollBack(deps, rollout, { ...step, nacks, evaluatedAt: iso(now) }, `proxies NACKed the configuration of step ${step.percent}%: ${nacks.join('; ')}`, now);
  const W = deps.windowSeconds;
  let to = from;
  while (windowSettledAt(to, W) <= now) to += W;
  if (to === from) return 'unchanged';
  const figures = await canaryFigures(deps, rollout, from, to);
  if (figures.requests < rollout.minRequests || figures.requests === 0) return 'unchanged';
  const failed = unhealthy(rollout, step, figures);
  if (!failed) return 'unchanged';
  return rollBack(deps, rollout, { ...step, ...figures, evaluatedAt: iso(now) }, `${failed}, before the end of its interval`, now);
}

/** Saves the rollout with its current step replaced by `step` (and a next step appended). */
async function saveStep(
  deps: RolloutDeps,
  rollout: Rollout,
  step: RolloutStep,
  changes: Partial<Pick<Rollout, 'state' | 'reason' | 'endedAt' | 'routeVersion'>> & { nextStep?: RolloutStep },
  now: number,
): Promise<Rollout> {
  const { nextStep, ...rest } = changes;
  const history = [...rollout.history.slice(0, -1), step, ...(nextStep ? [nextStep] : [])];
  return deps.rollouts.save({ ...rollout, ...rest, history, updatedAt: iso(now) });
}

/** Restores the original weights and ends the rollout, saying why; pauses instead if the route was changed meanwhile. */
async function rollBack(deps: RolloutDeps, rollout: Rollout, step: RolloutStep, reason: string, now: number): Promise<RolloutState> {
  const restored = await writeTargets(deps, rollout, rollout.originalTargets, rollout.routeVersion);
  if (restored === undefined) return pause(deps, rollout, await deps.repository.get(routeKey(rollout)), now);
  await saveStep(
    deps,
    rollout,
    { ...step, decision: 'ROLLED_BACK', reason },
    { state: 'ROLLED_BACK', reason: `Rolled back: ${reason}. The route's original weights are restored (route version ${restored}).`, endedAt: iso(now), routeVersion: restored },
    now,
  );
  return 'ROLLED_BACK';
}

/** The route is not as the rollout left it: pause, say why, and touch nothing. */
async function pause(deps: RolloutDeps, rollout: Rollout, route: StoredResource | undefined, now: number): Promise<RolloutState> {
  const reason = route
    ? `Paused: route ${rollout.routeName} is at version ${route.version}, but the rollout last wrote version ${rollout.routeVersion}: someone else changed it. Abort the rollout (the route then keeps that change) and start a new one.`
    : `Paused: route ${rollout.routeName} no longer exists. Abort the rollout.`;
  const step = rollout.history[rollout.history.length - 1];
  const history = step ? [...rollout.history.slice(0, -1), { ...step, decision: 'PAUSED' as const, reason, evaluatedAt: iso(now) }] : rollout.history;
  await deps.rollouts.save({ ...rollout, history, state: 'PAUSED', reason, updatedAt: iso(now) });
  return 'PAUSED';
}

/**
 * The next step's weights were written but the rollout could not be saved (an abort ended it in
 * between): if it ended and the route still holds that write, put the original weights back,
 * which is what the abort meant.
 */
async function undoLostWrite(deps: RolloutDeps, rollout: Rollout, version: number): Promise<void> {
  const now = await deps.rollouts.get(rollout.meshName, rollout.rolloutId);
  if (now && !inProgress(now.state) && now.state !== 'SUCCEEDED') await writeTargets(deps, rollout, rollout.originalTargets, version);
}
