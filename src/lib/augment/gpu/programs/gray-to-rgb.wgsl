// One gray channel repeated into three (the channel step of rebalance-augment.ts' fitToInput).
fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  return inputValue(image, y, x, 0u);
}
