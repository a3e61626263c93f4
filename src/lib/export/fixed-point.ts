/**
 * TensorFlow Lite's fixed-point requantization arithmetic, bit-exact in JavaScript.
 *
 * Every int8 kernel of TFLite and TFLite Micro ends the same way: an int32 accumulator is
 * multiplied by a real scale `M` expressed as `multiplier · 2^(shift − 31)` with an int32
 * `multiplier` in [2^30, 2^31), using gemmlowp's two-step rounding (the default build,
 * i.e. not `TFLITE_SINGLE_ROUNDING`):
 *
 *   MultiplyByQuantizedMultiplier(x, m, s) =
 *     RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x · 2^max(s,0), m), max(−s,0))
 *
 * The two roundings differ on ties: the high multiply rounds half up (towards +∞), the
 * power-of-two division rounds half away from zero. A "clean" `Math.round(x · M)`
 * disagrees with TFLite by one step on a few percent of values, which is exactly what
 * verification against a real runtime would flag.
 *
 * The 64-bit product of two int32 values does not fit a double's 53-bit mantissa, so
 * the high multiply splits one operand into 16-bit halves; every intermediate stays
 * below 2^53 and is therefore exact. No BigInt: these run once per output value.
 *
 * Sources: tensorflow/lite/kernels/internal/common.h and quantization_util.cc,
 * gemmlowp fixedpoint.h, tensorflow/lite/kernels/kernel_util.cc.
 */
import type { FusedActivation } from './qgraph';

export const INT8_MIN = -128;
export const INT8_MAX = 127;
export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;

const TWO_POW_15 = 32768;
const TWO_POW_16 = 65536;
const TWO_POW_30 = 1073741824;
const TWO_POW_31 = 2147483648;
const TWO_POW_52 = 4503599627370496;
/** Scales subnormal doubles into the normal range before reading their exponent bits. */
const TWO_POW_64 = 18446744073709551616;
const SUBNORMAL_LIMIT = 2 ** -1022;
const DOUBLE_EXPONENT_BIAS = 1022;

/** An int32 multiplier in [2^30, 2^31) (or 0) and a power-of-two exponent: real = multiplier · 2^(shift − 31). */
export interface QuantizedMultiplier {
  multiplier: number;
  shift: number;
}

/** Scratch for reading a double's bits; module-level so frexp allocates nothing. */
const frexpView = new DataView(new ArrayBuffer(8));

/**
 * C's `frexp`: x = mantissa · 2^exponent with |mantissa| in [0.5, 1). Exact (it only
 * rewrites the exponent bits), so it agrees with libm for every finite double, subnormals
 * included. frexp(0) = {0, 0}.
 */
export function frexp(x: number): { mantissa: number; exponent: number } {
  if (x === 0 || !Number.isFinite(x)) return { mantissa: x, exponent: 0 };
  let value = x;
  let exponent = 0;
  if (Math.abs(value) < SUBNORMAL_LIMIT) {
    value *= TWO_POW_64;
    exponent = -64;
  }
  frexpView.setFloat64(0, value);
  const high = frexpView.getUint32(0);
  exponent += ((high >>> 20) & 0x7ff) - DOUBLE_EXPONENT_BIAS;
  // Keep sign and fraction, set the biased exponent to 1022 (i.e. 2^−1): the mantissa.
  frexpView.setUint32(0, ((high & 0x800fffff) | (DOUBLE_EXPONENT_BIAS << 20)) >>> 0);
  return { mantissa: frexpView.getFloat64(0), exponent };
}

