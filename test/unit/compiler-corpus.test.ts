/**
 * The App Mesh example corpus replayed in memory (create, update and delete applied to a list
 * of stored resources, as the API stores them): every virtual node and virtual gateway of
 * every scenario compiles into resources that Envoy's protos accept. The integration test
 * test/integration/corpus-replay.test.ts replays the same scenarios through the API.
 */
import { describe, expect, it } from 'vitest';
import { compileMesh, indexMesh } from '../../shared/compiler/index.js';
import type { Kind } from '../../shared/mesh/kinds.js';
import type { StoredResource } from '../../shared/store/repository.js';
import { corpusRequest, corpusScenarios } from '../support/corpus.js';

const KIND_OF: Record<string, { kind: Kind; nameMember: string; parentMember?: string }> = {
  mesh: { kind: 'mesh', nameMember: 'meshName' },
  'virtual-node': { kind: 'virtualNode', nameMember: 'virtualNodeName' },
  'virtual-service': { kind: 'virtualService', nameMember: 'virtualServiceName' },
  'virtual-router': { kind: 'virtualRouter', nameMember: 'virtualRouterName' },
  route: { kind: 'route', nameMember: 'routeName', parentMember: 'virtualRouterName' },
  'virtual-gateway': { kind: 'virtualGateway', nameMember: 'virtualGatewayName' },
  'gateway-route': { kind: 'gatewayRoute', nameMember: 'gatewayRouteName', parentMember: 'virtualGatewayName' },
};

/** The stored resources of every mesh of a scenario once all its steps are applied. */
export function replayScenario(name: string): Map<string, StoredResource[]> {
  const scenario = corpusScenarios().find((s) => s.name === name);
  if (!scenario) throw new Error(`no scenario ${name}`);
  const meshes = new Map<string, Map<string, StoredResource>>();
  for (const step of scenario.steps) {
    const [verb, ...rest] = step.operation.split('-');
    const info = KIND_OF[rest.join('-')];
    if (!info) throw new Error(`unknown operation ${step.operation}`);
    const request = corpusRequest(scenario.name, step);
    const meshName = String(request.meshName);
    const resourceName = String(request[info.nameMember]);
    const parentName = info.parentMember ? String(request[info.parentMember]) : undefined;
    const resources = meshes.get(meshName) ?? new Map<string, StoredResource>();
    meshes.set(meshName, resources);
    const key = `${info.kind}/${parentName ?? ''}/${resourceName}`;
    if (verb === 'delete') {
      resources.delete(key);
      continue;
    }
    resources.set(key, {
      kind: info.kind,
      meshName,
      name: resourceName,
      parentName,
      spec: request.spec ?? {},
      tags: [],
      arn: '',
      uid: '',
      version: 1,
      createdAt: 0,
      lastUpdatedAt: 0,
      meshOwner: '111122223333',
      resourceOwner: '111122223333',
    });
  }
  return new Map([...meshes].map(([mesh, resources]) => [mesh, [...resources.values()]]));
}

describe('the App Mesh example corpus, compiled', () => {
  for (const scenario of corpusScenarios()) {
    it(`compiles every virtual node and virtual gateway of ${scenario.name}`, () => {
      for (const [mesh, resources] of replayScenario(scenario.name)) {
        const state = indexMesh(resources);
        if (!state) throw new Error(`mesh ${mesh} has no mesh resource`);
        const output = compileMesh(state);
        expect(output.size).toBe(state.virtualNodes.size + state.virtualGateways.size);
        const errors = Object.fromEntries([...output].filter(([, o]) => 'error' in o));
        expect(errors).toEqual({});
      }
    });
  }
});
