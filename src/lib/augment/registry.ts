/**
 * Every CPU transform under its registry name: what a pipeline spec's `transform` names,
 * what the UI lists, and what the GPU registry (gpu/registry.ts) keys its kernels by.
 * Adding a transform means adding its module's array here; the registry-completeness test
 * then asks for its golden and its GPU kernel.
 */
import { HearthError } from '../jobs/errors';
import { COLOUR_TRANSFORMS } from './colour';
import { FILTER_TRANSFORMS } from './filter';
import { GEOMETRY_TRANSFORMS } from './geometry';
import { MIXING_TRANSFORMS } from './mixing';
import { PHOTOMETRIC_TRANSFORMS } from './photometric';
import { THRESHOLD_TRANSFORMS } from './threshold';
import type { TransformDef, TransformKind } from './types';

/** Two transforms share a name: a wiring bug caught when the module loads. */
export class TransformRegistryError extends HearthError {
  constructor(message: string) {
    super(message, 'TransformRegistryError');
  }
}

/** What the UI shows for a transform. */
export interface TransformInfo {
  name: string;
  kind: TransformKind;
  description: string;
}

/**
 * Each module's array keeps its own parameter types; the registry sees them through the
 * common contract, where a pipeline step's params are whatever that step's `sample` drew.
 */
const ALL: readonly TransformDef<unknown>[] = [
  ...COLOUR_TRANSFORMS,
  ...THRESHOLD_TRANSFORMS,
  ...PHOTOMETRIC_TRANSFORMS,
  ...MIXING_TRANSFORMS,
  ...GEOMETRY_TRANSFORMS,
  ...FILTER_TRANSFORMS,
] as readonly TransformDef<unknown>[];

/** Keys `defs` by name, refusing a name given twice (the second would silently shadow the first). */
export function buildTransformRegistry(defs: readonly TransformDef<unknown>[]): ReadonlyMap<string, TransformDef<unknown>> {
  const map = new Map<string, TransformDef<unknown>>();
  for (const def of defs) {
    if (map.has(def.name)) throw new TransformRegistryError(`Two transforms are named "${def.name}"; registry names must be unique.`);
    map.set(def.name, def);
  }
  return map;
}

/** Every CPU transform, keyed by its registry name, in a stable order (module by module). */
export const TRANSFORMS: ReadonlyMap<string, TransformDef<unknown>> = buildTransformRegistry(ALL);

/** Name, kind and one-line description of every transform, in registry order, for the UI. */
export function listTransforms(): TransformInfo[] {
  return [...TRANSFORMS.values()].map(({ name, kind, description }) => ({ name, kind, description }));
}