/** C++ `std::round` (TfLiteRound): nearest integer, ties away from zero. */
export function roundHalfAwayFromZero(x: number): number {
  // Math.round breaks ties towards +∞; on |x| that is away from zero.
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/**
 * TFLite's `QuantizeMultiplier` (quantization_util.cc, double-rounding build): frexp,
 * round the mantissa to Q31 half away from zero, renormalise when it rounds up to 2^31,
 * and flush multipliers below about 2^−32 to zero (shift −31 or less would shift every
 * bit out). Real multipliers of 0 give {0, 0}.
 */
export function quantizeMultiplier(real: number): QuantizedMultiplier {
  if (!Number.isFinite(real)) {
    throw new RangeError(`quantizeMultiplier: the real multiplier must be finite, got ${real}.`);
  }
  if (real === 0) return { multiplier: 0, shift: 0 };
  const { mantissa, exponent } = frexp(real);
  let shift = exponent;
  // mantissa · 2^31 is exact (a power-of-two scaling), so only the rounding is inexact.
  let fixed = roundHalfAwayFromZero(mantissa * TWO_POW_31);
  if (fixed === TWO_POW_31) {
    fixed /= 2;
    shift += 1;
  }
  if (shift < -31) {
    shift = 0;
    fixed = 0;
  }
  return { multiplier: fixed, shift };
}

/**
 * gemmlowp's `SaturatingRoundingDoublingHighMul`: trunc((a·b + nudge) / 2^31) with
 * nudge = 2^30 for a·b ≥ 0 and 1 − 2^30 otherwise (C division truncates towards zero,
 * so ties round towards +∞); INT32_MIN · INT32_MIN saturates to INT32_MAX.
 *
 * a·b can reach 2^62, beyond a double's exact range: above 2^52, b is split as
 * bHigh·2^16 + bLow and the quotient by 2^31 is assembled from parts that each stay
 * below 2^53.
 */
export function saturatingRoundingDoublingHighMul(a: number, b: number): number {
  const product = a * b;
  // Fast path, the common case (accumulator · multiplier): below 2^52 the double product
  // is exact, and so are the nudged sum and the power-of-two division.
  if (product < TWO_POW_52 && product > -TWO_POW_52) {
    return Math.trunc((product + (product >= 0 ? TWO_POW_30 : 1 - TWO_POW_30)) / TWO_POW_31) | 0;
  }
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const bHigh = b >> 16; // [-2^15, 2^15)
  const bLow = b & 0xffff; // [0, 2^16)
  const highProduct = a * bHigh; // |.| ≤ 2^46: exact
  // a·b = highProduct·2^16 + a·bLow = highQuotient·2^31 + highRemainder·2^16 + a·bLow.
  const highQuotient = Math.floor(highProduct / TWO_POW_15);
  const highRemainder = highProduct - highQuotient * TWO_POW_15; // [0, 2^15)
  const productNonNegative = a === 0 || b === 0 || a < 0 === b < 0;
  const nudge = productNonNegative ? TWO_POW_30 : 1 - TWO_POW_30;
  // |rest| < 2^31 + 2^47 + 2^30 < 2^53: exact.
  const rest = highRemainder * TWO_POW_16 + a * bLow + nudge;
  const restQuotient = Math.floor(rest / TWO_POW_31);
  const floorQuotient = highQuotient + restQuotient;
  const remainder = rest - restQuotient * TWO_POW_31; // [0, 2^31)
  // floor → truncation towards zero, as int64 division in C++ does.
  const truncated = floorQuotient < 0 && remainder !== 0 ? floorQuotient + 1 : floorQuotient;
  return truncated | 0;
}

/**
 * gemmlowp's `RoundingDivideByPOT`: x / 2^exponent rounded to nearest, ties away from
 * zero, for exponent in [0, 31].
 */
export function roundingDivideByPOT(x: number, exponent: number): number {
  // (1 << 31) − 1 overflows int32 in JS; the mask for 31 is written out.
  const mask = exponent >= 31 ? 0x7fffffff : (1 << exponent) - 1;
  const remainder = x & mask;
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/**
 * TFLite's `MultiplyByQuantizedMultiplier` (double rounding): x · multiplier · 2^(shift−31).
 * A positive shift pre-multiplies x with int32 wrap-around, as the C++ does.
 */
export function multiplyByQuantizedMultiplier(x: number, multiplier: number, shift: number): number {
  const leftShift = shift > 0 ? shift : 0;
  const rightShift = shift > 0 ? 0 : -shift;
  return roundingDivideByPOT(saturatingRoundingDoublingHighMul(x << leftShift, multiplier), rightShift);
}

/**
 * MultiplyByQuantizedMultiplier as TFLite builds it with TFLITE_SINGLE_ROUNDING (and as
 * XNNPACK's int8 kernels, TFLite's default CPU path on desktop and in the browser, round in
 * effect): x · multiplier / 2^(31 − shift), rounded once, half up. The default build
 * (`multiplyByQuantizedMultiplier`) rounds twice, which can differ by one step when the
 * exact value sits within a hair of a half step.
 *
 * Exact without BigInt: with multiplier = hi·2^16 + lo, x·multiplier + 2^(t−1) =
 * (x·hi + ⌊c / 2^16⌋)·2^16 + (c mod 2^16) where c = x·lo + 2^(t−1), and for t ≥ 16 the
 * floor division by 2^t only sees the integer part: ⌊(x·hi + ⌊c/2^16⌋) / 2^(t−16)⌋.
 */
export function multiplyByQuantizedMultiplierSingleRounding(x: number, multiplier: number, shift: number): number {
  const totalShift = 31 - shift;
  if (totalShift < 16 || totalShift > 62) {
    // Multipliers of 2^15 and more (or below 2^-31): never produced by quantization; exact via BigInt.
    const r = (BigInt(x) * BigInt(multiplier) + (1n << BigInt(totalShift - 1))) >> BigInt(totalShift);
    return Number(BigInt.asIntN(32, r));
  }
  const hi = Math.floor(multiplier / TWO_POW_16);
  const lo = multiplier - hi * TWO_POW_16;
  const c = x * lo + 2 ** (totalShift - 1);
  const k = x * hi + Math.floor(c / TWO_POW_16);
  return Math.floor(k / 2 ** (totalShift - 16)) | 0;
}

/**
 * TFLite's `CalculateActivationRangeQuantized` for int8: the fused activation becomes a
 * clamp in the output's quantized domain. The bounds are computed as TFLite does, in
 * float32: zeroPoint + round(float(f) / float(scale)), then clamped to [−128, 127].
 */
export function activationRange(activation: FusedActivation, scale: number, zeroPoint: number): [number, number] {
  const scaleF32 = Math.fround(scale);
  const quantize = (real: number): number => zeroPoint + roundHalfAwayFromZero(Math.fround(real / scaleF32));
  switch (activation) {
    case 'none':
      return [INT8_MIN, INT8_MAX];
    case 'relu':
      return [Math.max(INT8_MIN, quantize(0)), INT8_MAX];
    case 'relu6':
      return [Math.max(INT8_MIN, quantize(0)), Math.min(INT8_MAX, quantize(6))];
  }
}
