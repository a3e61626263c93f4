// OpenCV 4.6's 8-bit HSV (color_hsv.simd.hpp), shared by rgb-to-hsv, hsv-to-rgb and
// hue-saturation (their .ts files prepend it). H is in [0, 180), S and V in [0, 255].

const HSV_SHIFT: u32 = 12u;
const HSV_HALF: i32 = 2048;

// round-half-even(num / den) for num, den > 0, in integers. OpenCV builds sdiv_table and
// hdiv_table with cvRound of a double quotient; a quotient of integers below 2^20 is never
// within a double's error of a half it does not equal, so exact arithmetic agrees.
fn hsvDivRound(num: i32, den: i32) -> i32 {
  let q = num / den;
  let twiceRest = 2 * (num - q * den);
  if (twiceRest > den) {
    return q + 1;
  }
  if (twiceRest == den) {
    return q + (q & 1);
  }
  return q;
}

// RGB2HSV_b: integer only, so the GPU gives OpenCV's bytes on any device.
fn rgbToHsvPixel(r: i32, g: i32, b: i32) -> vec3<u32> {
  let v = max(max(r, g), b);
  let diff = v - min(min(r, g), b);
  let sdiv = select(0, hsvDivRound(255 << HSV_SHIFT, v), v > 0);
  let s = (diff * sdiv + HSV_HALF) >> HSV_SHIFT;
  let hdiv = select(0, hsvDivRound(180 << HSV_SHIFT, 6 * diff), diff > 0);
  // OpenCV's branch order: red is the maximum first, then green (ties pick red, then green).
  var hNum = r - g + 4 * diff;
  if (v == r) {
    hNum = g - b;
  } else if (v == g) {
    hNum = b - r + 2 * diff;
  }
  var h = (hNum * hdiv + HSV_HALF) >> HSV_SHIFT;
  if (h < 0) {
    h = h + 180;
  }
  return vec3<u32>(u32(h), u32(s), u32(v));
}

// HSV2RGB_b in float32 as OpenCV's AVX2 body runs it (colour.ts' hsvToRgbPixel): s, v and
// the scaled hue are float32 products, 1 − s·h is one fused multiply-add, x·255 is
// truncated. WGSL may contract or keep apart float operations as the driver likes, and
// its fma() need not be fused, so every step that rounds after a product is done here in
// integers, rounded to nearest even by hand; the float operations left (1 − x, and a
// product of two floats) are single correctly rounded operations with nothing to fuse.

// 1/255 and 6/180 as float32: mantissa (24 bits, implicit one set) and exponent.
const INV_255_MANTISSA: u32 = 0x808081u;
const INV_255_EXPONENT: i32 = -31;
const HUE_SCALE_MANTISSA: u32 = 0x888889u;
const HUE_SCALE_EXPONENT: i32 = -28;

// p·2^e rounded to float32, ties to even; p < 2^32, the result normal.
fn roundU32ToF32(p: u32, e: i32) -> f32 {
  if (p < 0x1000000u) {
    return ldexp(f32(p), e);
  }
  let k = 8u - countLeadingZeros(p);
  var q = p >> k;
  let rest = p & ((1u << k) - 1u);
  let half = 1u << (k - 1u);
  if (rest > half || (rest == half && (q & 1u) == 1u)) {
    q = q + 1u;
  }
  return ldexp(f32(q), e + i32(k));
}

// float32(byte · constant), the product rounded once as the CPU's float32 multiply is.
fn byteTimesF32(byte: u32, mantissa: u32, exponent: i32) -> f32 {
  return roundU32ToF32(byte * mantissa, exponent);
}

// 64-bit helpers on vec2<u32>(high, low).
fn shl64(v: vec2<u32>, n: u32) -> vec2<u32> {
  if (n == 0u) {
    return v;
  }
  if (n < 32u) {
    return vec2<u32>((v.x << n) | (v.y >> (32u - n)), v.y << n);
  }
  return vec2<u32>(v.y << (n - 32u), 0u);
}

fn shr64(v: vec2<u32>, n: u32) -> vec2<u32> {
  if (n == 0u) {
    return v;
  }
  if (n < 32u) {
    return vec2<u32>(v.x >> n, (v.y >> n) | (v.x << (32u - n)));
  }
  if (n < 64u) {
    return vec2<u32>(0u, v.x >> (n - 32u));
  }
  return vec2<u32>(0u, 0u);
}

fn lowBits64(v: vec2<u32>, n: u32) -> vec2<u32> {
  if (n == 0u) {
    return vec2<u32>(0u, 0u);
  }
  if (n < 32u) {
    return vec2<u32>(0u, v.y & ((1u << n) - 1u));
  }
  if (n < 64u) {
    return vec2<u32>(v.x & ((1u << (n - 32u)) - 1u), v.y);
  }
  return v;
}

