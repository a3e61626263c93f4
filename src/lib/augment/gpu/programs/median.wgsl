// cv2.medianBlur: the median of the k×k window (k ≤ 7), edge replicated. The window goes
// into a private array and a partial selection sort stops at the middle element:
// ≤ 49·25 comparisons, no 256-bin histogram per invocation. Params: [0] k.
fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let k = i32(paramU32(image, 0u));
  let r = (k - 1) / 2;
  let w = i32(shape.inWidth);
  let h = i32(shape.inHeight);
  var vals: array<u32, 49>;
  var n = 0u;
  for (var ty = 0; ty < k; ty++) {
    let iy = u32(clamp(i32(y) + ty - r, 0, h - 1));
    for (var tx = 0; tx < k; tx++) {
      let ix = u32(clamp(i32(x) + tx - r, 0, w - 1));
      vals[n] = inputValue(image, iy, ix, c);
      n = n + 1u;
    }
  }
  let mid = (n - 1u) / 2u;
  for (var i = 0u; i <= mid; i++) {
    var m = i;
    for (var j = i + 1u; j < n; j++) {
      if (vals[j] < vals[m]) {
        m = j;
      }
    }
    let t = vals[i];
    vals[i] = vals[m];
    vals[m] = t;
  }
  return vals[mid];
}
