import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/lib/compute/backends';
import { tf } from '../../src/lib/compute/register';
import { sha256Hex } from '../../src/lib/export/package';
import { checkFitsProject, loadGenerator } from '../../src/lib/generate/generator';
import { parseGeneratorManifest, type GeneratorManifest } from '../../src/lib/generate/manifest';

/** A tiny real tfjs generator (latent 8 → 28×28×3 in [0, 1]) saved as model.json + weights.bin. */
async function tinyGenerator(outputSide = 28): Promise<Record<string, Uint8Array>> {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [8], units: 7 * 7 * 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.reshape({ targetShape: [7, 7, 4] }),
      tf.layers.upSampling2d({ size: [outputSide / 7, outputSide / 7] }),
      tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'sigmoid', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  let files: Record<string, Uint8Array> = {};
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const weights = new Uint8Array(a.weightData as ArrayBuffer);
      const json = { modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }] };
      files = { 'model.json': new TextEncoder().encode(JSON.stringify(json)), 'weights.bin': weights };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  model.dispose();
  return files;
}

async function manifestOf(files: Record<string, Uint8Array>, output = { width: 28, height: 28, channels: 3 }): Promise<GeneratorManifest> {
  return parseGeneratorManifest({
    format: 'hearth-generator',
    version: 1,
    id: 'tiny',
    name: 'Tiny GAN',
    kind: 'gan',
    latentSize: 8,
    output: { ...output, layout: 'NHWC', range: [0, 1] },
    files: await Promise.all(Object.entries(files).map(async ([path, b]) => ({ path, bytes: b.length, sha256: await sha256Hex(b) }))),
  });
}

beforeAll(async () => {
  await useBackend('cpu');
});

describe('loading a generator', () => {
  it('checks the files, loads the model and generates images of the manifest’s shape', async () => {
    const files = await tinyGenerator();
    const g = await loadGenerator(await manifestOf(files), async (p) => files[p] ?? null);
    const images = g.generate(tf.randomNormal([5, 8], 0, 1, 'float32', 3) as tf.Tensor2D);
    expect(images.shape).toEqual([5, 28, 28, 3]);
    const [lo, hi] = [tf.min(images).dataSync()[0] as number, tf.max(images).dataSync()[0] as number];
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    images.dispose();
    g.dispose();
  });

  it('refuses altered weights before building anything', async () => {
    const files = await tinyGenerator();
    const manifest = await manifestOf(files);
    const altered: Record<string, Uint8Array> = { ...files, 'weights.bin': Uint8Array.from(files['weights.bin'] as Uint8Array, (b, i) => (i === 10 ? b ^ 0xff : b)) };
    await expect(loadGenerator(manifest, async (p) => altered[p] ?? null)).rejects.toMatchObject({ name: 'GeneratorIntegrityError' });
  });

  it('refuses a model whose output shape is not its manifest’s, saying which', async () => {
    const files = await tinyGenerator(14);
    await expect(loadGenerator(await manifestOf(files), async (p) => files[p] ?? null)).rejects.toThrow(
      /makes images of shape \[n, 14, 14, 3\], but its manifest says \[n, 28, 28, 3\]/,
    );
  });

  it('says when a generator does not fit the project', async () => {
    const manifest = await manifestOf(await tinyGenerator());
    expect(() => checkFitsProject(manifest, { width: 28, height: 28, channels: 3 })).not.toThrow();
    expect(() => checkFitsProject(manifest, { width: 28, height: 28, channels: 1 })).toThrow(/makes 28×28 images with 3 channels, but this project's images are 28×28 with 1/);
  });
});
