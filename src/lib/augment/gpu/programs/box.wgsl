// cv2.blur: the k×k window sum, then OpenCV's division. Params: [0] k, [1] border code,
// [2] division (0 none, 1 fixed point, 2 rounded), [3] fixed-point scale, [4] its delta,
// [5] k². Constant borders read 0, as cv2.blur's do.
//
// Fixed point: (sum + delta)·scale ≤ 255·2^23 + a little, inside u32. Rounded: for
// k² > 256 the CPU rounds sum·(1/k²) half to even in double; k² is odd, so sum/k² is never
// exactly a half and round-half-up by integers, (2·sum + k²) / (2·k²), gives the same.
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
    for (var tx = 0; tx < k; tx++) {
      let ix = borderIndex(i32(x) + tx - r, w, mode);
      if (ix >= 0) {
        s = s + inputValue(image, u32(iy), u32(ix), c);
      }
    }
  }
  let divide = paramU32(image, 2u);
  if (divide == 0u) {
    return s;
  }
  if (divide == 1u) {
    return ((s + paramU32(image, 4u)) * paramU32(image, 3u)) >> 23u;
  }
  let area = paramU32(image, 5u);
  return min((2u * s + area) / (2u * area), 255u);
}
