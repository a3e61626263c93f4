// cv2.threshold on 8-bit data, THRESH_BINARY (value > thresh ? maxval : 0) and
// THRESH_BINARY_INV (value > thresh ? 0 : maxval). The threshold arrives already floored
// and the maximum already rounded and clamped, as OpenCV does for CV_8U before comparing.
// Params: [0] floored threshold (i32), [1] maxval (0..255), [2] 1 for the inverse.
fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let above = i32(inputValue(image, y, x, c)) > paramI32(image, 0u);
  let maxValue = paramU32(image, 1u);
  let inverse = paramU32(image, 2u) == 1u;
  return select(0u, maxValue, above != inverse);
}
