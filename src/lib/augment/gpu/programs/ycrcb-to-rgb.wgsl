// cv2.cvtColor(COLOR_YCrCb2RGB) on 8-bit data, OpenCV's 14-bit integer path, exact.
// `>>` on i32 is arithmetic, as CV_DESCALE's is on int: negatives floor. No parameters.
const YUV_SHIFT: u32 = 14u;
const YUV_HALF: i32 = 8192;

fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let luma = i32(inputValue(image, y, x, 0u));
  let dcr = i32(inputValue(image, y, x, 1u)) - 128;
  let dcb = i32(inputValue(image, y, x, 2u)) - 128;
  // 1.403, −0.714, −0.344, 1.773 in 2^14ths.
  var delta = dcb * 29049;
  if (c == 0u) {
    delta = dcr * 22987;
  } else if (c == 1u) {
    delta = dcb * -5636 + dcr * -11698;
  }
  return u32(clamp(luma + ((delta + YUV_HALF) >> YUV_SHIFT), 0, 255));
}
