// cv2.cvtColor(COLOR_HSV2RGB) on 8-bit data (hsv.wgsl). No parameters.
fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  return hsvToRgbChannel(inputValue(image, y, x, 0u), inputValue(image, y, x, 1u), inputValue(image, y, x, 2u), c);
}
