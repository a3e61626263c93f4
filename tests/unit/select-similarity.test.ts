/**
 * The chunked similarity top-k on the wasm backend: R of each kind against a case worked
 * out by hand, chunked against unchunked and against a brute-force float64 ranking, and
 * tensor hygiene.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../../src/lib/compute/backends';
import { tf } from '../../src/lib/compute/register';
import { Rng } from '../../src/lib/data/rng';
import { CancelSource } from '../../src/lib/jobs/progress';
import { topNeighbours, type DescriptorRows, type SimilarityKind } from '../../src/lib/select/similarity';

beforeAll(async () => {
  await useBackend('wasm');
});

// Two queries, three pool rows, L = 2.
//   Ẑ_Q = [[1, 0], [0, 1]]            Ĝ_Q = [[1, 1], [1, −1]]
//   Ẑ_P = [[2, 1], [0, 3], [−1, −1]]   Ĝ_P = [[1, 0], [2, 2], [0, −1]]
// Ẑ_Q Ẑ_Pᵀ: q0 = (2, 0, −1)             q1 = (1, 3, −1)
// Ĝ_Q Ĝ_Pᵀ: q0 = (1+0, 2+2, 0−1) = (1, 4, −1)   q1 = (1−0, 2−2, 0+1) = (1, 0, 1)
// sum:      q0 = (3, 4, −2)              q1 = (2, 3, 0)
// hadamard: q0 = (2·1, 0·4, −1·−1) = (2, 0, 1)   q1 = (1·1, 3·0, −1·1) = (1, 0, −1)
const QUERY: DescriptorRows = { rows: 2, length: 2, z: Float32Array.of(1, 0, 0, 1), g: Float32Array.of(1, 1, 1, -1) };
const POOL: DescriptorRows = { rows: 3, length: 2, z: Float32Array.of(2, 1, 0, 3, -1, -1), g: Float32Array.of(1, 0, 2, 2, 0, -1) };

const HAND: Record<SimilarityKind, { indices: number[]; scores: number[]; poolBest: number[] }> = {
  // Each query's row sorted descending; poolBest is the column maximum over the two queries.
  sum: { indices: [1, 0, 2, 1, 0, 2], scores: [4, 3, -2, 3, 2, 0], poolBest: [3, 4, 0] },
  hadamard: { indices: [0, 2, 1, 0, 1, 2], scores: [2, 1, 0, 1, 0, -1], poolBest: [2, 0, 1] },
  z: { indices: [0, 1, 2, 1, 0, 2], scores: [2, 0, -1, 3, 1, -1], poolBest: [2, 3, -1] },
};

describe('topNeighbours on a hand-computed case', () => {
  for (const kind of ['sum', 'hadamard', 'z'] as const) {
    it(`ranks R = ${kind} as worked out by hand, chunked or not`, async () => {
      for (const chunkRows of [1, 2, 3]) {
        const r = await topNeighbours(QUERY, POOL, { kind, k: 3, chunkRows });
        expect(r.k).toBe(3);
        expect(Array.from(r.indices)).toEqual(HAND[kind].indices);
        expect(Array.from(r.scores)).toEqual(HAND[kind].scores);
        expect(Array.from(r.poolBest)).toEqual(HAND[kind].poolBest);
      }
    });
  }

  it('keeps only the top k, and at most the pool size', async () => {
    const two = await topNeighbours(QUERY, POOL, { kind: 'sum', k: 2 });
    expect(Array.from(two.indices)).toEqual([1, 0, 1, 0]);
    const many = await topNeighbours(QUERY, POOL, { kind: 'sum', k: 10 });
    expect(many.k).toBe(3);
  });

  it('refuses gradient similarity without gradients', async () => {
    await expect(topNeighbours(QUERY, { ...POOL, g: null }, { kind: 'sum', k: 2 })).rejects.toMatchObject({ name: 'InvalidInputError' });
    // R_z does not need them.
    const r = await topNeighbours({ ...QUERY, g: null }, { ...POOL, g: null }, { kind: 'z', k: 1 });
    expect(Array.from(r.indices)).toEqual([0, 1]);
  });
});

function randomRows(rows: number, length: number, rng: Rng): DescriptorRows {
  const z = new Float32Array(rows * length);
  const g = new Float32Array(rows * length);
  for (let i = 0; i < z.length; i++) {
    z[i] = rng.normal();
    g[i] = rng.normal();
  }
  return { rows, length, z, g };
}

/** Float64 R, ranked descending, ties to the lower pool row. */
function bruteForce(q: DescriptorRows, p: DescriptorRows, kind: SimilarityKind, k: number): { indices: number[]; scores: number[] } {
  const indices: number[] = [];
  const scores: number[] = [];
  const L = q.length;
  for (let i = 0; i < q.rows; i++) {
    const r = Array.from({ length: p.rows }, (_, j) => {
      let sz = 0;
      let sg = 0;
      for (let c = 0; c < L; c++) {
        sz += (q.z[i * L + c] as number) * (p.z[j * L + c] as number);
        sg += ((q.g as Float32Array)[i * L + c] as number) * ((p.g as Float32Array)[j * L + c] as number);
      }
      return kind === 'sum' ? sz + sg : kind === 'hadamard' ? sz * sg : sz;
    });
    const order = r.map((_, j) => j).sort((a, b) => (r[b] as number) - (r[a] as number) || a - b);
    indices.push(...order.slice(0, k));
    scores.push(...order.slice(0, k).map((j) => r[j] as number));
  }
  return { indices, scores };
}

describe('topNeighbours chunking', () => {
  const rng = new Rng(11);
  const query = randomRows(7, 12, rng);
  const pool = randomRows(100, 12, rng);

  for (const kind of ['sum', 'hadamard', 'z'] as const) {
    it(`gives the same neighbours in chunks of 1, 13 and 100 rows (${kind}), equal to a float64 ranking`, async () => {
      const whole = await topNeighbours(query, pool, { kind, k: 5, chunkRows: 100 });
      const expected = bruteForce(query, pool, kind, 5);
      expect(Array.from(whole.indices)).toEqual(expected.indices);
      whole.scores.forEach((s, i) => expect(s).toBeCloseTo(expected.scores[i] as number, 4));
      for (const chunkRows of [1, 13]) {
        const chunked = await topNeighbours(query, pool, { kind, k: 5, chunkRows });
        expect(Array.from(chunked.indices)).toEqual(Array.from(whole.indices));
        expect(Array.from(chunked.scores)).toEqual(Array.from(whole.scores));
        expect(Array.from(chunked.poolBest)).toEqual(Array.from(whole.poolBest));
      }
    });
  }

  it('leaves no tensor behind, reports chunks, and stops on cancel', async () => {
    const before = tf.memory().numTensors;
    const seen: number[] = [];
    await topNeighbours(query, pool, { kind: 'sum', k: 5, chunkRows: 40, onChunk: (d) => seen.push(d) });
    expect(seen).toEqual([40, 80, 100]);
    const cancel = new CancelSource();
    await expect(
      topNeighbours(query, pool, { kind: 'sum', k: 5, chunkRows: 10, cancel, onChunk: (d) => (d >= 20 ? cancel.cancel() : undefined) }),
    ).rejects.toMatchObject({ name: 'CancelledError' });
    expect(tf.memory().numTensors).toBe(before);
  });
});
