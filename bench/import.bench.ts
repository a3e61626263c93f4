/**
 * The `import` benchmark: MNIST's 70,000 PNGs as an ImageFolder (`train/<digit>/<i>.png`,
 * `test/<digit>/<i>.png`) imported through the real studio in headless Chromium: a 28×28
 * gray project made through the UI, the folder handed to the folder picker, and the clock
 * stopped when the import report says `done`. All samples must land.
 *
 * Baseline, in the same page and run: the same File objects (from a `webkitdirectory`
 * input) read and decoded exactly as the data worker's decoder does it (`arrayBuffer`,
 * `createImageBitmap` without premultiplication or colour conversion, an OffscreenCanvas
 * `getImageData`), one file at a time as the import does, and nothing stored. The ratio is
 * what staging, IndexedDB writes, pixel conversion and the job protocol cost on top of the
 * unavoidable read + decode.
 *
 * Heap: the import runs in the data worker, whose heap the page's does not include, and
 * workers have no `performance.memory`. So the benchmark attaches to the worker's DevTools
 * target (Target.setAutoAttach, non-flat sessions) and samples `Runtime.getHeapUsage`
 * every HEAP_SAMPLE_INTERVAL_MS, keeping the peak; the page's heap is sampled alongside.
 *
 * Usage: `npm run bench -- import [SIZE]`; SIZE (images, default 70000) takes SIZE/2 from
 * each split, e.g. `npm run bench -- import 2000` for a quick run. Needs a build.
 */
import type { CDPSession, Page } from '@playwright/test';
import { BenchSetupError, emit, ratio, round, runBench, withBrowser } from './harness.ts';
import { ensureMnistPngFolder } from './mnist-png-folder.mjs';

const BENCH = 'import';
const MNIST_TOTAL = 70_000;
/** How often both heaps are sampled while an import or the baseline runs. */
const HEAP_SAMPLE_INTERVAL_MS = 250;
/** The data worker starts with the app; this only guards a page that never made one. */
const WORKER_ATTACH_TIMEOUT_MS = 15_000;
/** Generous: the full 70k import takes minutes on a 2-core machine; bench.mjs stops us at 30 min. */
const IMPORT_TIMEOUT_MS = 28 * 60_000;
/** The sample counts refresh right after the report shows; this bounds that refresh. */
const COUNT_REFRESH_TIMEOUT_MS = 60_000;
const UI_TIMEOUT_MS = 30_000;
/**
 * Handing 70k files to a file input takes 15–30 s here, around Playwright's 30 s default
 * action timeout, so it gets its own.
 */
const SET_INPUT_FILES_TIMEOUT_MS = 5 * 60_000;
const WORKER_URL_PATTERN = /data\.worker/;
const BASELINE_INPUT_TESTID = 'bench-baseline-input';
const PROJECT_NAME = 'MNIST import bench';

/** Heap numbers from CDP's Runtime.getHeapUsage, in bytes. */
interface HeapUsage {
  usedSize: number;
  /** ArrayBuffer backing stores (file bytes, pixels) live outside the JS heap proper. */
  backingStorageSize: number;
}

/**
 * The data worker's heap over the page's DevTools session. Playwright's own sessions are
 * flat; this one attaches non-flat, so messages to the worker travel as
 * Target.sendMessageToTarget and its answers come back as events on the same session.
 */
interface WorkerHeapProbe {
  url: string;
  read(): Promise<HeapUsage>;
}

async function attachWorkerHeap(page: Page): Promise<WorkerHeapProbe> {
  const cdp: CDPSession = await page.context().newCDPSession(page);
  const pending = new Map<number, { resolve: (v: HeapUsage) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  cdp.on('Target.receivedMessageFromTarget', (event) => {
    const message = JSON.parse(event.message) as { id?: number; result?: HeapUsage; error?: { message: string } };
    if (message.id === undefined) return;
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.result) waiter.resolve(message.result);
    else waiter.reject(new Error(`Runtime.getHeapUsage in the worker failed: ${message.error?.message ?? 'no result'}`));
  });
  const attached = new Promise<{ sessionId: string; url: string }>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new BenchSetupError(`No data worker appeared within ${WORKER_ATTACH_TIMEOUT_MS} ms: is the build current?`)),
      WORKER_ATTACH_TIMEOUT_MS,
    );
    cdp.on('Target.attachedToTarget', (event) => {
      if (event.targetInfo.type === 'worker' && WORKER_URL_PATTERN.test(event.targetInfo.url)) {
        clearTimeout(timer);
        resolve({ sessionId: event.sessionId, url: event.targetInfo.url });
      }
    });
  });
  // Attaches to workers that exist already as well as later ones.
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: false, flatten: false });
  const { sessionId, url } = await attached;
  return {
    url,
    read: () =>
      new Promise<HeapUsage>((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        cdp
          .send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method: 'Runtime.getHeapUsage' }) })
          .catch((err: unknown) => {
            pending.delete(id);
            reject(err instanceof Error ? err : new Error(String(err)));
          });
      }),
  };
}

