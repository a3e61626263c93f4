// Cutout: params [0] x, [1] y, [2] width, [3] height of the box, [4] the fill value.
fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let bx = paramU32(image, 0u);
  let by = paramU32(image, 1u);
  let inside = x >= bx && x < bx + paramU32(image, 2u) && y >= by && y < by + paramU32(image, 3u);
  return select(inputValue(image, y, x, c), paramU32(image, 4u), inside);
}
