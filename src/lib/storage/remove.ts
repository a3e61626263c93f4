/**
 * Removing samples from a project (near-duplicates, split leaks, bad images).
 *
 * Decision: removal deletes the samples' metadata AND pixels, and records a new dataset
 * version in the same transaction. Earlier versions are left as they were (versions are
 * immutable), so they still list the removed ids; reading those pixels then fails with
 * NotFoundError from `getPixels` / `getSamples` ("Sample N does not exist…"), never with
 * garbage or a silent gap.
 *
 * Why not keep the pixels and mark the metadata `removed: true` (which would keep old
 * versions fully readable)? Three reasons:
 * - a user who removes an image usually wants it gone from the device (a private photo,
 *   a mislabelled face); hiding it while keeping the bytes would betray that;
 * - every metadata scan would have to learn to skip removed samples (`insertVersion`,
 *   `countSamples`, `keysOfProject`, CSV matching, browsing), and one that forgets would
 *   silently put removed samples back into the next version;
 * - `SampleMeta` has no such field, and the pixels store has no project index, so pixels
 *   kept without their metadata would be orphans that `deleteProject` could not find.
 * What a model trained on an older version needs to be reproduced is recorded in its run
 * (version id, seed, config); re-running it on a version with removed samples fails loudly.
 */
import type { DatasetVersion, Recipe, Split } from './records';
import { InvalidInputError } from '../jobs/errors';
import type { HearthDb } from './schema';
import { runTx } from './tx';
import { insertVersion } from './versions';

/** Ids named in an error message before "and N more", so a 10k-id mistake stays readable. */
const MAX_IDS_IN_MESSAGE = 20;

export const REMOVE_SAMPLES_TOOL = 'remove-samples';

function listIds(ids: number[]): string {
  const shown = ids.slice(0, MAX_IDS_IN_MESSAGE).join(', ');
  return ids.length > MAX_IDS_IN_MESSAGE ? `${shown} and ${ids.length - MAX_IDS_IN_MESSAGE} more` : shown;
}

/**
 * Deletes samples (metadata and pixels) of `projectId` and creates the next dataset
 * version without them, all in one transaction: either both happen or neither.
 * Every id must be a sample of that project; otherwise nothing is deleted and an
 * InvalidInputError names the offending ids. The version's recipe is
 * `{ tool: 'remove-samples', params: { ids, reason }, seed: 0 }` with ids sorted.
 */
export async function removeSamples(
  db: HearthDb,
  projectId: string,
  ids: number[],
  opts: { note: string; reason?: string },
): Promise<DatasetVersion> {
  const unique = [...new Set(ids)].sort((a, b) => a - b);
  if (unique.length === 0) throw new InvalidInputError('No samples were chosen to remove. Select at least one sample, then remove.');
  const bad = unique.filter((id) => !Number.isInteger(id) || id < 0);
  if (bad.length > 0) throw new InvalidInputError(`Sample ids must be whole numbers ≥ 0; got ${listIds(bad)}. Reload the dataset and select again.`);
  const recipe: Recipe = { tool: REMOVE_SAMPLES_TOOL, params: { ids: unique, reason: opts.reason ?? opts.note }, seed: 0 };

  const tx = db.transaction(['projects', 'samples', 'pixels', 'versions'], 'readwrite');
  return runTx(tx, async () => {
    const samples = tx.objectStore('samples');
    const pixels = tx.objectStore('pixels');
    const metas = await Promise.all(unique.map((id) => samples.get(id)));
    const foreign = unique.filter((_, k) => metas[k]?.projectId !== projectId);
    if (foreign.length > 0) {
      throw new InvalidInputError(
        `Samples ${listIds(foreign)} are not in this project (removed already, or from another project). ` +
          'Nothing was removed: reload the dataset and select again.',
      );
    }
    await Promise.all(unique.flatMap((id) => [samples.delete(id), pixels.delete(id)]));
    // Requests run in the order placed: the version's scan sees the samples already gone.
    return insertVersion(
      { projects: tx.objectStore('projects'), samples, versions: tx.objectStore('versions') },
      projectId,
      { recipe, note: opts.note },
      Date.now(),
    );
  });
}

/** Which copies of a leak to remove: keep the training copy, or keep the test set intact. */
export type LeakPolicy = 'keep-train' | 'keep-test';

/** For each policy, the evaluation splits in the order they are kept. */
const KEEP_ORDER: Record<LeakPolicy, readonly Split[]> = {
  'keep-train': ['train', 'val', 'test'],
  'keep-test': ['test', 'val', 'train'],
};

/**
 * The ids to remove so no leak group spans more than one of train / val / test: in each
 * group, the first split of the policy's order that the group has is kept (all its
 * members), and the members in the other evaluation splits are removed. `unassigned`
 * members are left alone (they are in no evaluation). Ascending, without repeats.
 *
 * `keep-train` keeps what the model learns from and shrinks val / test slightly;
 * `keep-test` keeps the test set comparable with earlier results and shrinks train.
 */
export function resolveLeaks(leaks: readonly { ids: readonly number[]; splits: readonly Split[] }[], policy: LeakPolicy): number[] {
  const order = KEEP_ORDER[policy];
  const remove = new Set<number>();
  for (const leak of leaks) {
    const kept = order.find((s) => leak.splits.includes(s));
    for (const [k, id] of leak.ids.entries()) {
      const split = leak.splits[k] as Split;
      if (split !== kept && order.includes(split)) remove.add(id);
    }
  }
  return [...remove].sort((a, b) => a - b);
}
