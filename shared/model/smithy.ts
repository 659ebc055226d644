/**
 * Smithy semantics in zod: the few building blocks `shapes.ts` is written with. Every schema is
 * registered in `modelShapes` under its Smithy shape name, with the member rules of its
 * structure, so that validation messages (`validate.ts`) and tests can read them back.
 */
import { z } from 'zod';

/** Member rules of a structure beyond required/optional. */
export interface StructureRules {
  /** Exactly one of these members must be set: a Smithy union, or a structure App Mesh treats as one. */
  readonly oneOf?: readonly string[];
  /** At least one of these members must be set. */
  readonly anyOf?: readonly string[];
  /** When the key member is set (a list: not empty), each listed member must be set too. */
  readonly dependentRequired?: Readonly<Record<string, readonly string[]>>;
}

/** What the model says about one schema. */
export interface ShapeInfo extends StructureRules {
  /** The Smithy shape name, e.g. `VirtualNodeSpec`. */
  readonly shape: string;
}

/** Schema -> its Smithy shape name and structure rules. */
export const modelShapes = z.registry<ShapeInfo>();

/** The shape name and rules of a schema, if it is one of the model's. */
export function shapeInfo(schema: z.ZodType): ShapeInfo | undefined {
  return modelShapes.get(schema);
}

/** Registers `schema` as the Smithy shape `shape` and returns it. */
export function named<T extends z.ZodType>(shape: string, schema: T): T {
  modelShapes.add(schema, { shape });
  return schema;
}

/**
 * A Smithy structure: a strict object (an unknown member is an error, not dropped) whose
 * optional members carry `.optional()`, plus any member rules.
 */
export function structure<const M extends z.ZodRawShape>(
  shape: string,
  members: M,
  rules: StructureRules = {},
): z.ZodObject<M, z.core.$strict> {
  let schema = z.strictObject(members) as unknown as z.ZodObject<M, z.core.$strict>;
  if (rules.oneOf || rules.anyOf || rules.dependentRequired) {
    schema = schema.superRefine(function checkStructureRules(value, ctx) {
      checkRules(value as Record<string, unknown>, rules, ctx);
    });
  }
  modelShapes.add(schema, { shape, ...rules });
  return schema;
}

/** A Smithy union: a structure of which exactly one member is set. */
export function union<const M extends Record<string, z.ZodType>>(
  shape: string,
  members: M,
): z.ZodObject<{ [K in keyof M]: z.ZodOptional<M[K]> }, z.core.$strict> {
  const optional: Record<string, z.ZodType> = {};
  for (const [name, member] of Object.entries(members)) optional[name] = member.optional();
  return structure(shape, optional as { [K in keyof M]: z.ZodOptional<M[K]> }, { oneOf: Object.keys(members) });
}

/**
 * Smithy `uniqueItems` for a list; with `key`, the items must differ in the member at that
 * path (e.g. `['portMapping', 'port']`). The issue points at the later duplicate and carries
 * the path of the earlier one (relative to the list) in `params.sameAs`.
 */
export function uniqueItems<T>(key: readonly string[] = []): z.core.$ZodCheck<T[]> {
  return z.superRefine<T[]>(function checkUniqueItems(items, ctx) {
    const seen = new Map<string, number>();
    items.forEach((item, index) => {
      let value: unknown = item;
      for (const member of key) value = isObject(value) ? value[member] : undefined;
      if (value === undefined) return;
      const id = JSON.stringify(value);
      const first = seen.get(id);
      if (first === undefined) {
        seen.set(id, index);
        return;
      }
      ctx.addIssue({
        code: 'custom',
        path: [index, ...key],
        input: value,
        message: `must be unique, got: ${id} (same as item ${first})`,
        params: { rule: 'uniqueItems', sameAs: [first, ...key] },
      });
    });
  });
}

function checkRules(value: Record<string, unknown>, rules: StructureRules, ctx: z.RefinementCtx): void {
  const isSet = (member: string): boolean => value[member] !== undefined;
  if (rules.oneOf) {
    const set = rules.oneOf.filter(isSet);
    if (set.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        input: value,
        message: `must set exactly one of ${rules.oneOf.join(', ')}, got: ${set.length ? set.join(', ') : 'none'}`,
        params: { rule: 'oneOf', members: rules.oneOf, set },
      });
    }
  }
  if (rules.anyOf && !rules.anyOf.some(isSet)) {
    ctx.addIssue({
      code: 'custom',
      input: value,
      message: `must set at least one of ${rules.anyOf.join(', ')}, got: none`,
      params: { rule: 'anyOf', members: rules.anyOf },
    });
  }
  for (const [member, needs] of Object.entries(rules.dependentRequired ?? {})) {
    const memberValue = value[member];
    if (memberValue === undefined || (Array.isArray(memberValue) && memberValue.length === 0)) continue;
    for (const needed of needs) {
      if (isSet(needed)) continue;
      ctx.addIssue({
        code: 'custom',
        path: [needed],
        message: `is required when ${member} is set`,
        params: { rule: 'dependentRequired', when: member },
      });
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