interface HeapPeaks {
  pageStartBytes: number;
  pagePeakBytes: number;
  workerStartBytes: number;
  workerPeakBytes: number;
  workerBackingPeakBytes: number;
  samples: number;
}

/**
 * Samples both heaps every HEAP_SAMPLE_INTERVAL_MS while `fn` runs. A sample that fails
 * (a worker busy past the session's patience) is skipped rather than failing the run.
 */
async function withHeapSampling<T>(
  pageHeap: () => Promise<number>,
  worker: WorkerHeapProbe,
  fn: () => Promise<T>,
): Promise<{ result: T; heap: HeapPeaks }> {
  const [pageStart, workerStart] = await Promise.all([pageHeap(), worker.read()]);
  const heap: HeapPeaks = {
    pageStartBytes: pageStart,
    pagePeakBytes: pageStart,
    workerStartBytes: workerStart.usedSize,
    workerPeakBytes: workerStart.usedSize,
    workerBackingPeakBytes: workerStart.backingStorageSize,
    samples: 1,
  };
  let running = true;
  const sampler = (async () => {
    while (running) {
      await new Promise((r) => setTimeout(r, HEAP_SAMPLE_INTERVAL_MS));
      const [p, w] = await Promise.all([pageHeap().catch(() => null), worker.read().catch(() => null)]);
      if (p !== null) heap.pagePeakBytes = Math.max(heap.pagePeakBytes, p);
      if (w !== null) {
        heap.workerPeakBytes = Math.max(heap.workerPeakBytes, w.usedSize);
        heap.workerBackingPeakBytes = Math.max(heap.workerBackingPeakBytes, w.backingStorageSize);
      }
      heap.samples++;
    }
  })();
  try {
    return { result: await fn(), heap };
  } finally {
    running = false;
    await sampler;
  }
}

async function createProject(page: Page): Promise<void> {
  await page.goto('/');
  await page.getByTestId('project-new').or(page.getByTestId('new-project-form')).first().waitFor({ timeout: UI_TIMEOUT_MS });
  if (!(await page.getByTestId('new-project-form').isVisible())) await page.getByTestId('project-new').click();
  await page.getByTestId('new-project-name').fill(PROJECT_NAME);
  await page.getByRole('radio', { name: /28×28 gray/ }).check();
  await page.getByTestId('new-project-create').click();
  await page.getByTestId('status-project').filter({ hasText: PROJECT_NAME }).waitFor({ timeout: UI_TIMEOUT_MS });
}

interface BaselineResult {
  decoded: number;
  failed: number;
  ms: number;
  checksum: number;
}

