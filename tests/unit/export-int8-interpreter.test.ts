import { describe, expect, it } from 'vitest';
import { Int8Interpreter, runInt8 } from '../../src/lib/export/int8-interpreter';
import type { FusedActivation, Padding, QGraph, QOp, QTensor } from '../../src/lib/export/qgraph';
import { randomInputs, randomQGraph } from '../helpers/random-qgraph';

const f32 = Math.fround;

function tensor(name: string, shape: number[], scale: number, zeroPoint: number): QTensor {
  return { name, shape, scale: f32(scale), zeroPoint };
}

function graphOf(tensors: QTensor[], ops: QOp[], input = 'x', output = 'y'): QGraph {
  return { name: 'test', input, output, tensors: Object.fromEntries(tensors.map((t) => [t.name, t])), ops };
}

function expectInvalid(make: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    make();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(Error);
  expect((caught as Error).name).toBe('InvalidInputError');
  expect((caught as Error).message).toMatch(message);
}

describe('Int8Interpreter: hand-computed ops', () => {
  it("conv 'same' stride 2 on an even input pads 0 before and 1 after", () => {
    // Input 4×4×1, zero point 3, values v = q − 3 = y·4 + x (0…15).
    // Output ceil(4/2) = 2; total padding (2−1)·2 + 3 − 4 = 1 → 0 before, 1 after, so the
    // windows are rows/cols {0,1,2} and {2,3,(pad)}.
    // Channel 0: all-ones filter, scale 1, bias 1; channel 1: all −1 filter, scale 2, bias 0.
    //   window sums: (0,0) rows 0-2 cols 0-2 = 3+15+27 = 45; (0,1) cols 2-3 = 5+13+21 = 39;
    //                (1,0) rows 2-3 cols 0-2 = 27+39 = 66; (1,1) = 21+29 = 50.
    // Multipliers: 0.5·1/1 = 0.5 → (2^30, 0); 0.5·2/1 = 1 → (2^30, 1) (identity).
    //   ch0: (45+1)/2 = 23, (39+1)/2 = 20, (66+1)/2 = 33.5 → 34 (tie up), (50+1)/2 = 25.5 → 26;
    //        + zero point −5 → 18, 15, 29, 21.
    //   ch1: −45, −39, −66, −50, + (−5) → −50, −44, −71, −55.
    // With symmetric padding (1 before) the (0,0) window would sum only 0+1+4+5 = 10.
    const g = graphOf(
      [tensor('x', [1, 4, 4, 1], 0.5, 3), tensor('y', [1, 2, 2, 2], 1, -5)],
      [
        {
          kind: 'conv2d',
          name: 'c',
          input: 'x',
          output: 'y',
          filter: Int8Array.from([...Array<number>(9).fill(1), ...Array<number>(9).fill(-1)]),
          filterShape: [2, 3, 3, 1],
          filterScales: Float32Array.of(1, 2),
          bias: Int32Array.of(1, 0),
          strides: [2, 2],
          padding: 'same',
          activation: 'none',
        },
      ],
    );
    const input = Int8Array.from({ length: 16 }, (_, i) => i + 3);
    expect(Array.from(runInt8(g, input))).toEqual([18, -50, 15, -44, 29, -71, 21, -55]);
  });

  it('clamps a fused relu6 at zeroPoint + round(6 / scale)', () => {
    // 1×1 conv, weight 1, scales in 0.1, filter 1, out 0.1 → multiplier exactly 1: out = q − 128.
    // relu6 range: [−128, −128 + round(6 / float32(0.1)) = −128 + 60 = −68].
    //   q: −5 → −133 → −128;  30 → −98;  59 → −69;  60 → −68;  70 → −58 → −68;  100 → −28 → −68.
    const g = graphOf(
      [tensor('x', [1, 1, 6, 1], 0.1, 0), tensor('y', [1, 1, 6, 1], 0.1, -128)],
      [
        {
          kind: 'conv2d',
          name: 'c',
          input: 'x',
          output: 'y',
          filter: Int8Array.of(1),
          filterShape: [1, 1, 1, 1],
          filterScales: Float32Array.of(1),
          bias: Int32Array.of(0),
          strides: [1, 1],
          padding: 'valid',
          activation: 'relu6',
        },
      ],
    );
    expect(Array.from(runInt8(g, Int8Array.of(-5, 30, 59, 60, 70, 100)))).toEqual([-128, -98, -69, -68, -68, -68]);
  });

  it('depthwise with multiplier 2 and asymmetric same padding', () => {
    // Input 2×2×1, zero point −7, v = q + 7 = [[1, 2], [3, 4]]. Filter 2×2, 2 output channels;
    // 'same' stride 1: total padding (2−1) + 2 − 2 = 1 → 0 before, 1 after (right/bottom).
    //   ch0 taps [[1,0],[0,0]] (scale 1 → multiplier 1): the pixel itself: 1, 2, 3, 4.
    //   ch1 taps all 1 (scale 0.5 → multiplier 0.5): window sums 1+2+3+4 = 10, 2+4 = 6, 3+4 = 7,
    //   4 → 5, 3, 3.5 → 4 (tie up), 2.
    // Filter layout [1, kH, kW, C]: index (ky·2 + kx)·2 + c.
    const g = graphOf(
      [tensor('x', [1, 2, 2, 1], 1, -7), tensor('y', [1, 2, 2, 2], 1, 0)],
      [
        {
          kind: 'depthwise-conv2d',
          name: 'd',
          input: 'x',
          output: 'y',
          filter: Int8Array.of(1, 1, 0, 1, 0, 1, 0, 1),
          filterShape: [1, 2, 2, 2],
          depthMultiplier: 2,
          filterScales: Float32Array.of(1, 0.5),
          bias: Int32Array.of(0, 0),
          strides: [1, 1],
          padding: 'same',
          activation: 'none',
        },
      ],
    );
    expect(Array.from(runInt8(g, Int8Array.of(-6, -5, -4, -3)))).toEqual([1, 5, 2, 3, 3, 4, 4, 2]);
  });

  it('fully connected rounds twice (6.25 → 7, −6.25 → −6)', () => {
    // Input zero point −1: q = [3, −1, 5] → v = [4, 0, 6]. Scales: float32(0.5 · 0.25) / 0.5
    // = 0.25 → (2^30, −1).
    //   row 0 = [1, 2, 3]: 4 + 0 + 18 = 22, + bias 3 = 25; high multiply 25 · 0.5 = 12.5 → 13
    //   (tie up), then 13 / 2 = 6.5 → 7 (away from zero); + zero point 2 → 9.
    //   row 1 = [−4, 5, −1]: −16 + 0 − 6 = −22, + bias −3 = −25; −12.5 → −12 (tie up), then
    //   −12 / 2 = −6; + 2 → −4.
    const g = graphOf(
      [tensor('x', [1, 3], 0.5, -1), tensor('y', [1, 2], 0.5, 2)],
      [
        {
          kind: 'fully-connected',
          name: 'fc',
          input: 'x',
          output: 'y',
          weights: Int8Array.of(1, 2, 3, -4, 5, -1),
          weightsShape: [2, 3],
          weightScales: Float32Array.of(0.25),
          bias: Int32Array.of(3, -3),
          activation: 'none',
        },
      ],
    );
    expect(Array.from(runInt8(g, Int8Array.of(3, -1, 5)))).toEqual([9, -4]);
  });

  it('fully connected with one weight scale takes inScale · weightScale in float32', () => {
    // TFLite's GetQuantizedConvolutionMultipler computes double(inScale · weightScale) with a
    // float32 product. For these scales that gives multiplier (1627690643, −4); the all-double
    // product would give (1627690595, −4). On acc = −4464 (bias only) the results differ:
    // −212 (float32 product, TFLite) against −211 (double).
    const g = graphOf(
      [tensor('x', [1, 1], 0.03950683772563934, 0), tensor('y', [1, 1], 0.011379995383322239, 0)],
      [
        {
          kind: 'fully-connected',
          name: 'fc',
          input: 'x',
          output: 'y',
          weights: Int8Array.of(0),
          weightsShape: [1, 1],
          weightScales: Float32Array.of(0.013645574450492859),
          bias: Int32Array.of(-4464),
          activation: 'none',
        },
      ],
    );
    expect(Array.from(runInt8(g, Int8Array.of(0)))).toEqual([-128]);
    // −212 is below int8, so check the unclamped value through a zero point of 100: −112.
    g.tensors.y = tensor('y', [1, 1], 0.011379995383322239, 100);
    expect(Array.from(runInt8(g, Int8Array.of(0)))).toEqual([-112]);
  });

  it('average pool rounds negative halves away from zero, on the raw int8 values', () => {
    // 2×2 global pool, 4 channels, count 4; TFLite: (sum ± 2) / 4 truncated.
    //   ch0 sum −1−1−2−2 = −6 → −1.5 → −2;  ch1 1+1+2+2 = 6 → 1.5 → 2;
    //   ch2 −1−1−1−2 = −5 → −1.25 → −1;      ch3 0+0−1−1 = −2 → −0.5 → −1.
    const g = graphOf(
      [tensor('x', [1, 2, 2, 4], 0.1, 10), tensor('y', [1, 1, 1, 4], 0.1, 10)],
      [{ kind: 'average-pool2d', name: 'p', input: 'x', output: 'y', filter: [2, 2], strides: [2, 2], padding: 'valid', activation: 'none' }],
    );
    // NHWC: pixel by pixel, 4 channels each.
    const input = Int8Array.of(-1, 1, -1, 0, -1, 1, -1, 0, -2, 2, -1, -1, -2, 2, -2, -1);
    expect(Array.from(runInt8(g, input))).toEqual([-2, 2, -1, -1]);
  });

  it("average pool with 'same' padding divides by the in-image taps only", () => {
    // 3×3 input 1…9, 2×2 stride 2 'same': output 2×2, padding 0 before, 1 after.
    //   (0,0) 1+2+4+5 = 12 / 4 = 3;  (0,1) 3+6 = 9 / 2 = 4.5 → 5;
    //   (1,0) 7+8 = 15 / 2 = 7.5 → 8; (1,1) 9 / 1 = 9.
    const g = graphOf(
      [tensor('x', [1, 3, 3, 1], 1, 0), tensor('y', [1, 2, 2, 1], 1, 0)],
      [{ kind: 'average-pool2d', name: 'p', input: 'x', output: 'y', filter: [2, 2], strides: [2, 2], padding: 'same', activation: 'none' }],
    );
    expect(Array.from(runInt8(g, Int8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9)))).toEqual([3, 5, 8, 9]);
  });

  it("max pool ignores padding ('same') and applies the fused activation", () => {
    // 3×3 input of negatives, 2×2 stride 2 'same': padded taps must not win over −100.
    //   (0,0) max(−100, −90, −80, −70) = −70; (0,1) max(−60, −30) = −30;
    //   (1,0) max(−20, −10) = −10;             (1,1) −5.
    const g = graphOf(
      [tensor('x', [1, 3, 3, 1], 1, 0), tensor('y', [1, 2, 2, 1], 1, 0)],
      [{ kind: 'max-pool2d', name: 'p', input: 'x', output: 'y', filter: [2, 2], strides: [2, 2], padding: 'same', activation: 'none' }],
    );
    const input = Int8Array.of(-100, -90, -60, -80, -70, -30, -20, -10, -5);
    expect(Array.from(runInt8(g, input))).toEqual([-70, -30, -10, -5]);
    // relu with zero point −40 clamps everything below −40 up to it.
    g.tensors.x = tensor('x', [1, 3, 3, 1], 1, -40);
    g.tensors.y = tensor('y', [1, 2, 2, 1], 1, -40);
    (g.ops[0] as { activation: FusedActivation }).activation = 'relu';
    expect(Array.from(runInt8(g, input))).toEqual([-40, -30, -10, -5]);
  });

  it('add rescales inputs of different scales (left shift 20)', () => {
    // The graph has one input, so x (2 channels, scale 0.25, zp 0) feeds two 1×1 convs that
    // copy one channel each with a multiplier of exactly 1: a = x0 (scale 0.5: 0.25·2/0.5),
    // b = x1 + 10 (scale 0.25, zp 10: 0.25·1/0.25).
    // add: a scale 0.5, zp 0; b scale 0.25, zp 10; out scale 1, zp −3.
    // twice_max = 1: a → 0.5 = (2^30, 0), b → 0.25 = (2^30, −1), out → 1/2^20 = (2^30, −19).
    //   a=5, b=16:   5·2^20·0.5 = 2621440; 6·2^20 → 3145728 → /2 = 1572864; sum 4194304 = 4·2^20
    //                → 2^21 → /2^19 = 4; − 3 = 1.                   (real: 2.5 + 1.5 = 4)
    //   a=1, b=11:   2^19 + 2^18 = 786432 → 393216 / 2^19 = 0.75 → 1; − 3 = −2.
    //   a=−1, b=10:  −2^19 → −2^18 / 2^19 = −0.5 → −1 (away from zero); − 3 = −4.
    //   a=101, b=−118: 52953088 − 33554432 = 19398656 = 18.5·2^20 → 9699328 / 2^19 = 18.5 → 19;
    //                − 3 = 16.                                         (real: 50.5 − 32)
    const copyConv = (name: string, weights: [number, number], scale: number): QOp => ({
      kind: 'conv2d',
      name,
      input: 'x',
      output: name,
      filter: Int8Array.from(weights),
      filterShape: [1, 1, 1, 2],
      filterScales: Float32Array.of(scale),
      bias: Int32Array.of(0),
      strides: [1, 1],
      padding: 'valid',
      activation: 'none',
    });
    const addGraph = (activation: FusedActivation): QGraph =>
      graphOf(
        [tensor('x', [1, 1, 4, 2], 0.25, 0), tensor('a', [1, 1, 4, 1], 0.5, 0), tensor('b', [1, 1, 4, 1], 0.25, 10), tensor('y', [1, 1, 4, 1], 1, -3)],
        [copyConv('a', [1, 0], 2), copyConv('b', [0, 1], 1), { kind: 'add', name: 'add', inputs: ['a', 'b'], output: 'y', activation }],
      );
    // x pixels: (a, b − 10).
    const input = Int8Array.of(5, 6, 1, 1, -1, 0, 101, -128);
    const interpreter = new Int8Interpreter(addGraph('none'));
    expect(Array.from(interpreter.run(input))).toEqual([1, -2, -4, 16]);
    const tensors = interpreter.lastTensors();
    expect(Array.from(tensors.get('a') ?? [])).toEqual([5, 1, -1, 101]);
    expect(Array.from(tensors.get('b') ?? [])).toEqual([16, 11, 10, -118]);
    // relu clamps at the output zero point −3.
    expect(Array.from(runInt8(addGraph('relu'), input))).toEqual([1, -2, -3, 16]);
  });

  it('reshape copies values unchanged', () => {
    const g = graphOf(
      [tensor('x', [1, 1, 2, 2], 0.3, 4), tensor('y', [1, 4], 0.3, 4)],
      [{ kind: 'reshape', name: 'r', input: 'x', output: 'y' }],
    );
    expect(Array.from(runInt8(g, Int8Array.of(-128, 0, 5, 127)))).toEqual([-128, 0, 5, 127]);
  });
});

