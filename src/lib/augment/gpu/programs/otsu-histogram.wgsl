// Per-image 256-bin histograms of a batch of 1-channel images, for Otsu's threshold
// (otsu.ts). A standalone module, not a runner program: it needs atomics on its output.
// Each invocation counts the four values of one input word.

struct HistShape {
  valuesPerImage: u32,
  totalValues: u32,
  threadsPerRow: u32,
  pad: u32,
}

@group(0) @binding(0) var<uniform> histShape: HistShape;
@group(0) @binding(1) var<storage, read> grayWords: array<u32>;
@group(0) @binding(2) var<storage, read_write> histogram: array<atomic<u32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let word = gid.y * histShape.threadsPerRow + gid.x;
  let first = word * 4u;
  if (first >= histShape.totalValues) {
    return;
  }
  let packed = grayWords[word];
  for (var k = 0u; k < 4u; k++) {
    let i = first + k;
    if (i < histShape.totalValues) {
      let image = i / histShape.valuesPerImage;
      atomicAdd(&histogram[image * 256u + ((packed >> (k * 8u)) & 0xffu)], 1u);
    }
  }
}
