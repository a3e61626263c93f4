// Shared by every augmentation program: the runner prepends this to the program's WGSL,
// which supplies `fn outputValue(image: u32, y: u32, x: u32, c: u32) -> u32`.
//
// Images are HWC uint8, a batch of images back to back, packed four values to a u32
// little-end first (byte i of the batch is bits 8*(i%4) .. of word i/4). Each invocation
// writes one whole output word, so no two invocations touch the same word. `count` is the
// number of output images; an input image is read by the index passed to inputValue, which
// is the output image's own for every program but a gather (programs/gather.wgsl).

struct Shape {
  inWidth: u32,
  inHeight: u32,
  inChannels: u32,
  count: u32,
  outWidth: u32,
  outHeight: u32,
  outChannels: u32,
  paramWordsPerImage: u32,
  threadsPerRow: u32,
  outWords: u32,
  pad0: u32,
  pad1: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> inputWords: array<u32>;
@group(0) @binding(2) var<storage, read> paramWords: array<u32>;
@group(0) @binding(3) var<storage, read_write> outputWords: array<u32>;

fn inputValue(image: u32, y: u32, x: u32, c: u32) -> u32 {
  let i = ((image * shape.inHeight + y) * shape.inWidth + x) * shape.inChannels + c;
  return (inputWords[i >> 2u] >> ((i & 3u) * 8u)) & 0xffu;
}

fn paramU32(image: u32, k: u32) -> u32 {
  return paramWords[image * shape.paramWordsPerImage + k];
}

fn paramI32(image: u32, k: u32) -> i32 {
  return bitcast<i32>(paramU32(image, k));
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let word = gid.y * shape.threadsPerRow + gid.x;
  if (word >= shape.outWords) {
    return;
  }
  let perImage = shape.outHeight * shape.outWidth * shape.outChannels;
  let total = perImage * shape.count;
  var packed = 0u;
  for (var k = 0u; k < 4u; k++) {
    let i = word * 4u + k;
    if (i < total) {
      let image = i / perImage;
      let rest = i - image * perImage;
      let c = rest % shape.outChannels;
      let pixel = rest / shape.outChannels;
      let x = pixel % shape.outWidth;
      let y = pixel / shape.outWidth;
      packed = packed | ((outputValue(image, y, x, c) & 0xffu) << (k * 8u));
    }
  }
  outputWords[word] = packed;
}
