// Packs float32 values in [0, 1] (a tfjs tensor of pixels / 255) into HWC uint8 images,
// four values to a u32 little end first, as prelude.wgsl reads them: the way back from the
// tensor the training loop uploaded to the bytes the augmentation programs work on.
//
// byte = round(clamp(v, 0, 1) · 255). For v = float32(b / 255) this is b exactly: the
// product is within 2^-16 of b (f32 multiplication is correctly rounded in WGSL), far
// inside the ±0.5 that rounding forgives. Each invocation writes one whole output word.

struct Shape {
  totalValues: u32,
  totalWords: u32,
  threadsPerRow: u32,
  perImage: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> inputValues: array<f32>;
@group(0) @binding(2) var<storage, read_write> outputWords: array<u32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let word = gid.y * shape.threadsPerRow + gid.x;
  if (word >= shape.totalWords) {
    return;
  }
  var packed = 0u;
  for (var k = 0u; k < 4u; k++) {
    let i = word * 4u + k;
    if (i < shape.totalValues) {
      let byte = u32(round(clamp(inputValues[i], 0.0, 1.0) * 255.0));
      packed = packed | (byte << (k * 8u));
    }
  }
  outputWords[word] = packed;
}
