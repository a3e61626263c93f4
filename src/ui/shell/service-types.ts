/**
 * The page services' method types, derived from the workers' own APIs (as data-types.ts
 * does for the data worker's types), so a change of a worker method shows up in the page
 * that uses it as a type error rather than a silent mismatch.
 */
import type { ComputeApi } from '../../worker-client/compute-client';
import type { DataApi } from '../../worker-client/data-client';

export type { ComputeApi, DataApi };

/**
 * A worker method as the main thread calls it: the same parameters, the result promised.
 * Comlink's `Remote<F>` says the same for plain data but adds its proxy methods
 * (`releaseProxy`, `createEndpoint`), which a service's plain function does not have.
 */
export type Called<F> = F extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;

/** The worker methods `K` of `Api`, as the main thread calls them. */
export type Methods<Api, K extends keyof Api> = { [P in K]: Called<Api[P]> };

/**
 * Worker methods under a service's own names: `Renamed<ComputeApi, { placement:
 * 'augmentPlacement' }>` has `placement` typed as the worker's `augmentPlacement`.
 */
export type Renamed<Api, Names extends Record<string, keyof Api>> = { [K in keyof Names]: Called<Api[Names[K]]> };
