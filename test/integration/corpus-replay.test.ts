import * as AppMesh from '@aws-sdk/client-app-mesh';
import { describe, expect, inject, it } from 'vitest';
import { compileMesh, indexMesh } from '../../shared/compiler/index.js';
import { awsSettingsFromEnv, createDocumentClient, createS3Client } from '../../shared/store/clients.js';
import { MeshRepository } from '../../shared/store/repository.js';
import { SnapshotStore } from '../../shared/store/snapshots.js';
import { resourceToJson } from '../../shared/xds/encode.js';
import { RESOURCE_TYPE_URLS } from '../../shared/xds/type-urls.js';
import { appMeshClient } from '../support/appmesh.js';
import { corpusRequest, corpusScenarios, operationName } from '../support/corpus.js';

const appmesh = appMeshClient();
const stack = inject('stack');
const settings = awsSettingsFromEnv(stack.env);
const repository = new MeshRepository(createDocumentClient(settings), stack.tableName);
const snapshots = new SnapshotStore(createS3Client(settings), stack.bucketName);

type Command = new (input: unknown) => Parameters<typeof appmesh.send>[0];

/** Polls until the compile trigger has published exactly the versions expected, or fails. */
async function untilPublished(mesh: string, expected: Map<string, string>, deadlineMs = 30_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let seen: Record<string, string> = {};
  while (Date.now() < deadline) {
    const manifest = await snapshots.getManifest(mesh);
    seen = Object.fromEntries(Object.entries(manifest?.proxies ?? {}).map(([k, v]) => [k, v.version]));
    if (JSON.stringify(seen) === JSON.stringify(Object.fromEntries(expected))) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  expect(seen, `manifest of ${mesh}`).toEqual(Object.fromEntries(expected));
}

describe('the App Mesh example corpus', () => {
  for (const scenario of corpusScenarios()) {
    it(`replays ${scenario.name} through the API, and every virtual node and virtual gateway compiles to configuration Envoy's protos accept`, async () => {
      for (const step of scenario.steps) {
        const name = operationName(step.operation);
        const command = (AppMesh as unknown as Record<string, Command>)[`${name}Command`];
        if (!command) throw new Error(`no SDK command for ${step.operation}`);
        await appmesh.send(new command(corpusRequest(scenario.name, step))).catch((error: Error) => {
          throw new Error(`${scenario.name}/${step.file}: ${error.name}: ${error.message}`);
        });
      }
      for (const mesh of scenario.meshes) {
        const state = indexMesh(await repository.loadMesh(mesh));
        if (!state) throw new Error(`mesh ${mesh} was not stored`);
        const expected = new Map<string, string>();
        for (const [proxy, outcome] of compileMesh(state)) {
          if ('error' in outcome) throw new Error(`${scenario.name}: ${proxy} does not compile: ${outcome.error}`);
          expected.set(proxy, outcome.snapshot.version);
          // Decode every resource again with Envoy's protos, as a proxy would.
          for (const typeUrl of RESOURCE_TYPE_URLS) {
            for (const resource of outcome.snapshot.resources[typeUrl]) expect(() => resourceToJson(typeUrl, resource.value)).not.toThrow();
          }
        }
        expect(expected.size).toBe(state.virtualNodes.size + state.virtualGateways.size);
        for (const name of state.virtualGateways.keys()) expect(expected.has(`virtualGateway/${name}`)).toBe(true);
        // The stream-triggered compile publishes the same bytes the pure compiler gives here.
        await untilPublished(mesh, new Map([...expected].sort(([a], [b]) => (a < b ? -1 : 1))));
      }
    });
  }
});
