// cv2.cvtColor(COLOR_RGB2GRAY) on 8-bit data as OpenCV 4.6 computes it: weights in
// 1/2^15, rounded (color_rgb.simd.hpp: R 9798, G 19235, B 3735). The 1/2^14 weights
// 4899/9617/1868 of older releases differ from 4.6 on about 0.3% of random pixels.
// Hearth stores RGB, so the first channel takes the red weight. One channel is copied.
fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  if (shape.inChannels == 1u) {
    return inputValue(image, y, x, 0u);
  }
  let r = inputValue(image, y, x, 0u);
  let g = inputValue(image, y, x, 1u);
  let b = inputValue(image, y, x, 2u);
  return (r * 9798u + g * 19235u + b * 3735u + 16384u) >> 15u;
}
