// A per-value lookup (cv2.LUT): params are 64 words holding 256 bytes, entry v is what
// input value v becomes. gamma.ts fills it with photometric.ts' gammaLut (pow in double
// precision), which WGSL's f32 pow could not reproduce.
fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let v = inputValue(image, y, x, c);
  return (paramU32(image, v >> 2u) >> ((v & 3u) * 8u)) & 0xffu;
}
