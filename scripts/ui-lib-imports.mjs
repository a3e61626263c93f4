/**
 * The modules of src/lib that src/ui may import values from: the areas' spec modules and
 * pure modules that import no tfjs, directly or through anything they import. Anything
 * else of src/lib the UI reaches through a worker, or imports as a type only.
 * eslint.config.js enforces the list; tests/unit/ui-lib-imports.test.ts walks each
 * module's imports and fails if one reaches `@tensorflow/`.
 */
export const UI_LIB_VALUE_IMPORTS = [
  'analysis/data-bias',
  'analysis/group-gaps',
  'analysis/model-bias',
  'analysis/rebalance',
  'augment/pipeline-name',
  'augment/report',
  'augment/spec',
  'compute/choose',
  'data/rng',
  'evaluate/slices',
  'export/boards',
  'export/spec',
  'jobs/errors',
  'jobs/progress',
  'select/types',
  'storage/records',
  'storage/remove',
  'train/spec',
];
