/**
 * The one place that registers tfjs backends. Every module that computes imports tfjs
 * through here (or after here), so all four backends are known to the one engine.
 *
 * Importing every backend is safe in Node, checked with tfjs 4.22: the umbrella package
 * registers `webgl` only when `device_util.isBrowser()` (a window or a worker scope), and
 * `@tensorflow/tfjs-backend-webgpu` registers `webgpu` only when `navigator.gpu` exists.
 * Neither touches a browser global at import time, so Node tests see `cpu` and `wasm`
 * and no dynamic import is needed.
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgpu';
import { InvalidInputError } from '../jobs/errors';
import { registerWasmGradKernels } from './wasm-grad-kernels';
import { replaceWasmMaxPoolGrad } from './wasm-max-pool-grad';

// tfjs-backend-wasm ships no filter / depthwise gradients: without these, a machine with
// no GPU could only train convolutions on the pure-JS cpu backend, ~180x slower.
registerWasmGradKernels();
// Its MaxPoolGrad breaks ties unlike TensorFlow and the cpu backend (see wasm-max-pool-grad.ts).
replaceWasmMaxPoolGrad();

export { tf };

/** The file names the wasm backend asks for; a path map must name all three. */
export const WASM_BINARY_NAMES = [
  'tfjs-backend-wasm.wasm',
  'tfjs-backend-wasm-simd.wasm',
  'tfjs-backend-wasm-threaded-simd.wasm',
] as const;

export type WasmPaths = Record<(typeof WASM_BINARY_NAMES)[number], string>;

let wasmPathsConfigured = false;

/**
 * Tells the wasm backend where its binaries are. Without it, in a browser, the backend
 * fetches them from a path relative to the script (a 404 in a Vite build) or from a CDN,
 * which the app's CSP blocks. It must run before the wasm backend first initialises, so
 * later calls are ignored rather than throwing from inside tfjs. In Node it is not needed:
 * the package's Node build reads the binaries from its own dist/ folder.
 */
export function configureWasmPaths(paths: Record<string, string>): void {
  const missing = WASM_BINARY_NAMES.filter((name) => !paths[name]);
  if (missing.length > 0) {
    throw new InvalidInputError(`The wasm backend needs a path for ${missing.join(', ')}: pass all three binaries.`);
  }
  if (wasmPathsConfigured) return;
  setWasmPaths(paths);
  wasmPathsConfigured = true;
}
