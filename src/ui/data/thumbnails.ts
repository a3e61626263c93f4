/**
 * Sample thumbnails for the dataset grid: HWC uint8 pixels turned into ImageData once
 * and kept in a byte-bounded LRU cache, so scrolling back does not refetch from the
 * worker and 70,000 samples never sit in memory at once.
 */

/** Enough for several screens of 96×96 RGB thumbnails, far below a tab's memory. */
export const THUMB_CACHE_MAX_BYTES = 48 * 1024 * 1024;

const RGBA = 4;

/** HWC gray or RGB → RGBA ImageData of the same size. */
export function hwcToImageData(pixelsHwc: Uint8Array, width: number, height: number, channels: number): ImageData {
  const out = new Uint8ClampedArray(width * height * RGBA);
  const n = width * height;
  for (let i = 0; i < n; i++) {
    const o = i * RGBA;
    if (channels === 1) {
      const v = pixelsHwc[i] ?? 0;
      out[o] = v;
      out[o + 1] = v;
      out[o + 2] = v;
    } else {
      const s = i * channels;
      out[o] = pixelsHwc[s] ?? 0;
      out[o + 1] = pixelsHwc[s + 1] ?? 0;
      out[o + 2] = pixelsHwc[s + 2] ?? 0;
    }
    out[o + 3] = 255;
  }
  return new ImageData(out, width, height);
}

export class ThumbnailCache {
  readonly #maxBytes: number;
  /** Map iteration order is insertion order: re-inserting on read makes it an LRU. */
  readonly #items = new Map<number, ImageData>();
  #bytes = 0;

  constructor(maxBytes = THUMB_CACHE_MAX_BYTES) {
    this.#maxBytes = maxBytes;
  }

  get(id: number): ImageData | undefined {
    const img = this.#items.get(id);
    if (img) {
      this.#items.delete(id);
      this.#items.set(id, img);
    }
    return img;
  }

  has(id: number): boolean {
    return this.#items.has(id);
  }

  set(id: number, img: ImageData): void {
    const old = this.#items.get(id);
    if (old) this.#bytes -= old.data.byteLength;
    this.#items.delete(id);
    this.#items.set(id, img);
    this.#bytes += img.data.byteLength;
    for (const [key, value] of this.#items) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#items.delete(key);
      this.#bytes -= value.data.byteLength;
    }
  }

  clear(): void {
    this.#items.clear();
    this.#bytes = 0;
  }
}
