/**
 * What the user sees of a sample is its number within its project (`#12`), never the
 * global id that every record keys it by (#2176 in a 14-sample project). One cache for
 * the app: a sample's id and number never change and ids are never reused, so an answer
 * holds for the app's life, whichever project is open. The reads a render asks for in one
 * tick go to the data worker as one call.
 */
import { SvelteMap } from 'svelte/reactivity';
import type { DataApi, Methods } from '../shell/service-types';

export class SampleNumbers {
  /** Id → number; null for a sample that no longer exists. */
  readonly #known = new SvelteMap<number, number | null>();
  readonly #data: Methods<DataApi, 'sampleNumbers' | 'sampleIdOfNumber'>;
  // Bookkeeping only, never rendered: reactive sets would re-run every reader on each add.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  readonly #asked = new Set<number>();
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  readonly #wanted = new Set<number>();

  constructor(data: Methods<DataApi, 'sampleNumbers' | 'sampleIdOfNumber'>) {
    this.#data = data;
  }

  /**
   * The number of sample `id`, reactively: undefined until it is read (the read starts
   * here), null when the sample no longer exists.
   */
  of(id: number): number | null | undefined {
    const known = this.#known.get(id);
    if (known === undefined && !this.#known.has(id) && !this.#asked.has(id)) {
      this.#asked.add(id);
      this.#wanted.add(id);
      // Writing state while a template reads is not allowed: the lookup starts after it.
      if (this.#wanted.size === 1) queueMicrotask(() => void this.#flush());
    }
    return known;
  }

  /** The number of sample `id`, read now if not known. */
  async numberOf(id: number): Promise<number | null> {
    if (this.#known.has(id)) return this.#known.get(id) ?? null;
    const [number] = await this.#data.sampleNumbers([id]);
    this.#known.set(id, number ?? null);
    return number ?? null;
  }

  /** The id of the project's sample `number` (what the user typed), or null when there is none. */
  async idOf(projectId: string, number: number): Promise<number | null> {
    const id = await this.#data.sampleIdOfNumber(projectId, number);
    if (id !== null) this.#known.set(id, number);
    return id;
  }

  async #flush(): Promise<void> {
    const ids = [...this.#wanted];
    this.#wanted.clear();
    try {
      const numbers = await this.#data.sampleNumbers(ids);
      ids.forEach((id, i) => this.#known.set(id, numbers[i] ?? null));
    } catch {
      // Left unknown ("#…"): the next render that reads one of them asks again.
    } finally {
      for (const id of ids) this.#asked.delete(id);
    }
  }
}
