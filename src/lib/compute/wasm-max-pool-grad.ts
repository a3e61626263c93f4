/**
 * MaxPoolGrad for the wasm backend that breaks ties as TensorFlow and tfjs' cpu backend
 * do. tfjs-backend-wasm 4.22's native kernel sends a window's gradient to its LAST maximum
 * when several values tie (window [3, 1, 2, 3] → [0, 0, 0, 1]; cpu: [1, 0, 0, 0]). Both
 * are valid subgradients, and training does not notice, but ties are everywhere in a
 * ReLU'd map (zeros), so a gradient taken with respect to such an activation (Grad-CAM on
 * LeNet's conv2, Fisher-kernel descriptors of conv layers) differed between the wasm and
 * cpu backends by up to 2.9 after standardisation: the backend the studio measured
 * fastest must not change a result.
 *
 * This kernel reads the input and the output gradient from the wasm heap and scatters
 * each output's gradient to its window's first maximum (row-major order; padding never
 * wins), as the cpu backend's maxPoolPositions does.
 */
import * as tf from '@tensorflow/tfjs';

const WASM_BACKEND = 'wasm';

/** The parts of tfjs' BackendWasm this kernel uses (backend_wasm.d.ts). */
interface WasmBackendView {
  readSync(dataId: tf.DataId): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: tf.backend_util.BackendValues): tf.TensorInfo;
}

interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function maxPoolGrad({ inputs, attrs, backend }: { inputs: tf.NamedTensorInfoMap; attrs?: tf.NamedAttrMap; backend: unknown }): tf.TensorInfo {
  const dy = inputs.dy as tf.TensorInfo;
  const input = inputs.input as tf.TensorInfo;
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as MaxPoolGradAttrs;
  const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const wasm = backend as WasmBackendView;
  const x = wasm.readSync(input.dataId) as Float32Array;
  const g = wasm.readSync(dy.dataId) as Float32Array;
  const dx = new Float32Array(x.length);
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth, effectiveFilterHeight, effectiveFilterWidth, padInfo } = info;
  for (let b = 0; b < batchSize; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      const y0 = oy * strideHeight - padInfo.top;
      for (let ox = 0; ox < outWidth; ox++) {
        const x0 = ox * strideWidth - padInfo.left;
        const gBase = ((b * outHeight + oy) * outWidth + ox) * c;
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity;
          let at = -1;
          for (let fy = 0; fy < effectiveFilterHeight; fy++) {
            const iy = y0 + fy;
            if (iy < 0 || iy >= inHeight) continue;
            for (let fx = 0; fx < effectiveFilterWidth; fx++) {
              const ix = x0 + fx;
              if (ix < 0 || ix >= inWidth) continue;
              const idx = ((b * inHeight + iy) * inWidth + ix) * c + ch;
              const v = x[idx] as number;
              if (v > best) {
                best = v;
                at = idx;
              }
            }
          }
          if (at >= 0) dx[at] = (dx[at] as number) + (g[gBase + ch] as number);
        }
      }
    }
  }
  return wasm.makeOutput(input.shape, 'float32', undefined, dx);
}

let replaced = false;

/**
 * Replaces tfjs' wasm MaxPoolGrad with the one above. Idempotent; only fills the kernel
 * registry, so it may run before the wasm backend initialises.
 */
export function replaceWasmMaxPoolGrad(): void {
  if (replaced) return;
  if (tf.getKernel(tf.MaxPoolGrad, WASM_BACKEND)) tf.unregisterKernel(tf.MaxPoolGrad, WASM_BACKEND);
  tf.registerKernel({ kernelName: tf.MaxPoolGrad, backendName: WASM_BACKEND, kernelFunc: maxPoolGrad as unknown as tf.KernelFunc });
  replaced = true;
}
