// cv2.flip: params [0] bit 0 mirrors left-right (flipCode 1), bit 1 top-bottom (flipCode 0);
// both bits is flipCode -1.
fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let mode = paramU32(image, 0u);
  let sx = select(x, shape.inWidth - 1u - x, (mode & 1u) != 0u);
  let sy = select(y, shape.inHeight - 1u - y, (mode & 2u) != 0u);
  return inputValue(image, sy, sx, c);
}
