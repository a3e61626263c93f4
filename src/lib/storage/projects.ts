import { InvalidInputError, NotFoundError } from '../jobs/errors';
import type { Project } from './records';
import type { HearthDb } from './schema';
import { prefixRange } from './stores';
import { runTx } from './tx';

/** What a caller chooses of a new project; storage fills in the rest. */
export type NewProject = Omit<Project, 'id' | 'createdAt' | 'nextSampleNumber'>;

/** Creates a project. `id` defaults to a random UUID; `createdAt` is now; its first sample will be #1. */
export async function createProject(db: HearthDb, init: NewProject & { id?: string }): Promise<Project> {
  const project: Project = {
    id: init.id ?? crypto.randomUUID(),
    name: init.name,
    input: { ...init.input },
    classes: [...init.classes],
    attributes: [...init.attributes],
    source: init.source,
    createdAt: Date.now(),
    nextSampleNumber: 1,
  };
  const tx = db.transaction('projects', 'readwrite');
  await runTx(tx, async () => {
    // A caller-chosen id (a sample dataset's) that exists must not overwrite that project.
    if ((await tx.store.getKey(project.id)) !== undefined) {
      throw new InvalidInputError(`A project with id "${project.id}" already exists. Open it, or delete it first.`);
    }
    await tx.store.add(project);
  });
  return project;
}

export async function getProject(db: HearthDb, id: string): Promise<Project> {
  const project = await db.get('projects', id);
  if (!project) throw new NotFoundError(`Project ${id} does not exist (it may have been deleted). Pick another project.`);
  return project;
}

/** All projects, newest first. */
export async function listProjects(db: HearthDb): Promise<Project[]> {
  const projects = await db.getAll('projects');
  return projects.sort((a, b) => b.createdAt - a.createdAt);
}

/**
 * Replaces a stored project (name, classes, attributes…); it must exist. Its sample
 * counter stays as stored: a copy read before samples were added holds an older one, and
 * writing that back would hand out numbers again.
 */
export async function updateProject(db: HearthDb, project: Project): Promise<void> {
  const tx = db.transaction('projects', 'readwrite');
  await runTx(tx, async () => {
    const stored = await tx.store.get(project.id);
    if (stored === undefined) {
      throw new NotFoundError(`Project ${project.id} does not exist (it may have been deleted). Pick another project.`);
    }
    await tx.store.put({ ...project, nextSampleNumber: stored.nextSampleNumber });
  });
}

/**
 * Deletes a project and everything stored for it, in one transaction so a reload in the
 * middle never leaves orphan samples or pixels behind. Deleting a missing project is a no-op.
 */
export async function deleteProject(db: HearthDb, id: string): Promise<void> {
  const tx = db.transaction(
    ['projects', 'samples', 'pixels', 'versions', 'imports', 'staged', 'runs', 'models'],
    'readwrite',
  );
  await runTx(tx, async () => {
    const samples = tx.objectStore('samples');
    const pixels = tx.objectStore('pixels');
    const versions = tx.objectStore('versions');
    const imports = tx.objectStore('imports');
    const staged = tx.objectStore('staged');
    const runs = tx.objectStore('runs');
    const models = tx.objectStore('models');
    const [sampleIds, versionIds, importIds, runIds, modelIds] = await Promise.all([
      samples.index('by-project').getAllKeys(id),
      versions.index('by-project-number').getAllKeys(IDBKeyRange.bound([id, -Infinity], [id, Infinity])),
      imports.index('by-project').getAllKeys(id),
      runs.index('by-project').getAllKeys(id),
      models.index('by-project').getAllKeys(id),
    ]);
    await Promise.all([
      ...sampleIds.flatMap((sid) => [samples.delete(sid), pixels.delete(sid)]),
      ...versionIds.map((vid) => versions.delete(vid)),
      // Staged keys are [importId, key]: one range request drops all staged bytes of an import.
      ...importIds.map((iid) => staged.delete(prefixRange(iid))),
      ...importIds.map((iid) => imports.delete(iid)),
      ...runIds.map((rid) => runs.delete(rid)),
      ...modelIds.map((mid) => models.delete(mid)),
      tx.objectStore('projects').delete(id),
    ]);
  });
}