fn greater64(a: vec2<u32>, b: vec2<u32>) -> bool {
  return a.x > b.x || (a.x == b.x && a.y > b.y);
}

// The exact 48-bit product of two 24-bit mantissas, in 12-bit limbs.
fn mul24(a: u32, b: u32) -> vec2<u32> {
  let a1 = a >> 12u;
  let a0 = a & 0xfffu;
  let b1 = b >> 12u;
  let b0 = b & 0xfffu;
  let low = a0 * b0;
  let mid = a1 * b0 + a0 * b1;
  let high = a1 * b1;
  let sum1 = low + (mid << 12u);
  let carry1 = select(0u, 1u, sum1 < low);
  let sum2 = sum1 + (high << 24u);
  let carry2 = select(0u, 1u, sum2 < sum1);
  return vec2<u32>((high >> 8u) + (mid >> 20u) + carry1 + carry2, sum2);
}

// float32(1 − s·h) with a single rounding (a fused multiply-add), for s in [0, 1] and
// h in [0, 1), both float32. 1 − s·h is formed exactly as a 64-bit fraction F / 2^64
// (bits of s·h below 2^-64 kept as a sticky flag), then rounded to 24 bits, ties to even.
fn oneMinusProduct(s: f32, h: f32) -> f32 {
  let sBits = bitcast<u32>(s);
  let hBits = bitcast<u32>(h);
  if (sBits == 0u || hBits == 0u) {
    return 1.0;
  }
  let product = mul24((sBits & 0x7fffffu) | 0x800000u, (hBits & 0x7fffffu) | 0x800000u);
  let shift = 64 + (i32(sBits >> 23u) - 150) + (i32(hBits >> 23u) - 150);
  var scaled: vec2<u32>;
  var sticky = false;
  if (shift >= 0) {
    scaled = shl64(product, u32(shift));
  } else {
    scaled = shr64(product, u32(-shift));
    let dropped = lowBits64(product, u32(-shift));
    sticky = dropped.x != 0u || dropped.y != 0u;
  }
  // F = 2^64 − scaled, less one more when bits were dropped (the truth lies just above F).
  var f = vec2<u32>(~scaled.x, ~scaled.y);
  if (!sticky) {
    let low = f.y + 1u;
    f = vec2<u32>(f.x + select(0u, 1u, low == 0u), low);
  }
  let topBit = select(31u - countLeadingZeros(f.y), 63u - countLeadingZeros(f.x), f.x != 0u);
  let k = topBit - 23u;
  var m = shr64(f, k).y;
  let rest = lowBits64(f, k);
  let half = shl64(vec2<u32>(0u, 1u), k - 1u);
  let restIsHalf = rest.x == half.x && rest.y == half.y;
  if (greater64(rest, half) || (restIsHalf && (sticky || (m & 1u) == 1u))) {
    m = m + 1u;
  }
  return ldexp(f32(m), i32(k) - 64);
}

fn hsvToRgbChannel(hByte: u32, sByte: u32, vByte: u32, c: u32) -> u32 {
  let s = byteTimesF32(sByte, INV_255_MANTISSA, INV_255_EXPONENT);
  let v = byteTimesF32(vByte, INV_255_MANTISSA, INV_255_EXPONENT);
  let hScaled = byteTimesF32(hByte, HUE_SCALE_MANTISSA, HUE_SCALE_EXPONENT);
  let whole = trunc(hScaled);
  // Exact: a float below 8 less its integer part is representable.
  let h = hScaled - whole;
  // Bytes above 179 wrap around the hue circle (whole sectors past 6), as in OpenCV.
  let sector = u32(whole) % 6u;
  // Which of v, v(1−s), v(1−s·h), v(1−s(1−h)) is R, G, B in each 60° sector: OpenCV's
  // sector_data in RGB order. Only the one this channel needs is computed.
  var sectors = array<vec3<u32>, 6>(
    vec3<u32>(0u, 3u, 1u), vec3<u32>(2u, 0u, 1u), vec3<u32>(1u, 0u, 3u),
    vec3<u32>(1u, 2u, 0u), vec3<u32>(3u, 1u, 0u), vec3<u32>(0u, 1u, 2u));
  var value = v;
  switch (sectors[sector][c]) {
    case 1u: {
      value = v * (1.0 - s);
    }
    case 2u: {
      value = v * oneMinusProduct(s, h);
    }
    case 3u: {
      value = v * oneMinusProduct(s, 1.0 - h);
    }
    default: {
    }
  }
  return min(255u, u32(trunc(value * 255.0)));
}
