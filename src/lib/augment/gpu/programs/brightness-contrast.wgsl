// A per-value lookup: params are 256 words, entry v is what input value v becomes.
// brightness-contrast.ts fills the table on the CPU in float32, as OpenCV does, so the
// GPU result cannot differ from the CPU one by a float rounding at a .5 boundary.
fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  return paramU32(image, inputValue(image, y, x, c));
}
