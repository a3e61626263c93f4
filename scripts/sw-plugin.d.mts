import type { Plugin } from 'vite';

export declare const SW_FILE_NAME: string;
export declare function listFiles(dir: string): string[];
export declare function isPrecached(relPath: string): boolean;
export declare function buildServiceWorker(
  outDir: string,
  base: string,
): { source: string; urls: string[]; cacheName: string };
export declare function serviceWorker(): Plugin;
