// MixUp by table: params [0 .. 16384) the 256×256 output bytes for (a, b), packed four
// to a word (entry a·256 + b), then the partner image packed in the input's layout.
fn mixupByte(image: u32, i: u32) -> u32 {
  return (paramU32(image, i >> 2u) >> ((i & 3u) * 8u)) & 0xffu;
}

fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let i = (y * shape.inWidth + x) * shape.inChannels + c;
  let b = (paramU32(image, 16384u + (i >> 2u)) >> ((i & 3u) * 8u)) & 0xffu;
  return mixupByte(image, inputValue(image, y, x, c) * 256u + b);
}
