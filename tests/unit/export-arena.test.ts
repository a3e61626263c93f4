import { describe, expect, it } from 'vitest';
import {
  TFLM_EVAL_TENSOR_BYTES,
  TFLM_IO_TENSOR_BYTES,
  TFLM_NODE_AND_REGISTRATION_BYTES,
  TFLM_OP_DATA_BYTES,
  TFLM_PER_CHANNEL_QUANT_BYTES,
  TFLM_RUNTIME_FIXED_BYTES,
  estimateArena,
  planGreedy,
  tailOverheadBytes,
  tensorLifetimes,
  type PlannedBuffer,
} from '../../src/lib/export/arena';
import type { QGraph, QTensor } from '../../src/lib/export/qgraph';
import { INPUT_SCALE, INPUT_ZERO_POINT } from '../../src/lib/export/qgraph';
import { randomQGraph } from '../helpers/random-qgraph';

/**
 * input [1,4,4,1] → conv 3×3 same (2) a [1,4,4,2] → conv 3×3 stride 2 (4) b [1,2,2,4]
 * → reshape c [1,16] → fully-connected (3) out [1,3].
 */
function smallChain(): QGraph {
  const t = (name: string, shape: number[]): QTensor => ({ name, shape, scale: INPUT_SCALE, zeroPoint: INPUT_ZERO_POINT });
  const zeros = (n: number): Int8Array => new Int8Array(n);
  return {
    name: 'chain',
    input: 'input',
    output: 'out',
    tensors: { input: t('input', [1, 4, 4, 1]), a: t('a', [1, 4, 4, 2]), b: t('b', [1, 2, 2, 4]), c: t('c', [1, 16]), out: t('out', [1, 3]) },
    ops: [
      { kind: 'conv2d', name: 'a', input: 'input', output: 'a', filter: zeros(18), filterShape: [2, 3, 3, 1], filterScales: new Float32Array(2).fill(0.01), bias: new Int32Array(2), strides: [1, 1], padding: 'same', activation: 'relu' },
      { kind: 'conv2d', name: 'b', input: 'a', output: 'b', filter: zeros(72), filterShape: [4, 3, 3, 2], filterScales: new Float32Array(4).fill(0.01), bias: new Int32Array(4), strides: [2, 2], padding: 'same', activation: 'relu' },
      { kind: 'reshape', name: 'c', input: 'b', output: 'c' },
      { kind: 'fully-connected', name: 'out', input: 'c', output: 'out', weights: zeros(48), weightsShape: [3, 16], weightScales: Float32Array.of(0.01), bias: new Int32Array(3), activation: 'none' },
    ],
  };
}

const byName = (buffers: readonly PlannedBuffer[]): Record<string, PlannedBuffer> => Object.fromEntries(buffers.map((b) => [b.name, b]));

/** No two buffers alive in the same scope may share a byte. */
function expectNoOverlap(buffers: readonly PlannedBuffer[]): void {
  for (const a of buffers) {
    for (const b of buffers) {
      if (a === b) continue;
      const sameTime = a.firstUsed <= b.lastUsed && b.firstUsed <= a.lastUsed;
      const sameBytes = a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
      expect(sameTime && sameBytes, `${a.name} and ${b.name} overlap`).toBe(false);
    }
  }
}

describe('tensorLifetimes', () => {
  it('marks the small chain by hand: input from scope 0, output to the last scope, sizes rounded to 16', () => {
    expect(tensorLifetimes(smallChain())).toEqual([
      { name: 'input', bytes: 16, firstUsed: 0, lastUsed: 1 },
      { name: 'a', bytes: 32, firstUsed: 1, lastUsed: 2 },
      { name: 'b', bytes: 16, firstUsed: 2, lastUsed: 3 },
      { name: 'c', bytes: 16, firstUsed: 3, lastUsed: 4 },
      { name: 'out', bytes: 16, firstUsed: 4, lastUsed: 4 },
    ]);
  });

  it('marks the random graph by hand: d1 lives until the add reads it', () => {
    const life = Object.fromEntries(tensorLifetimes(randomQGraph(1)).map((b) => [b.name, [b.bytes, b.firstUsed, b.lastUsed]]));
    expect(life).toEqual({
      input: [432, 0, 1],
      c1: [1152, 1, 2],
      d1: [288, 2, 4],
      c2: [288, 3, 4],
      a1: [288, 4, 5],
      p1: [80, 5, 6],
      d2: [144, 6, 7],
      c3: [16, 7, 8],
      p2: [16, 8, 9],
      r1: [16, 9, 10],
      logits: [16, 10, 10],
    });
  });
});

