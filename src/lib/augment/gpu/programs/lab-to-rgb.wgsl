// cv2.cvtColor(COLOR_Lab2RGB) on 8-bit data: OpenCV 4.6's Lab2RGBinteger path, exact.
// Params (colour-tables.ts, labToRgbParamWords): [0..8] XYZ → RGB in 2^12ths (i32),
// [9..264] per L byte y (low 16 bits) and f(y) (high 16), [265..] inverse gamma bytes.
// i32 arithmetic wraps on overflow in WGSL, as the C int (and colour.ts' ToInt32) does.
const YF_WORD: u32 = 9u;
const INV_GAMMA_WORD: u32 = 265u;
const LAB_BASE_SHIFT: u32 = 14u;
/** (LAB_BASE·16/116)·108/841 in integers: the linear segment's offset. */
const AB_LINEAR_OFFSET: i32 = 290;
/** 128·2^14/500 and 128·2^14/200 − 1, truncated, as OpenCV's a/b offsets. */
const A_OFFSET: i32 = 4194;
const B_OFFSET: i32 = 10484;
/** LAB_SHIFT + (LAB_BASE_SHIFT − INV_GAMMA_SHIFT). */
const RGB_SHIFT: u32 = 14u;

// OpenCV's abToXZ table entry for i (an index offset by MIN_AB_VALUE there): integer
// arithmetic with C's truncating division, which WGSL's i32 division shares.
fn abToXZ(i: i32) -> i32 {
  if (i <= 3390) {
    return (i * 108) / 841 - AB_LINEAR_OFFSET;
  }
  return (((i * i) >> LAB_BASE_SHIFT) * i) >> LAB_BASE_SHIFT;
}

fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let l = inputValue(image, y, x, 0u);
  let a = i32(inputValue(image, y, x, 1u));
  let b = i32(inputValue(image, y, x, 2u));
  let yf = paramU32(image, YF_WORD + l);
  let yy = i32(yf & 0xffffu);
  let ify = i32(yf >> 16u);
  // a·2^14/500 and b·2^14/200 by OpenCV's multiply-shift approximations.
  let adiv = ((5 * a * 53687 + (1 << 7u)) >> 13u) - A_OFFSET;
  let bdiv = ((b * 41943 + (1 << 4u)) >> 9u) - B_OFFSET;
  let xx = abToXZ(ify + adiv);
  let zz = abToXZ(ify - bdiv);
  let sum = paramI32(image, c * 3u) * xx + paramI32(image, c * 3u + 1u) * yy + paramI32(image, c * 3u + 2u) * zz;
  let index = u32(clamp((sum + (1 << (RGB_SHIFT - 1u))) >> RGB_SHIFT, 0, 4095));
  return (paramU32(image, INV_GAMMA_WORD + (index >> 2u)) >> ((index & 3u) * 8u)) & 0xffu;
}
