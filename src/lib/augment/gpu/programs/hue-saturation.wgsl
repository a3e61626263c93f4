// Hue / saturation jitter in OpenCV's 8-bit HSV (photometric.ts' hueSaturation): RGB → HSV,
// H' = (H + shift) mod 180, S' = table[S], back to RGB. Params: [0] the shift already
// brought into [0, 180), [1..64] the saturation table (256 bytes, four to a word), built
// on the CPU in float32 with half-even rounding as the CPU kernel does.
fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let hsv = rgbToHsvPixel(i32(inputValue(image, y, x, 0u)), i32(inputValue(image, y, x, 1u)), i32(inputValue(image, y, x, 2u)));
  let h = (hsv.x + paramU32(image, 0u)) % 180u;
  let s = (paramU32(image, 1u + (hsv.y >> 2u)) >> ((hsv.y & 3u) * 8u)) & 0xffu;
  return hsvToRgbChannel(h, s, hsv.z, c);
}
