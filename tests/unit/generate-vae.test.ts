/**
 * The VAE of src/lib/generate/vae.ts on the wasm backend: shapes and ranges, seeded
 * weights, and training steps that lower the loss on a fixed batch and leave no tensor
 * behind. Batches of 4 keep it to a few seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/lib/compute/backends';
import { tf } from '../../src/lib/compute/register';
import { Rng } from '../../src/lib/data/rng';
import { sampleLatents } from '../../src/lib/generate/dcgan';
import { buildDecoder, buildEncoder, encodeMean, VaeTrainer, validateVaeConfig, type VaeConfig } from '../../src/lib/generate/vae';

const CONFIG: VaeConfig = { latentSize: 8, channels: 8 };
const BATCH = 4;

// getBackend() is undefined before any backend has been set in this test file's process.
let previousBackend: string | null = null;

beforeAll(async () => {
  previousBackend = (tf.getBackend() as string | null | undefined) ?? null;
  await useBackend('wasm');
});

afterAll(async () => {
  if (previousBackend) await tf.setBackend(previousBackend);
});

async function values(model: tf.LayersModel): Promise<Float32Array> {
  const parts = await Promise.all(model.getWeights().map(async (w) => (await w.data()) as Float32Array));
  return Float32Array.from(parts.flatMap((p) => Array.from(p)));
}

describe('VAE', () => {
  it('the encoder gives μ and log σ² per image; the decoder NHWC 28×28×3 in [0, 1]', () => {
    const encoder = buildEncoder(CONFIG, 1);
    const decoder = buildDecoder(CONFIG, 2);
    const before = tf.memory().numTensors;
    const x = tf.randomUniform([BATCH, 28, 28, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const mu = encodeMean(encoder, x, CONFIG.latentSize);
    const stats = encoder.predict(x) as tf.Tensor;
    expect(stats.shape).toEqual([BATCH, 2 * CONFIG.latentSize]);
    expect(mu.shape).toEqual([BATCH, CONFIG.latentSize]);
    const recon = decoder.predict(mu) as tf.Tensor;
    expect(recon.shape).toEqual([BATCH, 28, 28, 3]);
    const [min, max] = tf.tidy(() => [recon.min().dataSync()[0] as number, recon.max().dataSync()[0] as number]);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
    tf.dispose([x, stats, mu, recon]);
    expect(tf.memory().numTensors).toBe(before);
    encoder.dispose();
    decoder.dispose();
  });

  it('the same seed gives the same weights', async () => {
    const [a, b] = [buildDecoder(CONFIG, 5), buildDecoder(CONFIG, 5)];
    expect(Array.from(await values(a))).toEqual(Array.from(await values(b)));
    const [c, d] = [buildEncoder(CONFIG, 5), buildEncoder(CONFIG, 6)];
    expect(Array.from(await values(c))).not.toEqual(Array.from(await values(d)));
    [a, b, c, d].forEach((m) => m.dispose());
  });

  it('training steps on a fixed batch lower the loss and leave no tensor behind', async () => {
    const encoder = buildEncoder(CONFIG, 1);
    const decoder = buildDecoder(CONFIG, 2);
    const trainer = new VaeTrainer(encoder, decoder, CONFIG.latentSize);
    const x = tf.randomUniform([BATCH, 28, 28, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    const eps = tf.tensor2d(sampleLatents(new Rng(5), BATCH, CONFIG.latentSize), [BATCH, CONFIG.latentSize]);
    const first = await trainer.step(x, eps);
    const before = tf.memory().numTensors;
    let last = first;
    for (let i = 0; i < 5; i++) last = await trainer.step(x, eps);
    expect(tf.memory().numTensors).toBe(before);
    expect(Number.isFinite(last.loss)).toBe(true);
    expect(last.loss).toBeLessThan(first.loss);
    expect(last.loss).toBeCloseTo(last.reconstruction + last.kl, 2);
    expect(trainer.stepCount).toBe(6);
    trainer.dispose();
    tf.dispose([x, eps]);
    encoder.dispose();
    decoder.dispose();
  });

  it('refuses a config it cannot build', () => {
    expect(() => validateVaeConfig({ latentSize: 0, channels: 8 })).toThrow(/latent size/);
  });
});
