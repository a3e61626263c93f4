/**
 * Drawing the preview's HWC images: a canvas of the image's own size, scaled up by CSS
 * to an integer multiple so small images (28×28 MNIST) stay crisp.
 */
import type { ImageU8 } from '../../lib/augment/types';
import { hwcToImageData } from '../data/thumbnails';

/** Preview images are drawn at an integer upscale up to this side. */
export const PREVIEW_TARGET_PX = 112;

/** The CSS side, in px, of an image whose larger side is `side`. */
export function previewSidePx(side: number, target = PREVIEW_TARGET_PX): number {
  const scale = Math.floor(target / Math.max(1, side));
  return scale >= 1 ? side * scale : target;
}

/** An attachment that paints `image` into its canvas (sized to the image by the markup). */
export function paint(image: ImageU8): (canvas: HTMLCanvasElement) => void {
  return (canvas) => {
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.putImageData(hwcToImageData(image.data, image.width, image.height, image.channels), 0, 0);
  };
}
