/**
 * WebGPU in Node for unit tests: Dawn from the npm package `webgpu`, on SwiftShader (a
 * CPU Vulkan driver) from Debian's chromium package. Call `installDawnGpu()` before
 * importing anything that reads `navigator.gpu` (tfjs-backend-webgpu checks it at import).
 *
 * Two things Dawn needs that a bare Debian machine lacks:
 * - A Vulkan driver: `VK_ICD_FILENAMES` must name chromium's vk_swiftshader_icd.json.
 * - A Vulkan loader: Dawn dlopen()s `libvulkan.so.1`, which Debian's `libvulkan1` would
 *   provide; chromium ships its own copy beside the ICD. LD_LIBRARY_PATH cannot be set
 *   from inside a running process, so the helper loads chromium's copy first with
 *   RTLD_NODELETE: Dawn's later dlopen by soname then finds it already in the process.
 *   (Node rejects it as "not a Node module", but NODELETE keeps it loaded.)
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { skipWithout } from './required';

export type DawnSetup = { ok: true; gpu: GPU; adapterName: string } | { ok: false; reason: string };

const KNOWN_ICD_PATHS = ['/usr/lib/chromium/vk_swiftshader_icd.json'];
/** glibc's RTLD_NODELETE; Node's os.constants.dlopen does not list it. */
const RTLD_NODELETE = 0x1000;

function findSwiftShaderIcd(): string | null {
  const fromEnv = process.env.VK_ICD_FILENAMES;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  for (const path of KNOWN_ICD_PATHS) if (existsSync(path)) return path;
  // The file belongs to chromium-common on Debian 12, to chromium on some other releases.
  for (const pkg of ['chromium', 'chromium-common']) {
    try {
      const listed = execFileSync('dpkg', ['-L', pkg], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .split('\n')
        .find((line) => line.endsWith('vk_swiftshader_icd.json'));
      if (listed && existsSync(listed)) return listed;
    } catch {
      // dpkg missing or the package not installed: try the next one.
    }
  }
  return null;
}

function preloadVulkanLoader(icdPath: string): void {
  const loader = join(dirname(icdPath), 'libvulkan.so.1');
  if (!existsSync(loader)) return; // A system libvulkan1 may still be there for Dawn to find.
  try {
    process.dlopen({ exports: {} }, loader, constants.dlopen.RTLD_NOW | constants.dlopen.RTLD_GLOBAL | RTLD_NODELETE);
  } catch {
    // Expected ("did not self-register"): the library stays loaded all the same.
  }
}

let setup: Promise<DawnSetup> | null = null;

async function install(): Promise<DawnSetup> {
  const icd = findSwiftShaderIcd();
  if (!icd) return { ok: false, reason: "no vk_swiftshader_icd.json: install Debian's chromium (apt-get install chromium)" };
  process.env.VK_ICD_FILENAMES = icd;
  preloadVulkanLoader(icd);
  let dawn: typeof import('webgpu');
  try {
    dawn = await import('webgpu');
  } catch (err) {
    return { ok: false, reason: `the npm package "webgpu" did not load (${(err as Error).message}): run npm install` };
  }
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter) return { ok: false, reason: `Dawn found no adapter with VK_ICD_FILENAMES=${icd}` };
  // Node 21+ has a global navigator (without gpu); Node 20 has none.
  if (typeof globalThis.navigator === 'undefined') {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else {
    Object.defineProperty(globalThis.navigator, 'gpu', { value: gpu, configurable: true });
  }
  return { ok: true, gpu, adapterName: `${adapter.info.vendor} ${adapter.info.architecture} (${adapter.info.description})` };
}

/**
 * Makes `navigator.gpu` a Dawn GPU; says why not when it cannot, and throws instead under
 * `npm test`, which installs Dawn's driver first (see required.ts). Safe to call repeatedly.
 */
export async function installDawnGpu(): Promise<DawnSetup> {
  setup ??= install();
  const result = await setup;
  skipWithout(result.ok, 'WebGPU in Node (Dawn on SwiftShader)', result.ok ? '' : result.reason);
  return result;
}
