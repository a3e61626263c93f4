// Adds a noise field made on the CPU (gaussian-noise.ts): Box–Muller goes through
// Math.log/cos/sin in double precision, which no GPU reproduces. Params: one i16 code per
// value, two to a word, value i in half i%2 of word i/2. A code is 2q + h: the value
// becomes src + q, except when h = 1 (the noise ended in exactly .5), where it becomes
// src + q or src + q + 1, whichever is even: round-half-even of src + noise, saturated.
fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let i = (y * shape.outWidth + x) * shape.outChannels + c;
  let word = paramU32(image, i >> 1u);
  // Shift the half to the top, then an arithmetic shift back sign-extends the i16.
  let code = bitcast<i32>(word << (16u - (i & 1u) * 16u)) >> 16u;
  let q = code >> 1u;
  var value = i32(inputValue(image, y, x, c)) + q;
  if ((code & 1) == 1 && (value & 1) == 1) {
    value = value + 1;
  }
  return u32(clamp(value, 0, 255));
}
