/**
 * Rotation self-supervised pretraining on the wasm backend (with Hearth's gradient
 * kernels): the four rotations checked by hand on a 3×3 image, the pretext task learned
 * on real MNIST digits (accuracy measured on held-out digits, chance 0.25), and the
 * returned task model: the pretrained body, a fresh seeded head of the task's classes.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/lib/compute/backends';
import { tf } from '../../src/lib/compute/register';
import { parseMnistFiles, type MnistArrays } from '../../src/lib/data/samples/catalog';
import { CancelSource } from '../../src/lib/jobs/progress';
import {
  pretrainRotation,
  rotateQuarterTurns,
  rotationAccuracy,
  rotationBatch,
  trainRotationModel,
  type RotationEpoch,
} from '../../src/lib/select/rotation';
import type { ImageSet } from '../../src/lib/select/types';
import { buildModel, type HearthModel, type ModelSpec } from '../../src/lib/train/models';
import { readMnistFiles } from '../helpers/mnist';

const INPUT = { width: 28, height: 28, channels: 1, resize: 'stretch' } as const;
const SPEC: ModelSpec = { kind: 'lenet', input: INPUT, numClasses: 10, seed: 3 };
const PIXELS = 28 * 28;

let mnist: MnistArrays;

/** Images [start, start + count) of one official MNIST file as an in-memory ImageSet. */
function digits(file: 'train' | 'test', start: number, count: number): ImageSet {
  const images = file === 'train' ? mnist.trainImages : mnist.testImages;
  return {
    count,
    read: (a, b) => Promise.resolve(Array.from({ length: b - a }, (_, i) => images.slice((start + a + i) * PIXELS, (start + a + i + 1) * PIXELS))),
  };
}

function weights(m: HearthModel, layer: string): Float32Array[] {
  return m.model.getLayer(layer).getWeights().map((w) => w.dataSync() as Float32Array);
}

beforeAll(async () => {
  await useBackend('wasm');
  const files = readMnistFiles();
  mnist = parseMnistFiles(files);
});

