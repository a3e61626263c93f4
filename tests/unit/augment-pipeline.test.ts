import { describe, expect, it } from 'vitest';
import { applyPlanCpu, planPipeline, validatePipeline, type PipelineSpec, type TransformRegistry } from '../../src/lib/augment/pipeline';
import type { ImageU8, TransformDef } from '../../src/lib/augment/types';

// Two tiny transforms defined here to exercise the pipeline machinery on its own; the real
// kernels have their own golden tests against OpenCV.
const invert: TransformDef<null> = {
  name: 'invert',
  kind: 'pointwise',
  description: '255 − x',
  sample: () => null,
  cpu: (img) => ({ ...img, data: img.data.map((v) => 255 - v) }),
  goldenTolerance: 0,
};
const add: TransformDef<{ beta: number }> = {
  name: 'add',
  kind: 'pointwise',
  description: 'x + beta, saturated',
  sample: (rng, spec) => {
    const range = spec.betaRange;
    if (!Array.isArray(range)) throw new Error('betaRange');
    const [lo, hi] = range as [number, number];
    return { beta: Math.round(lo + rng.next() * (hi - lo)) };
  },
  cpu: (img, { beta }) => ({ ...img, data: img.data.map((v) => Math.min(255, Math.max(0, v + beta))) }),
  goldenTolerance: 0,
};
const registry: TransformRegistry = new Map<string, TransformDef<unknown>>([
  ['invert', invert as TransformDef<unknown>],
  ['add', add as TransformDef<unknown>],
]);
const image: ImageU8 = { width: 2, height: 1, channels: 1, data: new Uint8Array([10, 200]) };

describe('pipelines', () => {
  const spec: PipelineSpec = {
    version: 1,
    steps: [
      { transform: 'add', p: 1, params: { betaRange: [-20, 20] } },
      { transform: 'invert', p: 0.5 },
    ],
  };

  it('draws the same plan for the same seed, and a different one for another seed', () => {
    const a = planPipeline(spec, registry, 7, image);
    expect(planPipeline(spec, registry, 7, image)).toEqual(a);
    const plans = new Set(Array.from({ length: 20 }, (_, s) => JSON.stringify(planPipeline(spec, registry, s, image))));
    expect(plans.size).toBeGreaterThan(5);
  });

  it('fires a step with its probability', () => {
    let fired = 0;
    for (let s = 0; s < 2000; s++) if (planPipeline(spec, registry, s, image).some((p) => p.transform === 'invert')) fired++;
    // Binomial(2000, 0.5): ±4 standard deviations is ±89.
    expect(Math.abs(fired - 1000)).toBeLessThan(90);
  });

  it('adding a later step leaves what earlier steps drew unchanged', () => {
    const longer: PipelineSpec = { ...spec, steps: [...spec.steps, { transform: 'add', params: { betaRange: [0, 5] } }] };
    for (let s = 0; s < 20; s++) {
      const short = planPipeline(spec, registry, s, image);
      expect(planPipeline(longer, registry, s, image).slice(0, short.length)).toEqual(short);
    }
  });

  it('applies a plan deterministically without touching the input', () => {
    const out = applyPlanCpu(image, [{ transform: 'add', params: { beta: 60 } }, { transform: 'invert', params: null }], registry);
    expect(Array.from(out.data)).toEqual([255 - 70, 255 - 255]);
    expect(Array.from(image.data)).toEqual([10, 200]);
  });

  it('rejects a malformed spec with an error that names the step', () => {
    expect(() => validatePipeline({ version: 1, steps: [{ transform: 'blur' }] }, registry)).toThrowError(/steps\[0\]\.transform "blur".*Known: add, invert/);
    expect(() => validatePipeline({ version: 1, steps: [{ transform: 'add', p: 2 }] }, registry)).toThrowError(/steps\[0\]\.p/);
    expect(() => validatePipeline({ version: 2, steps: [] }, registry)).toThrowError(/version 2/);
    expect(validatePipeline(spec, registry)).toBe(spec);
  });
});
