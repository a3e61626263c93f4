// A crop: params [0] x, [1] y of the window's top-left corner in the input.
fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  return inputValue(image, y + paramU32(image, 1u), x + paramU32(image, 0u), c);
}
