/**
 * A frozen generator the flow plugs into: a tfjs layers model (latent [n, D] in, images
 * [n, H, W, C] in [0, 1] out) described by a manifest. Loading checks every file against the
 * manifest's sha256 first, then that the model's shapes are the manifest's, so the studio
 * never samples from weights that are not the ones described.
 */
import { tf } from '../compute/register';
import { InvalidInputError } from '../jobs/errors';
import { verifyGeneratorFiles, type GeneratorManifest } from './manifest';

export interface Generator {
  manifest: GeneratorManifest;
  /** Images [n, H, W, C] in the manifest's range, for latents [n, D]. */
  generate(latents: tf.Tensor2D): tf.Tensor4D;
  dispose(): void;
}

/** The file of a tfjs layers model that holds its topology and weight manifest. */
export const MODEL_JSON = 'model.json';

interface ModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

function concat(parts: Uint8Array[]): ArrayBuffer {
  const total = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out.buffer;
}

/** Checks the files, builds the model, and checks its input and output against the manifest. */
export async function loadGenerator(manifest: GeneratorManifest, read: (path: string) => Promise<Uint8Array | null>): Promise<Generator> {
  const files = await verifyGeneratorFiles(manifest, read);
  const json = files.get(MODEL_JSON);
  if (!json) throw new InvalidInputError(`${manifest.name}: its manifest lists no ${MODEL_JSON}, so it is not a tfjs layers model Hearth can load.`);
  const parsed = JSON.parse(new TextDecoder().decode(json)) as ModelJson;
  const weightSpecs = parsed.weightsManifest.flatMap((g) => g.weights);
  const weightData = concat(
    parsed.weightsManifest.flatMap((g) =>
      g.paths.map((p) => {
        const bytes = files.get(p);
        if (!bytes) throw new InvalidInputError(`${manifest.name}: ${MODEL_JSON} names weights "${p}", which its manifest does not list.`);
        return bytes;
      }),
    ),
  );
  const model = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: parsed.modelTopology, weightSpecs, weightData }));
  try {
    checkShapes(manifest, model.inputs[0]?.shape ?? [], model.outputs[0]?.shape ?? []);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return {
    manifest,
    generate: (latents) => model.predict(latents) as tf.Tensor4D,
    dispose: () => model.dispose(),
  };
}

/** The model's [null, D] in and [null, H, W, C] out must be the manifest's; says which differs. */
export function checkShapes(manifest: GeneratorManifest, input: readonly (number | null)[], output: readonly (number | null)[]): void {
  const { width, height, channels } = manifest.output;
  if (input.length !== 2 || input[1] !== manifest.latentSize) {
    throw new InvalidInputError(
      `${manifest.name} takes latents of shape [${input.map((d) => d ?? 'n').join(', ')}], but its manifest says [n, ${manifest.latentSize}]. Export the generator again with its manifest.`,
    );
  }
  if (output.length !== 4 || output[1] !== height || output[2] !== width || output[3] !== channels) {
    throw new InvalidInputError(
      `${manifest.name} makes images of shape [${output.map((d) => d ?? 'n').join(', ')}], but its manifest says [n, ${height}, ${width}, ${channels}] (NHWC). Export the generator again with its manifest.`,
    );
  }
}

/**
 * Whether a generator's images fit a project: the same size and channels. Says what to do
 * when they do not, since resizing generated images would hide what the generator learned.
 */
export function checkFitsProject(manifest: GeneratorManifest, input: { width: number; height: number; channels: number }): void {
  const o = manifest.output;
  if (o.width !== input.width || o.height !== input.height || o.channels !== input.channels) {
    throw new InvalidInputError(
      `${manifest.name} makes ${o.width}×${o.height} images with ${o.channels} channel${o.channels === 1 ? '' : 's'}, ` +
        `but this project's images are ${input.width}×${input.height} with ${input.channels}. ` +
        `Pick a generator trained on images like this project's, or train one on its data.`,
    );
  }
}
