// cv2.cvtColor(COLOR_RGB2Lab) on 8-bit data: OpenCV 4.6's RGB2Lab_b integer path, exact.
// Params (colour-tables.ts, rgbToLabParamWords): [0..8] RGB → XYZ in 2^12ths, [9] L
// scale, [10] L offset (i32), [11..138] sRGB gamma table, [139..] cube-root table, both
// u16 two to a word.
const LAB_SHIFT: u32 = 12u;
const LAB_SHIFT2: u32 = 15u;
const GAMMA_WORD: u32 = 11u;
const CBRT_WORD: u32 = 139u;

fn labTable16(image: u32, base: u32, i: u32) -> i32 {
  return i32((paramU32(image, base + (i >> 1u)) >> ((i & 1u) * 16u)) & 0xffffu);
}

fn labCbrtOfRow(image: u32, row: u32, r: i32, g: i32, b: i32) -> i32 {
  let sum = r * paramI32(image, row * 3u) + g * paramI32(image, row * 3u + 1u) + b * paramI32(image, row * 3u + 2u);
  return labTable16(image, CBRT_WORD, u32((sum + (1 << (LAB_SHIFT - 1u))) >> LAB_SHIFT));
}

fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let r = labTable16(image, GAMMA_WORD, inputValue(image, y, x, 0u));
  let g = labTable16(image, GAMMA_WORD, inputValue(image, y, x, 1u));
  let b = labTable16(image, GAMMA_WORD, inputValue(image, y, x, 2u));
  let half2 = 1 << (LAB_SHIFT2 - 1u);
  let fY = labCbrtOfRow(image, 1u, r, g, b);
  var value: i32;
  if (c == 0u) {
    value = paramI32(image, 9u) * fY + paramI32(image, 10u);
  } else if (c == 1u) {
    value = 500 * (labCbrtOfRow(image, 0u, r, g, b) - fY) + (128 << LAB_SHIFT2);
  } else {
    value = 200 * (fY - labCbrtOfRow(image, 2u, r, g, b)) + (128 << LAB_SHIFT2);
  }
  return u32(clamp((value + half2) >> LAB_SHIFT2, 0, 255));
}
