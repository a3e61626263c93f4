// cv2.resize on 8-bit images; resize.ts makes every table on the CPU. Params word 0 is
// the path:
//   0 nearest: [1 .. 1 + outW) source column per x, then source row per y.
//   1 linear (INTER_LINEAR, and INTER_AREA when enlarging): per x (s0, s1, a0, a1), then
//     per y (s0, s1, b0, b1), 11-bit weights. Rows: h = p0·a0 + p1·a1; columns as
//     OpenCV's x86 VResizeLinearVec_32s8u: ((h0 >> 4)·b0 >> 16) + ((h1 >> 4)·b1 >> 16),
//     then (v + 2) >> 2.
//   2 whole-factor area: [1] kx, [2] ky, [3] 1/(kx·ky) as f32 bits; 2×2 rounds half up
//     in integers, the rest multiply in f32 and round half to even.
//   3 general area: outW + 1 then outH + 1 tap-list offsets (absolute word indices),
//     then (source index, f32 weight) taps; float32 sums in the CPU's order.
fn resizeLinear(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let xb = 1u + 4u * x;
  let yb = 1u + 4u * shape.outWidth + 4u * y;
  let xs0 = paramU32(image, xb);
  let xs1 = paramU32(image, xb + 1u);
  let a0 = paramI32(image, xb + 2u);
  let a1 = paramI32(image, xb + 3u);
  let r0 = paramU32(image, yb);
  let r1 = paramU32(image, yb + 1u);
  let b0 = paramI32(image, yb + 2u);
  let b1 = paramI32(image, yb + 3u);
  let h0 = i32(inputValue(image, r0, xs0, c)) * a0 + i32(inputValue(image, r0, xs1, c)) * a1;
  let h1 = i32(inputValue(image, r1, xs0, c)) * a0 + i32(inputValue(image, r1, xs1, c)) * a1;
  let v = (((h0 >> 4u) * b0) >> 16u) + (((h1 >> 4u) * b1) >> 16u);
  return u32(clamp((v + 2) >> 2u, 0, 255));
}

fn resizeAreaFast(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let kx = paramU32(image, 1u);
  let ky = paramU32(image, 2u);
  var sum = 0u;
  for (var j = 0u; j < ky; j++) {
    for (var i = 0u; i < kx; i++) {
      sum = sum + inputValue(image, y * ky + j, x * kx + i, c);
    }
  }
  if (kx == 2u && ky == 2u) {
    return (sum + 2u) >> 2u;
  }
  return u32(clamp(round(f32(sum) * bitcast<f32>(paramU32(image, 3u))), 0.0f, 255.0f));
}

fn resizeArea(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let yStarts = 1u + shape.outWidth + 1u;
  let x0 = paramU32(image, 1u + x);
  let x1 = paramU32(image, 2u + x);
  let y0 = paramU32(image, yStarts + y);
  let y1 = paramU32(image, yStarts + y + 1u);
  var sum = 0.0f;
  for (var j = y0; j < y1; j = j + 2u) {
    let sy = paramU32(image, j);
    let beta = bitcast<f32>(paramU32(image, j + 1u));
    var buf = 0.0f;
    for (var i = x0; i < x1; i = i + 2u) {
      buf = buf + f32(inputValue(image, sy, paramU32(image, i), c)) * bitcast<f32>(paramU32(image, i + 1u));
    }
    if (j == y0) {
      sum = beta * buf;
    } else {
      sum = sum + beta * buf;
    }
  }
  return u32(clamp(round(sum), 0.0f, 255.0f));
}

fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let path = paramU32(image, 0u);
  if (path == 0u) {
    return inputValue(image, paramU32(image, 1u + shape.outWidth + y), paramU32(image, 1u + x), c);
  }
  if (path == 1u) {
    return resizeLinear(image, y, x, c);
  }
  if (path == 2u) {
    return resizeAreaFast(image, y, x, c);
  }
  return resizeArea(image, y, x, c);
}
