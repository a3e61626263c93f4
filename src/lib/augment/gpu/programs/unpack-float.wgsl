// Unpacks a batch of HWC uint8 images (four values to a u32, little end first, as
// prelude.wgsl packs them) into float32 values in [0, 1] for a tfjs tensor, each image
// into its slot of the output: image k of this batch becomes output image slots[k]. A
// training batch split into pieces on the GPU is put back in order this way, one
// dispatch per piece, each writing its own images' floats.
//
// value / 255 is read from a 256-entry table made on the CPU with Math.fround(v / 255):
// WGSL's f32 division is accurate only to 2.5 ulp, and the CPU training path stores the
// correctly rounded quotient, so dividing here could differ in the last bits.
// Each invocation reads one packed word and writes its (up to) four floats.

struct Shape {
  totalValues: u32,
  totalWords: u32,
  threadsPerRow: u32,
  perImage: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> inputWords: array<u32>;
@group(0) @binding(2) var<storage, read> byteToFloat: array<f32, 256>;
@group(0) @binding(3) var<storage, read> slots: array<u32>;
@group(0) @binding(4) var<storage, read_write> outputValues: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let word = gid.y * shape.threadsPerRow + gid.x;
  if (word >= shape.totalWords) {
    return;
  }
  let packed = inputWords[word];
  for (var k = 0u; k < 4u; k++) {
    let i = word * 4u + k;
    if (i < shape.totalValues) {
      let image = i / shape.perImage;
      let rest = i - image * shape.perImage;
      outputValues[slots[image] * shape.perImage + rest] = byteToFloat[(packed >> (k * 8u)) & 0xffu];
    }
  }
}
