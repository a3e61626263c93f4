/**
 * A project's saved augmentation pipelines, each with a name people pick it by and the
 * hash of its spec that a training run records. They live in one settings row per
 * project, written whole in one transaction, so a list is never half-saved.
 *
 * Before pipelines had names a project kept one, under `augment-pipeline:<projectId>`;
 * the first read of a project that still has that row moves it into the list as
 * "Pipeline 1", in the same transaction that removes the old row.
 */
import { contentHash } from '../data/canonical-json';
import { NotFoundError } from '../jobs/errors';
import { getProject } from '../storage/projects';
import type { HearthDb } from '../storage/schema';
import { getSetting, readSettings, updateSettings, type SettingsReader } from '../storage/settings';
import { validatePipeline, type PipelineSpec } from './pipeline';
import { checkPipelineName } from './pipeline-name';
import { TRANSFORMS } from './registry';

export interface SavedPipeline {
  id: string;
  projectId: string;
  name: string;
  spec: PipelineSpec;
  /** sha256 of the spec's canonical JSON: two pipelines with this hash augment alike. */
  hash: string;
  createdAt: number;
  updatedAt: number;
}

export interface PipelineDraft {
  /** The pipeline to overwrite; absent to save a new one. */
  id?: string;
  name: string;
  spec: PipelineSpec;
}

const listKey = (projectId: string): string => `augment-pipelines:${projectId}`;
const legacyKey = (projectId: string): string => `augment-pipeline:${projectId}`;
const LEGACY_NAME = 'Pipeline 1';

/** The hash a run records for `spec`, after validation has normalised it. */
export function pipelineHash(spec: PipelineSpec): Promise<string> {
  return contentHash(spec);
}

/**
 * Moves a legacy single pipeline into the list, once. Hashing is async and an IndexedDB
 * transaction commits on an idle tick, so the hash is taken between a read and the
 * transaction that writes the list and drops the old row together.
 */
async function migrateLegacy(db: HearthDb, projectId: string): Promise<void> {
  const [hasList, hasLegacy, legacy] = await readSettings(db, (settings) =>
    Promise.all([settings.has(listKey(projectId)), settings.has(legacyKey(projectId)), settings.get<unknown>(legacyKey(projectId))]),
  );
  if (hasList || !hasLegacy) return;
  const spec = validatePipeline(legacy, TRANSFORMS);
  const hash = await pipelineHash(spec);
  const now = Date.now();
  const moved: SavedPipeline = { id: crypto.randomUUID(), projectId, name: LEGACY_NAME, spec, hash, createdAt: now, updatedAt: now };
  await updateSettings(db, async (settings) => {
    // Another tab may have moved it meanwhile: keep theirs.
    if (await settings.has(listKey(projectId))) return;
    await settings.put(listKey(projectId), [moved]);
    await settings.delete(legacyKey(projectId));
  });
}

/** The stored list (no legacy row left: callers migrate first). */
async function readList(settings: SettingsReader, projectId: string): Promise<SavedPipeline[]> {
  // This module is the row's only writer, and writes only validated SavedPipeline lists.
  return (await settings.get<SavedPipeline[]>(listKey(projectId))) ?? [];
}

/** The project's pipelines, by name. */
export async function listPipelines(db: HearthDb, projectId: string): Promise<SavedPipeline[]> {
  await getProject(db, projectId);
  await migrateLegacy(db, projectId);
  const list = (await getSetting<SavedPipeline[]>(db, listKey(projectId))) ?? [];
  return [...list].sort((a, b) => a.name.localeCompare(b.name));
}

export async function getSavedPipeline(db: HearthDb, projectId: string, id: string): Promise<SavedPipeline> {
  const found = (await listPipelines(db, projectId)).find((p) => p.id === id);
  if (!found) throw new NotFoundError(`The project has no saved pipeline ${id}: it may have been deleted. Pick another, or none.`);
  return found;
}

/**
 * Saves a new pipeline, or overwrites `draft.id`. Validates the spec by the registry and
 * the name against the project's others; returns what was stored.
 */
export async function savePipeline(db: HearthDb, projectId: string, draft: PipelineDraft): Promise<SavedPipeline> {
  await getProject(db, projectId);
  const spec = validatePipeline(draft.spec, TRANSFORMS);
  // Hashing is async and an IndexedDB transaction commits on an idle tick: hash first.
  const hash = await pipelineHash(spec);
  await migrateLegacy(db, projectId);
  return updateSettings(db, async (settings) => {
    const list = await readList(settings, projectId);
    const existing = draft.id === undefined ? undefined : list.find((p) => p.id === draft.id);
    if (draft.id !== undefined && !existing)
      throw new NotFoundError(`The pipeline being saved was deleted meanwhile: use "Save as new" to keep it.`);
    const name = checkPipelineName(draft.name, list.filter((p) => p.id !== draft.id));
    const now = Date.now();
    const saved: SavedPipeline = existing
      ? { ...existing, name, spec, hash, updatedAt: now }
      : { id: crypto.randomUUID(), projectId, name, spec, hash, createdAt: now, updatedAt: now };
    const next = existing ? list.map((p) => (p.id === saved.id ? saved : p)) : [...list, saved];
    await settings.put(listKey(projectId), next);
    return saved;
  });
}

/** Deletes pipeline `id`; runs that used it keep their own copy of its spec. */
export async function deletePipeline(db: HearthDb, projectId: string, id: string): Promise<void> {
  await getProject(db, projectId);
  await migrateLegacy(db, projectId);
  await updateSettings(db, async (settings) => {
    const list = await readList(settings, projectId);
    if (!list.some((p) => p.id === id)) throw new NotFoundError(`The project has no saved pipeline ${id}: it was already deleted.`);
    await settings.put(listKey(projectId), list.filter((p) => p.id !== id));
  });
}
