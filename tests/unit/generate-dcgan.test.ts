/**
 * The DCGAN of src/lib/generate/dcgan.ts on the wasm backend (the one it is trained on):
 * shapes and ranges, seeded weights, and one training step that moves both models and
 * leaves no tensor behind. Batches of 4 keep it to a few seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/lib/compute/backends';
import { tf } from '../../src/lib/compute/register';
import { Rng } from '../../src/lib/data/rng';
import {
  buildDiscriminator,
  buildGenerator,
  DcganTrainer,
  DEFAULT_DCGAN_CONFIG,
  generate,
  MinibatchStdDev,
  packImages,
  sampleLatents,
  validateDcganConfig,
  type DcganConfig,
} from '../../src/lib/generate/dcgan';

const CONFIG: DcganConfig = { ...DEFAULT_DCGAN_CONFIG, gChannels: 16, dChannels: 8 };
const BATCH = 4;

async function weightValues(model: tf.LayersModel): Promise<Float32Array[]> {
  return Promise.all(model.getWeights().map(async (w) => (await w.data()) as Float32Array));
}

function maxAbsDiff(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((arr, i) => arr.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - ((b[i] as Float32Array)[j] as number))))));
  return worst;
}

// getBackend() is undefined before any backend has been set in this test file's process.
let previousBackend: string | null = null;

beforeAll(async () => {
  previousBackend = (tf.getBackend() as string | null | undefined) ?? null;
  await useBackend('wasm');
});

afterAll(async () => {
  if (previousBackend) await tf.setBackend(previousBackend);
});

describe('DCGAN', () => {
  it('the generator maps z to NHWC 28×28×3 in [0, 1]; the discriminator gives one logit per image', () => {
    const g = buildGenerator(CONFIG, 1);
    const d = buildDiscriminator(CONFIG, 2);
    const before = tf.memory().numTensors;
    const images = generate(g, sampleLatents(new Rng(3), BATCH, CONFIG.latentSize), CONFIG.latentSize);
    expect(images.shape).toEqual([BATCH, 28, 28, 3]);
    const [min, max] = tf.tidy(() => [images.min().dataSync()[0] as number, images.max().dataSync()[0] as number]);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    const logits = tf.tidy(() => d.predict(packImages(images, CONFIG.pack ?? 1)) as tf.Tensor);
    expect(logits.shape).toEqual([BATCH / (CONFIG.pack ?? 1), 1]);
    tf.dispose([images, logits]);
    expect(tf.memory().numTensors).toBe(before);
    g.dispose();
    d.dispose();
  });

  it('the default generator stays under 700k parameters', () => {
    const g = buildGenerator(DEFAULT_DCGAN_CONFIG, 1);
    expect(g.countParams()).toBeLessThanOrEqual(700_000);
    g.dispose();
  });

  it('the same seed gives the same weights; another seed other weights', async () => {
    const [a, b, c] = [buildGenerator(CONFIG, 7), buildGenerator(CONFIG, 7), buildGenerator(CONFIG, 8)];
    const [wa, wb, wc] = await Promise.all([a, b, c].map(weightValues));
    expect(maxAbsDiff(wa as Float32Array[], wb as Float32Array[])).toBe(0);
    expect(maxAbsDiff(wa as Float32Array[], wc as Float32Array[])).toBeGreaterThan(0);
    const [da, db] = [buildDiscriminator(CONFIG, 7), buildDiscriminator(CONFIG, 7)];
    expect(maxAbsDiff(await weightValues(da), await weightValues(db))).toBe(0);
    [a, b, c, da, db].forEach((m) => m.dispose());
  });

  it('one training step changes both models, reports finite losses and leaves no tensor behind', async () => {
    const g = buildGenerator(CONFIG, 1);
    const d = buildDiscriminator(CONFIG, 2);
    const trainer = new DcganTrainer(g, d);
    const rng = new Rng(4);
    const real = tf.randomUniform([BATCH, 28, 28, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const zD = tf.tensor2d(sampleLatents(rng, BATCH, CONFIG.latentSize), [BATCH, CONFIG.latentSize]);
    const zG = tf.tensor2d(sampleLatents(rng, BATCH, CONFIG.latentSize), [BATCH, CONFIG.latentSize]);
    const [g0, d0] = [await weightValues(g), await weightValues(d)];
    // The first step creates the optimizer's slots, which stay until dispose.
    await trainer.step(real, zD, zG);
    const before = tf.memory().numTensors;
    const result = await trainer.step(real, zD, zG);
    expect(tf.memory().numTensors).toBe(before);
    for (const v of Object.values(result)) expect(Number.isFinite(v)).toBe(true);
    expect(result.dReal).toBeGreaterThan(0);
    expect(result.dReal).toBeLessThan(1);
    expect(trainer.stepCount).toBe(2);
    expect(maxAbsDiff(g0, await weightValues(g))).toBeGreaterThan(0);
    expect(maxAbsDiff(d0, await weightValues(d))).toBeGreaterThan(0);
    const state = await trainer.state();
    expect(state.g.stepCount).toBe(2);
    expect(state.d.slots.length).toBe(2 * d.trainableWeights.length);
    trainer.dispose();
    tf.dispose([real, zD, zG]);
    g.dispose();
    d.dispose();
  });

  it('the minibatch-std layer appends one channel: ~0 for a batch of identical images, larger for varied ones', () => {
    const layer = new MinibatchStdDev({ name: 'mbstd_test' });
    const before = tf.memory().numTensors;
    const [same, varied] = tf.tidy(() => {
      const one = tf.randomUniform([1, 3, 3, 2], 0, 1, 'float32', 1);
      const sameOut = layer.apply(tf.concat([one, one, one], 0)) as tf.Tensor4D;
      const variedOut = layer.apply(tf.randomUniform([3, 3, 3, 2], 0, 1, 'float32', 2)) as tf.Tensor4D;
      expect(sameOut.shape).toEqual([3, 3, 3, 3]);
      const last = (t: tf.Tensor4D): number[] => Array.from(t.slice([0, 0, 0, 2], [-1, -1, -1, 1]).dataSync());
      return [last(sameOut), last(variedOut)];
    });
    expect(tf.memory().numTensors).toBe(before);
    for (const v of same as number[]) expect(v).toBeLessThan(1e-3);
    const first = (varied as number[])[0] as number;
    expect(first).toBeGreaterThan(0.1);
    for (const v of varied as number[]) expect(v).toBeCloseTo(first, 6);
  });

  it('packing puts consecutive images side by side on the channel axis', () => {
    const packed = tf.tidy(() => {
      const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [4, 1, 1, 2]);
      return Array.from(packImages(x, 2).dataSync());
    });
    expect(packed).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const shape = tf.tidy(() => packImages(tf.zeros([4, 2, 2, 3]) as tf.Tensor4D, 2).shape);
    expect(shape).toEqual([2, 2, 2, 6]);
    expect(() => tf.tidy(() => packImages(tf.zeros([3, 2, 2, 3]) as tf.Tensor4D, 2))).toThrow(/multiple of 2/);
  });

  it('refuses a config it cannot build, saying which value is wrong', () => {
    expect(() => validateDcganConfig({ ...CONFIG, latentSize: 0 })).toThrow(/latent size/);
    expect(() => validateDcganConfig({ ...CONFIG, gChannels: 3 })).toThrow(/even integer/);
  });
});
