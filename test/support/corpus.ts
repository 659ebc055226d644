import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where CI lays shared/ (read-only) beside the clone, and where sessions find it too. */
export const CORPUS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'corpus', 'appmesh-examples');

export interface CorpusStep {
  file: string;
  /** The `aws appmesh` operation, e.g. `create-virtual-node`. */
  operation: string;
}

export interface CorpusScenario {
  name: string;
  meshes: string[];
  steps: CorpusStep[];
}

/** The API-form scenarios of the App Mesh example corpus, in its index order. */
export function corpusScenarios(): CorpusScenario[] {
  const index = JSON.parse(readFileSync(join(CORPUS_DIR, 'index.json'), 'utf8')) as { scenarios: CorpusScenario[] };
  return index.scenarios;
}

/** One request of a scenario, shaped like `aws appmesh <operation> --cli-input-json`. */
export function corpusRequest(scenario: string, step: CorpusStep): Record<string, unknown> {
  return JSON.parse(readFileSync(join(CORPUS_DIR, scenario, step.file), 'utf8')) as Record<string, unknown>;
}

/** `create-virtual-node` -> `CreateVirtualNode`. */
export function operationName(cliOperation: string): string {
  return cliOperation.replace(/(^|-)([a-z])/g, (_m, _dash: string, letter: string) => letter.toUpperCase());
}
