/**
 * The worker owner against a stand-in for the browser's Worker (Node has none): a
 * MessageChannel whose far end runs a real comlink `expose`, with `terminate()` closing
 * it and `crash()` firing the 'error' event a browser fires when a worker dies.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { expose } from 'comlink';
import { afterEach, describe, expect, it } from 'vitest';
import { ComputeClient } from '../../src/worker-client/compute-client';
import { MAX_CONSECUTIVE_DEATHS, WorkerDiedError, WorkerOwner } from '../../src/worker-client/worker-owner';

class FakeWorker extends EventTarget {
  readonly #port: MessagePort;
  readonly #far: MessagePort;
  terminated = false;

  constructor(api: object) {
    super();
    const { port1, port2 } = new MessageChannel();
    this.#port = port1;
    this.#far = port2;
    expose(api, port2 as unknown as Parameters<typeof expose>[1]);
    port1.on('message', (data: unknown) => this.dispatchEvent(new MessageEvent('message', { data })));
  }

  postMessage(message: unknown, transfer: Transferable[] = []): void {
    if (!this.terminated) this.#port.postMessage(message, transfer as never);
  }

  terminate(): void {
    this.terminated = true;
    this.#port.close();
    this.#far.close();
  }

  /** What the browser does when the worker throws outside any call or runs out of memory. */
  crash(message: string): void {
    this.dispatchEvent(Object.assign(new Event('error'), { message }));
  }
}

/** A worker API with one job that never stops, even when cancelled (a stuck GPU kernel). */
function makeApi(opts: { cancelStops: boolean }) {
  const running = new Map<string, (why: Error) => void>();
  return {
    echo: (x: number) => x * 2,
    hang: () => new Promise<never>(() => {}),
    job: (jobId: string) =>
      new Promise<string>((_, reject) => {
        running.set(jobId, reject);
      }),
    cancel: (jobId: string) => {
      if (opts.cancelStops) running.get(jobId)?.(new Error('cancelled'));
      return true;
    },
  };
}
type Api = ReturnType<typeof makeApi>;

let workers: FakeWorker[] = [];
function owner(opts = { cancelStops: true }) {
  const deaths: { deaths: number; restarts: boolean; message: string }[] = [];
  const o = new WorkerOwner<Api>(
    'test',
    () => {
      const w = new FakeWorker(makeApi(opts));
      workers.push(w);
      return w as unknown as Worker;
    },
    { onDeath: (d) => deaths.push({ deaths: d.deaths, restarts: d.restarts, message: d.error.message }) },
  );
  return { o, deaths };
}
const latest = () => workers[workers.length - 1]!;

afterEach(() => {
  for (const w of workers) w.terminate();
  workers = [];
});

