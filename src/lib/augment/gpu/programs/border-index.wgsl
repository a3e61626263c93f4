// cv::borderInterpolate for the filter programs (border.ts' borderIndex), prepended to
// their WGSL by the program's TypeScript. Modes: 0 constant, 1 replicate, 2 reflect,
// 3 reflect101 (gpu-common.ts' BORDER_CODES). Returns -1 for "outside, use the constant".
// The reflect loops fold into one modulo, so a window wider than the image costs nothing extra.
fn borderIndex(p: i32, len: i32, mode: u32) -> i32 {
  if (p >= 0 && p < len) {
    return p;
  }
  if (mode == 0u) {
    return -1;
  }
  if (mode == 1u || len == 1) {
    return clamp(p, 0, len - 1);
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
