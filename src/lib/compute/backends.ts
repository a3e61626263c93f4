/**
 * The compute backend ladder: which tfjs backends can run here, and how fast each one
 * runs a LeNet-sized forward pass, measured rather than assumed.
 */
import { BackendUnavailableError, describeError } from '../jobs/errors';
import { PROBE_BATCH, disposeProbeTensors, leNetForward, makeProbeTensors } from './lenet';
import { configureWasmPaths, tf } from './register';

import { chooseFastest, isBackendName, ALL_BACKENDS, type BackendName, type BackendReport, type WebGpuAdapterSummary } from './choose';

export { chooseFastest, isBackendName, ALL_BACKENDS };
export type { BackendName, BackendReport, WebGpuAdapterSummary } from './choose';

export interface ProbeOptions {
  /** Backends to probe, in order; all four when left out. */
  names?: readonly BackendName[];
  /** Timed measurement per backend, after the warm-up. */
  timeBudgetMs?: number;
  /** Where the wasm binaries are served (browser); not needed in Node. */
  wasmPaths?: Record<string, string>;
}

/** Long enough for a few batches on the slowest backend, short enough to run at start-up. */
export const DEFAULT_PROBE_BUDGET_MS = 300;
/**
 * Untimed passes first, at least one and for at least this long: the first pass compiles
 * shaders (webgl/webgpu) and allocates, and the JavaScript and WebAssembly engines only
 * optimise code that has run for a while (wasm measured half its steady rate without it).
 * A backend whose single pass is slower than this (SwiftShader WebGPU: seconds) warms up
 * with that one pass.
 */
const WARMUP_MIN_MS = 100;
/**
 * At least one timed pass even when it outlasts the budget. Only one: on SwiftShader
 * WebGPU a batch takes over a second, and every extra pass delays start-up by that much.
 */
const MIN_TIMED_PASSES = 1;
/**
 * The order backends are measured in, whatever order the caller lists them: the CPU
 * backends first, because after a software GPU backend (SwiftShader) has run, its threads
 * keep the cores busy for a while and a CPU backend timed then measured up to half its
 * rate on a 2-core machine.
 */
const PROBE_ORDER: readonly BackendName[] = ['wasm', 'cpu', 'webgl', 'webgpu'];
/**
 * How far a backend's logits may stray from the cpu backend's, relative to their largest
 * magnitude. Loose enough for WebGL's float16 textures on some mobile GPUs, tight enough
 * to reject a driver that returns zeros, NaN or garbage: a fast wrong backend must never
 * be chosen.
 */
const OUTPUT_RELATIVE_TOLERANCE = 0.05;

/** What to tell the user when a backend cannot run; each says what to do instead. */
const UNAVAILABLE_ADVICE: Record<BackendName, string> = {
  webgpu: 'WebGPU is not available in this browser: use Chrome or Edge 113+ with hardware acceleration on, or pick wasm',
  webgl: 'WebGL is not available in this browser: turn on hardware acceleration in the browser settings, or pick wasm',
  wasm: 'The WebAssembly backend could not start: reload the page so its .wasm files are fetched again, or pick cpu',
  cpu: 'The plain JavaScript backend could not start: reload the page',
};

/**
 * Makes `name` the tfjs backend for everything that follows. Throws
 * BackendUnavailableError, naming the backend and what to do, when it cannot run here.
 */
export async function useBackend(name: BackendName): Promise<void> {
  const why = await trySetBackend(name);
  if (why !== null) throw new BackendUnavailableError(`${UNAVAILABLE_ADVICE[name]} (${why}).`);
}

/** Null when `name` is now the active backend; otherwise why it is not. */
async function trySetBackend(name: BackendName): Promise<string | null> {
  if (tf.findBackendFactory(name) === null) return `the ${name} backend is not registered in this environment`;
  try {
    // setBackend resolves false (and logs to the console) when the factory throws.
    if (!(await tf.setBackend(name))) return `the ${name} backend failed to initialise`;
    await tf.ready();
  } catch (err) {
    return describeError(err).message;
  }
  return tf.getBackend() === name ? null : `tfjs kept the ${tf.getBackend()} backend`;
}

/**
 * Probes each backend in turn: initialise it, check its output against the cpu backend,
 * and time LeNet forward passes for `timeBudgetMs`. Every tensor it makes is disposed.
 * Restores the backend that was active before, if any; the caller then picks one with
 * `useBackend(chooseFastest(reports))`.
 */