/** The baseline's loop, run in the page: read and decode each file as browser-decoder.ts does, store nothing. */
async function runBaseline(page: Page, folder: string): Promise<{ result: BaselineResult; setFilesMs: number }> {
  await page.evaluate((testId) => {
    const input = document.createElement('input');
    input.type = 'file';
    input.multiple = true;
    input.webkitdirectory = true;
    input.dataset.testid = testId;
    input.hidden = true;
    document.body.append(input);
  }, BASELINE_INPUT_TESTID);
  const setStart = performance.now();
  await page.getByTestId(BASELINE_INPUT_TESTID).setInputFiles(folder, { timeout: SET_INPUT_FILES_TIMEOUT_MS });
  const setFilesMs = performance.now() - setStart;
  const result = await page.evaluate(async (testId): Promise<BaselineResult> => {
    const input = document.querySelector<HTMLInputElement>(`[data-testid="${testId}"]`);
    const files = [...(input?.files ?? [])].filter((f) => f.name.toLowerCase().endsWith('.png'));
    let decoded = 0;
    let failed = 0;
    // Summing the red channel (the import converts every pixel too) keeps the decode observable, so nothing can skip it.
    let checksum = 0;
    const start = performance.now();
    for (const file of files) {
      try {
        const bytes = await file.arrayBuffer();
        const bitmap = await createImageBitmap(new Blob([bytes], { type: 'image/png' }), {
          premultiplyAlpha: 'none',
          colorSpaceConversion: 'none',
        });
        try {
          const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
          const ctx = canvas.getContext('2d', { willReadFrequently: true });
          if (!ctx) throw new Error('no 2D context');
          ctx.drawImage(bitmap, 0, 0);
          const rgba = ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
          for (let i = 0; i < rgba.length; i += 4) checksum = (checksum + (rgba[i] ?? 0)) >>> 0;
          decoded++;
        } finally {
          bitmap.close();
        }
      } catch {
        failed++;
      }
    }
    const ms = performance.now() - start;
    // Let the File objects go before the import is measured.
    input?.remove();
    return { decoded, failed, ms, checksum };
  }, BASELINE_INPUT_TESTID);
  return { result, setFilesMs };
}

/** Page-side clock of one import: first change event, first "Staging"/"Decoding" message, report done. */
interface ImportClock {
  changeAt: number | null;
  stagingAt: number | null;
  decodingAt: number | null;
  doneAt: number | null;
  failedAt: number | null;
}

/**
 * Installs the page-side clock: a capture listener sees the picker's change event before
 * the app does, and a MutationObserver stamps the first progress message of each phase
 * (the jobs drawer renders them even while closed) and the report turning `done`.
 */
async function installClock(page: Page): Promise<void> {
  await page.evaluate(() => {
    const clock: ImportClock = { changeAt: null, stagingAt: null, decodingAt: null, doneAt: null, failedAt: null };
    (window as unknown as { __importClock: ImportClock }).__importClock = clock;
    document.addEventListener('change', () => (clock.changeAt ??= performance.now()), { capture: true });
    const observer = new MutationObserver(() => {
      const now = performance.now();
      const message = document.querySelector('[data-testid="job"][data-kind="import"] .message')?.textContent?.trim() ?? '';
      if (clock.stagingAt === null && message.startsWith('Staging')) clock.stagingAt = now;
      if (clock.decodingAt === null && message.startsWith('Decoding')) clock.decodingAt = now;
      if (clock.doneAt === null && document.querySelector('[data-testid="import-report"][data-status="done"]')) {
        clock.doneAt = now;
        observer.disconnect();
      }
      if (clock.failedAt === null && document.querySelector('[data-testid="job"][data-kind="import"][data-status="failed"]')) {
        clock.failedAt = now;
      }
    });
    observer.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  });
}

async function readCount(page: Page, testId: string): Promise<number> {
  return Number(await page.getByTestId(testId).getAttribute('data-count'));
}

function sizeFromArgs(): number {
  const arg = process.argv[2];
  if (arg === undefined) return MNIST_TOTAL;
  const size = Number(arg);
  if (!Number.isInteger(size) || size < 2) {
    throw new BenchSetupError(`SIZE must be a whole number of images >= 2 (got "${arg}"): npm run bench -- import 2000`);
  }
  return Math.min(size, MNIST_TOTAL);
}

