import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/lib/data/rng';
import {
  INT32_MAX,
  INT32_MIN,
  activationRange,
  frexp,
  multiplyByQuantizedMultiplier,
  multiplyByQuantizedMultiplierSingleRounding,
  quantizeMultiplier,
  roundHalfAwayFromZero,
  roundingDivideByPOT,
  saturatingRoundingDoublingHighMul,
} from '../../src/lib/export/fixed-point';

const TWO_POW_30 = 1073741824;

/** gemmlowp's SaturatingRoundingDoublingHighMul written literally with 64-bit BigInt. */
function srdhmBigInt(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const ab = BigInt(a) * BigInt(b);
  const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
  // BigInt division truncates towards zero, like int64 division in C++.
  return Number((ab + nudge) / (1n << 31n));
}

describe('frexp', () => {
  it('splits doubles into a mantissa in [0.5, 1) and an exponent, subnormals included', () => {
    expect(frexp(1)).toEqual({ mantissa: 0.5, exponent: 1 });
    expect(frexp(0.75)).toEqual({ mantissa: 0.75, exponent: 0 });
    expect(frexp(-3)).toEqual({ mantissa: -0.75, exponent: 2 });
    // 5e-324 = 2^-1074, the smallest subnormal: 0.5 · 2^-1073.
    expect(frexp(5e-324)).toEqual({ mantissa: 0.5, exponent: -1073 });
    expect(frexp(0)).toEqual({ mantissa: 0, exponent: 0 });
  });
});

describe('roundHalfAwayFromZero', () => {
  it('breaks ties away from zero, unlike Math.round', () => {
    expect(roundHalfAwayFromZero(2.5)).toBe(3);
    expect(roundHalfAwayFromZero(-2.5)).toBe(-3); // Math.round(-2.5) is -2
    expect(roundHalfAwayFromZero(-2.4)).toBe(-2);
  });
});

