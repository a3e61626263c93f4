/**
 * The one place the augmentation engine gets a GPUDevice. When the tfjs WebGPU backend is
 * active its device is used, so augmented batches stay on the GPU and go straight into
 * training (a buffer from one device cannot be read by another). Otherwise Hearth asks
 * `navigator.gpu` for a device of its own, once, and keeps it until it is lost.
 */
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { tf } from '../../compute/register';
import { HearthError } from '../../jobs/errors';

/** There is no WebGPU here (no `navigator.gpu`, no adapter, or the device request failed). */
export class WebGpuUnavailableError extends HearthError {
  constructor(message: string) {
    super(message, 'WebGpuUnavailableError');
  }
}

export type GpuDeviceOwner = 'tfjs' | 'hearth';

export interface GpuDeviceHandle {
  device: GPUDevice;
  /** `tfjs`: the WebGPU backend's device (never destroy it); `hearth`: ours. */
  owner: GpuDeviceOwner;
}

/** What went wrong on a device outside any error scope; kept for the UI and for tests. */
export interface GpuDeviceEvent {
  kind: 'lost' | 'uncaptured-error';
  message: string;
}

type GpuDeviceListener = (event: GpuDeviceEvent) => void;

const WHAT_TO_DO =
  'Use a browser with WebGPU (Chrome or Edge 113+, or Safari 26+) with hardware acceleration on; ' +
  'until then augmentation runs on the CPU kernels.';

const listeners = new Set<GpuDeviceListener>();
/** Devices already given handlers, so asking twice for the tfjs device adds no second listener. */
const watchedDevices = new WeakSet<GPUDevice>();
let ownDevice: Promise<GPUDevice> | null = null;

function report(event: GpuDeviceEvent): void {
  for (const listener of listeners) listener(event);
}

/** Hears every device loss and uncaptured GPU error; returns the unsubscribe function. */
export function onGpuDeviceEvent(listener: GpuDeviceListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function watch(device: GPUDevice, owner: GpuDeviceOwner): void {
  if (watchedDevices.has(device)) return;
  watchedDevices.add(device);
  // Without a listener an uncaptured validation error only reaches the console, and a
  // kernel that silently wrote nothing would look like a black image.
  device.addEventListener('uncapturederror', (event) => {
    report({ kind: 'uncaptured-error', message: (event as GPUUncapturedErrorEvent).error.message });
  });
  void device.lost.then((info) => {
    // A lost device never comes back: forget ours so the next call asks for a fresh one.
    if (owner === 'hearth') ownDevice = null;
    // `destroyed` is our own releaseGpuDevice(), not a failure worth reporting.
    if (info.reason !== 'destroyed') report({ kind: 'lost', message: info.message });
  });
}

/** The tfjs WebGPU backend's device, when that backend is the active one. */
function tfjsDevice(): GPUDevice | null {
  // getBackend() only reads the engine's current name; tf.backend() would initialise one.
  if (tf.getBackend() !== 'webgpu') return null;
  return (tf.backend() as WebGPUBackend).device;
}

async function requestOwnDevice(): Promise<GPUDevice> {
  const gpu = typeof navigator === 'undefined' ? undefined : navigator.gpu;
  if (!gpu) throw new WebGpuUnavailableError(`This browser does not expose WebGPU (navigator.gpu). ${WHAT_TO_DO}`);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new WebGpuUnavailableError(`WebGPU is present but offered no adapter (blocked GPU or driver). ${WHAT_TO_DO}`);
  try {
    // The defaults (128 MiB bindings) would cap a batch far below what the adapter can
    // hold; tfjs asks for the adapter's own limits the same way.
    return await adapter.requestDevice({
      label: 'hearth-augment',
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
      },
    });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new WebGpuUnavailableError(`The WebGPU adapter refused a device (${reason}). ${WHAT_TO_DO}`);
  }
}

/**
 * The device augmentation kernels run on: the tfjs WebGPU backend's when it is active,
 * else Hearth's own (requested once, requested again after a loss).
 * Throws WebGpuUnavailableError when neither exists.
 */
export async function acquireGpuDevice(): Promise<GpuDeviceHandle> {
  const shared = tfjsDevice();
  if (shared) {
    watch(shared, 'tfjs');
    return { device: shared, owner: 'tfjs' };
  }
  if (!ownDevice) {
    const pending = requestOwnDevice().then((device) => {
      watch(device, 'hearth');
      return device;
    });
    // A failed request is not cached: the user may enable WebGPU and try again.
    pending.catch(() => {
      if (ownDevice === pending) ownDevice = null;
    });
    ownDevice = pending;
  }
  return { device: await ownDevice, owner: 'hearth' };
}

/** Destroys Hearth's own device, if there is one; the tfjs backend's is never touched. */
export async function releaseGpuDevice(): Promise<void> {
  const pending = ownDevice;
  ownDevice = null;
  if (!pending) return;
  try {
    (await pending).destroy();
  } catch {
    // The request had failed: there is nothing to destroy.
  }
}