await runBench(BENCH, async () => {
  const size = sizeFromArgs();
  const perSplit = size >= MNIST_TOTAL ? Infinity : Math.ceil(size / 2);
  const folderStart = performance.now();
  const { dir, count: n } = ensureMnistPngFolder(perSplit);
  console.error(`[import] ${n} PNGs in ${dir} (${((performance.now() - folderStart) / 1000).toFixed(1)} s to check/write)`);

  await withBrowser(async ({ page, heapUsedBytes }) => {
    await createProject(page);
    const worker = await attachWorkerHeap(page);

    console.error('[import] baseline: read + decode in the page…');
    const baseline = await withHeapSampling(heapUsedBytes, worker, () => runBaseline(page, dir));
    const base = baseline.result.result;
    if (base.decoded !== n) {
      throw new Error(`the baseline decoded ${base.decoded} of ${n} files (${base.failed} failed)`);
    }
    const baselinePerS = n / (base.ms / 1000);
    console.error(`[import] baseline ${round(baselinePerS)} files/s; importing…`);

    await installClock(page);
    const imported = await withHeapSampling(heapUsedBytes, worker, async () => {
      const setStart = performance.now();
      await page.getByTestId('import-folder-input').setInputFiles(dir, { timeout: SET_INPUT_FILES_TIMEOUT_MS });
      const setFilesMs = performance.now() - setStart;
      console.error(`[import] setInputFiles took ${round(setFilesMs / 1000, 3)} s; waiting for the report…`);
      await page
        .locator('[data-testid="import-report"][data-status="done"], [data-testid="job"][data-kind="import"][data-status="failed"]')
        .first()
        .waitFor({ timeout: IMPORT_TIMEOUT_MS });
      return setFilesMs;
    });
    const clock = await page.evaluate(() => (window as unknown as { __importClock: ImportClock }).__importClock);
    if (clock.failedAt !== null || clock.doneAt === null) {
      const why = (await page.getByTestId('job-error').first().textContent().catch(() => null)) ?? 'no error shown';
      throw new Error(`the import failed: ${why.trim()}`);
    }
    if (clock.changeAt === null) throw new Error('the folder input never fired change');

    // The counts refresh just after the report; wait for them rather than racing them.
    await page
      .waitForFunction(
        (expected) => document.querySelector('[data-testid="count-total"]')?.getAttribute('data-count') === String(expected),
        n,
        { timeout: COUNT_REFRESH_TIMEOUT_MS },
      )
      .catch(() => undefined);
    const total = await readCount(page, 'count-total');
    const errors = await readCount(page, 'import-errors');
    if (total !== n) throw new Error(`${total} of ${n} samples landed (${errors} import errors)`);

    const importMs = clock.doneAt - clock.changeAt;
    const oursPerS = n / (importMs / 1000);
    const phase = (from: number | null, to: number | null): number | null =>
      from === null || to === null ? null : round(to - from);
    const heap = imported.heap;

    emit({
      bench: BENCH,
      metric: 'phase_ms',
      n,
      set_input_files_ms: round(imported.result),
      // change event → first "Staging" message: files cloned to the worker, paths classified.
      start_ms: phase(clock.changeAt, clock.stagingAt),
      staging_ms: phase(clock.stagingAt, clock.decodingAt),
      // first "Decoding" message → report done: decode + commits, then the dataset version.
      decoding_ms: phase(clock.decodingAt, clock.doneAt),
      total_ms: round(importMs),
    });
    emit({
      bench: BENCH,
      metric: 'heap_bytes',
      n,
      heap_measured: `data worker (${worker.url.replace(/^.*\//, '')}) JS heap: CDP Runtime.getHeapUsage usedSize via Target.setAutoAttach, sampled every ${HEAP_SAMPLE_INTERVAL_MS} ms; page heap alongside`,
      worker_start_bytes: heap.workerStartBytes,
      worker_peak_bytes: heap.workerPeakBytes,
      worker_backing_store_peak_bytes: heap.workerBackingPeakBytes,
      page_start_bytes: heap.pageStartBytes,
      page_peak_bytes: heap.pagePeakBytes,
      baseline_page_peak_bytes: baseline.heap.pagePeakBytes,
      samples: heap.samples,
    });
    emit({
      bench: BENCH,
      metric: 'samples_per_s',
      variant: 'baseline-read-decode',
      value: round(baselinePerS),
      n,
      set_input_files_ms: round(baseline.result.setFilesMs),
      decode_ms: round(base.ms),
      checksum: base.checksum,
    });
    emit({
      bench: BENCH,
      metric: 'samples_per_s',
      value: round(oursPerS),
      baseline: 'page-read-decode-sequential',
      baseline_value: round(baselinePerS),
      ratio: ratio(oursPerS, baselinePerS),
      backend: 'chromium',
      n,
      concurrency: 1,
      peak_heap_bytes: heap.workerPeakBytes,
      heap_measured: 'data worker JS heap (CDP Runtime.getHeapUsage usedSize)',
      page_peak_heap_bytes: heap.pagePeakBytes,
      staging_ms: phase(clock.stagingAt, clock.decodingAt),
      decoding_ms: phase(clock.decodingAt, clock.doneAt),
      import_errors: errors,
    });
  });
});
