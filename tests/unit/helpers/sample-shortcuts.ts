/**
 * The shortcut detector run on a sample dataset (2,000 images per split by default), with
 * the statistics computed as the app computes them and Colored MNIST's `color` attribute.
 */
import { computeImageStats } from '../../../src/lib/analysis/image-stats';
import { createStatColumns, detectShortcuts, setSampleStats, type ShortcutReport } from '../../../src/lib/analysis/shortcuts';
import { buildSampleDataset, type MnistArrays, type SampleDatasetId } from '../../../src/lib/data/samples/catalog';

const COLOR_VALUES = ['red', 'green', 'blue', 'yellow', 'magenta', 'cyan', 'orange', 'purple', 'pink', 'lime'];

export function analyseSampleDataset(mnist: MnistArrays, id: SampleDatasetId, opts: { perSplit?: number; only?: 'train' } = {}): ShortcutReport {
  const built = buildSampleDataset(id, mnist, { maxPerSplit: opts.perSplit ?? 2000 });
  const samples = [...built.samples].filter((s) => opts.only === undefined || s.split === opts.only);
  const { width, height, channels } = built.project.input;
  const stats = createStatColumns(samples.length);
  const labels = new Int16Array(samples.length);
  const codes = new Int16Array(samples.length);
  samples.forEach((s, i) => {
    setSampleStats(stats, i, computeImageStats(s.pixelsHwc, width, height, channels), null);
    labels[i] = built.project.classes.indexOf(s.label);
    codes[i] = s.attributes.color === undefined ? -1 : COLOR_VALUES.indexOf(s.attributes.color);
  });
  const attributes: Record<string, { values: string[]; codes: Int16Array }> =
    id === 'colored-mnist' ? { color: { values: COLOR_VALUES, codes } } : {};
  return detectShortcuts({ labels, classes: built.project.classes, stats, attributes, seed: 2024 });
}
