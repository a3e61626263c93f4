/**
 * The three model kinds Hearth trains, quantized by Hearth, in TensorFlow Lite's own
 * interpreter (WASM, in Chromium): every int8 output within 1 of Hearth's int8 reference
 * interpreter, at least 99 % equal.
 *
 * tfjs-tflite runs int8 through the XNNPACK delegate, which requantizes in float32 with one
 * rounding and adds with its own fixed point, so the reference interpreter is run in its
 * 'xnnpack' arithmetic for this comparison. Its default 'tflite-micro' arithmetic (what a
 * board computes) is compared too: the two may differ by a step where a value sits next
 * to a half step, and such differences can grow through a deep network.
 *
 * The models are built in this Node process with tfjs'
 * cpu backend, each batch norm given random statistics so folding is exercised, and
 * calibrated on random whole-pixel images (a trained LeNet is checked the same way,
 * through the studio, in export.spec.ts).
 */
import { tf } from '../../src/lib/compute/register';
import { Rng } from '../../src/lib/data/rng';
import { calibrate } from '../../src/lib/export/calibrate';
import { extractFloatGraph } from '../../src/lib/export/float-graph';
import { Int8Interpreter } from '../../src/lib/export/int8-interpreter';
import { pixelsToInt8, type QTensor } from '../../src/lib/export/qgraph';
import { quantizeGraph } from '../../src/lib/export/quantize';
import { writeTflite } from '../../src/lib/export/tflite-writer';
import { buildModel } from '../../src/lib/train/models';
import type { ModelKind } from '../../src/lib/train/spec';
import { expect, test } from './fixtures';
import { agreement, openTfliteRuntime, runTflite } from './tflite-runtime';

const INPUTS_PER_MODEL = 32;
const CALIBRATION_IMAGES = 64;

function images(n: number, side: number, seed: number): Uint8Array[] {
  const rng = new Rng(seed);
  // Smooth blobs rather than white noise, so activations look like an image's.
  return Array.from({ length: n }, () => {
    const cx = rng.next() * side;
    const cy = rng.next() * side;
    const r = 3 + rng.next() * side * 0.3;
    return Uint8Array.from({ length: side * side }, (_, p) => {
      const d = Math.hypot((p % side) - cx, Math.floor(p / side) - cy);
      return Math.max(0, Math.min(255, Math.round(255 * Math.exp(-((d / r) ** 2)) + rng.int(30))));
    });
  });
}

function randomizeBatchNorms(model: tf.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const n = layer.getWeights()[0]?.shape[0] ?? 0;
    const vec = (f: () => number): tf.Tensor => tf.tensor1d(Float32Array.from({ length: n }, f));
    const fresh = [vec(() => 0.5 + rng.next()), vec(() => rng.next() - 0.5), vec(() => (rng.next() - 0.5) * 0.2), vec(() => 0.5 + rng.next())];
    layer.setWeights(fresh);
    tf.dispose(fresh);
  }
}

test('LeNet, ResNet-small and MobileNetV1 quantized by Hearth run in TFLite with the reference interpreter’s outputs', async ({ page }) => {
  test.setTimeout(300_000);
  await tf.setBackend('cpu');
  await openTfliteRuntime(page);
  const cases: [ModelKind, number][] = [
    ['lenet', 28],
    ['resnet-small', 28],
    ['mobilenet-v1', 32],
  ];
  for (const [kind, side] of cases) {
    const m = buildModel({ kind, input: { width: side, height: side, channels: 1, resize: 'stretch' }, numClasses: 10, seed: 3 });
    randomizeBatchNorms(m.model, 4);
    const graph = await extractFloatGraph(m.model);
    const calibrationImages = images(CALIBRATION_IMAGES, side, 10);
    const batches = async function* (): AsyncIterable<tf.Tensor4D> {
      yield tf.tensor4d(Float32Array.from(calibrationImages.flatMap((p) => Array.from(p, (v) => v / 255))), [CALIBRATION_IMAGES, side, side, 1]);
    };
    const q = quantizeGraph(graph, await calibrate(graph, batches, 'mse'));
    m.dispose();
    const inputs = images(INPUTS_PER_MODEL, side, 20).map(pixelsToInt8);
    const got = await runTflite(page, writeTflite(q), inputs, (q.tensors[q.input] as QTensor).shape);
    const xnnpack = agreement(got, inputs.map((x) => new Int8Interpreter(q, { arithmetic: 'xnnpack' }).run(x)));
    const micro = agreement(got, inputs.map((x) => new Int8Interpreter(q).run(x)));
    console.log(
      `${kind}: ${q.ops.length} ops; TFLite vs reference (xnnpack arithmetic) ${xnnpack.equal}/${xnnpack.values} equal, max difference ${xnnpack.maxDiff}; ` +
        `vs reference (tflite-micro arithmetic) ${micro.equal}/${micro.values} equal, max difference ${micro.maxDiff}`,
    );
    expect(xnnpack.maxDiff, kind).toBeLessThanOrEqual(1);
    expect(xnnpack.equal / xnnpack.values, kind).toBeGreaterThanOrEqual(0.99);
    // A wrong op, layout or scale gives differences of tens of steps; rounding gives a few.
    expect(micro.maxDiff, kind).toBeLessThanOrEqual(3);
  }
});
