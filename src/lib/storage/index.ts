/** The storage layer: the one IndexedDB schema and its repositories. */
export { openHearthDb, DB_NAME, DB_VERSION, type HearthDB, type HearthDb } from './schema';
export { createProject, getProject, listProjects, updateProject, deleteProject, type NewProject } from './projects';
export {
  putSamples,
  setSampleLabels,
  getPixelRecords,
  getSampleMeta,
  getSamples,
  getPixels,
  countSamples,
  keysOfProject,
  sampleNumbers,
  sampleIdOfNumber,
  type NewSample,
  type PutSamplesResult,
} from './samples';
export {
  createVersion,
  getVersion,
  latestVersion,
  listVersions,
  versionIdsOf,
  versionCounts,
  filterVersion,
  type VersionFilter,
  type VersionCounts,
  type VersionSummary,
} from './versions';
export { getRun, getRunOfKind, listRunsOfKind, putRun } from './runs';
export { checkpointId, deleteCheckpoints, getModel, latestCheckpointId, listModelRecords, putCheckpoint, putModel } from './models';
export { getSetting, setSetting, readSettings, updateSettings, type SettingsReader, type SettingsWriter } from './settings';
export {
  getImportRecord,
  listImportRecords,
  putImportRecord,
  stagedKeysOf,
  countStaged,
  nextStaged,
  putStagedBatch,
  commitDecodedBatch,
  finishImportTx,
  type ImportFinish,
} from './imports';
export { storageInfo, requestPersistence, type StorageInfo } from './quota';
export { mapStorageError } from './tx';
export type * from './records';
