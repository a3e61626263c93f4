import type { DatasetVersion } from '../../lib/storage/records';

/** The props of a page section that works on one dataset version of a project. */
export interface VersionSectionProps {
  projectId: string;
  version: DatasetVersion;
}
