/**
 * The backend probe's result, kept per browser and device so that a page load reuses it at
 * once instead of measuring every backend again (about 9 s, most of it compiling WebGPU
 * shaders). It is measured again when the browser, the CPU count or the WebGPU adapter
 * differs from the one it was measured on, and whenever the user asks (Compute page).
 * tfjs-free: the fingerprint is built from what the worker's `navigator` says.
 */
import { getSetting, setSetting } from '../storage/settings';
import type { HearthDb } from '../storage/schema';
import type { BackendReport, WebGpuAdapterSummary } from './choose';

export const PROBE_CACHE_KEY = 'compute.probe';

/** What makes a measurement stale: another browser (or version), CPU or GPU adapter. */
export interface DeviceFingerprint {
  userAgent: string;
  cores: number;
  /** "vendor architecture description", or why there is no adapter. */
  adapter: string;
}

export interface CachedProbe {
  fingerprint: DeviceFingerprint;
  measuredAt: number;
  reports: BackendReport[];
}

export function fingerprintOf(
  nav: { userAgent: string; hardwareConcurrency?: number },
  adapter: WebGpuAdapterSummary | string,
): DeviceFingerprint {
  return {
    userAgent: nav.userAgent,
    cores: nav.hardwareConcurrency ?? 0,
    adapter: typeof adapter === 'string' ? `none: ${adapter}` : `${adapter.vendor} ${adapter.architecture} ${adapter.description}`.trim(),
  };
}

function sameDevice(a: DeviceFingerprint, b: DeviceFingerprint): boolean {
  return a.userAgent === b.userAgent && a.cores === b.cores && a.adapter === b.adapter;
}

/** The probe measured on this browser and device, or null (never measured, or measured elsewhere). */
export async function loadCachedProbe(db: HearthDb, fingerprint: DeviceFingerprint): Promise<CachedProbe | null> {
  const cached = await getSetting<CachedProbe>(db, PROBE_CACHE_KEY);
  if (!cached || !Array.isArray(cached.reports) || cached.reports.length === 0) return null;
  return sameDevice(cached.fingerprint, fingerprint) ? cached : null;
}

export async function saveProbe(db: HearthDb, fingerprint: DeviceFingerprint, reports: BackendReport[], measuredAt: number): Promise<CachedProbe> {
  const cached: CachedProbe = { fingerprint, measuredAt, reports };
  await setSetting(db, PROBE_CACHE_KEY, cached);
  return cached;
}
