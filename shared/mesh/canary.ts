import type { WeightedTarget } from '@aws-sdk/client-app-mesh';

/*
 * The weights of a canary, shared by `meshline shift` (client-side, one UpdateRoute) and the
 * server-side rollouts (shared/mesh/rollouts.ts), so both give a step the same weights.
 */

/**
 * The weighted targets after a shift: every node named gets its weight; a node the route
 * targets but the shift does not name keeps its target with weight 0 (so its port stays), and
 * a named node the route does not target yet is added.
 */
export function shiftedTargets(current: WeightedTarget[], weights: Map<string, number>): WeightedTarget[] {
  const next = current.map((t) => ({ ...t, weight: weights.get(t.virtualNode ?? '') ?? 0 }));
  for (const [node, weight] of weights) {
    if (!next.some((t) => t.virtualNode === node)) next.push({ virtualNode: node, weight });
  }
  return next;
}

/** The canary weights of one step: the canary gets `percent`, the others share the rest as they did. */
export function canaryWeights(current: WeightedTarget[], canary: string, percent: number): Map<string, number> {
  const others = current.filter((t) => t.virtualNode !== canary);
  const otherTotal = others.reduce((sum, t) => sum + (t.weight ?? 0), 0);
  const weights = new Map<string, number>([[canary, percent]]);
  let left = 100 - percent;
  others.forEach((t, index) => {
    const share = index === others.length - 1 ? left : Math.round(((otherTotal ? (t.weight ?? 0) / otherTotal : 1 / others.length) * (100 - percent)));
    weights.set(t.virtualNode ?? '', Math.max(0, share));
    left -= share;
  });
  return weights;
}
