import { getContext, setContext } from 'svelte';
// choose.ts is tfjs-free; backends.ts would pull tfjs into the main thread's bundle.
import { ALL_BACKENDS, chooseFastest, isBackendName, type BackendName, type BackendReport } from '../../lib/compute/choose';
import { describeError } from '../../lib/jobs/errors';
import type { ComputeClientState, ComputeStatus } from '../../worker-client/compute-client';
import type { JobError } from '../shell/jobs.svelte';

export const BACKEND_NAMES: readonly BackendName[] = ALL_BACKENDS;

/** The user's forced backend survives a reload; absent means "fastest measured". */
const FORCED_BACKEND_KEY = 'hearth.forcedBackend';

/** The backend the user forced in an earlier visit, for starting the compute worker on it. */
export function savedForcedBackend(): BackendName | undefined {
  const saved = localStorage.getItem(FORCED_BACKEND_KEY);
  return isBackendName(saved) ? saved : undefined;
}

/** What the UI needs of src/worker-client/compute-client.ts's ComputeClient. */
export interface ComputeService {
  readonly state: ComputeClientState;
  subscribe(listener: (state: ComputeClientState) => void): () => void;
  probe(): Promise<BackendReport[]>;
  /** Tensors the compute worker holds: a leak shows as a count that grows between runs. */
  memory(): Promise<{ numTensors: number; numBytes: number }>;
  use(name: BackendName): Promise<void>;
}

/**
 * The compute worker's state as runes: which backends can run here, how fast each one
 * measured, which one is in use, and the user's forced choice.
 */
export class ComputeState {
  status = $state<ComputeStatus>('starting');
  reports = $state.raw<readonly BackendReport[]>([]);
  /** When the reports were measured, and whether this visit reused them from an earlier one. */
  measuredAt = $state<number | null>(null);
  reused = $state(false);
  active = $state<BackendName | null>(null);
  forced = $state<BackendName | null>(null);
  probing = $state(false);
  switching = $state(false);
  error = $state<JobError | null>(null);
  memory = $state<{ numTensors: number; numBytes: number } | null>(null);

  readonly #service: ComputeService;

  constructor(service: ComputeService) {
    this.#service = service;
    this.forced = savedForcedBackend() ?? null;
  }

  /** Mirrors the client's state until the returned function is called. */
  connect(): () => void {
    return this.#service.subscribe((s) => {
      this.status = s.status;
      this.active = s.active;
      // A forced start skips the probe and reports nothing; keep earlier measurements then.
      if (s.reports.length > 0) {
        this.reports = s.reports;
        this.measuredAt = s.measuredAt;
        this.reused = s.reused;
      }
      this.error = s.error;
    });
  }

  /** Measures every backend again; the one in use stays. */
  async probe(): Promise<void> {
    this.probing = true;
    try {
      this.reports = await this.#service.probe();
      this.error = null;
    } catch (err) {
      this.error = describeError(err);
    } finally {
      this.probing = false;
    }
  }

  /** Computes on `name` from now on, and remembers the choice across reloads. */
  async force(name: BackendName): Promise<void> {
    this.switching = true;
    try {
      await this.#service.use(name);
      this.forced = name;
      localStorage.setItem(FORCED_BACKEND_KEY, name);
      this.error = null;
    } catch (err) {
      this.error = describeError(err);
    } finally {
      this.switching = false;
    }
  }

  /** Forgets the forced choice and goes back to the fastest measured backend. */
  async refreshMemory(): Promise<void> {
    try {
      this.memory = await this.#service.memory();
    } catch (err) {
      this.error = describeError(err);
    }
  }

  async useFastest(): Promise<void> {
    localStorage.removeItem(FORCED_BACKEND_KEY);
    this.forced = null;
    if (this.reports.length === 0) await this.probe();
    const fastest = chooseFastest(this.reports);
    this.switching = true;
    try {
      await this.#service.use(fastest);
    } catch (err) {
      this.error = describeError(err);
    } finally {
      this.switching = false;
    }
  }
}

const COMPUTE_KEY = Symbol('hearth.compute');

export function setCompute(compute: ComputeState): ComputeState {
  return setContext(COMPUTE_KEY, compute);
}

export function getCompute(): ComputeState {
  const compute = getContext<ComputeState | undefined>(COMPUTE_KEY);
  if (!compute) throw new Error('getCompute() called outside the studio: App.svelte sets the ComputeState context.');
  return compute;
}
