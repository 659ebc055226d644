import type { Rollout, RolloutSettings, RolloutStep } from '../shared/store/rollouts.js';
import { callExtension, type Signer } from './signed-fetch.js';

/** What `POST /meshline/v1/meshes/{mesh}/rollouts` takes: a rollout's settings, its mesh in the path, the wait optional. */
export type StartRolloutBody = Omit<RolloutSettings, 'meshName' | 'maxWaitSeconds'> & { maxWaitSeconds?: number | undefined };

const path = (meshName: string, rest = '') => `/meshline/v1/meshes/${encodeURIComponent(meshName)}/rollouts${rest}`;

/** Starts a server-side rollout; answers the rollout with its first step in place. */
export function startRollout(endpoint: string, meshName: string, body: StartRolloutBody, signer?: Signer): Promise<Rollout> {
  return callExtension(endpoint, path(meshName), { method: 'POST', body: JSON.stringify(body) }, signer);
}

export function fetchRollout(endpoint: string, meshName: string, rolloutId: string, signer?: Signer): Promise<Rollout> {
  return callExtension(endpoint, path(meshName, `/${encodeURIComponent(rolloutId)}`), {}, signer);
}

/** A mesh's rollouts, newest first; `state` one of RUNNING, PAUSED, SUCCEEDED, ROLLED_BACK, ABORTED, or all. */
export function listRollouts(endpoint: string, meshName: string, state: string | undefined, signer?: Signer): Promise<{ rollouts: Rollout[] }> {
  return callExtension(endpoint, path(meshName, state ? `?state=${encodeURIComponent(state)}` : ''), {}, signer);
}

export function abortRollout(endpoint: string, meshName: string, rolloutId: string, signer?: Signer): Promise<Rollout> {
  return callExtension(endpoint, path(meshName, `/${encodeURIComponent(rolloutId)}/abort`), { method: 'POST' }, signer);
}

/** Whether a rollout has ended. */
export function ended(rollout: Rollout): boolean {
  return rollout.state !== 'RUNNING' && rollout.state !== 'PAUSED';
}

/** One step's figures in words: `200 requests, 1 errors (0.5%), p99 12 ms`. */
function figures(step: RolloutStep): string {
  if (step.requests === undefined) return 'not judged yet';
  const p99 = step.p99Ms !== undefined ? `, p99 ${step.p99Ms} ms` : '';
  return `${step.requests} requests, ${step.errors ?? 0} errors (${step.errorRate ?? 0}%)${p99}`;
}

/** One line per step, for following a rollout. */
export function stepLine(rollout: Rollout, step: RolloutStep): string {
  const weights = Object.entries(step.weights)
    .map(([node, weight]) => `${node}=${weight}`)
    .join(',');
  return `step ${step.percent}% (${weights}, route version ${step.routeVersion}): ${step.decision ?? 'RUNNING'}, ${figures(step)}${step.reason && step.decision !== 'ADVANCED' && step.decision !== 'SUCCEEDED' ? ` - ${step.reason}` : ''}`;
}

/** The human form of one rollout: what it does, its state and why, every step with its figures. */
export function formatRollout(rollout: Rollout): string {
  const gate = [
    `interval ${rollout.intervalSeconds} s`,
    `max error rate ${rollout.maxErrorRate}%`,
    `min requests ${rollout.minRequests}`,
    ...(rollout.maxP99Ms !== undefined ? [`max p99 ${rollout.maxP99Ms} ms`] : []),
    `max wait ${rollout.maxWaitSeconds} s`,
  ].join(', ');
  const original = rollout.originalTargets.map((t) => `${t.virtualNode}=${t.weight}`).join(',');
  return [
    `rollout ${rollout.rolloutId}: ${rollout.state}`,
    `  route ${rollout.virtualRouterName}/${rollout.routeName} in mesh ${rollout.meshName}: ${rollout.to} through ${rollout.steps.join(', ')}%`,
    `  gate: ${gate}`,
    `  original weights: ${original} (route version ${rollout.originalVersion})`,
    ...(rollout.reason ? [`  ${rollout.reason}`] : []),
    ...rollout.history.map((step) => `  ${stepLine(rollout, step)}`),
  ].join('\n');
}

/** The human form of a list: one line per rollout. */
export function formatRollouts(list: { rollouts: Rollout[] }): string {
  if (list.rollouts.length === 0) return 'no rollouts';
  return list.rollouts
    .map((r) => {
      const step = r.history[r.history.length - 1];
      return `${r.rolloutId}  ${r.state.padEnd(11)}  ${r.virtualRouterName}/${r.routeName} -> ${r.to}  step ${step?.percent ?? '-'}% of ${r.steps.join(',')}  ${r.createdAt}`;
    })
    .join('\n');
}

/**
 * Polls a rollout until it ends, telling `progress` of every step judged and every change of
 * state; resolves with the ended rollout. The rollout runs on the server: stopping this stops
 * only the watching.
 */
export async function followRollout(
  endpoint: string,
  rollout: Rollout,
  progress: (line: string) => void,
  options: { signer?: Signer | undefined; pollMs?: number | undefined } = {},
): Promise<Rollout> {
  const pollMs = options.pollMs ?? Math.min(5_000, Math.max(500, (rollout.intervalSeconds * 1000) / 4));
  const seen = new Map<number, string | undefined>();
  let state = rollout.state;
  let current = rollout;
  progress(`rollout ${rollout.rolloutId} started: ${rollout.to} through ${rollout.steps.join(', ')}%`);
  for (;;) {
    for (const step of current.history) {
      const key = `${step.decision ?? ''} ${step.requests ?? ''}`;
      if (seen.get(step.percent) !== key) {
        seen.set(step.percent, key);
        progress(stepLine(current, step));
      }
    }
    if (current.state !== state) {
      state = current.state;
      progress(`rollout ${current.rolloutId}: ${current.state}${current.reason ? ` - ${current.reason}` : ''}`);
    }
    // A paused rollout waits for a person (abort): watching it longer tells nothing new.
    if (ended(current) || current.state === 'PAUSED') return current;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    current = await fetchRollout(endpoint, current.meshName, current.rolloutId, options.signer);
  }
}
