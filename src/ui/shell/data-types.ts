/**
 * The UI's names for the data worker's types, derived from the worker's own API so a
 * change there shows up here as a type error rather than a silent mismatch.
 */
import type { Remote } from 'comlink';
import type { DataApi } from '../../worker-client/data-client';

export type DataClient = Remote<DataApi>;
export type VersionFilter = Parameters<DataApi['filterVersion']>[1];
export type VersionCounts = Awaited<ReturnType<DataApi['versionCounts']>>;
export type SampleDatasetInfo = Awaited<ReturnType<DataApi['sampleDatasets']>>[number];
export type SampleDatasetId = SampleDatasetInfo['id'];
export type StorageInfo = Awaited<ReturnType<DataApi['storage']>>;
export type ProjectInit = Parameters<DataApi['createProject']>[0];
export type DroppedFile = Parameters<DataApi['importFiles']>[2][number];
/** What an import job returns: the stored ImportRecord plus what the drop held that is not importable. */
export type ImportResult = Awaited<ReturnType<DataApi['importFiles']>>;
