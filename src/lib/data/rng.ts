/**
 * The one seeded pseudo-random generator of Hearth. Every random choice (splits,
 * augmentation parameters, selection tie-breaks…) draws from an `Rng` built from a
 * recorded seed, so a run can be reproduced exactly in Node, in a worker or in a test.
 *
 * Algorithm: sfc32 (Chris Doty-Humphrey's Small Fast Chaotic generator, 128-bit state,
 * passes PractRand to many terabytes) with its state filled by splitmix32 from a 32-bit
 * seed. It uses only 32-bit integer arithmetic (`Math.imul`, `| 0`), so it is fast in
 * every JS engine and bit-identical across them. Not cryptographic.
 */

const TWO_POW_32 = 4294967296;
/** sfc32 mixes poorly for its first outputs when seeded with small numbers; skip them. */
const WARM_UP_ROUNDS = 12;
/** The golden-ratio increment of splitmix32. */
const GOLDEN_GAMMA_32 = 0x9e3779b9;

/** murmur3's 32-bit finaliser: a bijection that spreads every input bit over the output. */
function fmix32(x: number): number {
  let z = x | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** FNV-1a over the UTF-16 code units of a label: a stable 32-bit name for a stream. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  }
  return h >>> 0;
}

export class Rng {
  /** The 32-bit seed this stream was made from; forks derive from it, not from the state. */
  readonly seed: number;
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  /** Box–Muller makes normals in pairs; the second is kept for the next call. */
  #spareNormal: number | null = null;

  /**
   * @param seed an integer; it is taken modulo 2^32 (so -1 and 4294967295 are the
   *   same stream). Non-integers are refused rather than silently truncated, because a
   *   seed of 0.5 and 0.7 giving the same stream would defeat reproducibility records.
   */
  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new RangeError(`Rng seed must be an integer, got ${seed}.`);
    this.seed = seed >>> 0;
    let s = this.seed;
    const nextSeedWord = (): number => {
      s = (s + GOLDEN_GAMMA_32) | 0;
      return fmix32(s);
    };
    this.#a = nextSeedWord();
    this.#b = nextSeedWord();
    this.#c = nextSeedWord();
    this.#d = nextSeedWord();
    for (let i = 0; i < WARM_UP_ROUNDS; i++) this.nextUint32();
  }

  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1), with 32 bits of resolution. */
  next(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /**
   * Uniform integer in [0, n), exactly uniform: draws above the largest multiple of n
   * below 2^32 are rejected, so no residue is favoured (plain `floor(next() * n)` is
   * biased by up to n / 2^32).
   */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) {
      throw new RangeError(`Rng.int needs an integer n in [1, 2^32], got ${n}.`);
    }
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const u = this.nextUint32();
      if (u < limit) return u % n;
    }
  }

  /** Standard normal (mean 0, variance 1), Box–Muller. */
  normal(): number {
    if (this.#spareNormal !== null) {
      const z = this.#spareNormal;
      this.#spareNormal = null;
      return z;
    }
    // 1 - next() is in (0, 1], so the log never sees 0.
    const r = Math.sqrt(-2 * Math.log(1 - this.next()));
    const theta = 2 * Math.PI * this.next();
    this.#spareNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Fisher–Yates shuffle in place (an array or a typed array); returns the same array for chaining. */
  shuffle<A extends { length: number; [i: number]: unknown }>(a: A): A {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = a[i];
      a[i] = a[j];
      a[j] = tmp;
    }
    return a;
  }

  /**
   * An independent stream named by `label`, a function of this stream's seed and the
   * label only: it does not depend on (nor advance) how far this stream has been drawn,
   * so adding a draw in one part of a job never changes the randomness of another part.
   * Forks nest: `rng.fork('a').fork('b')` differs from `rng.fork('b').fork('a')`.
   */
  fork(label: string): Rng {
    return new Rng(fmix32(fmix32(this.seed ^ GOLDEN_GAMMA_32) ^ hashLabel(label)));
  }
}
