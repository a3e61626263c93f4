/**
 * Similarity between query descriptors (the validation images chosen as centres) and a
 * pool's, keeping only each query's best pool neighbours. The full matrix R would be
 * V × P floats (125 × 40,000 is 20 MB, 10,000 × 40,000 is 1.6 GB), so the pool is taken in
 * chunks of rows: each chunk's R block is a matrix product on the active backend (the GPU
 * under WebGPU), its per-query top k is merged into the running top k there too, and only
 * O(V·k) values plus one float per pool image ever come back to JavaScript.
 *
 * The kinds, on standardised descriptors (see descriptors.ts):
 * - 'sum': R = Ẑ_Q Ẑ_Pᵀ + Ĝ_Q Ĝ_Pᵀ, what the released code computes (main_descr.py adds
 *   `fSim` and `gSim` for its 'Grad' methods);
 * - 'hadamard': R = (Ẑ_Q Ẑ_Pᵀ) ∘ (Ĝ_Q Ĝ_Pᵀ), the product written in the paper;
 * - 'z': R_z = Ẑ_Q Ẑ_Pᵀ, features only (the paper's R_z ablation).
 */
import { tf } from '../compute/register';
import { InvalidInputError } from '../jobs/errors';
import { NEVER_CANCELLED, type CancelToken } from '../jobs/progress';

export type SimilarityKind = 'sum' | 'hadamard' | 'z';

/** Descriptor rows: z (and g) of `rows` images, `length` columns each, row-major. */
export interface DescriptorRows {
  rows: number;
  length: number;
  z: Float32Array;
  g: Float32Array | null;
}

export interface Neighbours {
  queries: number;
  /** Neighbours kept per query: min(requested k, pool rows). */
  k: number;
  /** Pool row of each query's r-th best neighbour at [q·k + r], best first. */
  indices: Int32Array;
  /** R at those positions. */
  scores: Float32Array;
  /** For each pool row, its largest R over all queries: the order to fill from when neighbours run out. */
  poolBest: Float32Array;
}

export interface NeighbourOptions {
  kind: SimilarityKind;
  k: number;
  /** Pool rows per chunk; default from SIMILARITY_CHUNK_ELEMENTS. */
  chunkRows?: number;
  cancel?: CancelToken;
  /** Called after each chunk with the pool rows done. */
  onChunk?: (done: number) => void;
}

/**
 * The R block of one chunk is queries × chunkRows floats; this bounds it to 64 MB, small
 * enough for any GPU buffer limit and for the wasm heap, large enough that a pool of tens
 * of thousands takes a handful of matrix products.
 */
export const SIMILARITY_CHUNK_ELEMENTS = 2 ** 24;

function checkRows(rows: DescriptorRows, what: string, needG: boolean): void {
  if (rows.z.length !== rows.rows * rows.length) {
    throw new InvalidInputError(`The ${what} descriptors hold ${rows.z.length} values for ${rows.rows}×${rows.length}: describe them again.`);
  }
  if (needG && (rows.g === null || rows.g.length !== rows.z.length)) {
    throw new InvalidInputError(`This similarity needs the gradient part of the ${what} descriptors: describe them with labels for the loss.`);
  }
}

/** Each query's top-k pool rows by R (ties: the lower pool row first), and every pool row's best R. */
export async function topNeighbours(query: DescriptorRows, pool: DescriptorRows, opts: NeighbourOptions): Promise<Neighbours> {
  const cancel = opts.cancel ?? NEVER_CANCELLED;
  const needG = opts.kind !== 'z';
  checkRows(query, 'query', needG);
  checkRows(pool, 'pool', needG);
  if (query.length !== pool.length) {
    throw new InvalidInputError(`The query descriptors have ${query.length} columns and the pool's ${pool.length}: describe both with the same layers.`);
  }
  if (!Number.isInteger(opts.k) || opts.k < 1) throw new InvalidInputError(`The number of neighbours must be a positive whole number, got ${opts.k}.`);
  const V = query.rows;
  const P = pool.rows;
  const L = query.length;
  const k = Math.min(opts.k, P);
  const poolBest = new Float32Array(P).fill(-Infinity);
  if (V === 0 || P === 0) return { queries: V, k, indices: new Int32Array(0), scores: new Float32Array(0), poolBest };
  const chunkRows = Math.max(1, Math.min(P, opts.chunkRows ?? Math.floor(SIMILARITY_CHUNK_ELEMENTS / V)));

  const qz = tf.tensor2d(query.z, [V, L]);
  const qg = needG ? tf.tensor2d(query.g as Float32Array, [V, L]) : null;
  let bestScores: tf.Tensor2D | null = null;
  let bestIndices: tf.Tensor2D | null = null;
  try {
    for (let start = 0; start < P; start += chunkRows) {
      cancel.throwIfCancelled();
      const end = Math.min(start + chunkRows, P);
      const prevScores: tf.Tensor2D | null = bestScores;
      const prevIndices: tf.Tensor2D | null = bestIndices;
      const step = tf.tidy(() => {
        const rows = end - start;
        // Transposed explicitly: tfjs-backend-wasm 4.22 runs matMul with transposeB about
        // ten times slower than a transpose followed by a plain matMul.
        const pzT = tf.transpose(tf.tensor2d(pool.z.subarray(start * L, end * L), [rows, L]));
        let r = tf.matMul(qz, pzT);
        if (qg) {
          const pgT = tf.transpose(tf.tensor2d((pool.g as Float32Array).subarray(start * L, end * L), [rows, L]));
          const rg = tf.matMul(qg, pgT);
          r = opts.kind === 'sum' ? tf.add(r, rg) : tf.mul(r, rg);
        }
        const top = tf.topk(r, Math.min(k, rows));
        let scores = top.values as tf.Tensor2D;
        let indices = tf.add(top.indices, tf.scalar(start, 'int32')) as tf.Tensor2D;
        if (prevScores && prevIndices) {
          // Earlier chunks first, so on equal scores topk keeps the lower pool row.
          const allScores = tf.concat([prevScores, scores], 1);
          const allIndices = tf.concat([prevIndices, indices], 1);
          const width = allScores.shape[1];
          const merged = tf.topk(allScores, Math.min(k, width));
          scores = merged.values as tf.Tensor2D;
          // Row-wise gather as a flat one: tfjs-backend-wasm 4.22's gather with batchDims = 1
          // returns wrong rows (and can read out of bounds) when the index rows are narrower
          // than the data rows, as here (found by this module's chunking test).
          const rowStart = tf.mul(tf.range(0, V, 1, 'int32'), tf.scalar(width, 'int32')).reshape([V, 1]);
          const flatIndices: tf.Tensor = tf.reshape(allIndices, [V * width]);
          indices = tf.gather(flatIndices, tf.add(merged.indices, rowStart)) as tf.Tensor2D;
        }
        return { scores, indices, columnBest: tf.max(r, 0) };
      });
      bestScores = step.scores;
      bestIndices = step.indices;
      prevScores?.dispose();
      prevIndices?.dispose();
      try {
        poolBest.set((await step.columnBest.data()) as Float32Array, start);
      } finally {
        step.columnBest.dispose();
      }
      opts.onChunk?.(end);
    }
    const [indices, scores] = await Promise.all([(bestIndices as tf.Tensor2D).data(), (bestScores as tf.Tensor2D).data()]);
    return { queries: V, k, indices: Int32Array.from(indices), scores: Float32Array.from(scores), poolBest };
  } finally {
    qz.dispose();
    qg?.dispose();
    bestScores?.dispose();
    bestIndices?.dispose();
  }
}
