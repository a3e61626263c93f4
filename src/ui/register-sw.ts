/**
 * Registers the service worker that scripts/sw-plugin.mjs writes into production builds,
 * and tells the UI when the studio is ready to run offline: the worker is active, controls
 * this page, and its cache holds every file of the build.
 *
 * The answer is also mirrored on `<html data-offline-ready="true|false">`, which the
 * status bar may style on and the e2e tests wait for.
 */

/** What the service worker reports about its precache. */
export interface OfflineStatus {
  /** True when the worker is active, controls this page and every file is cached. */
  ready: boolean;
  /** Files of the build in the cache, out of `expected`. */
  cached: number;
  expected: number;
  /** The cache in use, or null when there is no active worker (dev server, unsupported browser). */
  cacheName: string | null;
}

type Listener = (ready: boolean) => void;

/** A worker that does not answer within this is treated as not ready (it may be starting). */
const STATUS_REPLY_TIMEOUT_MS = 5_000;
const NOT_READY: OfflineStatus = { ready: false, cached: 0, expected: 0, cacheName: null };

let offlineReady = false;
const listeners = new Set<Listener>();

function setOfflineReady(ready: boolean): void {
  document.documentElement.dataset.offlineReady = String(ready);
  if (ready === offlineReady) return;
  offlineReady = ready;
  for (const listener of listeners) listener(ready);
}

/** Whether the studio can run offline right now (last known answer, no round trip). */
export function isOfflineReady(): boolean {
  return offlineReady;
}

/** Calls `listener` whenever offline readiness changes; returns the unsubscribe function. */
export function onOfflineReadyChange(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Asks the active service worker how much of the build it has cached. */
export async function getOfflineStatus(): Promise<OfflineStatus> {
  if (!('serviceWorker' in navigator)) return NOT_READY;
  const registration = await navigator.serviceWorker.getRegistration();
  const active = registration?.active;
  if (!active) return NOT_READY;
  const reply = await askWorker(active);
  if (!reply) return NOT_READY;
  const controlled = navigator.serviceWorker.controller !== null;
  return { ...reply, ready: controlled && reply.expected > 0 && reply.cached === reply.expected };
}

/** One status round trip over a private MessageChannel, or null if the worker is silent. */
function askWorker(worker: ServiceWorker): Promise<Omit<OfflineStatus, 'ready'> | null> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => {
      channel.port1.close();
      resolve(null);
    }, STATUS_REPLY_TIMEOUT_MS);
    channel.port1.onmessage = (event: MessageEvent<Omit<OfflineStatus, 'ready'>>) => {
      clearTimeout(timer);
      channel.port1.close();
      resolve(event.data);
    };
    worker.postMessage({ type: 'hearth-sw-status' }, [channel.port2]);
  });
}

/** Resolves once a service worker controls this page (at once on later visits). */
function controlled(): Promise<void> {
  const container = navigator.serviceWorker;
  if (container.controller) return Promise.resolve();
  return new Promise((resolve) => {
    container.addEventListener('controllerchange', () => resolve(), { once: true });
  });
}

async function refresh(): Promise<void> {
  setOfflineReady((await getOfflineStatus()).ready);
}

/**
 * Registers /sw.js in production builds; a no-op on the dev server, where a worker would
 * serve stale modules over Vite's hot reload. Never throws: without a service worker the
 * studio still works online, it only loses offline use.
 */
export async function registerServiceWorker(): Promise<void> {
  setOfflineReady(false);
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  try {
    await navigator.serviceWorker.register(`${import.meta.env.BASE_URL}sw.js`, { type: 'classic' });
    await navigator.serviceWorker.ready;
    await controlled();
    await refresh();
    // A new build's worker takes over after the old tabs close; check its cache then.
    navigator.serviceWorker.addEventListener('controllerchange', () => void refresh());
  } catch (err) {
    console.warn('Hearth could not install its service worker; it works online only.', err);
    setOfflineReady(false);
  }
}
