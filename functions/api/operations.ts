import type { OperationName } from '../../shared/model/shapes.js';
import { KINDS, type Kind, type ResourceKey } from '../../shared/mesh/kinds.js';
import {
  createResource,
  deleteResource,
  describeResource,
  listResources,
  updateResource,
  type MeshDeps,
} from '../../shared/mesh/resources.js';
import { listTags, tagResource, untagResource } from '../../shared/mesh/tags.js';
import type { Tag } from '../../shared/store/repository.js';

type Input = Record<string, unknown>;
/** What the caller's access adds to an operation: for ListMeshes, the meshes a scoped key may see. */
export interface CallerScope {
  onlyMeshes?: readonly string[] | undefined;
}

type Invoke = (deps: MeshDeps, input: Input, scope: CallerScope) => Promise<unknown>;

const KIND_OF_NOUN: Record<string, Kind> = {
  Mesh: 'mesh',
  Meshes: 'mesh',
  VirtualNode: 'virtualNode',
  VirtualNodes: 'virtualNode',
  VirtualService: 'virtualService',
  VirtualServices: 'virtualService',
  VirtualRouter: 'virtualRouter',
  VirtualRouters: 'virtualRouter',
  Route: 'route',
  Routes: 'route',
  VirtualGateway: 'virtualGateway',
  VirtualGateways: 'virtualGateway',
  GatewayRoute: 'gatewayRoute',
  GatewayRoutes: 'gatewayRoute',
};

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The key of the resource an operation's input names (meshName, parent and name members). */
function keyOf(kind: Kind, input: Input): ResourceKey {
  const info = KINDS[kind];
  const meshName = text(input.meshName) ?? '';
  return {
    kind,
    meshName,
    parentName: info.parentMember ? text(input[info.parentMember]) : undefined,
    name: kind === 'mesh' ? meshName : (text(input[info.nameMember]) ?? ''),
  };
}

/** The use case behind a Create/Describe/Update/Delete/List operation of one kind. */
function resourceOperation(verb: string, kind: Kind): Invoke {
  switch (verb) {
    case 'Create':
      return (deps, input) =>
        createResource(deps, {
          ...keyOf(kind, input),
          // A mesh may be created without a spec; App Mesh stores and returns an empty one.
          spec: input.spec ?? {},
          tags: input.tags as Tag[] | undefined,
          clientToken: text(input.clientToken),
          meshOwner: text(input.meshOwner),
        });
    case 'Describe':
      return (deps, input) => describeResource(deps, keyOf(kind, input), text(input.meshOwner));
    case 'Update':
      return (deps, input) =>
        updateResource(deps, {
          ...keyOf(kind, input),
          spec: input.spec ?? {},
          clientToken: text(input.clientToken),
          meshOwner: text(input.meshOwner),
        });
    case 'Delete':
      return (deps, input) => deleteResource(deps, keyOf(kind, input), text(input.meshOwner));
    case 'List':
      return (deps, input, scope) => {
        const key = keyOf(kind, input);
        return listResources(deps, {
          kind,
          meshName: kind === 'mesh' ? undefined : key.meshName,
          parentName: key.parentName,
          limit: input.limit as number | undefined,
          nextToken: text(input.nextToken),
          meshOwner: text(input.meshOwner),
          ...(kind === 'mesh' ? { onlyMeshes: scope.onlyMeshes } : {}),
        });
      };
    default:
      throw new Error(`no use case for ${verb}${kind}`);
  }
}

const TAG_OPERATIONS: Partial<Record<OperationName, Invoke>> = {
  TagResource: (deps, input) => tagResource(deps, text(input.resourceArn) ?? '', (input.tags as Tag[] | undefined) ?? []),
  UntagResource: (deps, input) => untagResource(deps, text(input.resourceArn) ?? '', (input.tagKeys as string[] | undefined) ?? []),
  ListTagsForResource: (deps, input) =>
    listTags(deps, text(input.resourceArn) ?? '', input.limit as number | undefined, text(input.nextToken)),
};

/** Runs the use case of an App Mesh operation on its validated input. */
export function invokeOperation(deps: MeshDeps, operation: OperationName, input: Input, scope: CallerScope = {}): Promise<unknown> {
  const tagOperation = TAG_OPERATIONS[operation];
  if (tagOperation) return tagOperation(deps, input, scope);
  const match = /^(Create|Describe|Update|Delete|List)(\w+)$/.exec(operation);
  const kind = match ? KIND_OF_NOUN[match[2] ?? ''] : undefined;
  if (!match || !kind) throw new Error(`no use case for operation ${operation}`);
  return resourceOperation(match[1] ?? '', kind)(deps, input, scope);
}
