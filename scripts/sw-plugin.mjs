// Vite plugin: after the build has written dist/, list every file in it and write
// dist/sw.js from the template src/sw/sw.js with that precache list and a cache name
// derived from the files' contents. It runs after everything else has been written
// (closeBundle), so files copied from public/ (models, sample datasets) are included.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const TEMPLATE_PATH = fileURLToPath(new URL('../src/sw/sw.js', import.meta.url));
export const SW_FILE_NAME = 'sw.js';
/** Hex digits of the content hash in the cache name: enough that two builds never collide. */
const CACHE_HASH_HEX_CHARS = 16;

/** Paths of all files under `dir`, relative to it, with '/' separators, sorted. */
export function listFiles(dir) {
  const out = [];
  const walk = (sub) => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(rel);
      else if (entry.isFile()) out.push(rel);
    }
  };
  walk('');
  return out.sort();
}

/** Which built files the service worker keeps: all but source maps and itself. */
export function isPrecached(relPath) {
  return !relPath.endsWith('.map') && relPath !== SW_FILE_NAME;
}

/**
 * Builds the text of sw.js for the files of `outDir`. Exported so it can be tested
 * without a Vite build.
 * @param {string} outDir absolute path of the build output
 * @param {string} base the site's base path, e.g. '/'
 * @returns {{ source: string, urls: string[], cacheName: string }}
 */
export function buildServiceWorker(outDir, base) {
  const files = listFiles(outDir).filter(isPrecached);
  const hash = createHash('sha256');
  for (const rel of files) {
    // Name and content both, with separators, so a rename alone also changes the hash.
    hash.update(rel).update('\0').update(readFileSync(join(outDir, rel))).update('\0');
  }
  const cacheName = `hearth-precache-${hash.digest('hex').slice(0, CACHE_HASH_HEX_CHARS)}`;
  const urls = files.map((rel) => base + rel);
  let source = readFileSync(TEMPLATE_PATH, 'utf8');
  const fill = (marker, pattern, value) => {
    const next = source.replace(pattern, `/* ${marker} */ ${JSON.stringify(value)}`);
    // A template edit that drops a marker would otherwise ship a worker caching nothing.
    if (next === source) throw new Error(`src/sw/sw.js lost its ${marker} marker; restore it.`);
    source = next;
  };
  fill('@precache-urls', /\/\* @precache-urls \*\/ \[\]/, urls);
  fill('@cache-name', /\/\* @cache-name \*\/ '[^']*'/, cacheName);
  fill('@shell-url', /\/\* @shell-url \*\/ '[^']*'/, `${base}index.html`);
  return { source, urls, cacheName };
}

/** @returns {import('vite').Plugin} */
export function serviceWorker() {
  let outDir = '';
  let base = '/';
  return {
    name: 'hearth-service-worker',
    apply: 'build',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
      // A relative base ('./') has no fixed scope to precache under; serve from the root.
      base = config.base.startsWith('/') ? config.base : '/';
    },
    closeBundle: {
      // After other plugins' closeBundle hooks, which may still add files to dist/.
      order: 'post',
      handler() {
        const { source, urls, cacheName } = buildServiceWorker(outDir, base);
        writeFileSync(join(outDir, SW_FILE_NAME), source);
        const shown = relative(process.cwd(), join(outDir, SW_FILE_NAME));
        console.log(`${shown}: ${urls.length} files precached in ${cacheName}`);
      },
    },
  };
}
