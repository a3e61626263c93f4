/**
 * The harness's self-test: copying a byte buffer with `Uint8Array.prototype.set` (a
 * memcpy) against a hand-written loop. Proves `npm run bench` end to end and shows the
 * output format; the numbers mean little beyond "set is much faster than a JS loop".
 */
import { emit, peakHeap, ratio, round, runBench, timeIt } from './harness.ts';

const BENCH = 'noop';
const BUFFER_BYTES = 8 * 1024 * 1024;
const RUNS = 15;
const MB = 1024 * 1024;

await runBench(BENCH, async () => {
  const src = new Uint8Array(BUFFER_BYTES);
  for (let i = 0; i < src.length; i++) src[i] = (i * 31) & 0xff;
  const dst = new Uint8Array(BUFFER_BYTES);

  const loop = await timeIt(
    () => {
      for (let i = 0; i < src.length; i++) dst[i] = src[i]!;
    },
    { warmup: 3, n: RUNS },
  );
  if (dst[BUFFER_BYTES - 1] !== src[BUFFER_BYTES - 1]) throw new Error('manual loop copied wrongly');
  const loopMbPerS = BUFFER_BYTES / MB / (loop.medianMs / 1000);
  emit({ bench: BENCH, metric: 'MB_per_s', variant: 'manual-loop', value: round(loopMbPerS), n: RUNS });

  dst.fill(0);
  const { result: set, growthBytes } = await peakHeap(() => timeIt(() => dst.set(src), { warmup: 3, n: RUNS }));
  if (dst[BUFFER_BYTES - 1] !== src[BUFFER_BYTES - 1]) throw new Error('Uint8Array.set copied wrongly');
  const setMbPerS = BUFFER_BYTES / MB / (set.medianMs / 1000);
  emit({ bench: BENCH, metric: 'MB_per_s', variant: 'typed-array-set', value: round(setMbPerS), n: RUNS, heap_growth_bytes: growthBytes });

  emit({
    bench: BENCH,
    metric: 'MB_per_s',
    value: round(setMbPerS),
    baseline: 'manual-loop',
    baseline_value: round(loopMbPerS),
    ratio: ratio(setMbPerS, loopMbPerS),
    backend: 'node',
    n: RUNS,
    buffer_bytes: BUFFER_BYTES,
  });
});
