/**
 * The figures that judge a Colored MNIST generator, for its manifest: a digit classifier
 * trained here on real Colored MNIST reads which digit each of 2,000 generated samples
 * shows, and each sample's dominant hue says which of the dataset's 10 colours it wears.
 * The same figures on 2,000 real training images are reported beside them as the
 * reference a perfect generator would match.
 *
 * The classifier sees the digit without its colour (per pixel the largest channel, scaled
 * so the image's brightest pixel is 1). Fed the RGB pixels, it would learn the training
 * split's shortcut (a digit wears its own colour 90 % of the time) and report a red blob
 * as a 0. Its accuracy on the test split, where colours are random, is the check that it
 * reads shapes.
 */
import { computeImageStats, opencvHue, HUE_BINS } from '../src/lib/analysis/image-stats.ts';
import { tf } from '../src/lib/compute/register.ts';
import { Rng } from '../src/lib/data/rng.ts';
import { COLOR_PALETTE, type BuiltSampleDataset } from '../src/lib/data/samples/catalog.ts';
import { generate, sampleLatents } from '../src/lib/generate/dcgan.ts';
import { buildModel } from '../src/lib/train/models.ts';
import { Optimizer } from '../src/lib/train/optim.ts';

const SIDE = 28;
const RGB_PIXELS = SIDE * SIDE * 3;
const GRAY_PIXELS = SIDE * SIDE;
const CLASSES = 10;
export const GENERATED_SAMPLES = 2000;
const CLASSIFIER_EPOCHS = Number(process.env.HEARTH_FIGURES_EPOCHS ?? 3);
const CLASSIFIER_BATCH = 64;
const CLASSIFIER_LR = 1e-3;
const EVAL_BATCH = 250;
/**
 * A sample wears palette colour c when its dominant hue is within this many OpenCV hue
 * bins (2° each) of c's hue. The closest palette hues are 15 bins apart (red–orange,
 * orange–yellow, magenta–pink, pink–red), so 5 bins leaves the hues between two palette
 * colours out instead of rounding them to the nearer one.
 */
const HUE_TOLERANCE_BINS = 5;
/** A (digit, colour) combination counts as covered with at least this many samples. */
const MIN_COMBINATION_SAMPLES = 2;

export interface SampleFigures {
  samples: number;
  /** Share of samples the classifier reads as each digit 0…9. */
  digitShares: number[];
  /** Entropy of digitShares over log 10: 1 when every digit is equally common. */
  digitEntropyNormalised: number;
  /** Digits that at least 1 % of the samples are read as. */
  digitsCovered: number;
  meanConfidence: number;
  /** Share of samples read with a softmax probability of at least 0.9. */
  confidentShare: number;
  /** Share of samples whose dominant hue is one of the 10 palette colours (HUE_TOLERANCE_BINS). */
  paletteColourShare: number;
  /** Share of the palette-coloured samples that wear each palette colour, in palette order. */
  colourShares: number[];
  /** (digit, colour) pairs with at least MIN_COMBINATION_SAMPLES samples, of 100. */
  digitColourCombinations: number;
  /** Share of the palette-coloured samples whose colour is their digit's own (train: ~0.9). */
  ownColourShare: number;
}

export interface GeneratorFigures {
  classifier: { model: 'lenet'; input: string; epochs: number; trainSamples: number; testAccuracy: number; testSamples: number };
  generated: SampleFigures & { latentSeed: string };
  realTrainReference: SampleFigures;
  hueToleranceBins: number;
  minCombinationSamples: number;
}

/** Colour-free view: per pixel the largest channel, scaled so the image's brightest pixel is 1. */
function shapeOnly(rgbHwc: ArrayLike<number>, offset: number, out: Float32Array, outOffset: number): void {
  let peak = 0;
  for (let p = 0; p < GRAY_PIXELS; p++) {
    const i = offset + p * 3;
    const v = Math.max(rgbHwc[i] as number, rgbHwc[i + 1] as number, rgbHwc[i + 2] as number);
    out[outOffset + p] = v;
    if (v > peak) peak = v;
  }
  // An all-black image stays all zeros.
  const k = peak > 0 ? 1 / peak : 0;
  for (let p = 0; p < GRAY_PIXELS; p++) out[outOffset + p] = (out[outOffset + p] as number) * k;
}

function shapeBatch(rgbHwc: ArrayLike<number>, start: number, count: number): tf.Tensor4D {
  const values = new Float32Array(count * GRAY_PIXELS);
  for (let b = 0; b < count; b++) shapeOnly(rgbHwc, (start + b) * RGB_PIXELS, values, b * GRAY_PIXELS);
  return tf.tensor4d(values, [count, SIDE, SIDE, 1]);
}

