/** Where the full folder lives; a limited one is `${PNG_DIR}-${limit}`. */
export declare const PNG_DIR: string;

/**
 * Writes (once, cached) MNIST as `train/<digit>/<i>.png` and `test/<digit>/<i>.png`,
 * at most `limit` images per split, and returns the folder and its image count.
 */
export declare function ensureMnistPngFolder(limit?: number): { dir: string; count: number };
