/**
 * Test scaffolding for a platform API: Node has no createImageBitmap, so tests decode
 * PNG with pngjs. It plays the browser decoder's part; it is not a stand-in for our code.
 */
import { PNG } from 'pngjs';
import type { DecodedImage, ImageDecoder } from '../../../src/lib/data/import/import-job';
import { CorruptImageError } from '../../../src/lib/data/import/errors';
import type { ImageHeader } from '../../../src/lib/data/import/sniff';

export const nodePngDecoder: ImageDecoder = {
  async decode(bytes: ArrayBuffer, header: ImageHeader, fileName = 'image'): Promise<DecodedImage> {
    if (header.format !== 'png') throw new CorruptImageError(fileName, `the Node test decoder reads PNG only, not ${header.format}`);
    try {
      // Buffer.from(ArrayBuffer) is a view, not a copy, and pngjs does not write to it.
      const png = PNG.sync.read(Buffer.from(bytes));
      return { width: png.width, height: png.height, rgba: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length) };
    } catch (err) {
      throw new CorruptImageError(fileName, err instanceof Error ? err.message : String(err));
    }
  },
};

/** A PNG of `width` x `height` with every pixel `rgba`. */
export function makePng(width: number, height: number, rgba: [number, number, number, number]): Uint8Array<ArrayBuffer> {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) png.data.set(rgba, i * 4);
  return new Uint8Array(PNG.sync.write(png));
}