describe('Int8Interpreter: validation', () => {
  const conv = (overrides: Partial<Extract<QOp, { kind: 'conv2d' }>> = {}): QOp => ({
    kind: 'conv2d',
    name: 'c',
    input: 'x',
    output: 'y',
    filter: new Int8Array(9),
    filterShape: [1, 3, 3, 1],
    filterScales: Float32Array.of(0.01),
    bias: Int32Array.of(0),
    strides: [1, 1],
    padding: 'same',
    activation: 'none',
    ...overrides,
  });
  const ok = (): QGraph => graphOf([tensor('x', [1, 4, 4, 1], 0.1, 0), tensor('y', [1, 4, 4, 1], 0.1, 0)], [conv()]);

  it('accepts a consistent graph', () => {
    expect(runInt8(ok(), new Int8Array(16))).toHaveLength(16);
  });

  it('names unknown tensors', () => {
    const g = ok();
    g.ops = [conv({ input: 'nope' })];
    expectInvalid(() => new Int8Interpreter(g), /'nope', which is not in the graph's tensor list/);
  });

  it('refuses ops out of execution order and an unproduced output', () => {
    const g = graphOf(
      [tensor('x', [1, 4, 4, 1], 0.1, 0), tensor('m', [1, 4, 4, 1], 0.1, 0), tensor('y', [1, 4, 4, 1], 0.1, 0)],
      [conv({ name: 'second', input: 'm', output: 'y' }), conv({ name: 'first', input: 'x', output: 'm' })],
    );
    expectInvalid(() => new Int8Interpreter(g), /op 'second' \(conv2d\) reads tensor 'm' before any op produces it/);
    const g2 = ok();
    g2.ops = [];
    expectInvalid(() => new Int8Interpreter(g2), /output tensor 'y' is not produced by any op/);
  });

  it('checks conv output shapes, weight sizes and channel counts', () => {
    const g = ok();
    g.tensors.y = tensor('y', [1, 2, 2, 1], 0.1, 0);
    expectInvalid(() => new Int8Interpreter(g), /should produce \[1, 4, 4, 1\]/);
    const g2 = ok();
    g2.ops = [conv({ filter: new Int8Array(8) })];
    expectInvalid(() => new Int8Interpreter(g2), /has 8 filter values; its shape needs 9/);
    const g3 = ok();
    g3.ops = [conv({ filterShape: [1, 3, 3, 2], filter: new Int8Array(18) })];
    expectInvalid(() => new Int8Interpreter(g3), /filters for 2 input channels but its input 'x' has 1/);
    const g4 = ok();
    g4.ops = [conv({ filterScales: Float32Array.of(0) })];
    expectInvalid(() => new Int8Interpreter(g4), /weight scale 0/);
  });

  it('requires pooling and reshape to keep the input quantization', () => {
    const g = graphOf(
      [tensor('x', [1, 2, 2, 1], 0.1, 0), tensor('y', [1, 1, 1, 1], 0.2, 0)],
      [{ kind: 'max-pool2d', name: 'p', input: 'x', output: 'y', filter: [2, 2], strides: [2, 2], padding: 'valid', activation: 'none' }],
    );
    expectInvalid(() => new Int8Interpreter(g), /must keep its input's quantization/);
    const g2 = graphOf([tensor('x', [1, 2, 2, 1], 0.1, 0), tensor('y', [1, 4], 0.1, 1)], [{ kind: 'reshape', name: 'r', input: 'x', output: 'y' }]);
    expectInvalid(() => new Int8Interpreter(g2), /must keep its input's quantization/);
    const g3 = graphOf([tensor('x', [1, 2, 2, 1], 0.1, 0), tensor('y', [1, 5], 0.1, 0)], [{ kind: 'reshape', name: 'r', input: 'x', output: 'y' }]);
    expectInvalid(() => new Int8Interpreter(g3), /different number of values/);
  });

  it('refuses bad tensors, broadcasting adds and wrong input sizes', () => {
    const g = ok();
    g.tensors.y = tensor('y', [1, 4, 4, 1], 0.1, 200);
    expectInvalid(() => new Int8Interpreter(g), /zero point 200/);
    const g2 = graphOf(
      [tensor('x', [1, 4], 0.1, 0), tensor('y', [1, 4], 0.1, 0), tensor('z', [1, 2], 0.1, 0)],
      [{ kind: 'add', name: 'a', inputs: ['x', 'x'], output: 'z', activation: 'none' }],
      'x',
      'z',
    );
    expectInvalid(() => new Int8Interpreter(g2), /no broadcasting/);
    expectInvalid(() => new Int8Interpreter(ok()).run(new Int8Array(15)), /takes 16 input values but was given 15/);
  });
});

/*
 * An independent, deliberately slow re-implementation of TFLite's int8 reference kernels:
 * BigInt for every 64-bit step, bounds tests instead of a padded buffer, the zero point
 * subtracted tap by tap, float64 only where TFLite uses floating point. It shares no code
 * with src/lib/export (not even the fixed-point helpers).
 */
const BIG_2_31 = 1n << 31n;

function refSrdhm(a: bigint, b: bigint): bigint {
  if (a === -BIG_2_31 && b === -BIG_2_31) return BIG_2_31 - 1n;
  const ab = a * b;
  return (ab + (ab >= 0n ? 1n << 30n : 1n - (1n << 30n))) / BIG_2_31;
}

/** x / 2^e rounded to nearest, ties away from zero (what RoundingDivideByPOT computes). */
function refRoundShift(x: bigint, e: number): bigint {
  if (e === 0) return x;
  const d = 1n << BigInt(e);
  const magnitude = ((x < 0n ? -x : x) * 2n + d) / (2n * d);
  return x < 0n ? -magnitude : magnitude;
}

function refWrap32(x: bigint): bigint {
  return BigInt.asIntN(32, x);
}

/** QuantizeMultiplier by search rather than by reading the exponent bits. */
function refQuantize(real: number): { m: bigint; shift: number } {
  if (real === 0) return { m: 0n, shift: 0 };
  let shift = 0;
  while (real / 2 ** shift >= 1) shift++;
  while (real / 2 ** shift < 0.5) shift--;
  let m = Math.round(real * 2 ** (31 - shift)); // positive, so Math.round's ties are away from zero
  if (m === 2 ** 31) {
    m /= 2;
    shift++;
  }
  if (shift < -31) return { m: 0n, shift: 0 };
  return { m: BigInt(m), shift };
}

function refRequant(acc: bigint, q: { m: bigint; shift: number }): bigint {
  const shifted = refWrap32(acc << BigInt(Math.max(q.shift, 0)));
  return refRoundShift(refSrdhm(shifted, q.m), Math.max(-q.shift, 0));
}

function refRange(act: FusedActivation, t: QTensor): [number, number] {
  const q = (real: number): number => {
    const v = f32(real / f32(t.scale));
    return t.zeroPoint + Math.sign(v) * Math.round(Math.abs(v));
  };
  if (act === 'relu') return [Math.max(-128, q(0)), 127];
  if (act === 'relu6') return [Math.max(-128, q(0)), Math.min(127, q(6))];
  return [-128, 127];
}

function refClamp(v: bigint | number, [lo, hi]: [number, number]): number {
  const n = Number(v);
  return Math.min(hi, Math.max(lo, n));
}

function refPad(padding: Padding, inSize: number, k: number, stride: number, outSize: number): number {
  if (padding === 'valid') return 0;
  return Math.floor(Math.max(0, (outSize - 1) * stride + k - inSize) / 2);
}

function refRun(graph: QGraph, input: Int8Array): Map<string, Int8Array> {
  const values = new Map<string, Int8Array>([[graph.input, input]]);
  const T = (name: string): QTensor => graph.tensors[name] as QTensor;
  const V = (name: string): Int8Array => values.get(name) as Int8Array;
  for (const op of graph.ops) {
    const outT = T(op.output);
    const out = new Int8Array(outT.shape.reduce((a, b) => a * b, 1));
    if (op.kind === 'conv2d' || op.kind === 'depthwise-conv2d') {
      const inT = T(op.input);
      const x = V(op.input);
      const [, H, W, C] = inT.shape as [number, number, number, number];
      const [, OH, OW, OC] = outT.shape as [number, number, number, number];
      const kH = op.filterShape[1];
      const kW = op.filterShape[2];
      const pt = refPad(op.padding, H, kH, op.strides[0], OH);
      const pl = refPad(op.padding, W, kW, op.strides[1], OW);
      const range = refRange(op.activation, outT);
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++)
          for (let oc = 0; oc < OC; oc++) {
            let acc = 0n;
            for (let ky = 0; ky < kH; ky++)
              for (let kx = 0; kx < kW; kx++) {
                const iy = oy * op.strides[0] - pt + ky;
                const ix = ox * op.strides[1] - pl + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                if (op.kind === 'conv2d') {
                  for (let ic = 0; ic < C; ic++) {
                    const xv = (x[(iy * W + ix) * C + ic] as number) - inT.zeroPoint;
                    acc += BigInt(xv * (op.filter[((oc * kH + ky) * kW + kx) * C + ic] as number));
                  }
                } else {
                  const ic = Math.floor(oc / op.depthMultiplier);
                  const xv = (x[(iy * W + ix) * C + ic] as number) - inT.zeroPoint;
                  acc += BigInt(xv * (op.filter[(ky * kW + kx) * OC + oc] as number));
                }
              }
            acc = refWrap32(acc + BigInt(op.bias[oc] as number));
            const real = (f32(inT.scale) * (op.filterScales[oc] as number)) / f32(outT.scale);
            out[(oy * OW + ox) * OC + oc] = refClamp(refRequant(acc, refQuantize(real)) + BigInt(outT.zeroPoint), range);
          }
    } else if (op.kind === 'fully-connected') {
      const inT = T(op.input);
      const x = V(op.input);
      const [N, K] = op.weightsShape;
      for (let o = 0; o < N; o++) {
        let acc = BigInt(op.bias[o] as number);
        for (let k = 0; k < K; k++) acc += BigInt(((x[k] as number) - inT.zeroPoint) * (op.weights[o * K + k] as number));
        const perTensor = op.weightScales.length === 1;
        const ws = op.weightScales[perTensor ? 0 : o] as number;
        const real = perTensor ? f32(f32(inT.scale) * ws) / f32(outT.scale) : (f32(inT.scale) * ws) / f32(outT.scale);
        out[o] = refClamp(refRequant(refWrap32(acc), refQuantize(real)) + BigInt(outT.zeroPoint), refRange(op.activation, outT));
      }
    } else if (op.kind === 'max-pool2d' || op.kind === 'average-pool2d') {
      const x = V(op.input);
      const [, H, W, C] = T(op.input).shape as [number, number, number, number];
      const [, OH, OW] = outT.shape as [number, number, number, number];
      const [kH, kW] = op.filter;
      const pt = refPad(op.padding, H, kH, op.strides[0], OH);
      const pl = refPad(op.padding, W, kW, op.strides[1], OW);
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++)
          for (let c = 0; c < C; c++) {
            const taps: number[] = [];
            for (let ky = 0; ky < kH; ky++)
              for (let kx = 0; kx < kW; kx++) {
                const iy = oy * op.strides[0] - pt + ky;
                const ix = ox * op.strides[1] - pl + kx;
                if (iy >= 0 && iy < H && ix >= 0 && ix < W) taps.push(x[(iy * W + ix) * C + c] as number);
              }
            const mean = taps.reduce((a, b) => a + b, 0) / taps.length;
            const v = op.kind === 'max-pool2d' ? Math.max(...taps) : Math.sign(mean) * Math.round(Math.abs(mean));
            out[(oy * OW + ox) * C + c] = refClamp(v, refRange(op.activation, outT));
          }
    } else if (op.kind === 'add') {
      const [t1, t2] = [T(op.inputs[0]), T(op.inputs[1])];
      const [x1, x2] = [V(op.inputs[0]), V(op.inputs[1])];
      const twiceMax = 2 * Math.max(f32(t1.scale), f32(t2.scale));
      const q1 = refQuantize(f32(t1.scale) / twiceMax);
      const q2 = refQuantize(f32(t2.scale) / twiceMax);
      const qo = refQuantize(twiceMax / f32(2 ** 20 * f32(outT.scale)));
      for (let i = 0; i < out.length; i++) {
        const s1 = refRequant(BigInt((x1[i] as number) - t1.zeroPoint) << 20n, q1);
        const s2 = refRequant(BigInt((x2[i] as number) - t2.zeroPoint) << 20n, q2);
        out[i] = refClamp(refRequant(s1 + s2, qo) + BigInt(outT.zeroPoint), refRange(op.activation, outT));
      }
    } else {
      out.set(V(op.input));
    }
    values.set(op.output, out);
  }
  return values;
}

describe('Int8Interpreter: against an independent BigInt reference', () => {
  const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];
  const INPUTS_PER_SEED = 3;

  it('equals the reference on every value of every tensor of randomQGraph', () => {
    const distinct = new Map<string, Set<number>>();
    let compared = 0;
    for (const seed of SEEDS) {
      const graph = randomQGraph(seed);
      const interpreter = new Int8Interpreter(graph);
      for (const input of randomInputs(graph, INPUTS_PER_SEED, seed + 1000)) {
        const output = interpreter.run(input);
        const ours = interpreter.lastTensors();
        const theirs = refRun(graph, input);
        expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
        for (const [name, expected] of theirs) {
          expect({ seed, name, values: Array.from(ours.get(name) ?? []) }).toEqual({ seed, name, values: Array.from(expected) });
          compared += expected.length;
          const seen = distinct.get(name) ?? new Set<number>();
          for (const v of expected) seen.add(v);
          distinct.set(name, seen);
        }
        expect(Array.from(output)).toEqual(Array.from(theirs.get(graph.output) ?? []));
      }
    }
    // The comparison only means something if the tensors vary: no op may be constant or
    // saturated across all runs (a broken rounding rule would then go unseen).
    for (const [name, seen] of distinct) expect({ name, enough: seen.size >= 5 }).toEqual({ name, enough: true });
    expect(compared).toBeGreaterThan(10_000);
  });

  it('run is repeatable and lastTensors returns copies', () => {
    const graph = randomQGraph(11);
    const interpreter = new Int8Interpreter(graph);
    expect(interpreter.lastTensors().size).toBe(0);
    const [a, b] = randomInputs(graph, 2, 5) as [Int8Array, Int8Array];
    const first = interpreter.run(a);
    const snapshot = interpreter.lastTensors();
    interpreter.run(b);
    expect(Array.from(interpreter.run(a))).toEqual(Array.from(first));
    expect(Array.from(snapshot.get(graph.output) ?? [])).toEqual(Array.from(first));
    expect(snapshot.size).toBe(Object.keys(graph.tensors).length);
  });
});

