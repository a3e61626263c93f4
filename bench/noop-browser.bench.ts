/**
 * The harness's browser self-test: the same copy as noop.bench.ts, measured inside the
 * built studio in headless Chromium (served by scripts/serve.mjs). Exercises
 * `withBrowser` end to end; needs a build (`npx vite build`).
 */
import { emit, median, ratio, round, runBench, withBrowser } from './harness.ts';

const BENCH = 'noop-browser';
const BUFFER_BYTES = 8 * 1024 * 1024;
const RUNS = 15;
const WARMUP = 3;
const MB = 1024 * 1024;

await runBench(BENCH, () =>
  withBrowser(async ({ page, heapUsedBytes }) => {
    await page.goto('/');
    await page.getByRole('heading', { name: 'Hearth' }).waitFor();
    const heapBeforeBytes = await heapUsedBytes();
    // Functions passed to evaluate are serialised into the page, so the timing loop lives here.
    const samples = await page.evaluate(
      ({ bytes, runs, warmup }) => {
        const src = new Uint8Array(bytes).map((_, i) => (i * 31) & 0xff);
        const dst = new Uint8Array(bytes);
        const time = (fn: () => void): number[] => {
          const out: number[] = [];
          for (let i = 0; i < warmup + runs; i++) {
            const start = performance.now();
            fn();
            if (i >= warmup) out.push(performance.now() - start);
          }
          return out;
        };
        const loopMs = time(() => {
          for (let i = 0; i < src.length; i++) dst[i] = src[i]!;
        });
        const setMs = time(() => dst.set(src));
        return { loopMs, setMs, same: dst[bytes - 1] === src[bytes - 1] };
      },
      { bytes: BUFFER_BYTES, runs: RUNS, warmup: WARMUP },
    );
    if (!samples.same) throw new Error('the copy in the page came out wrong');
    const heapAfterBytes = await heapUsedBytes();
    const loopMbPerS = BUFFER_BYTES / MB / (median(samples.loopMs) / 1000);
    const setMbPerS = BUFFER_BYTES / MB / (median(samples.setMs) / 1000);
    emit({ bench: BENCH, metric: 'heap_used_bytes', before: heapBeforeBytes, after: heapAfterBytes });
    emit({
      bench: BENCH,
      metric: 'MB_per_s',
      value: round(setMbPerS),
      baseline: 'manual-loop',
      baseline_value: round(loopMbPerS),
      ratio: ratio(setMbPerS, loopMbPerS),
      backend: 'chromium',
      n: RUNS,
      buffer_bytes: BUFFER_BYTES,
    });
  }),
);
