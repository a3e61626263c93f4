import { openDB, type DBSchema, type IDBPDatabase } from 'idb';
import { normalizeRunV2, SampleNumbering } from './migrations';
import type {
  DatasetVersion,
  ImportRecord,
  ModelRecord,
  Project,
  RunRecord,
  SampleMeta,
  SamplePixels,
  StagedFile,
} from './records';

/**
 * The one IndexedDB schema of Hearth. Every store is written by the repositories in
 * this folder; nothing else opens the database.
 */
export interface HearthDB extends DBSchema {
  projects: { key: string; value: Project };
  /** Sample metadata only, so scans (versions, CSV matching, browsing) never read pixels. */
  samples: {
    key: number;
    value: SampleMeta;
    indexes: {
      'by-project': string;
      /** Unique: one sample per (project, key). Makes resumed imports idempotent. */
      'by-project-key': [string, string];
      'by-project-file': [string, string];
      /** Unique: a sample's number within its project (what the user sees and types). */
      'by-project-number': [string, number];
    };
  };
  /** Pixels and original bytes of a sample, keyed by the sample's id, written with it. */
  pixels: { key: number; value: SamplePixels };
  versions: {
    key: number;
    value: DatasetVersion;
    indexes: { 'by-project-number': [string, number] };
  };
  imports: { key: string; value: ImportRecord; indexes: { 'by-project': string } };
  staged: { key: [string, string]; value: StagedFile; indexes: { 'by-import': string } };
  runs: { key: string; value: RunRecord; indexes: { 'by-project': string } };
  models: { key: string; value: ModelRecord; indexes: { 'by-project': string } };
  /** Small per-project or global settings (`forcedBackend`, UI choices…). */
  settings: { key: string; value: { key: string; value: unknown } };
}

export const DB_NAME = 'hearth';
/**
 * 1: the first schema. 2: run records typed by kind (run-records.ts), normalised to it.
 * 3: samples numbered per project (SampleRecord.number, Project.nextSampleNumber).
 */
export const DB_VERSION = 3;

export type HearthDb = IDBPDatabase<HearthDB>;

/**
 * Opens (and migrates) the database. Migrations are cumulative `if (oldVersion < N)`
 * blocks: never edit a released block, add a new one and bump DB_VERSION.
 */
export function openHearthDb(name = DB_NAME): Promise<HearthDb> {
  return openDB<HearthDB>(name, DB_VERSION, {
    async upgrade(db, oldVersion, _newVersion, transaction) {
      if (oldVersion < 1) {
        db.createObjectStore('projects', { keyPath: 'id' });
        const samples = db.createObjectStore('samples', { keyPath: 'id', autoIncrement: true });
        samples.createIndex('by-project', 'projectId');
        samples.createIndex('by-project-key', ['projectId', 'key'], { unique: true });
        samples.createIndex('by-project-file', ['projectId', 'fileName']);
        db.createObjectStore('pixels', { keyPath: 'id' });
        const versions = db.createObjectStore('versions', { keyPath: 'id', autoIncrement: true });
        versions.createIndex('by-project-number', ['projectId', 'number'], { unique: true });
        const imports = db.createObjectStore('imports', { keyPath: 'id' });
        imports.createIndex('by-project', 'projectId');
        const staged = db.createObjectStore('staged', { keyPath: ['importId', 'key'] });
        staged.createIndex('by-import', 'importId');
        const runs = db.createObjectStore('runs', { keyPath: 'id' });
        runs.createIndex('by-project', 'projectId');
        const models = db.createObjectStore('models', { keyPath: 'id' });
        models.createIndex('by-project', 'projectId');
        db.createObjectStore('settings', { keyPath: 'key' });
      }
      if (oldVersion < 2) {
        // Only IDB requests are awaited here: awaiting anything else would let the
        // versionchange transaction commit before the migration is done.
        let cursor = await transaction.objectStore('runs').openCursor();
        while (cursor) {
          const next = normalizeRunV2(cursor.value);
          if (next !== cursor.value) await cursor.update(next);
          cursor = await cursor.continue();
        }
      }
      if (oldVersion < 3) {
        const samples = transaction.objectStore('samples');
        samples.createIndex('by-project-number', ['projectId', 'number'], { unique: true });
        // The primary key's order is the order samples were stored: number them in it.
        const numbering = new SampleNumbering();
        let sample = await samples.openCursor();
        while (sample) {
          await sample.update(numbering.number(sample.value));
          sample = await sample.continue();
        }
        let project = await transaction.objectStore('projects').openCursor();
        while (project) {
          await project.update(numbering.counted(project.value));
          project = await project.continue();
        }
      }
    },
    blocking(_current, _blocked, event) {
      // Another tab wants a newer schema: close ours so it can upgrade instead of both hanging.
      (event.target as IDBDatabase).close();
    },
  });
}