/** The samples of one split: pixels concatenated (HWC uint8 RGB 28×28), labels beside. */
export interface Split {
  pixelsHwc: Uint8Array;
  labels: Uint8Array;
}

export function collectSplit(built: BuiltSampleDataset, split: 'train' | 'test'): Split {
  const n = built.splitCounts[split];
  const pixelsHwc = new Uint8Array(n * RGB_PIXELS);
  const labels = new Uint8Array(n);
  let i = 0;
  for (const s of built.samples) {
    if (s.split !== split) continue;
    pixelsHwc.set(s.pixelsHwc, i * RGB_PIXELS);
    labels[i] = Number(s.label);
    i++;
  }
  return { pixelsHwc, labels };
}

async function trainClassifier(train: Split, seed: number, log: (line: string) => void): Promise<ReturnType<typeof buildModel>> {
  const model = buildModel({ kind: 'lenet', input: { width: SIDE, height: SIDE, channels: 1, resize: 'stretch' }, numClasses: CLASSES, seed });
  const vars = model.model.trainableWeights.map((w) => w.read() as tf.Variable);
  const opt = new Optimizer({ kind: 'adam', lr: CLASSIFIER_LR, beta1: 0.9, beta2: 0.999, eps: 1e-8 }, 0, vars);
  const n = train.labels.length;
  const rng = new Rng(seed).fork('classifier');
  for (let epoch = 0; epoch < CLASSIFIER_EPOCHS; epoch++) {
    const order = rng.fork(`epoch/${epoch}`).shuffle(Uint32Array.from({ length: n }, (_, i) => i));
    let lossSum = 0;
    let batches = 0;
    const start = performance.now();
    for (let b = 0; b + CLASSIFIER_BATCH <= n; b += CLASSIFIER_BATCH) {
      const idx = order.subarray(b, b + CLASSIFIER_BATCH);
      const values = new Float32Array(CLASSIFIER_BATCH * GRAY_PIXELS);
      const labels = new Int32Array(CLASSIFIER_BATCH);
      idx.forEach((sample, j) => {
        shapeOnly(train.pixelsHwc, sample * RGB_PIXELS, values, j * GRAY_PIXELS);
        labels[j] = train.labels[sample] as number;
      });
      const loss = tf.tidy(() => {
        const x = tf.tensor4d(values, [CLASSIFIER_BATCH, SIDE, SIDE, 1]);
        const y = tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES);
        const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, model.model.apply(x, { training: true }) as tf.Tensor2D) as tf.Scalar, vars);
        opt.step(vars.map((v) => grads[v.name] as tf.Tensor), CLASSIFIER_LR);
        return value;
      });
      lossSum += (await loss.data())[0] as number;
      loss.dispose();
      batches++;
    }
    log(`classifier epoch ${epoch + 1}/${CLASSIFIER_EPOCHS}: loss ${(lossSum / batches).toFixed(4)} (${((n * 1000) / (performance.now() - start)).toFixed(0)} img/s)`);
  }
  opt.dispose();
  return model;
}

/** Softmax probabilities [count, 10] of the colour-free view of `count` RGB images. */
async function classify(model: ReturnType<typeof buildModel>, rgbHwc: ArrayLike<number>, count: number): Promise<Float32Array> {
  const probs = new Float32Array(count * CLASSES);
  for (let start = 0; start < count; start += EVAL_BATCH) {
    const size = Math.min(EVAL_BATCH, count - start);
    const p = tf.tidy(() => tf.softmax(model.model.predict(shapeBatch(rgbHwc, start, size)) as tf.Tensor2D));
    probs.set((await p.data()) as Float32Array, start * CLASSES);
    p.dispose();
  }
  return probs;
}

function argmax(v: Float32Array, offset: number, length: number): number {
  let best = 0;
  for (let i = 1; i < length; i++) if ((v[offset + i] as number) > (v[offset + best] as number)) best = i;
  return best;
}

const PALETTE_HUES = COLOR_PALETTE.map(({ rgb }) => opencvHue(rgb[0], rgb[1], rgb[2]));

/** The palette colour whose hue is within HUE_TOLERANCE_BINS of `hue`, or null. */
export function paletteColourOfHue(hue: number | undefined): number | null {
  if (hue === undefined) return null;
  let best: number | null = null;
  let bestDist = Infinity;
  PALETTE_HUES.forEach((h, c) => {
    const d = Math.abs(h - hue);
    const dist = Math.min(d, HUE_BINS - d);
    if (dist < bestDist) {
      bestDist = dist;
      best = c;
    }
  });
  return bestDist <= HUE_TOLERANCE_BINS ? best : null;
}

