// Vite plugin: the models Hearth ships live in static-models/ at the repository root (with
// the scripts that train them and their manifests), and are served from /static-models/:
// copied into dist/ when building, before the service worker lists dist/ for precaching,
// and served straight from the folder by the dev server.
import { cpSync, createReadStream, existsSync, statSync } from 'node:fs';
import { join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const STATIC_MODELS_DIR = fileURLToPath(new URL('../static-models', import.meta.url));
export const STATIC_MODELS_URL = '/static-models/';

const TYPES = { '.json': 'application/json', '.bin': 'application/octet-stream', '.png': 'image/png', '.onnx': 'application/octet-stream' };

/** @returns {import('vite').Plugin} */
export function staticModels() {
  let outDir = '';
  return {
    name: 'hearth-static-models',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    writeBundle() {
      if (existsSync(STATIC_MODELS_DIR)) cpSync(STATIC_MODELS_DIR, join(outDir, 'static-models'), { recursive: true });
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const url = (req.url ?? '').split('?')[0] ?? '';
        if (!url.startsWith(STATIC_MODELS_URL)) return next();
        const file = normalize(join(STATIC_MODELS_DIR, decodeURIComponent(url.slice(STATIC_MODELS_URL.length))));
        if (!file.startsWith(STATIC_MODELS_DIR + sep) || !existsSync(file) || !statSync(file).isFile()) return next();
        const ext = file.slice(file.lastIndexOf('.'));
        res.setHeader('Content-Type', TYPES[ext] ?? 'application/octet-stream');
        createReadStream(file).pipe(res);
      });
    },
  };
}
