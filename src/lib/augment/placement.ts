/**
 * Where previews and stored rebalancing run: on the GPU, through the compute worker, only
 * when a real WebGPU adapter is in use; on the CPU kernels in the data worker otherwise.
 * A software adapter (SwiftShader, `isFallbackAdapter`) emulates the GPU on the CPU and is
 * slower than the CPU kernels themselves, so it never wins. Both places give the same
 * bytes (apply.ts), so this decides speed only. tfjs-free: the UI decides with it too.
 */
import type { BackendName, WebGpuAdapterSummary } from '../compute/choose';

export interface AugmentPlacement {
  where: 'gpu' | 'cpu';
  /** In words, for the page: where, and why there. */
  reason: string;
}

export function augmentPlacement(active: BackendName | null, adapter: WebGpuAdapterSummary | null): AugmentPlacement {
  if (active !== 'webgpu') {
    return { where: 'cpu', reason: `on the CPU kernels: the compute backend is ${active ?? 'not chosen yet'}, not WebGPU` };
  }
  if (!adapter) return { where: 'cpu', reason: 'on the CPU kernels: the WebGPU adapter could not be described' };
  const name = [adapter.vendor, adapter.architecture].filter(Boolean).join(' ') || 'the GPU';
  if (adapter.isFallbackAdapter) {
    return { where: 'cpu', reason: `on the CPU kernels: WebGPU here is a software adapter (${name}), slower than the CPU itself` };
  }
  return { where: 'gpu', reason: `on the GPU (${name})` };
}
