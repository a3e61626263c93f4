/**
 * Thumbnails for small image lists (Analyze's duplicate groups, the samples an import has landed): one getPixels
 * call per batch of ids not yet cached, a byte-bounded cache shared by the lists, and a
 * `draw(id)` attachment that repaints when pixels land.
 */
import type { InputSpec } from '../../lib/storage/records';
import { describeError } from '../../lib/jobs/errors';
import { hwcToImageData, ThumbnailCache } from '../data/thumbnails';
import type { DataApi, Methods } from '../shell/service-types';

/** Thumbnails are drawn at an integer upscale up to this side, so pixel art stays crisp. */
export const THUMB_TARGET_PX = 56;

/** The CSS side of a thumbnail for `input`: an integer multiple of the stored size when that fits. */
export function thumbSidePx(input: InputSpec, target = THUMB_TARGET_PX): number {
  const side = Math.max(input.width, input.height);
  const scale = Math.floor(target / side);
  return scale >= 1 ? side * scale : target;
}

export class Thumbs {
  /** Bumped when pixels land, so the canvases' attachments run again. */
  painted = $state(0);
  error = $state<string | null>(null);

  readonly #data: Methods<DataApi, 'getPixels'>;
  readonly #cache = new ThumbnailCache();
  // Bookkeeping only, never rendered: a reactive set would re-run the fetching effect on every add.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  readonly #inflight = new Set<number>();

  constructor(data: Methods<DataApi, 'getPixels'>) {
    this.#data = data;
  }

  /** Fetches the pixels of the ids not cached or already on their way, in one call. */
  async load(ids: readonly number[], input: InputSpec): Promise<void> {
    const wanted = ids.filter((id) => !this.#cache.has(id) && !this.#inflight.has(id));
    if (wanted.length === 0) return;
    for (const id of wanted) this.#inflight.add(id);
    try {
      const pixels = await this.#data.getPixels(wanted);
      pixels.forEach((px, i) => {
        const id = wanted[i];
        if (id !== undefined) this.#cache.set(id, hwcToImageData(px, input.width, input.height, input.channels));
      });
      this.error = null;
      this.painted += 1;
    } catch (err) {
      const d = describeError(err);
      this.error = `Could not read the thumbnails (${d.name}): ${d.message}`;
    } finally {
      for (const id of wanted) this.#inflight.delete(id);
    }
  }

  /** An attachment for a canvas of the input's size that paints sample `id` once its pixels are here. */
  draw(id: number): (canvas: HTMLCanvasElement) => void {
    return (canvas) => {
      void this.painted;
      const img = this.#cache.get(id);
      const ctx = canvas.getContext('2d');
      if (!ctx) return;
      if (img) ctx.putImageData(img, 0, 0);
      else ctx.clearRect(0, 0, canvas.width, canvas.height);
    };
  }

  clear(): void {
    this.#cache.clear();
  }
}
