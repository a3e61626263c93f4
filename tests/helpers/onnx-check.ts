/**
 * Checks an exported ONNX model against the int8 reference interpreter. The export tests
 * (tests/unit/export-onnx-writer.test.ts, tests/e2e/export.spec.ts) run the `.onnx` file
 * in onnxruntime-web on test vectors and hand the float logits here with the
 * interpreter's int8 logits for the same inputs.
 *
 * ONNX's output is the dequantized int8 output, so logit / scale + zeroPoint is an
 * integer up to float rounding; the two runtimes may still differ by one step where a
 * value lands on a rounding tie (onnxruntime rounds half to even in float arithmetic,
 * TFLite's fixed-point multipliers round half away from zero), which is why the result
 * reports the largest difference rather than a pass / fail.
 */
import { InvalidInputError } from '../../src/lib/jobs/errors';

export interface OnnxAgreement {
  /** Number of logits compared. */
  values: number;
  /** How many of them are the same int8 value. */
  equal: number;
  /** The largest difference in quantization steps (Infinity if ONNX produced a non-finite value). */
  maxSteps: number;
}

export function compareWithReference(
  outputs: Float32Array[],
  reference: Int8Array[],
  out: { scale: number; zeroPoint: number },
): OnnxAgreement {
  if (outputs.length !== reference.length) {
    throw new InvalidInputError(`ONNX produced ${outputs.length} outputs for ${reference.length} test vectors; run the check again with one output per vector.`);
  }
  if (!(out.scale > 0) || !Number.isFinite(out.scale)) {
    throw new InvalidInputError(`The output scale ${out.scale} is not a positive number; export the model again.`);
  }
  let values = 0;
  let equal = 0;
  let maxSteps = 0;
  outputs.forEach((logits, i) => {
    const expected = reference[i] as Int8Array;
    if (logits.length !== expected.length) {
      throw new InvalidInputError(`Test vector ${i}: ONNX gave ${logits.length} logits but the reference ${expected.length}; the exported model does not match the graph, export it again.`);
    }
    for (let j = 0; j < logits.length; j++) {
      // Round away the float noise of the dequantization (a value like 3.9999998).
      const q = Math.round((logits[j] as number) / out.scale + out.zeroPoint);
      const steps = Number.isFinite(q) ? Math.abs(q - (expected[j] as number)) : Infinity;
      if (steps === 0) equal++;
      if (steps > maxSteps) maxSteps = steps;
      values++;
    }
  });
  return { values, equal, maxSteps };
}

/**
 * An int8 NHWC input tensor (batch 1) → the float NCHW input the ONNX model takes:
 * scale · (q − zeroPoint), which for Hearth's input contract is pixel / 255.
 */
export function nhwcInt8ToNchwFloat(q: Int8Array, shape: [1, number, number, number], scale: number, zeroPoint: number): Float32Array {
  const [, h, w, c] = shape;
  if (q.length !== h * w * c) {
    throw new InvalidInputError(`The input has ${q.length} values but shape [1, ${h}, ${w}, ${c}] needs ${h * w * c}; give a test vector of the model's input size.`);
  }
  const nchw = new Float32Array(q.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ch = 0; ch < c; ch++) nchw[(ch * h + y) * w + x] = scale * ((q[(y * w + x) * c + ch] as number) - zeroPoint);
  return nchw;
}
