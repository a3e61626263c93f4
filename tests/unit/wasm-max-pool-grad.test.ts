/**
 * The wasm backend's MaxPoolGrad against the cpu backend's, on the inputs where tfjs'
 * own wasm kernel differed: windows with tied maxima (zeros of a ReLU'd map), and 'same'
 * padding with odd sizes. Without Hearth's kernel the four random cases fail.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/lib/compute/backends';
import { tf } from '../../src/lib/compute/register';
import { Rng } from '../../src/lib/data/rng';

async function poolGrad(backend: 'cpu' | 'wasm', values: Float32Array, shape: [number, number, number, number], k: number, s: number, pad: 'valid' | 'same'): Promise<Float32Array> {
  await useBackend(backend);
  const before = tf.memory().numTensors;
  const x = tf.tensor4d(values, shape);
  // A weighted sum so every output's gradient is distinct.
  const grad = tf.grad((t: tf.Tensor) => {
    const y = tf.maxPool(t as tf.Tensor4D, k, s, pad);
    const w = tf.range(1, y.size + 1).reshape(y.shape);
    return tf.sum(tf.mul(y, w));
  })(x);
  const out = (await grad.data()) as Float32Array;
  tf.dispose([x, grad]);
  expect(tf.memory().numTensors).toBe(before);
  return out;
}

beforeAll(async () => {
  await useBackend('wasm');
});

describe('MaxPoolGrad on wasm', () => {
  it('a tie sends the gradient to the first maximum, as the cpu backend does', async () => {
    // One 2×2 window [3, 1, 2, 3]: two maxima; TensorFlow and the cpu backend put dy = 1
    // at the first (tfjs' own wasm kernel put it at the last).
    const values = Float32Array.of(3, 1, 2, 3);
    const cpu = await poolGrad('cpu', values, [1, 2, 2, 1], 2, 2, 'valid');
    const wasm = await poolGrad('wasm', values, [1, 2, 2, 1], 2, 2, 'valid');
    expect(Array.from(cpu)).toEqual([1, 0, 0, 0]);
    expect(Array.from(wasm)).toEqual([1, 0, 0, 0]);
  });

  it.each<[[number, number, number, number], number, number, 'valid' | 'same']>([
    [[2, 8, 8, 3], 2, 2, 'valid'],
    [[1, 7, 9, 2], 3, 2, 'same'],
    [[3, 5, 5, 4], 2, 1, 'same'],
    [[1, 24, 24, 10], 2, 2, 'valid'],
  ])('equals the cpu backend on ReLU-like data with ties, shape %j, k %i, stride %i, %s', async (shape, k, s, pad) => {
    const rng = new Rng(shape.reduce((a, b) => a * b, k * 31 + s));
    // Half the values zero (a ReLU'd map), the rest small integers, so ties are common.
    const values = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rng.next() < 0.5 ? 0 : rng.int(4)));
    const cpu = await poolGrad('cpu', values, shape, k, s, pad);
    const wasm = await poolGrad('wasm', values, shape, k, s, pad);
    expect(Array.from(wasm)).toEqual(Array.from(cpu));
  });
});
