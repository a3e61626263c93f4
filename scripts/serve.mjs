// Serves the built studio (dist/) on localhost, as any static host would, with the
// Content-Security-Policy header that keeps every request on this origin.
import { createServer } from 'node:http';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CSP } from './csp.mjs';

const ROOT = resolve(process.env.HEARTH_DIST ?? fileURLToPath(new URL('../dist', import.meta.url)));
const PORT = Number(process.env.PORT ?? 4173);
const HOST = process.env.HOST ?? '127.0.0.1';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
  '.gz': 'application/octet-stream',
  '.bin': 'application/octet-stream',
};

if (!existsSync(join(ROOT, 'index.html'))) {
  console.error('dist/index.html is missing: run `npm run build` first (or `npm start`, which builds).');
  process.exit(1);
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', `http://${HOST}`);
  let path = normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, '');
  let file = join(ROOT, path);
  if (!file.startsWith(ROOT)) {
    res.writeHead(403).end();
    return;
  }
  if (!existsSync(file) || statSync(file).isDirectory()) {
    // Single-page app: unknown paths get the shell.
    if (extname(path)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    file = join(ROOT, 'index.html');
    path = '/index.html';
  }
  const headers = {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'content-security-policy': CSP,
    'cross-origin-opener-policy': 'same-origin',
    'x-content-type-options': 'nosniff',
    // The service worker decides freshness; the server only stops stale shells.
    'cache-control': path === '/index.html' || path === '/sw.js' ? 'no-cache' : 'public, max-age=3600',
  };
  res.writeHead(200, headers);
  createReadStream(file).pipe(res);
});

server.listen(PORT, HOST, () => {
  console.log(`Hearth is running at http://localhost:${PORT}/ (serving ${ROOT}; Ctrl+C to stop)`);
});