function sampleFigures(probs: Float32Array, pixelsU8: Uint8Array, count: number): SampleFigures {
  const digitCounts = new Array<number>(CLASSES).fill(0);
  const colourCounts = new Array<number>(COLOR_PALETTE.length).fill(0);
  const combos = new Map<string, number>();
  let confidenceSum = 0;
  let confident = 0;
  let coloured = 0;
  let own = 0;
  for (let i = 0; i < count; i++) {
    const digit = argmax(probs, i * CLASSES, CLASSES);
    const confidence = probs[i * CLASSES + digit] as number;
    digitCounts[digit] = (digitCounts[digit] as number) + 1;
    confidenceSum += confidence;
    if (confidence >= 0.9) confident++;
    const stats = computeImageStats(pixelsU8.subarray(i * RGB_PIXELS, (i + 1) * RGB_PIXELS), SIDE, SIDE, 3);
    const colour = paletteColourOfHue(stats.dominantHue);
    if (colour === null) continue;
    coloured++;
    colourCounts[colour] = (colourCounts[colour] as number) + 1;
    if (colour === digit) own++;
    const key = `${digit}/${colour}`;
    combos.set(key, (combos.get(key) ?? 0) + 1);
  }
  const shares = digitCounts.map((c) => c / count);
  const entropy = -shares.reduce((a, p) => (p > 0 ? a + p * Math.log(p) : a), 0);
  const r = (v: number): number => Number(v.toFixed(4));
  return {
    samples: count,
    digitShares: shares.map(r),
    digitEntropyNormalised: r(entropy / Math.log(CLASSES)),
    digitsCovered: shares.filter((p) => p >= 0.01).length,
    meanConfidence: r(confidenceSum / count),
    confidentShare: r(confident / count),
    paletteColourShare: r(coloured / count),
    colourShares: colourCounts.map((c) => r(c / Math.max(1, coloured))),
    digitColourCombinations: [...combos.values()].filter((c) => c >= MIN_COMBINATION_SAMPLES).length,
    ownColourShare: r(own / Math.max(1, coloured)),
  };
}

export async function judgeGenerator(opts: {
  generator: tf.LayersModel;
  latentSize: number;
  built: BuiltSampleDataset;
  seed: number;
  log: (line: string) => void;
}): Promise<GeneratorFigures> {
  const { generator, latentSize, built, seed, log } = opts;
  const train = collectSplit(built, 'train');
  const test = collectSplit(built, 'test');
  const classifier = await trainClassifier(train, seed, log);
  try {
    const testProbs = await classify(classifier, test.pixelsHwc, test.labels.length);
    let correct = 0;
    for (let i = 0; i < test.labels.length; i++) if (argmax(testProbs, i * CLASSES, CLASSES) === test.labels[i]) correct++;
    const testAccuracy = correct / test.labels.length;
    log(`classifier accuracy on colored-mnist test (random colours): ${(100 * testAccuracy).toFixed(2)} %`);

    const latentSeed = 'figures';
    const z = sampleLatents(new Rng(seed).fork(latentSeed), GENERATED_SAMPLES, latentSize);
    const generatedU8 = new Uint8Array(GENERATED_SAMPLES * RGB_PIXELS);
    for (let start = 0; start < GENERATED_SAMPLES; start += EVAL_BATCH) {
      const size = Math.min(EVAL_BATCH, GENERATED_SAMPLES - start);
      const images = generate(generator, z.subarray(start * latentSize, (start + size) * latentSize), latentSize);
      const values = (await images.data()) as Float32Array;
      images.dispose();
      for (let j = 0; j < values.length; j++) generatedU8[start * RGB_PIXELS + j] = Math.round((values[j] as number) * 255);
    }
    const generated = sampleFigures(await classify(classifier, generatedU8, GENERATED_SAMPLES), generatedU8, GENERATED_SAMPLES);

    const realCount = Math.min(GENERATED_SAMPLES, train.labels.length);
    const realU8 = train.pixelsHwc.subarray(0, realCount * RGB_PIXELS);
    const realTrainReference = sampleFigures(await classify(classifier, realU8, realCount), realU8, realCount);
    return {
      classifier: {
        model: 'lenet',
        input: 'colour removed: per pixel the largest channel, scaled to the image maximum',
        epochs: CLASSIFIER_EPOCHS,
        trainSamples: train.labels.length,
        testAccuracy: Number(testAccuracy.toFixed(4)),
        testSamples: test.labels.length,
      },
      generated: { ...generated, latentSeed: `new Rng(seed).fork('${latentSeed}'), ${GENERATED_SAMPLES} × ${latentSize} normals` },
      realTrainReference,
      hueToleranceBins: HUE_TOLERANCE_BINS,
      minCombinationSamples: MIN_COMBINATION_SAMPLES,
    };
  } finally {
    classifier.dispose();
  }
}
