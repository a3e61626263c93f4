/**
 * Image decoding with the browser's own codecs, for the data worker. Everything here is
 * touched only when `decode` runs, so the module also imports cleanly in Node.
 */
import { CorruptImageError } from './errors';
import type { DecodedImage, ImageDecoder } from './import-job';
import type { ImageHeader } from './sniff';

function describe(err: unknown): string {
  return err instanceof Error && err.message !== '' ? err.message : 'the browser could not decode it';
}

export const browserDecoder: ImageDecoder = {
  async decode(bytes: ArrayBuffer, header: ImageHeader, fileName?: string): Promise<DecodedImage> {
    const name = fileName ?? `${header.format.toUpperCase()} image`;
    let bitmap: ImageBitmap;
    try {
      // No premultiplication and no colour management: the stored pixels are the file's
      // own values, the same ones a Python pipeline would read for the same file.
      bitmap = await createImageBitmap(new Blob([bytes], { type: header.mimeType }), {
        premultiplyAlpha: 'none',
        colorSpaceConversion: 'none',
      });
    } catch (err) {
      throw new CorruptImageError(name, `the browser could not decode this ${header.format.toUpperCase()} (${describe(err)})`);
    }
    try {
      const { width, height } = bitmap;
      if (width === 0 || height === 0) throw new CorruptImageError(name, 'it decoded to an empty picture');
      const canvas = new OffscreenCanvas(width, height);
      const ctx = canvas.getContext('2d', { willReadFrequently: true });
      if (!ctx) throw new CorruptImageError(name, 'this browser gave no 2D canvas to read its pixels');
      ctx.drawImage(bitmap, 0, 0);
      return { width, height, rgba: ctx.getImageData(0, 0, width, height).data };
    } finally {
      // Bitmaps hold decoded pixels outside the JS heap until closed; thousands of files would exhaust it.
      bitmap.close();
    }
  },
};