describe('planGreedy', () => {
  it('places the small chain as TFLM would (hand-traced)', () => {
    const plan = planGreedy(tensorLifetimes(smallChain()));
    const at = byName(plan.buffers);
    // Largest first: a@0; out (added last wins the size tie) @0; c after out @16;
    // b after a and c @32; input after a @32.
    expect([at.a?.offset, at.out?.offset, at.c?.offset, at.b?.offset, at.input?.offset]).toEqual([0, 0, 16, 32, 32]);
    expect(plan.totalBytes).toBe(48);
    expectNoOverlap(plan.buffers);
  });

  it('reuses memory of buffers that are dead', () => {
    const plan = planGreedy([
      { name: 'x', bytes: 64, firstUsed: 0, lastUsed: 1 },
      { name: 'y', bytes: 64, firstUsed: 2, lastUsed: 3 },
      { name: 'z', bytes: 32, firstUsed: 1, lastUsed: 2 },
    ]);
    expect(plan.totalBytes).toBe(96);
    expect(byName(plan.buffers).z?.offset).toBe(64);
  });

  it('fills a gap between two live buffers when the new one fits', () => {
    // x and z stay alive; y sits between them and dies after scope 1, leaving a 112-byte hole.
    const plan = planGreedy([
      { name: 'x', bytes: 128, firstUsed: 0, lastUsed: 4 },
      { name: 'y', bytes: 112, firstUsed: 0, lastUsed: 1 },
      { name: 'z', bytes: 96, firstUsed: 0, lastUsed: 4 },
      { name: 'w', bytes: 64, firstUsed: 2, lastUsed: 4 },
    ]);
    const at = byName(plan.buffers);
    expect([at.x?.offset, at.y?.offset, at.z?.offset, at.w?.offset]).toEqual([0, 128, 240, 128]);
    expect(plan.totalBytes).toBe(336);
    expectNoOverlap(plan.buffers);
  });
});

describe('estimateArena', () => {
  it('plans the random graph to its hand-computed peak: input + c1 during the first conv', () => {
    const estimate = estimateArena(randomQGraph(1), { kernels: 'reference' });
    expect(estimate.activationBytes).toBe(432 + 1152);
    expect(estimate.scratchBytes).toBe(0);
    expect(estimate.peakOp).toBe('c1');
    expect(estimate.totalBytes).toBe(estimate.activationBytes + estimate.overheadBytes);
  });

  it('never plans below the live bytes of any scope nor above the sum of all buffers, for many seeds', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const graph = randomQGraph(seed);
      const buffers = tensorLifetimes(graph);
      const plan = planGreedy(buffers);
      expectNoOverlap(plan.buffers);
      let liveMax = 0;
      for (let s = 0; s <= graph.ops.length; s++) {
        liveMax = Math.max(liveMax, buffers.filter((b) => b.firstUsed <= s && s <= b.lastUsed).reduce((a, b) => a + b.bytes, 0));
      }
      expect(plan.totalBytes).toBeGreaterThanOrEqual(liveMax);
      expect(plan.totalBytes).toBeLessThanOrEqual(buffers.reduce((a, b) => a + b.bytes, 0));
      expect(estimateArena(graph, { kernels: 'reference' }).activationBytes).toBe(plan.totalBytes);
    }
  });

  it('adds CMSIS-NN scratch: the first conv im2col (2·3·3·3 int16 = 108 → 112 bytes) at the peak', () => {
    const cmsis = estimateArena(randomQGraph(1));
    expect(cmsis.kernels).toBe('cmsis-nn');
    expect(cmsis.activationBytes).toBe(1584);
    expect(cmsis.scratchBytes).toBe(112);
    expect(cmsis.totalBytes).toBe(1584 + 112 + cmsis.overheadBytes);
  });

  it('counts the tail overhead from the stated constants', () => {
    // 5 activation tensors + 2 + 2 + 1 + 2 constant tensors; 4 ops; 2 + 4 conv channels.
    const expected =
      TFLM_RUNTIME_FIXED_BYTES +
      2 * TFLM_IO_TENSOR_BYTES +
      12 * TFLM_EVAL_TENSOR_BYTES +
      4 * (TFLM_NODE_AND_REGISTRATION_BYTES + TFLM_OP_DATA_BYTES) +
      6 * TFLM_PER_CHANNEL_QUANT_BYTES;
    expect(tailOverheadBytes(smallChain())).toBe(expected);
    expect(estimateArena(smallChain()).overheadBytes).toBe(expected);
  });

  it('names the graph in the error when an op reads a tensor nobody wrote', () => {
    const graph = smallChain();
    graph.ops.reverse();
    expect(() => estimateArena(graph)).toThrow(/execution order/);
  });
});
