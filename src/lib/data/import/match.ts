/**
 * Which dropped image each label-CSV row is about. Kept apart from the parser because
 * it needs the drop's file list, and pure so the import job and its tests share it.
 */
import type { ImportFileError } from '../types';
import type { LabelRow } from './csv';
import { CsvRowError } from './errors';

export interface LabelMatch {
  /** Image key → the row that labels it. */
  rows: Map<string, LabelRow>;
  /** One per row naming no image, several images, or an image an earlier row took. */
  errors: ImportFileError[];
}

/**
 * Resolves each row's filename against the dropped images (`key`s as classifyPaths gives
 * them). A filename with a folder is a path from the dropped folder, or from the CSV's
 * own folder; a bare name must name exactly one image, since `001.png` in two class
 * folders is the usual ImageFolder layout and guessing would mislabel one of them.
 */
export function matchLabelRows(rows: LabelRow[], csvKey: string, images: { key: string; fileName: string }[]): LabelMatch {
  const keys = new Set(images.map((i) => i.key));
  const byName = new Map<string, string[]>();
  for (const { key, fileName } of images) byName.set(fileName, [...(byName.get(fileName) ?? []), key]);
  const slash = csvKey.lastIndexOf('/');
  const csvFolder = slash < 0 ? '' : csvKey.slice(0, slash + 1);

  const matched = new Map<string, LabelRow>();
  const errors: ImportFileError[] = [];
  const fail = (row: LabelRow, message: string): void => {
    const err = new CsvRowError(`${csvKey} line ${row.line} ${message}`);
    errors.push({ key: `${csvKey}:${row.line}`, name: err.name, message: err.message });
  };
  for (const row of rows) {
    let candidates: string[];
    if (row.fileName.includes('/')) {
      candidates = [csvFolder + row.fileName, row.fileName].filter((k) => keys.has(k)).slice(0, 1);
    } else {
      candidates = byName.get(row.fileName) ?? [];
    }
    const key = candidates[0];
    if (key === undefined) {
      fail(row, `names "${row.fileName}", which is not in the dropped folder. Fix the name or add the file, then import again.`);
    } else if (candidates.length > 1) {
      fail(row, `names "${row.fileName}", which matches ${candidates.length} files (${candidates.join(', ')}). Write the path instead, e.g. "${key}".`);
    } else if (matched.has(key)) {
      fail(row, `names "${key}" again (line ${matched.get(key)?.line} already labels it); this row was not used. Keep one row per image.`);
    } else {
      matched.set(key, row);
    }
  }
  return { rows: matched, errors };
}
