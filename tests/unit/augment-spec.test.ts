/**
 * The augment option schema (src/lib/augment/spec.ts) against the transforms that read it:
 * every entry names a registered transform, and the values a new step starts from, and
 * each range's own bounds, are accepted by that transform's sampler.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/lib/data/rng';
import { TRANSFORMS } from '../../src/lib/augment/registry';
import { oddBounds, PARAM_FIELDS } from '../../src/lib/augment/spec';
import type { ImageU8 } from '../../src/lib/augment/types';
import { newStep, validateStep } from '../../src/ui/augment/params';

const IMAGE: ImageU8 = { width: 32, height: 32, channels: 3, data: new Uint8Array(32 * 32 * 3) };

describe('the augment option schema', () => {
  it('names registered transforms only', () => {
    expect(Object.keys(PARAM_FIELDS).filter((name) => !TRANSFORMS.has(name))).toEqual([]);
  });

  it.each(Object.keys(PARAM_FIELDS))("%s: a new step's values pass the form and the sampler", (name) => {
    const step = newStep(name, IMAGE);
    expect(validateStep(step)).toEqual({});
    const def = TRANSFORMS.get(name);
    // Mixing transforms draw a partner image through the pipeline, not from their params alone.
    if (def?.kind !== 'mixing') expect(() => def?.sample(new Rng(1), step.params ?? {}, IMAGE)).not.toThrow();
  });

  it.each(Object.entries(PARAM_FIELDS).filter(([name]) => TRANSFORMS.get(name)?.kind !== 'mixing'))(
    '%s: each range accepts its own bounds',
    (name, fields) => {
      const base = newStep(name, IMAGE).params ?? {};
      for (const f of fields) {
        if (f.kind !== 'range') continue;
        const params = { ...base, [f.key]: [f.min, f.max] };
        expect(() => TRANSFORMS.get(name)?.sample(new Rng(1), params, IMAGE), `${name}.${f.key}`).not.toThrow();
      }
    },
  );

  it('finds the odd kernel sizes of an interval, or none', () => {
    expect(oddBounds(1, 31)).toEqual([1, 31]);
    expect(oddBounds(2, 6)).toEqual([3, 5]);
    expect(oddBounds(2.5, 3.5)).toEqual([3, 3]);
    expect(oddBounds(4, 4)).toBeNull();
  });
});
