/**
 * Helpers for benchmarks (bench/NAME.bench.ts, run by `npm run bench -- NAME`).
 *
 * A benchmark prints one JSON object per line with `emit`, the last line its headline
 * (DESIGN.md, "Benchmarks"), compares against a baseline measured in the same run, and
 * never fails a build: wrap its body in `runBench`, which turns any error into an
 * `{"bench", "error"}` line and exit code 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from '@playwright/test';
import { CHROMIUM_ARGS } from '../playwright.config.ts';
import { HearthError } from '../src/lib/jobs/errors.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM_PATH = process.env.HEARTH_CHROMIUM ?? '/usr/bin/chromium';
/** serve.mjs prints its address within milliseconds; this only guards a hung start. */
const SERVER_START_TIMEOUT_MS = 15_000;
/** Heap sampling period while a measured function runs. */
const HEAP_SAMPLE_INTERVAL_MS = 5;

/** The benchmark cannot run on this machine as it stands; the message says what to do. */
export class BenchSetupError extends HearthError {
  constructor(message: string) {
    super(message, 'BenchSetupError');
  }
}

/** The headline line of DESIGN.md; extra keys (sizes, settings) are welcome. */
export interface BenchResult {
  bench: string;
  metric: string;
  value: number;
  baseline: string;
  baseline_value: number;
  ratio: number;
  backend: string;
  n: number;
  [extra: string]: unknown;
}

/** Prints one JSON line. Benchmarks print nothing else on stdout (logs go to stderr). */
export function emit(record: BenchResult | Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(record)}\n`);
}

/** Rounds to `digits` significant digits: benchmark numbers are not precise beyond that. */
export function round(value: number, digits = 4): number {
  return Number.isFinite(value) && value !== 0 ? Number(value.toPrecision(digits)) : value;
}

/** value / baselineValue, rounded; the number that survives a noisy machine. */
export function ratio(value: number, baselineValue: number): number {
  return round(value / baselineValue, 3);
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Timing {
  medianMs: number;
  /** Every measured run, in order (warm-up runs excluded). */
  samplesMs: number[];
}

/**
 * Runs `fn` `warmup` times unmeasured (JIT, caches, lazy allocation), then `n` times
 * measured, and returns the median: one stalled run (GC, another process) moves a median
 * far less than a mean.
 */
export async function timeIt(
  fn: () => unknown,
  { warmup = 3, n = 10 }: { warmup?: number; n?: number } = {},
): Promise<Timing> {
  if (n < 1) throw new RangeError(`timeIt needs n >= 1, got ${n}`);
  for (let i = 0; i < warmup; i++) await fn();
  const samplesMs: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await fn();
    samplesMs.push(performance.now() - start);
  }
  return { medianMs: median(samplesMs), samplesMs };
}

export interface HeapPeak<T> {
  result: T;
  /** heapUsed just before `fn` (after a GC when node runs with --expose-gc, as bench.mjs does). */
  startBytes: number;
  peakBytes: number;
  /** peakBytes - startBytes: what the run itself held at its worst. */
  growthBytes: number;
}

let activePeak: { bytes: number } | null = null;

/**
 * Records the current heap into the running `peakHeap` measurement. The timer in
 * `peakHeap` only fires when the event loop turns, so a long synchronous loop should call
 * this every so often or its peak goes unseen.
 */
export function noteHeap(): void {
  if (!activePeak) return;
  const used = process.memoryUsage().heapUsed;
  if (used > activePeak.bytes) activePeak.bytes = used;
}

/** Runs `fn` and reports the highest V8 heap use seen while it ran (Node only). */
export async function peakHeap<T>(fn: () => T | Promise<T>): Promise<HeapPeak<T>> {
  (globalThis as { gc?: () => void }).gc?.();
  const startBytes = process.memoryUsage().heapUsed;
  const outer = activePeak;
  activePeak = { bytes: startBytes };
  const timer = setInterval(noteHeap, HEAP_SAMPLE_INTERVAL_MS);
  try {
    const result = await fn();
    noteHeap();
    const peakBytes = activePeak.bytes;
    return { result, startBytes, peakBytes, growthBytes: peakBytes - startBytes };
  } finally {
    clearInterval(timer);
    activePeak = outer;
  }
}

/**
 * Runs a benchmark body; any error becomes one `{"bench", "error"}` line and the
 * process still exits 0, because budgets live in benchmarks and must not break builds.
 */
export async function runBench(bench: string, body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    emit({ bench, error: `${e.name}: ${e.message}` });
  }
  process.exitCode = 0;
}

export interface BrowserSession {
  /** A fresh page, not yet navigated; `page.goto('/')` opens the built studio. */
  page: Page;
  /** e.g. http://localhost:43121 */
  baseUrl: string;
  /** The page's V8 heap in use, in bytes, read over the DevTools protocol. */
  heapUsedBytes(): Promise<number>;
}

/** A free TCP port on localhost, so benchmarks never collide with `npm start` or e2e runs. */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Starts scripts/serve.mjs on `port` and resolves once it listens. */
function startServer(port: number): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['scripts/serve.mjs'], {
      cwd: ROOT,
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new BenchSetupError(`scripts/serve.mjs did not start within ${SERVER_START_TIMEOUT_MS} ms.`));
    }, SERVER_START_TIMEOUT_MS);
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('is running at')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new BenchSetupError(`scripts/serve.mjs exited with code ${code}: ${stderr.trim()}`));
    });
  });
}

/**
 * Serves the built app (dist/) with scripts/serve.mjs on a free port, opens it in
 * headless Chromium with the flags the e2e tests use (SwiftShader WebGPU, no phoning
 * home), runs `fn`, and always closes both. Build first: `npx vite build`.
 *
 * Heap: `performance.measureUserAgentSpecificMemory` needs a cross-origin-isolated page,
 * which the studio is not (no COEP header), so the heap is read over CDP instead.
 */
export async function withBrowser<T>(fn: (session: BrowserSession) => Promise<T>): Promise<T> {
  if (!existsSync(`${ROOT}/dist/index.html`)) {
    throw new BenchSetupError('dist/ has no build: run `npx vite build` first.');
  }
  if (!existsSync(CHROMIUM_PATH)) {
    throw new BenchSetupError(`No Chromium at ${CHROMIUM_PATH}: install Debian's chromium or set HEARTH_CHROMIUM.`);
  }
  const port = await freePort();
  const server = await startServer(port);
  try {
    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
    try {
      const baseUrl = `http://localhost:${port}`;
      const context = await browser.newContext({ baseURL: baseUrl });
      // tsx compiles benchmarks with esbuild's keepNames, which wraps named functions in
      // a `__name(fn, "name")` helper; functions handed to page.evaluate carry that call
      // into the page, where it is undefined. An identity stand-in keeps them runnable.
      await context.addInitScript('globalThis.__name = (fn) => fn;');
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      const heapUsedBytes = async (): Promise<number> => (await cdp.send('Runtime.getHeapUsage')).usedSize;
      return await fn({ page, baseUrl, heapUsedBytes });
    } finally {
      await browser.close();
    }
  } finally {
    server.kill();
  }
}
