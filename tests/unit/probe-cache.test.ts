/** The backend probe kept per browser and device (src/lib/compute/probe-cache.ts). */
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import type { BackendReport } from '../../src/lib/compute/choose';
import { fingerprintOf, loadCachedProbe, saveProbe } from '../../src/lib/compute/probe-cache';
import { openHearthDb } from '../../src/lib/storage/schema';

const CHROME = { userAgent: 'Mozilla/5.0 Chrome/131.0', hardwareConcurrency: 2 };
const SWIFTSHADER = { vendor: 'google', architecture: 'swiftshader', description: 'SwiftShader', isFallbackAdapter: true };
const REPORTS: BackendReport[] = [
  { name: 'wasm', available: true, imgPerSec: 8000, warmupMs: 300 },
  { name: 'webgpu', available: true, imgPerSec: 18, warmupMs: 6000, adapter: SWIFTSHADER },
];

describe('the kept backend probe', () => {
  it('is reused on the same browser and device', async () => {
    const db = await openHearthDb(`probe-${crypto.randomUUID()}`);
    expect(await loadCachedProbe(db, fingerprintOf(CHROME, SWIFTSHADER))).toBeNull();
    await saveProbe(db, fingerprintOf(CHROME, SWIFTSHADER), REPORTS, 1_000);
    const again = await loadCachedProbe(db, fingerprintOf(CHROME, SWIFTSHADER));
    expect(again?.reports).toEqual(REPORTS);
    expect(again?.measuredAt).toBe(1_000);
  });

  it('is measured again when the browser, the CPU or the GPU adapter changes', async () => {
    const db = await openHearthDb(`probe-${crypto.randomUUID()}`);
    await saveProbe(db, fingerprintOf(CHROME, SWIFTSHADER), REPORTS, 1_000);
    expect(await loadCachedProbe(db, fingerprintOf({ ...CHROME, userAgent: 'Mozilla/5.0 Chrome/132.0' }, SWIFTSHADER))).toBeNull();
    expect(await loadCachedProbe(db, fingerprintOf({ ...CHROME, hardwareConcurrency: 8 }, SWIFTSHADER))).toBeNull();
    const realGpu = { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100', isFallbackAdapter: false };
    expect(await loadCachedProbe(db, fingerprintOf(CHROME, realGpu))).toBeNull();
    expect(await loadCachedProbe(db, fingerprintOf(CHROME, 'the browser offers no WebGPU adapter'))).toBeNull();
  });
});
