// cv2.GaussianBlur's bit-exact 8-bit path (GaussianBlurFixedPoint), computed per output
// value straight from the input: for each window row, Σ tap·pixel in 8.8 fixed point
// (saturating at 16 bits, as ufixedpoint16 does), then Σ tap·row in 16.16 and
// (sum + 2^15) >> 16. The taps sum to 256, so the column sum stays below 2^32.
// Params: [0] k, [1] border code, [2 .. 2 + k) the taps in 1/256.
fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let k = i32(paramU32(image, 0u));
  let mode = paramU32(image, 1u);
  let r = (k - 1) / 2;
  let w = i32(shape.inWidth);
  let h = i32(shape.inHeight);
  var s = 0u;
  for (var ty = 0; ty < k; ty++) {
    let iy = borderIndex(i32(y) + ty - r, h, mode);
    if (iy < 0) {
      continue;
    }
    var row = 0u;
    for (var tx = 0; tx < k; tx++) {
      let ix = borderIndex(i32(x) + tx - r, w, mode);
      if (ix >= 0) {
        row = min(0xffffu, row + paramU32(image, 2u + u32(tx)) * inputValue(image, u32(iy), u32(ix), c));
      }
    }
    s = s + paramU32(image, 2u + u32(ty)) * row;
  }
  return min((s + 0x8000u) >> 16u, 255u);
}