describe('WorkerOwner', () => {
  it('forwards calls to one lazily created worker', async () => {
    const { o } = owner();
    expect(workers).toHaveLength(0);
    expect(await o.call((r) => r.echo(2))).toBe(4);
    expect(await o.call((r) => r.echo(5))).toBe(10);
    expect(workers).toHaveLength(1);
  });

  it('rejects the call in flight with WorkerDiedError when the worker dies, and restarts on the next call', async () => {
    const { o, deaths } = owner();
    await o.call((r) => r.echo(1));
    const inFlight = o.call((r) => r.hang());
    latest().crash('out of memory');
    const err = await inFlight.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkerDiedError);
    expect((err as Error).name).toBe('WorkerDiedError');
    expect((err as Error).message).toContain('out of memory');
    expect(workers[0]!.terminated).toBe(true);
    expect(deaths).toEqual([{ deaths: 1, restarts: true, message: (err as Error).message }]);
    expect(await o.call((r) => r.echo(3))).toBe(6);
    expect(workers).toHaveLength(2);
    expect(o.deaths).toBe(0);
  });

  it('treats a messageerror as a death too', async () => {
    const { o } = owner();
    const inFlight = o.call((r) => r.hang());
    latest().dispatchEvent(new Event('messageerror'));
    await expect(inFlight).rejects.toBeInstanceOf(WorkerDiedError);
  });

  it(`stops restarting after ${MAX_CONSECUTIVE_DEATHS} deaths without a successful call in between`, async () => {
    const { o, deaths } = owner();
    for (let i = 0; i < MAX_CONSECUTIVE_DEATHS; i++) {
      const inFlight = o.call((r) => r.hang());
      latest().crash(`crash ${i}`);
      await expect(inFlight).rejects.toBeInstanceOf(WorkerDiedError);
    }
    expect(deaths.map((d) => d.restarts)).toEqual([true, true, false]);
    expect(deaths[2]!.message).toMatch(/3 times in a row .* not restarted/);
    await expect(o.call((r) => r.echo(1))).rejects.toThrow(/kept crashing and was not restarted/);
    expect(workers).toHaveLength(MAX_CONSECUTIVE_DEATHS);
  });

  it('counts deaths since the last successful call only', async () => {
    const { o } = owner();
    for (let i = 0; i < MAX_CONSECUTIVE_DEATHS * 2; i++) {
      const inFlight = o.call((r) => r.hang());
      latest().crash('again');
      await expect(inFlight).rejects.toBeInstanceOf(WorkerDiedError);
      expect(await o.call((r) => r.echo(i))).toBe(i * 2);
    }
  });

  it('cancel leaves a worker alone when the job stops within the grace period', async () => {
    const { o, deaths } = owner({ cancelStops: true });
    const job = o.call((r) => r.job('j1'), { jobId: 'j1' });
    await new Promise((r) => setTimeout(r, 10));
    await o.cancel('j1', 1000);
    await expect(job).rejects.toThrow('cancelled');
    expect(deaths).toEqual([]);
    expect(workers).toHaveLength(1);
    expect(latest().terminated).toBe(false);
  });

  it('cancel terminates and restarts a worker whose job does not stop', async () => {
    const { o, deaths } = owner({ cancelStops: false });
    const job = o.call((r) => r.job('j1'), { jobId: 'j1' });
    const rejected = job.catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 10));
    await o.cancel('j1', 50);
    const err = await rejected;
    expect(err).toBeInstanceOf(WorkerDiedError);
    expect((err as Error).message).toMatch(/did not answer cancel/);
    expect(workers[0]!.terminated).toBe(true);
    // A stuck job is not a crash loop: it does not count towards the limit.
    expect(deaths).toEqual([{ deaths: 0, restarts: true, message: (err as Error).message }]);
    expect(await o.call((r) => r.echo(4))).toBe(8);
    expect(workers).toHaveLength(2);
  });

  it('cancel of a job it has no call for only asks, and does not wait past the grace period', async () => {
    const { o, deaths } = owner({ cancelStops: false });
    await o.call((r) => r.echo(1));
    await o.cancel('unknown', 50);
    expect(deaths).toEqual([]);
    expect(latest().terminated).toBe(false);
  });

  it('terminate rejects the call in flight and every later call', async () => {
    const { o } = owner();
    const inFlight = o.call((r) => r.hang());
    await new Promise((r) => setTimeout(r, 0));
    o.terminate();
    await expect(inFlight).rejects.toBeInstanceOf(WorkerDiedError);
    expect(latest().terminated).toBe(true);
    await expect(o.call((r) => r.echo(1))).rejects.toThrow(/was stopped/);
    expect(workers).toHaveLength(1);
  });
});

/** A compute worker stand-in: start and use answer with a backend, as compute.worker.ts does. */
function computeApi(starts: unknown[]) {
  let active = 'cpu';
  return {
    start: (opts: { force?: string } = {}) => {
      starts.push(opts.force);
      if (opts.force) active = opts.force;
      return { active, reports: [] };
    },
    use: (name: string) => {
      active = name;
      return { active, reports: [] };
    },
    memory: () => ({ numTensors: 0, numBytes: 0 }),
    hang: () => new Promise<never>(() => {}),
    cancel: () => true,
  };
}

describe('ComputeClient on the one owner', () => {
  it('restarts a dead worker on the backend in use and reports the death', async () => {
    const starts: unknown[] = [];
    const client = new ComputeClient({
      createWorker: () => {
        const w = new FakeWorker(computeApi(starts));
        workers.push(w);
        return w as unknown as Worker;
      },
    });
    expect((await client.ready()).status).toBe('ready');
    await client.use('wasm');
    const inFlight = client.call((r) => (r as unknown as { hang(): Promise<never> }).hang());
    await new Promise((r) => setTimeout(r, 0));
    latest().crash('GPU process crashed');
    const err = await inFlight.catch((e: unknown) => e);
    expect((err as Error).name).toBe('WorkerDiedError');
    expect(client.state.consecutiveDeaths).toBe(1);
    expect(client.state.error?.message).toMatch(/compute worker stopped \(GPU process crashed\) and was restarted/);
    const state = await client.ready();
    expect(state.active).toBe('wasm');
    expect(starts).toEqual([undefined, 'wasm']);
    expect(workers).toHaveLength(2);
    expect(await client.memory()).toEqual({ numTensors: 0, numBytes: 0 });
    expect(client.state.consecutiveDeaths).toBe(0);
    client.terminate();
    expect(client.state.status).toBe('terminated');
  });
});
