import { describe, expect, it } from 'vitest';
import { CancelSource, ProgressReporter, type Progress } from '../../src/lib/jobs/progress';
import { JobRegistry } from '../../src/lib/jobs/registry';

describe('ProgressReporter', () => {
  it('estimates the time left from the average rate', () => {
    let now = 0;
    const seen: Progress[] = [];
    const r = new ProgressReporter((p) => seen.push(p), () => now);
    now = 1000;
    r.report(10, 110, 'working');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.etaMs).toBeCloseTo(10_000);
  });

  it('gives no ETA before there is enough to go on', () => {
    let now = 0;
    const r = new ProgressReporter(undefined, () => now);
    now = 100;
    expect(r.eta(1, 100)).toBeNull();
    now = 1000;
    expect(r.eta(0, 100)).toBeNull();
    expect(r.eta(5, null)).toBeNull();
  });

  it('throttles reports but always sends forced ones', () => {
    const now = 0;
    const seen: Progress[] = [];
    const r = new ProgressReporter((p) => seen.push(p), () => now);
    r.report(1, 10, 'a');
    r.report(2, 10, 'b');
    r.report(3, 10, 'c', true);
    expect(seen.map((p) => p.done)).toEqual([1, 3]);
  });
});

describe('CancelSource', () => {
  it('throws a CancelledError by name once cancelled', () => {
    const c = new CancelSource();
    expect(() => c.throwIfCancelled()).not.toThrow();
    c.cancel();
    expect(() => c.throwIfCancelled()).toThrowError(expect.objectContaining({ name: 'CancelledError' }));
  });
});

describe('JobRegistry', () => {
  it('delivers a cancel to the running job by id, and forgets the job when it ends', async () => {
    const jobs = new JobRegistry();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const running = jobs.run('a', async (cancel) => {
      await gate;
      cancel.throwIfCancelled();
      return 'finished';
    });
    expect(jobs.size).toBe(1);
    expect(jobs.cancel('nope')).toBe(false);
    expect(jobs.cancel('a')).toBe(true);
    release();
    await expect(running).rejects.toMatchObject({ name: 'CancelledError' });
    expect(jobs.size).toBe(0);
    expect(jobs.cancel('a')).toBe(false);
  });

  it('refuses a second job under an id that is running', async () => {
    const jobs = new JobRegistry();
    const first = jobs.run('same', async () => 1);
    await expect(jobs.run('same', async () => 2)).rejects.toThrow(/already running/);
    await expect(first).resolves.toBe(1);
  });
});
