import { PROVENANCE_KINDS, SPLITS, type DatasetVersion, type ProvenanceKind, type Split } from '../../lib/storage/records';

/** What the grid and the inspector show for one sample, read from the version's columns. */
export interface SampleInfo {
  /** Index into the version's columns. */
  index: number;
  id: number;
  label: string | null;
  split: Split;
  provenance: ProvenanceKind;
  /** Attribute → value, null where the sample has none. */
  attributes: Record<string, string | null>;
}

export function sampleInfo(version: DatasetVersion, index: number): SampleInfo {
  const labelCode = version.labels[index] ?? -1;
  const attributes: Record<string, string | null> = {};
  for (const [name, col] of Object.entries(version.attributes)) {
    const code = col.codes[index] ?? -1;
    attributes[name] = code < 0 ? null : (col.values[code] ?? null);
  }
  return {
    index,
    id: version.sampleIds[index] ?? -1,
    label: labelCode < 0 ? null : (version.classes[labelCode] ?? null),
    split: SPLITS[version.splits[index] ?? 0] ?? 'unassigned',
    provenance: PROVENANCE_KINDS[version.provenance[index] ?? 0] ?? 'real',
    attributes,
  };
}

/** One line for a tooltip: "label 3 · train · real · color=red". */
export function describeSample(info: SampleInfo): string {
  const attrs = Object.entries(info.attributes).map(([k, v]) => `${k}=${v ?? '(missing)'}`);
  return [`label ${info.label ?? '(unlabeled)'}`, info.split, info.provenance, ...attrs].join(' · ');
}
