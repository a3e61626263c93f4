/**
 * The `al-select-speed` benchmark: milliseconds to select b = 125 images from the
 * `al-mnist` pool (a seeded sample of POOL_SIZE MNIST-LT training images, the validation
 * set of VAL_PER_CLASS per digit), Fisher-kernel selection ('ours': descriptors of pool and
 * validation, similarity, k-centre, top neighbours) against MC-dropout variation ratio with
 * K = 128 stochastic passes over the pool (the reference's `-smp 128`), the baseline.
 *
 * Both select with the same model: LeNet after one labeling round, i.e. trained from its
 * seeded initial weights on 125 randomly picked pool images (RETRAIN), which is what the
 * second round of the loop selects with. Times are medians (ours: 1 warm-up, 3 runs;
 * varR: 1 run, as one pass of 128 × the pool takes minutes on 2 cores).
 *
 * Usage: `npm run bench -- al-select-speed`.
 */
import { useBackend } from '../src/lib/compute/backends.ts';
import { tf } from '../src/lib/compute/register.ts';
import { Rng } from '../src/lib/data/rng.ts';
import { buildSampleDataset, DIGIT_CLASSES, parseMnistFiles } from '../src/lib/data/samples/catalog.ts';
import { firstPerClass, imageSetsBySplit, inMemory, retrainWarm, seededSample, type RetrainConfig } from '../tests/helpers/oracle-loop.ts';
import { selectBatch } from '../src/lib/select/select.ts';
import type { SelectRequest, SelectResult } from '../src/lib/select/types.ts';
import { buildModel } from '../src/lib/train/models.ts';
import { emit, ratio, round, runBench, timeIt } from './harness.ts';
import { readMnistFiles } from '../tests/helpers/mnist.ts';

const BENCH = 'al-select-speed';
const INPUT = { width: 28, height: 28, channels: 1, resize: 'stretch' } as const;
/** The same pool and validation set as `al-mnist`. */
const POOL_SEED = 20200614;
const POOL_SIZE = 10_000;
const VAL_PER_CLASS = 200;
const BUDGET = 125;
const MC_SAMPLES = 128;
const SEED = 1;
const RETRAIN: RetrainConfig = { epochs: 12, batchSize: 25, lr: 0.05, momentum: 0.5, lrDecayEveryEpochs: 4, lrDecay: 0.1, valEvery: 2 };
const OURS_RUNS = { warmup: 1, n: 3 };
const VARR_RUNS = { warmup: 0, n: 1 };

await runBench(BENCH, async () => {
  await useBackend('wasm');
  const files = readMnistFiles();
  const lt = imageSetsBySplit(buildSampleDataset('mnist-lt', parseMnistFiles(files)).samples, DIGIT_CLASSES);
  const pool = await inMemory(seededSample(lt.train, POOL_SIZE, POOL_SEED));
  const val = await inMemory(firstPerClass(lt.val, VAL_PER_CLASS));

  // The model of the loop's second round: trained on 125 random pool images.
  const model = buildModel({ kind: 'lenet', input: INPUT, numClasses: 10, seed: SEED });
  const first = new Rng(SEED).fork('first-round').shuffle(Array.from({ length: pool.count }, (_, i) => i)).slice(0, BUDGET);
  const pixels = await Promise.all(first.map(async (p) => (await pool.read(p, p + 1))[0] as Uint8Array));
  const { valAccuracy } = await retrainWarm(model, pixels, Int32Array.from(first, (p) => pool.labels[p] as number), val, RETRAIN, SEED);
  // Selection must not see the oracle's answers.
  const unlabeledPool = { count: pool.count, read: pool.read };

  try {
    const time = async (req: SelectRequest, runs: { warmup: number; n: number }) => {
      let last: SelectResult | null = null;
      const timing = await timeIt(async () => {
        last = await selectBatch(model, val, unlabeledPool, req);
      }, runs);
      return { timing, result: last as SelectResult | null };
    };
    const tensorsBefore = tf.memory().numTensors;
    const ours = await time({ method: 'ours', budget: BUDGET, seed: SEED }, OURS_RUNS);
    const tensorsAfter = tf.memory().numTensors;
    emit({
      bench: BENCH,
      variant: 'ours',
      metric: 'select_ms',
      value: round(ours.timing.medianMs),
      samples_ms: ours.timing.samplesMs.map((v) => round(v)),
      phases_ms_last_run: ours.result ? Object.fromEntries(Object.entries(ours.result.timings).map(([k, v]) => [k, round(v)])) : null,
      misclassified_val: ours.result?.misclassified ?? null,
      num_tensors_before: tensorsBefore,
      num_tensors_after: tensorsAfter,
      pool: pool.count,
      val: val.count,
      budget: BUDGET,
      backend: tf.getBackend(),
    });
    const varR = await time({ method: 'varr', budget: BUDGET, seed: SEED, mcSamples: MC_SAMPLES }, VARR_RUNS);
    emit({
      bench: BENCH,
      variant: `varR-K${MC_SAMPLES}`,
      metric: 'select_ms',
      value: round(varR.timing.medianMs),
      samples_ms: varR.timing.samplesMs.map((v) => round(v)),
      pool: pool.count,
      budget: BUDGET,
      backend: tf.getBackend(),
    });
    emit({
      bench: BENCH,
      metric: 'select_ms',
      value: round(ours.timing.medianMs),
      baseline: `varR-mc-dropout-K${MC_SAMPLES}`,
      baseline_value: round(varR.timing.medianMs),
      ratio: ratio(ours.timing.medianMs, varR.timing.medianMs),
      speedup: ratio(varR.timing.medianMs, ours.timing.medianMs),
      backend: tf.getBackend(),
      n: OURS_RUNS.n,
      baseline_n: VARR_RUNS.n,
      pool: pool.count,
      val: val.count,
      budget: BUDGET,
      model: 'lenet-28x28x1',
      model_val_acc: round(valAccuracy),
    });
  } finally {
    model.dispose();
  }
});
