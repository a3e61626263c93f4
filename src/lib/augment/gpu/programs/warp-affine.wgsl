// cv2.warpAffine with INTER_LINEAR on 8-bit images, in OpenCV's own fixed point
// (imgwarp.cpp, WarpAffineInvoker + remapBilinear): source coordinates in 1/32 pixel,
// weights in 1/32768, result (sum + 2^14) >> 15. The per-column and per-row offsets are
// rounded on the CPU in double precision (WGSL has no f64) and arrive as params:
//   [0..2] border value per channel, [3] border mode (0 constant, 1 replicate,
//   2 reflect, 3 reflect101), then adelta[outWidth], bdelta[outWidth],
//   x0[outHeight], y0[outHeight], all i32 in 1/1024 pixel.

const INTER_BITS: u32 = 5u;
const INTER_TAB_SIZE: i32 = 32;
const AB_TO_INTER_SHIFT: u32 = 5u; // AB_BITS (10) - INTER_BITS
const COEF_BITS: u32 = 15u;
const SHORT_MIN: i32 = -32768;
const SHORT_MAX: i32 = 32767;

// OpenCV's borderInterpolate, with the reflect loops folded into one modulo so a far
// outside coordinate costs no more than a near one. -1 means "use the border value".
fn borderIndex(p: i32, len: i32, mode: u32) -> i32 {
  if (p >= 0 && p < len) {
    return p;
  }
  if (mode == 0u) {
    return -1;
  }
  if (mode == 1u) {
    return clamp(p, 0, len - 1);
  }
  if (len == 1) {
    return 0;
  }
  if (mode == 2u) {
    let period = 2 * len;
    var q = p % period;
    if (q < 0) { q = q + period; }
    return select(q, period - 1 - q, q >= len);
  }
  let period = 2 * (len - 1);
  var q = p % period;
  if (q < 0) { q = q + period; }
  return select(q, period - q, q >= len);
}

fn tap(image: u32, sx: i32, sy: i32, c: u32, borderValue: i32) -> i32 {
  if (sx < 0 || sy < 0) {
    return borderValue;
  }
  return i32(inputValue(image, u32(sy), u32(sx), c));
}

fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let w = shape.outWidth;
  let h = shape.outHeight;
  let inW = i32(shape.inWidth);
  let inH = i32(shape.inHeight);
  let bigX = (paramI32(image, 4u + 2u * w + y) + paramI32(image, 4u + x)) >> AB_TO_INTER_SHIFT;
  let bigY = (paramI32(image, 4u + 2u * w + h + y) + paramI32(image, 4u + w + x)) >> AB_TO_INTER_SHIFT;
  let sx = clamp(bigX >> INTER_BITS, SHORT_MIN, SHORT_MAX);
  let sy = clamp(bigY >> INTER_BITS, SHORT_MIN, SHORT_MAX);
  let fx = bigX & (INTER_TAB_SIZE - 1);
  let fy = bigY & (INTER_TAB_SIZE - 1);
  let mode = paramU32(image, 3u);
  let borderValue = i32(paramU32(image, c));
  if (mode == 0u && (sx >= inW || sx + 1 < 0 || sy >= inH || sy + 1 < 0)) {
    return u32(borderValue);
  }
  let x0 = borderIndex(sx, inW, mode);
  let x1 = borderIndex(sx + 1, inW, mode);
  let y0 = borderIndex(sy, inH, mode);
  let y1 = borderIndex(sy + 1, inH, mode);
  // Weights (32-fx)(32-fy)*32 etc. are exact multiples of 1/32768 and sum to 32768. OpenCV's
  // table stores 32767 + 1 at fx = fy = 0 (a short cannot hold 32768), which rounds to the
  // same top-left value, so the exact weights give the same bytes.
  let w00 = (INTER_TAB_SIZE - fx) * (INTER_TAB_SIZE - fy) * INTER_TAB_SIZE;
  let w01 = fx * (INTER_TAB_SIZE - fy) * INTER_TAB_SIZE;
  let w10 = (INTER_TAB_SIZE - fx) * fy * INTER_TAB_SIZE;
  let w11 = fx * fy * INTER_TAB_SIZE;
  let sum = tap(image, x0, y0, c, borderValue) * w00 + tap(image, x1, y0, c, borderValue) * w01 +
    tap(image, x0, y1, c, borderValue) * w10 + tap(image, x1, y1, c, borderValue) * w11;
  return u32(clamp((sum + (1 << (COEF_BITS - 1u))) >> COEF_BITS, 0, 255));
}
