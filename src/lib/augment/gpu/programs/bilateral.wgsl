// cv2.bilateralFilter on 8-bit images (BilateralFilter_8u_Invoker) in f32. Params:
// [0] n offsets, [1] border code, [2 .. 770) colour weight by Σ|Δ| over channels (f32
// bits), then per offset (dx i32, dy i32, space weight f32 bits) from 770, in the CPU's
// order. Constant borders read 0 (copyMakeBorder's default value).
fn bilateralTap(image: u32, x: i32, y: i32, c: u32, mode: u32) -> i32 {
  let ix = borderIndex(x, i32(shape.inWidth), mode);
  let iy = borderIndex(y, i32(shape.inHeight), mode);
  if (ix < 0 || iy < 0) {
    return 0;
  }
  return i32(inputValue(image, u32(iy), u32(ix), c));
}

fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let n = paramU32(image, 0u);
  let mode = paramU32(image, 1u);
  let cn = shape.inChannels;
  var sum = 0.0f;
  var wsum = 0.0f;
  for (var k = 0u; k < n; k++) {
    let at = 770u + 3u * k;
    let nx = i32(x) + paramI32(image, at);
    let ny = i32(y) + paramI32(image, at + 1u);
    var diff = 0u;
    for (var cc = 0u; cc < cn; cc++) {
      diff = diff + u32(abs(bilateralTap(image, nx, ny, cc, mode) - i32(inputValue(image, y, x, cc))));
    }
    let wk = bitcast<f32>(paramU32(image, at + 2u)) * bitcast<f32>(paramU32(image, 2u + diff));
    wsum = wsum + wk;
    sum = fma(f32(bilateralTap(image, nx, ny, c, mode)), wk, sum);
  }
  var v: f32;
  if (cn == 1u) {
    v = sum / wsum;
  } else {
    v = sum * (1.0f / wsum);
  }
  // round() in WGSL rounds halves to even, as cvRound does.
  return u32(clamp(round(v), 0.0f, 255.0f));
}
