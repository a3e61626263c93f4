// One fused per-value lookup (cv2.LUT) for a whole run of pointwise steps: params are 64
// words holding 256 bytes, entry v is what input value v becomes after every step of the
// run. execute.ts composes the table on the CPU from the steps' own CPU kernels.
fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let v = inputValue(image, y, x, c);
  return (paramU32(image, v >> 2u) >> ((v & 3u) * 8u)) & 0xffu;
}