describe('quantizeMultiplier', () => {
  it('matches TFLite on hand-computed values', () => {
    // 0.5 = 0.5 · 2^0 → 0.5 · 2^31 = 2^30.
    expect(quantizeMultiplier(0.5)).toEqual({ multiplier: 1073741824, shift: 0 });
    // 1 = 0.5 · 2^1 → 2^30, shift 1.
    expect(quantizeMultiplier(1)).toEqual({ multiplier: 1073741824, shift: 1 });
    // 0.75 = 0.75 · 2^0 → 0.75 · 2^31 = 1610612736.
    expect(quantizeMultiplier(0.75)).toEqual({ multiplier: 1610612736, shift: 0 });
    // 3 = 0.75 · 2^2 → 1610612736, shift 2.
    expect(quantizeMultiplier(3)).toEqual({ multiplier: 1610612736, shift: 2 });
    // 1e-10 = 0.859 · 2^-33: shift −33 < −31 is flushed to zero.
    expect(quantizeMultiplier(1e-10)).toEqual({ multiplier: 0, shift: 0 });
    // 2^-32 = 0.5 · 2^-31 is the smallest shift kept; 2^-33 is flushed.
    expect(quantizeMultiplier(2 ** -32)).toEqual({ multiplier: 1073741824, shift: -31 });
    expect(quantizeMultiplier(2 ** -33)).toEqual({ multiplier: 0, shift: 0 });
    expect(quantizeMultiplier(0)).toEqual({ multiplier: 0, shift: 0 });
  });

  it('rounds the Q31 mantissa half away from zero and renormalises 2^31', () => {
    // 0.5 + 2^-32 → mantissa · 2^31 = 2^30 + 0.5 exactly → rounds up to 2^30 + 1.
    expect(quantizeMultiplier(0.5 + 2 ** -32)).toEqual({ multiplier: 1073741825, shift: 0 });
    // 1 − 2^-40: mantissa · 2^31 = 2^31 − 2^-9 → rounds to 2^31 → halved to 2^30, shift + 1.
    expect(quantizeMultiplier(1 - 2 ** -40)).toEqual({ multiplier: 1073741824, shift: 1 });
  });

  it('refuses non-finite multipliers', () => {
    expect(() => quantizeMultiplier(Number.NaN)).toThrow(RangeError);
    expect(() => quantizeMultiplier(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });
});

describe('roundingDivideByPOT', () => {
  it('rounds ±halfway values away from zero', () => {
    // 5/2 = 2.5 → 3; −5/2 = −2.5 → −3.
    expect(roundingDivideByPOT(5, 1)).toBe(3);
    expect(roundingDivideByPOT(-5, 1)).toBe(-3);
    // 6/4 = 1.5 → 2; −6/4 = −1.5 → −2.
    expect(roundingDivideByPOT(6, 2)).toBe(2);
    expect(roundingDivideByPOT(-6, 2)).toBe(-2);
    // Not ties: −5/4 = −1.25 → −1; −7/4 = −1.75 → −2; 5/4 = 1.25 → 1.
    expect(roundingDivideByPOT(-5, 2)).toBe(-1);
    expect(roundingDivideByPOT(-7, 2)).toBe(-2);
    expect(roundingDivideByPOT(5, 2)).toBe(1);
  });

  it('handles exponents 0 and 31', () => {
    expect(roundingDivideByPOT(-12345, 0)).toBe(-12345);
    // −2^31 / 2^31 = −1 exactly; (2^31 − 1) / 2^31 ≈ 0.99999 → 1.
    expect(roundingDivideByPOT(INT32_MIN, 31)).toBe(-1);
    expect(roundingDivideByPOT(INT32_MAX, 31)).toBe(1);
    // ±2^30 / 2^31 = ±0.5 → ±1.
    expect(roundingDivideByPOT(TWO_POW_30, 31)).toBe(1);
    expect(roundingDivideByPOT(-TWO_POW_30, 31)).toBe(-1);
  });
});

describe('saturatingRoundingDoublingHighMul', () => {
  it('saturates INT32_MIN · INT32_MIN and is exact at the other extremes', () => {
    // (−2^31)² / 2^31 = 2^31 does not fit int32: saturates.
    expect(saturatingRoundingDoublingHighMul(INT32_MIN, INT32_MIN)).toBe(INT32_MAX);
    // (−2^62 + 2^31 + 1 − 2^30) / 2^31 = −2147483647.4999… → truncated to −2147483647.
    expect(saturatingRoundingDoublingHighMul(INT32_MIN, INT32_MAX)).toBe(-2147483647);
    // (2^62 − 2^31 + 2^30) / 2^31 = 2147483647.5 → truncated to 2147483647: no saturation.
    expect(saturatingRoundingDoublingHighMul(INT32_MIN, -INT32_MAX)).toBe(INT32_MAX);
  });

  it('is exact on both sides of the 2^52 fast-path limit', () => {
    // 2^22 · 2^30 = 2^52 (slow path): (2^52 + 2^30) / 2^31 = 2^21 + 0.5 → 2^21.
    expect(saturatingRoundingDoublingHighMul(1 << 22, TWO_POW_30)).toBe(1 << 21);
    // (2^22 − 1) · (2^30 + 1) = 2^52 + 2^22 − 2^30 − 1 < 2^52 (fast path).
    const a = (1 << 22) - 1;
    const b = TWO_POW_30 + 1;
    expect(saturatingRoundingDoublingHighMul(a, b)).toBe(srdhmBigInt(a, b));
    expect(saturatingRoundingDoublingHighMul(-a, b)).toBe(srdhmBigInt(-a, b));
    expect(saturatingRoundingDoublingHighMul(-(1 << 22), TWO_POW_30)).toBe(srdhmBigInt(-(1 << 22), TWO_POW_30));
  });

  it('rounds ties towards +∞ (nudge 2^30 vs 1 − 2^30 with a truncating division)', () => {
    // 3 · 2^30 / 2^31 = 1.5: (3·2^30 + 2^30) / 2^31 = 2.
    expect(saturatingRoundingDoublingHighMul(3, TWO_POW_30)).toBe(2);
    // −1.5: (−3·2^30 + 1 − 2^30) / 2^31 = −1.99999… → truncated to −1.
    expect(saturatingRoundingDoublingHighMul(-3, TWO_POW_30)).toBe(-1);
    // 7 · 0.75 = 5.25: (7·1610612736 + 2^30) / 2^31 = 5.75 → 5.
    expect(saturatingRoundingDoublingHighMul(7, 1610612736)).toBe(5);
  });

  it('is exact where a double product would round the wrong way', () => {
    // a·b = (2^30+1)(2^31−1) = 2^61 + 2^30 − 1; + 2^30 = 2^61 + 2^31 − 1; / 2^31 = 2^30 + 1 − 2^-31
    // → 2^30. As a double, a·b rounds to 2^61 + 2^30 (ulp 256 there) and the result to 2^30 + 1.
    const a = 1073741825;
    const b = 2147483647;
    expect(Math.trunc((a * b + TWO_POW_30) / 2 ** 31)).toBe(1073741825); // the double pitfall
    expect(saturatingRoundingDoublingHighMul(a, b)).toBe(1073741824);
    expect(srdhmBigInt(a, b)).toBe(1073741824);
    // Negated: (−2^61 − 2^30 + 1 + 1 − 2^30) / 2^31 = −2^30 − 1 + 2^-30 → truncated to −2^30.
    expect(saturatingRoundingDoublingHighMul(-a, b)).toBe(-1073741824);
    expect(srdhmBigInt(-a, b)).toBe(-1073741824);
  });

  it('equals the BigInt definition on 200 000 seeded random pairs', () => {
    const rng = new Rng(20240611);
    const draw = (): number => {
      // Full-range int32, values near the extremes and near zero, and accumulator-sized
      // values around 2^22, where a · 2^30 crosses the 2^52 fast-path limit.
      const u = rng.int(5);
      if (u === 0) return INT32_MIN + rng.int(1000);
      if (u === 1) return INT32_MAX - rng.int(1000);
      if (u === 2) return rng.int(2001) - 1000;
      if (u === 3) return rng.int(1 << 24) - (1 << 23);
      return rng.int(4294967296) - 2147483648;
    };
    let mismatches = 0;
    for (let i = 0; i < 200_000; i++) {
      const a = draw();
      // Half the time b is a requantization multiplier in [2^30, 2^31), as in the kernels.
      const b = rng.int(2) === 0 ? draw() : TWO_POW_30 + rng.int(TWO_POW_30);
      if (saturatingRoundingDoublingHighMul(a, b) !== srdhmBigInt(a, b)) mismatches++;
    }
    expect(mismatches).toBe(0);
  });
});

describe('multiplyByQuantizedMultiplier', () => {
  it('applies left shifts before and right shifts after the high multiply', () => {
    // 3.0 = (1610612736, 2): 5 << 2 = 20; 20 · 0.75 = 15 exactly.
    expect(multiplyByQuantizedMultiplier(5, 1610612736, 2)).toBe(15);
    // 0.25 = (2^30, −1): 6 · 0.5 = 3 exactly, then 3 / 2 = 1.5 → 2; −6 → −3 → −1.5 → −2.
    expect(multiplyByQuantizedMultiplier(6, TWO_POW_30, -1)).toBe(2);
    expect(multiplyByQuantizedMultiplier(-6, TWO_POW_30, -1)).toBe(-2);
  });

  it('rounds twice, as TFLite does by default', () => {
    // Multiplier (2^30 + 1) · 2^-32 ≈ 0.25 + 2^-33, x = 1: exact product ≈ 0.2500000001,
    // which a single rounding takes to 0. TFLite: high multiply (2^30 + 1 + 2^30) / 2^31
    // = 1.0000000005 → 1, then 1 / 2 = 0.5 → 1.
    expect(multiplyByQuantizedMultiplier(1, TWO_POW_30 + 1, -1)).toBe(1);
    // Ties of the high multiply go towards +∞: −1 · 0.5 = −0.5 → 0, while 1 · 0.5 → 1.
    expect(multiplyByQuantizedMultiplier(-1, TWO_POW_30, 0)).toBe(0);
    expect(multiplyByQuantizedMultiplier(1, TWO_POW_30, 0)).toBe(1);
  });

  it('is the identity for the multiplier of 1.0', () => {
    const { multiplier, shift } = quantizeMultiplier(1);
    for (const x of [0, 1, -1, 12345, -12345, 1 << 29, -(1 << 29)]) {
      expect(multiplyByQuantizedMultiplier(x, multiplier, shift)).toBe(x);
    }
  });
});

describe('activationRange', () => {
  it('is the full int8 range without an activation', () => {
    expect(activationRange('none', 0.1, 5)).toEqual([-128, 127]);
  });

  it('clamps relu at the zero point', () => {
    expect(activationRange('relu', 0.1, -100)).toEqual([-100, 127]);
    expect(activationRange('relu', 0.1, -128)).toEqual([-128, 127]);
  });

  it('clamps relu6 at zeroPoint + round(6 / scale) in float32', () => {
    // float32(0.05) = 0.0500000007…; 6 / it = 119.9999982… → float32 120 → −128 + 120 = −8.
    expect(activationRange('relu6', Math.fround(0.05), -128)).toEqual([-128, -8]);
    // float32(0.48) = 0.4799999892…; 6 / it = 12.50000028… → float32 12.5 exactly → rounds
    // half away from zero to 13 → −20 + 13 = −7.
    expect(activationRange('relu6', Math.fround(0.48), -20)).toEqual([-20, -7]);
    // 6 / 0.01 = 600 → 600 is past 127: the int8 maximum wins.
    expect(activationRange('relu6', Math.fround(0.01), 0)).toEqual([0, 127]);
  });
});

describe('multiplyByQuantizedMultiplierSingleRounding (TFLITE_SINGLE_ROUNDING)', () => {
  it('rounds x · m / 2^(31 − shift) once, half up, exactly', () => {
    // m = 2^30 (0.5), shift 0: x/2 rounded half up. 3/2 = 1.5 → 2; −3/2 = −1.5 → −1.
    expect(multiplyByQuantizedMultiplierSingleRounding(3, 2 ** 30, 0)).toBe(2);
    expect(multiplyByQuantizedMultiplierSingleRounding(-3, 2 ** 30, 0)).toBe(-1);
    // Against BigInt on seeded large products, where a double product would round wrong.
    const rng = new Rng(77);
    for (let i = 0; i < 20000; i++) {
      const x = rng.int(2 ** 31) - 2 ** 30;
      const m = 2 ** 30 + rng.int(2 ** 30);
      const shift = -rng.int(20);
      const t = BigInt(31 - shift);
      const expected = Number(BigInt.asIntN(32, (BigInt(x) * BigInt(m) + (1n << (t - 1n))) >> t));
      expect(multiplyByQuantizedMultiplierSingleRounding(x, m, shift)).toBe(expected);
    }
  });

  it('differs from the default double rounding only next to a half step', () => {
    // Double rounding: SRDHM(x, 2^30) = round(x / 2) (ties up), then RoundingDivideByPOT by 2
    // (ties away from zero). x = 13, shift −2: 13 · 0.5 / 4 = 1.625 → single: 2.
    // Double: SRDHM = round(6.5) = 7, then 7 / 4 = 1.75 → 2. Same.
    expect(multiplyByQuantizedMultiplierSingleRounding(13, 2 ** 30, -2)).toBe(2);
    expect(multiplyByQuantizedMultiplier(13, 2 ** 30, -2)).toBe(2);
    // x = 11, shift −1: exact 11 · 0.5 / 2 = 2.75 → 3 single. Double: round(5.5) = 6, 6/2 = 3.
    // x = 9,  shift −1: exact 2.25 → 2 single. Double: round(4.5) = 5, 5/2 = 2.5 → 3 (away from zero).
    expect(multiplyByQuantizedMultiplierSingleRounding(9, 2 ** 30, -1)).toBe(2);
    expect(multiplyByQuantizedMultiplier(9, 2 ** 30, -1)).toBe(3);
  });
});
