// Hearth's service worker: keeps the whole studio (shell, code, models, sample datasets)
// on the device so it runs with no network at all.
//
// This file is a template. scripts/sw-plugin.mjs fills in the marked constants at the
// end of each build and writes the result to dist/sw.js; it is never bundled itself.

/** Every file of the build, as absolute paths under the site's base. */
const PRECACHE_URLS = /* @precache-urls */ [];
/** Changes whenever any file of the build changes, so a new build gets a fresh cache. */
const CACHE_NAME = /* @cache-name */ 'hearth-precache-dev';
/** Old precaches are recognised by this prefix; other caches the app may open are left alone. */
const CACHE_PREFIX = 'hearth-precache-';
/** The shell every in-scope navigation gets: the studio is a single-page app. */
const SHELL_URL = /* @shell-url */ '/index.html';
/**
 * Files fetched at once during install. One addAll over everything would open every
 * request together; small groups keep memory and sockets bounded, and addAll still
 * makes each group all-or-nothing, so install fails (and is retried on the next visit)
 * rather than leaving a partial cache behind an active worker.
 */
const INSTALL_CHUNK_FILES = 8;

const PRECACHED = new Set(PRECACHE_URLS);

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE_NAME);
      for (let i = 0; i < PRECACHE_URLS.length; i += INSTALL_CHUNK_FILES) {
        // cache: 'reload' skips the HTTP cache: a file served with max-age from an older
        // build must not end up in this build's cache under the same name.
        const requests = PRECACHE_URLS.slice(i, i + INSTALL_CHUNK_FILES).map(
          (url) => new Request(url, { cache: 'reload' }),
        );
        await cache.addAll(requests);
      }
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names.filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE_NAME).map((name) => caches.delete(name)),
      );
      // Take the page that installed us, so the first visit is already offline-capable.
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;

  if (request.mode === 'navigate') {
    event.respondWith(cacheFirst(SHELL_URL, request));
  } else if (PRECACHED.has(url.pathname)) {
    event.respondWith(cacheFirst(url.pathname, request));
  } else {
    event.respondWith(networkFirst(request));
  }
});

/** The cached copy of `key`, or the network when the cache lacks it (e.g. evicted). */
async function cacheFirst(key, request) {
  const cache = await caches.open(CACHE_NAME);
  const hit = await cache.match(key);
  return hit ?? fetch(request);
}

/** Files outside the precache (user-added later) still work offline if cached before. */
async function networkFirst(request) {
  try {
    return await fetch(request);
  } catch (err) {
    const hit = await caches.match(request);
    if (hit) return hit;
    throw err;
  }
}

// The page asks whether everything is cached (register-sw.ts shows "offline-ready").
// Counting the cache rather than trusting "installed" also notices browser eviction.
self.addEventListener('message', (event) => {
  const port = event.ports[0];
  if (!port || event.data?.type !== 'hearth-sw-status') return;
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE_NAME);
      const keys = await cache.keys();
      const have = new Set(keys.map((req) => new URL(req.url).pathname));
      const cached = PRECACHE_URLS.filter((url) => have.has(url)).length;
      port.postMessage({ cacheName: CACHE_NAME, expected: PRECACHE_URLS.length, cached });
    })(),
  );
});
