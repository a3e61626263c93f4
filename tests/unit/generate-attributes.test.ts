import { describe, expect, it } from 'vitest';
import { binaryLabels, coordinateNames, meanOffsets, meanShiftEdit, meanShiftLatents, requestRow } from '../../src/lib/generate/attributes';

const attrs = [
  { name: 'digit', values: ['0', '1', '2'] },
  { name: 'color', values: ['red', 'green'] },
];

describe('attribute coordinates', () => {
  it('one binary coordinate per value, ±1, with each value’s share as its prior', () => {
    expect(coordinateNames(attrs)).toEqual(['digit = 0', 'digit = 1', 'digit = 2', 'color = red', 'color = green']);
    const { labels, specs } = binaryLabels(attrs, [
      [0, 1],
      [2, 1],
      [2, -1],
      [1, 0],
    ]);
    expect(Array.from(labels)).toEqual([1, -1, -1, -1, 1, -1, -1, 1, -1, 1, -1, -1, 1, 0, 0, -1, 1, -1, 1, -1]);
    expect(specs.map((s) => (s.kind === 'binary' ? s.positiveShare : NaN))).toEqual([0.25, 0.25, 0.5, 1 / 3, 2 / 3]);
    expect(requestRow(attrs, [2, 0])).toEqual([-1, -1, 1, 1, -1]);
    expect(requestRow(attrs, [1, -1])).toEqual([-1, 1, -1, 0, 0]);
    expect(() => binaryLabels(attrs, [[3, 0]])).toThrow(/value 3 is not one of the 3 values of "digit"/);
  });

  it('the difference-of-means baseline moves samples to the requested value’s mean, and edits between means', () => {
    // Latent = (+2, 1) for value x, (−2, 1) for value y, plus small noise: μ = (0, 1).
    const two = [{ name: 'a', values: ['x', 'y'] }];
    const n = 200;
    const latents = new Float32Array(n * 2);
    const rows: number[][] = [];
    for (let i = 0; i < n; i++) {
      const v = i % 2;
      rows.push([v]);
      latents[i * 2] = (v === 0 ? 2 : -2) + (((i * 37) % 11) - 5) / 50;
      latents[i * 2 + 1] = 1 + (((i * 53) % 7) - 3) / 50;
    }
    const { labels } = binaryLabels(two, rows);
    const m = meanOffsets(latents, labels, 2, 2);
    expect(m.offsets[0]?.[0]).toBeCloseTo(2, 1);
    expect(m.offsets[1]?.[0]).toBeCloseTo(-2, 1);
    expect(m.offsets[0]?.[1]).toBeCloseTo(0, 1);
    const shifted = meanShiftLatents(m, [requestRow(two, [0]), requestRow(two, [1])], new Float32Array(4));
    expect(shifted[0]).toBeCloseTo(2, 1);
    expect(shifted[2]).toBeCloseTo(-2, 1);
    const edited = meanShiftEdit(m, Float32Array.from([2, 1]), 0, 1);
    expect(edited[0]).toBeCloseTo(-2, 1);
    expect(edited[1]).toBeCloseTo(1, 1);
  });
});
