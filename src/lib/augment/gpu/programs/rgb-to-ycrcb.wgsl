// cv2.cvtColor(COLOR_RGB2YCrCb) on 8-bit data, OpenCV's 14-bit integer path, exact.
// Channels Y, Cr, Cb. No parameters.
const YUV_SHIFT: u32 = 14u;
const YUV_HALF: i32 = 8192;
const CHROMA_DELTA: i32 = 128 << 14u;

fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let r = i32(inputValue(image, y, x, 0u));
  let g = i32(inputValue(image, y, x, 1u));
  let b = i32(inputValue(image, y, x, 2u));
  // 0.299, 0.587, 0.114 in 2^14ths (OpenCV's R2Y, G2Y, B2Y).
  let luma = (r * 4899 + g * 9617 + b * 1868 + YUV_HALF) >> YUV_SHIFT;
  if (c == 0u) {
    return u32(luma);
  }
  // Cr = (R − Y)·0.713, Cb = (B − Y)·0.564, offset by 128.
  let chroma = select((b - luma) * 9241, (r - luma) * 11682, c == 1u);
  return u32(clamp((chroma + CHROMA_DELTA + YUV_HALF) >> YUV_SHIFT, 0, 255));
}
