// cv2.cvtColor(COLOR_RGB2HSV) on 8-bit data, exact (hsv.wgsl). No parameters.
fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let r = i32(inputValue(image, y, x, 0u));
  let g = i32(inputValue(image, y, x, 1u));
  let b = i32(inputValue(image, y, x, 2u));
  return rgbToHsvPixel(r, g, b)[c];
}
