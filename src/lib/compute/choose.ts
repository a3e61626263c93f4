/**
 * Backend names, reports and the choice among them: tfjs-free, so the main thread can
 * import it without bundling tfjs (the compute worker owns tfjs).
 */
export type BackendName = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

/** Every backend Hearth knows, in the order the UI lists them (not a preference). */
export const ALL_BACKENDS: readonly BackendName[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

export interface WebGpuAdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  /** True for a software adapter such as SwiftShader: correct, but CPU-slow. */
  isFallbackAdapter: boolean;
}

export interface BackendReport {
  name: BackendName;
  available: boolean;
  /** Why not, when unavailable. */
  reason?: string;
  /** Measured LeNet forward throughput, images per second. */
  imgPerSec?: number;
  /**
   * Time from asking for the backend to the end of its warm-up passes (initialisation,
   * shader compilation, first allocations): what the first job on it will wait for.
   */
  warmupMs?: number;
  /** WebGPU only: the adapter the browser offers. */
  adapter?: WebGpuAdapterSummary;
}

export function isBackendName(value: unknown): value is BackendName {
  return typeof value === 'string' && (ALL_BACKENDS as readonly string[]).includes(value);
}

/**
 * The backend with the highest measured throughput among those available. Never a fixed
 * order: on a machine without a GPU, Chromium's WebGPU adapter is SwiftShader, a software
 * emulation that runs slower than the wasm backend on the same CPU, so "WebGPU first"
 * would pick the slowest real option. Falls back to cpu when nothing was measured, since
 * the cpu backend is always registered.
 */
export function chooseFastest(reports: readonly BackendReport[]): BackendName {
  let best: BackendReport | undefined;
  for (const r of reports) {
    if (!r.available || r.imgPerSec === undefined || !Number.isFinite(r.imgPerSec)) continue;
    if (best?.imgPerSec === undefined || r.imgPerSec > best.imgPerSec) best = r;
  }
  return best?.name ?? 'cpu';
}