export async function probeBackends(opts: ProbeOptions = {}): Promise<BackendReport[]> {
  const names = opts.names ?? ALL_BACKENDS;
  const budgetMs = opts.timeBudgetMs ?? DEFAULT_PROBE_BUDGET_MS;
  if (opts.wasmPaths) configureWasmPaths(opts.wasmPaths);
  // getBackend() does not initialise anything; it is null before the first setBackend.
  const previous = tf.getBackend() as string | null;

  const reference = await referenceLogits();
  const measured = new Map<BackendName, BackendReport>();
  for (const name of PROBE_ORDER) {
    if (names.includes(name)) measured.set(name, await probeOne(name, budgetMs, reference));
  }

  if (isBackendName(previous)) await trySetBackend(previous);
  // Reports come back in the order asked for, one per name.
  return names.map((name) => measured.get(name) ?? { name, available: false, reason: `unknown backend ${name}` });
}

/** The cpu backend's logits: the slow, simple reference every other backend must match. */
async function referenceLogits(): Promise<Float32Array> {
  const why = await trySetBackend('cpu');
  if (why !== null) throw new BackendUnavailableError(`${UNAVAILABLE_ADVICE.cpu} (${why}).`);
  const probe = makeProbeTensors();
  try {
    return await runPass(probe);
  } finally {
    disposeProbeTensors(probe);
  }
}

async function runPass(probe: ReturnType<typeof makeProbeTensors>): Promise<Float32Array> {
  const logits = tf.tidy(() => leNetForward(probe.weights, probe.inputNhwc));
  try {
    // Reading back is what makes the asynchronous GPU backends finish the work.
    return (await logits.data()) as Float32Array;
  } finally {
    logits.dispose();
  }
}

async function probeOne(name: BackendName, budgetMs: number, reference: Float32Array): Promise<BackendReport> {
  const report: BackendReport = { name, available: false };
  const askedAt = performance.now();
  if (name === 'webgpu') {
    const adapter = await describeWebGpuAdapter();
    if (typeof adapter === 'string') return { ...report, reason: adapter };
    report.adapter = adapter;
  }
  const why = await trySetBackend(name);
  if (why !== null) return { ...report, reason: why };

  const probe = makeProbeTensors();
  try {
    const warmupStart = performance.now();
    const mismatch = compareToReference(await runPass(probe), reference);
    if (mismatch !== null) return { ...report, reason: mismatch };
    while (performance.now() - warmupStart < WARMUP_MIN_MS) await runPass(probe);
    report.warmupMs = performance.now() - askedAt;
    const start = performance.now();
    let passes = 0;
    let elapsedMs = 0;
    while (passes < MIN_TIMED_PASSES || elapsedMs < budgetMs) {
      await runPass(probe);
      passes++;
      elapsedMs = performance.now() - start;
    }
    return { ...report, available: true, imgPerSec: (passes * PROBE_BATCH * 1000) / elapsedMs };
  } catch (err) {
    return { ...report, reason: `the ${name} backend failed while computing: ${describeError(err).message}` };
  } finally {
    disposeProbeTensors(probe);
  }
}

/** Null when `actual` matches `reference` within tolerance; otherwise what is wrong. */
function compareToReference(actual: Float32Array, reference: Float32Array): string | null {
  let scale = 0;
  for (const v of reference) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < reference.length; i++) {
    const diff = Math.abs((actual[i] ?? Number.NaN) - (reference[i] ?? 0));
    // NaN fails every comparison, so test it explicitly.
    if (Number.isNaN(diff)) return 'it computed NaN where the cpu backend computed numbers';
    worst = Math.max(worst, diff);
  }
  if (actual.length !== reference.length || worst > OUTPUT_RELATIVE_TOLERANCE * Math.max(scale, 1)) {
    return `its results differ from the cpu backend's by ${worst.toPrecision(3)}, so it is not trusted`;
  }
  return null;
}

/**
 * The WebGPU adapter the browser offers, or why there is none. `isFallbackAdapter` moved
 * from the adapter to `adapter.info` (Chromium 1xx); both places are read.
 */
export async function describeWebGpuAdapter(): Promise<WebGpuAdapterSummary | string> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) return 'this environment has no navigator.gpu (WebGPU)';
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return `requesting a WebGPU adapter failed: ${describeError(err).message}`;
  }
  if (!adapter) return 'the browser offers no WebGPU adapter (the GPU may be blocklisted or WebGPU turned off)';
  const info = adapter.info as Partial<GPUAdapterInfo> | undefined;
  const legacyFallback = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    description: info?.description ?? '',
    isFallbackAdapter: info?.isFallbackAdapter ?? legacyFallback ?? false,
  };
}