describe('rotations', () => {
  // 1 2 3
  // 4 5 6
  // 7 8 9, turned clockwise by hand.
  const image = [1, 2, 3, 4, 5, 6, 7, 8, 9];
  const expected: Record<0 | 1 | 2 | 3, number[]> = {
    0: [1, 2, 3, 4, 5, 6, 7, 8, 9],
    1: [7, 4, 1, 8, 5, 2, 9, 6, 3],
    2: [9, 8, 7, 6, 5, 4, 3, 2, 1],
    3: [3, 6, 9, 2, 5, 8, 1, 4, 7],
  };

  it('turns a 3×3 image clockwise by 0, 1, 2 and 3 quarter turns, per channel and per image', () => {
    // Two images, two channels: channel 1 is channel 0 + 10, image 1 is image 0 + 100.
    const values: number[] = [];
    for (const offset of [0, 100]) for (const v of image) values.push(v + offset, v + offset + 10);
    const x = tf.tensor4d(values, [2, 3, 3, 2]);
    const before = tf.memory().numTensors;
    for (const k of [0, 1, 2, 3] as const) {
      const y = rotateQuarterTurns(x, k);
      expect(y.shape).toEqual([2, 3, 3, 2]);
      const out = Array.from(y.dataSync());
      const want: number[] = [];
      for (const offset of [0, 100]) for (const v of expected[k]) want.push(v + offset, v + offset + 10);
      expect(out).toEqual(want);
      y.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('four quarter turns come back to the image', () => {
    const x = tf.tensor4d(image, [1, 3, 3, 1]);
    let y = x;
    for (let i = 0; i < 4; i++) {
      const next = rotateQuarterTurns(y, 1);
      if (y !== x) y.dispose();
      y = next;
    }
    expect(Array.from(y.dataSync())).toEqual(image);
    tf.dispose([x, y]);
  });

  it('a rotation batch holds each image in all four rotations, rotation-major, with its class', () => {
    const x = tf.tensor4d([...image, ...image.map((v) => v + 100)], [2, 3, 3, 1]);
    const { x: rotated, labels } = rotationBatch(x);
    expect(rotated.shape).toEqual([8, 3, 3, 1]);
    expect(Array.from(labels.dataSync())).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    const rows = rotated.arraySync().map((img) => img.flat(2));
    expect(rows[2]).toEqual(expected[1]);
    expect(rows[5]).toEqual(expected[2].map((v) => v + 100));
    expect(rows[6]).toEqual(expected[3]);
    tf.dispose([x, rotated, labels]);
  });
});

describe('rotation pretraining', () => {
  it('learns the rotation task on MNIST digits well above chance on held-out digits', async () => {
    const pool = digits('train', 0, 1000);
    const heldOut = digits('test', 0, 500);
    const untrained = buildModel({ ...SPEC, numClasses: 4 });
    const chance = await rotationAccuracy(untrained, heldOut);
    untrained.dispose();
    const epochs: RotationEpoch[] = [];
    const { model, history } = await trainRotationModel(SPEC, pool, { epochs: 2, batchSize: 25, lr: 0.05, seed: 1, onEpoch: (m) => epochs.push(m) });
    try {
      const accuracy = await rotationAccuracy(model, heldOut);
      expect(history).toEqual(epochs);
      expect(history.map((h) => h.epoch)).toEqual([0, 1]);
      expect(chance).toBeLessThan(0.45);
      // Digits are far from rotation-symmetric: a LeNet tells the four turns apart on
      // held-out digits after two epochs on a thousand of them (measured 0.76); chance is 0.25.
      expect(accuracy).toBeGreaterThan(0.5);
      expect(history[1]!.loss).toBeLessThan(history[0]!.loss);
    } finally {
      model.dispose();
    }
  }, 120_000);

  it('returns the task model: pretrained body, fresh seeded head of spec.numClasses, no leaks', async () => {
    const pool = digits('train', 1000, 200);
    const opts = { epochs: 1, batchSize: 25, lr: 0.05, seed: 9 };
    const { model: rotation } = await trainRotationModel(SPEC, pool, opts);
    const fresh = buildModel(SPEC);
    const before = tf.memory().numTensors;
    const task = await pretrainRotation(SPEC, pool, opts);
    try {
      expect(task.spec).toEqual(SPEC);
      const [kernel, bias] = weights(task, 'head');
      expect(task.model.getLayer('head').getWeights().map((w) => w.shape)).toEqual([
        [50, 10],
        [10],
      ]);
      // The head is buildModel(SPEC)'s, untouched by pretraining.
      expect(kernel).toEqual(weights(fresh, 'head')[0]);
      expect(bias).toEqual(weights(fresh, 'head')[1]);
      // Every other layer holds the rotation-trained weights (training is deterministic on
      // wasm, so a second run with the same options gives the same weights) …
      for (const layer of ['conv1', 'conv2', 'dense1']) expect(weights(task, layer)).toEqual(weights(rotation, layer));
      // … which pretraining moved away from the initial ones.
      expect(weights(task, 'conv1')[0]).not.toEqual(weights(fresh, 'conv1')[0]);
      const x = tf.zeros([2, 28, 28, 1]) as tf.Tensor4D;
      const logits = task.model.predict(x) as tf.Tensor;
      expect(logits.shape).toEqual([2, 10]);
      tf.dispose([x, logits]);
    } finally {
      task.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    rotation.dispose();
    fresh.dispose();
  }, 120_000);

  it('refuses non-square inputs and stops on cancel without leaking', async () => {
    const pool = digits('train', 0, 50);
    await expect(
      pretrainRotation({ ...SPEC, input: { ...INPUT, width: 32 } }, pool, { epochs: 1, batchSize: 25, lr: 0.05, seed: 1 }),
    ).rejects.toMatchObject({ name: 'InvalidInputError' });
    const cancel = new CancelSource();
    cancel.cancel();
    const before = tf.memory().numTensors;
    await expect(pretrainRotation(SPEC, pool, { epochs: 1, batchSize: 25, lr: 0.05, seed: 1, cancel })).rejects.toMatchObject({ name: 'CancelledError' });
    expect(tf.memory().numTensors).toBe(before);
  });
});
