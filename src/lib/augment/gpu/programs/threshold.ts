/** cv2.threshold THRESH_BINARY / THRESH_BINARY_INV on 8-bit images, exact. */
import { roundHalfEven } from '../../sample';
import type { GpuProgram, ImageShape } from '../runner';
import wgsl from './threshold.wgsl?raw';

export interface ThresholdParams {
  /** Values strictly above it pass; OpenCV floors it for 8-bit images. */
  thresh: number;
  /** What a passing value becomes; rounded half to even and clamped to 0..255 as OpenCV does. */
  maxval: number;
  inverse: boolean;
}


export const thresholdProgram: GpuProgram<ThresholdParams> = {
  cacheKey: 'threshold-binary',
  label: 'augment:threshold-binary',
  wgsl,
  outputShape: (input: ImageShape): ImageShape => input,
  paramWords: (_input, _output, params) => {
    // Beyond ±2^31 the comparison's answer no longer changes, and i32 stays exact.
    const threshold = Math.max(-1, Math.min(255, Math.floor(params.thresh)));
    const maxValue = Math.max(0, Math.min(255, roundHalfEven(params.maxval)));
    return new Uint32Array([threshold >>> 0, maxValue, params.inverse ? 1 : 0]);
  },
};