describe("Int8Interpreter: 'xnnpack' arithmetic (TFLite's XNNPACK delegate)", () => {
  const t = (name: string, shape: number[], scale: number, zeroPoint: number): QTensor => ({ name, shape, scale: Math.fround(scale), zeroPoint });

  it('ADD: one shared shift, multipliers of about 2^20, one rounding', () => {
    // A graph has one input, so the second operand is a 1×1 max-pool copy of it (same
    // quantization, as TFLite requires of pooling). Both inputs: scale 0.5, zero point 0.
    const graph: QGraph = {
      name: 'xnn-add',
      input: 'a',
      output: 'y',
      tensors: { a: t('a', [1, 1, 1, 2], 0.5, 0), b: t('b', [1, 1, 1, 2], 0.5, 0), y: t('y', [1, 1, 1, 2], 1, 0) },
      ops: [
        { kind: 'max-pool2d', name: 'b', input: 'a', output: 'b', filter: [1, 1], strides: [1, 1], padding: 'valid', activation: 'none' },
        { kind: 'add', name: 'y', inputs: ['a', 'b'], output: 'y', activation: 'none' },
      ],
    };
    // Output scale 1: ratios 0.5 and 0.5, exponent −1, shift 20 − (−1) = 21, multipliers 2^20.
    // a = b = 7 (scale 0.5): 3.5 + 3.5 = 7 exactly. Ratios 0.5 and 0.5 → shift 21,
    // multipliers 2^20: acc = 7·2^20 + 7·2^20 + 2^20 = 15·2^20 → >> 21 = 7.
    // a = b = 3: 1.5 + 1.5 = 3 → (3 + 3 + 1)·2^20 >> 21 = 3.
    // a = b = −3: (−6 + 1)·2^20 >> 21 = floor(−2.5) = −3.
    const xnn = new Int8Interpreter(graph, { arithmetic: 'xnnpack' });
    expect(Array.from(xnn.run(Int8Array.of(7, 3)))).toEqual([7, 3]);
    expect(Array.from(xnn.run(Int8Array.of(-3, 1)))).toEqual([-3, 1]);
    // With an output scale of 2 the halves show: a = b = 1 → 0.25 + 0.25 = 0.5 step.
    // Ratios 0.25 → exponent −2, shift 22, multipliers 2^20: (1 + 1)·2^20 + 2^21 = 2^22 → 1.
    // TFLite Micro's ADD rounds the same sum away from zero in two stages: also 1; at
    // a = b = −1 (−0.5 step) XNNPACK gives floor(0) = 0 and TFLite Micro gives −1.
    graph.tensors.y = t('y', [1, 1, 1, 2], 2, 0);
    const half = new Int8Interpreter(graph, { arithmetic: 'xnnpack' });
    expect(Array.from(half.run(Int8Array.of(1, -1)))).toEqual([1, 0]);
    expect(Array.from(new Int8Interpreter(graph).run(Int8Array.of(1, -1)))).toEqual([1, -1]);
  });

  it('conv and fully-connected: lrintf(float(acc) · float32 scale), ties to even', () => {
    // One 1×1 conv, one channel, weight 1, bias 0, in scale 1, filter scale 0.5, out scale 1:
    // acc = x − zp; value acc · 0.5. x = 3 → 1.5 → ties to even: 2; x = 5 → 2.5 → 2.
    // TFLite Micro rounds the halves away from zero: 2 and 3.
    const graph: QGraph = {
      name: 'xnn-conv',
      input: 'x',
      output: 'y',
      tensors: { x: t('x', [1, 1, 1, 1], 1, 0), y: t('y', [1, 1, 1, 1], 1, 0) },
      ops: [
        {
          kind: 'conv2d',
          name: 'y',
          input: 'x',
          output: 'y',
          filter: Int8Array.of(1),
          filterShape: [1, 1, 1, 1],
          filterScales: Float32Array.of(0.5),
          bias: Int32Array.of(0),
          strides: [1, 1],
          padding: 'valid',
          activation: 'none',
        },
      ],
    };
    const xnn = new Int8Interpreter(graph, { arithmetic: 'xnnpack' });
    const micro = new Int8Interpreter(graph);
    expect([xnn.run(Int8Array.of(3))[0], xnn.run(Int8Array.of(5))[0]]).toEqual([2, 2]);
    expect([micro.run(Int8Array.of(3))[0], micro.run(Int8Array.of(5))[0]]).toEqual([2, 3]);
  });
});
