import middy from '@middy/core';
import { advanceRollouts, type AdvanceOutcome } from '../../shared/mesh/rollouts.js';
import { runtimeFromEnv } from '../runtime.js';

const runtime = runtimeFromEnv(process.env);

/**
 * Moves every running rollout on (shared/mesh/rollouts.ts), on a schedule: once a minute in AWS;
 * every MESHLINE_ROLLOUT_TICK_MS in the local stack, which invokes this same handler. Rollouts
 * are judged on the traffic the relays write, so nothing runs without a traffic table.
 */
async function advance(): Promise<{ outcomes: AdvanceOutcome[] }> {
  if (!runtime.rollouts || !runtime.traffic) throw new Error('MESHLINE_ROLLOUT_TABLE and MESHLINE_TRAFFIC_TABLE must be set');
  const outcomes = await advanceRollouts({
    ...runtime,
    rollouts: runtime.rollouts,
    traffic: runtime.traffic.store,
    windowSeconds: runtime.traffic.windowSeconds,
  });
  const moved = outcomes.filter((o) => o.result !== 'unchanged');
  if (moved.length) console.log(JSON.stringify({ level: 'info', msg: 'rollouts advanced', outcomes: moved }));
  return { outcomes };
}

export const handler = middy<unknown, { outcomes: AdvanceOutcome[] }>().handler(advance);
