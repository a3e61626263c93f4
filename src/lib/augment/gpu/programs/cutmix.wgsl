// CutMix: params [0] x, [1] y, [2] width, [3] height of the box, then the partner image
// packed four bytes to a word from word 4, in the input's layout.
fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let bx = paramU32(image, 0u);
  let by = paramU32(image, 1u);
  let inside = x >= bx && x < bx + paramU32(image, 2u) && y >= by && y < by + paramU32(image, 3u);
  if (!inside) {
    return inputValue(image, y, x, c);
  }
  let i = (y * shape.inWidth + x) * shape.inChannels + c;
  return (paramU32(image, 4u + (i >> 2u)) >> ((i & 3u) * 8u)) & 0xffu;
}
