/**
 * Property: any valid mesh (every spec accepted by the App Mesh model, and the references the
 * API enforces in place) compiles every proxy, each resource encodes with Envoy's protos, every
 * snapshot passes the consistency check, and compiling again gives identical bytes. Valid here
 * also means free of the few contradictions the compiler reports instead of guessing (a route
 * with no live target, a target without a listener on the port, two tcp backends on one port):
 * the generator avoids them by construction, and the negative golden cases cover them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkConsistent, compileMesh, indexMesh } from '../../shared/compiler/index.js';
import { compileVirtualGateway } from '../../shared/compiler/virtual-gateway.js';
import { compileVirtualNode } from '../../shared/compiler/virtual-node.js';
import { GatewayRouteSpec, MeshSpec, RouteSpec, VirtualGatewaySpec, VirtualNodeSpec, VirtualRouterSpec, VirtualServiceSpec } from '../../shared/model/shapes.js';
import { meshArbitrary } from '../fixtures/compiler/arbitrary.js';
import { storedResource, type CaseResource } from '../fixtures/compiler/cases.js';

const SPEC_SCHEMAS = {
  mesh: MeshSpec,
  virtualNode: VirtualNodeSpec,
  virtualService: VirtualServiceSpec,
  virtualRouter: VirtualRouterSpec,
  route: RouteSpec,
  virtualGateway: VirtualGatewaySpec,
  gatewayRoute: GatewayRouteSpec,
} as const;

/** Drops members set to undefined, as JSON (and so the API) would. */
function asStored(resources: CaseResource[]): CaseResource[] {
  return JSON.parse(JSON.stringify(resources)) as CaseResource[];
}

describe('compiling random valid meshes', () => {
  it('always compiles every proxy, encodes, passes the consistency check, and gives identical bytes twice', () => {
    fc.assert(
      fc.property(meshArbitrary, (generated) => {
        const resources = asStored(generated);
        for (const r of resources) {
          const parsed = SPEC_SCHEMAS[r.kind].safeParse(r.spec);
          if (!parsed.success) throw new Error(`generated ${r.kind} ${r.name} is not a valid spec: ${parsed.error.message}`);
        }
        const stored = resources.map((r) => storedResource('prop', r));
        const state = indexMesh(stored);
        if (!state) throw new Error('no mesh');
        const first = compileMesh(state);
        expect(first.size).toBe(state.virtualNodes.size + state.virtualGateways.size);
        for (const [key, outcome] of first) {
          if ('error' in outcome) throw new Error(`${key}: ${outcome.error}`);
        }
        for (const node of state.virtualNodes.values()) checkConsistent(compileVirtualNode(state, node));
        for (const gateway of state.virtualGateways.values()) checkConsistent(compileVirtualGateway(state, gateway));
        const second = compileMesh(indexMesh([...stored].reverse())!);
        for (const [key, outcome] of first) {
          const again = second.get(key);
          if (!again || 'error' in again || 'error' in outcome) throw new Error(`${key} differs`);
          expect(again.snapshot).toEqual(outcome.snapshot);
        }
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 100) },
    );
  }, 120_000);
});
