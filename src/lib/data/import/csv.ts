/**
 * CSV (RFC 4180) and the label CSV that rides along with an ImageFolder drop. Label
 * files come from spreadsheets and scripts alike, so the reader accepts what both write
 * (BOM, CRLF, quoted cells with commas and newlines) and turns each unusable row into a
 * per-row error instead of failing the whole import.
 */
import type { ImportFileError } from '../../storage/records';
import { CsvHeaderError, CsvRowError, CsvSyntaxError } from './errors';

interface CsvRecord {
  /** 1-based line of the text on which the record starts. */
  line: number;
  cells: string[];
}

const QUOTE = '"';
const COMMA = ',';
const BYTE_ORDER_MARK = '\uFEFF';

/**
 * Records up to the first syntax error, and that error (null when there is none), so a
 * label CSV can still use the rows before a stray quote.
 */
function readRecords(text: string): { records: CsvRecord[]; error: CsvSyntaxError | null } {
  const src = text.startsWith(BYTE_ORDER_MARK) ? text.slice(1) : text;
  const records: CsvRecord[] = [];
  let cells: string[] = [];
  let cell = '';
  let line = 1;
  let recordLine = 1;
  let i = 0;
  const n = src.length;
  const endRecord = (): void => {
    cells.push(cell);
    records.push({ line: recordLine, cells });
    cells = [];
    cell = '';
  };
  while (i < n) {
    const ch = src[i] as string;
    if (ch === QUOTE && cell === '') {
      // A quoted cell: runs to the next lone quote; "" is a literal quote.
      const openLine = line;
      i++;
      for (;;) {
        if (i >= n) {
          return {
            records,
            error: new CsvSyntaxError(
              `Line ${openLine}: a quoted cell is never closed. Add the missing " (or write "" for a quote inside a cell) and import again.`,
              openLine,
            ),
          };
        }
        const c = src[i] as string;
        if (c === QUOTE) {
          if (src[i + 1] === QUOTE) {
            cell += QUOTE;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (c === '\n' || (c === '\r' && src[i + 1] !== '\n')) line++;
        cell += c;
        i++;
      }
      // Text between the closing quote and the next comma (`"a"b`) is kept as written, as
      // spreadsheets do, rather than rejecting the file over it.
      continue;
    }
    if (ch === COMMA) {
      cells.push(cell);
      cell = '';
      i++;
    } else if (ch === '\r' || ch === '\n') {
      endRecord();
      i += ch === '\r' && src[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
    } else {
      cell += ch;
      i++;
    }
  }
  // A last record without a final line break still counts.
  if (cell !== '' || cells.length > 0) endRecord();
  // Trailing blank lines are what editors leave at the end of a file, not records.
  while (records.length > 0 && isBlankCells(records[records.length - 1]?.cells ?? [])) records.pop();
  return { records, error: null };
}

function isBlankCells(cells: string[]): boolean {
  return cells.length === 1 && cells[0] === '';
}

/** RFC 4180 records as arrays of cells (not trimmed). Throws CsvSyntaxError on an unterminated quote. */
export function parseCsv(text: string): string[][] {
  const { records, error } = readRecords(text);
  if (error !== null) throw error;
  return records.map((r) => r.cells);
}

export interface LabelRow {
  line: number;
  fileName: string;
  label: string | null;
  attributes: Record<string, string>;
}

export interface LabelCsv {
  attributes: string[];
  rows: LabelRow[];
  errors: ImportFileError[];
}

const FILENAME_HEADERS = ['filename', 'file', 'path', 'image'];
const LABEL_HEADERS = ['label', 'class'];
const EXPECTED_HEADER = 'filename,label,<attribute columns>…';

/**
 * A label CSV: `filename,label,<attribute columns>…`. Never throws: problems become
 * `errors` (`key` = csvKey for the whole file, `${csvKey}:${line}` for a row) and the
 * good rows are kept. Cells are trimmed; the filename is NFC-normalised with `/`
 * separators (it may be a bare name or a relative path); an empty label is null; an
 * empty attribute cell is left out of `attributes` (the value is missing).
 */
export function parseLabelCsv(text: string, csvKey: string): LabelCsv {
  const { records, error } = readRecords(text);
  const errors: ImportFileError[] = [];
  const fail = (key: string, err: CsvRowError | CsvHeaderError | CsvSyntaxError): void => {
    errors.push({ key, name: err.name, message: err.message });
  };
  const nonBlank = records.filter((r) => r.cells.some((c) => c.trim() !== ''));
  const header = nonBlank[0];
  const result: LabelCsv = { attributes: [], rows: [], errors };
  if (header === undefined) {
    if (error !== null) fail(`${csvKey}:${error.line}`, withFile(csvKey, error));
    else fail(csvKey, new CsvHeaderError(`${csvKey} is empty. Give it a header row "${EXPECTED_HEADER}" and one row per image.`));
    return result;
  }
  const names = header.cells.map((c) => c.trim());
  const lower = names.map((c) => c.toLowerCase());
  const fileCol = lower.findIndex((c) => FILENAME_HEADERS.includes(c));
  const labelCol = lower.findIndex((c) => LABEL_HEADERS.includes(c));
  if (fileCol < 0 || labelCol < 0) {
    const missing = [fileCol < 0 ? 'filename' : null, labelCol < 0 ? 'label' : null].filter((m) => m !== null).join(' and ');
    fail(
      csvKey,
      new CsvHeaderError(
        `${csvKey} has no ${missing} column: its first row is "${names.join(',')}". ` +
          `Make the first row "${EXPECTED_HEADER}" and import again.`,
      ),
    );
    return result;
  }
  // Attribute columns: every other named column, first one wins if a name repeats.
  const attributeCols: { col: number; name: string }[] = [];
  names.forEach((name, col) => {
    if (col === fileCol || col === labelCol || name === '') return;
    if (attributeCols.some((a) => a.name === name)) {
      fail(csvKey, new CsvHeaderError(`${csvKey}: the column "${name}" appears twice in the header; only the first is used. Rename one and import again.`));
      return;
    }
    attributeCols.push({ col, name });
  });
  result.attributes = attributeCols.map((a) => a.name);

  const firstLineOf = new Map<string, number>();
  for (const { line, cells } of nonBlank.slice(1)) {
    const key = `${csvKey}:${line}`;
    const where = `${csvKey} line ${line}`;
    if (cells.length < names.length) {
      const missing = names.slice(cells.length).map((n, k) => (n === '' ? `column ${cells.length + k + 1}` : n));
      fail(key, new CsvRowError(`${where} has ${cells.length} of ${names.length} columns: ${missing.join(', ')} missing. Fill them in (empty cells are fine) and import again.`));
      continue;
    }
    if (cells.length > names.length) {
      fail(key, new CsvRowError(`${where} has ${cells.length} columns but the header has ${names.length}. Quote cells that contain commas ("a, b") and import again.`));
      continue;
    }
    const fileName = normalizePath(cells[fileCol] ?? '');
    if (fileName === '') {
      fail(key, new CsvRowError(`${where} has an empty ${names[fileCol]} cell. Name the image it labels, or delete the row.`));
      continue;
    }
    const earlier = firstLineOf.get(fileName);
    if (earlier !== undefined) {
      fail(key, new CsvRowError(`${where} names "${fileName}" again (first on line ${earlier}); this row was not used. Keep one row per image.`));
      continue;
    }
    firstLineOf.set(fileName, line);
    const labelCell = (cells[labelCol] ?? '').trim();
    const attributes: Record<string, string> = {};
    for (const { col, name } of attributeCols) {
      const value = (cells[col] ?? '').trim();
      if (value !== '') attributes[name] = value;
    }
    result.rows.push({ line, fileName, label: labelCell === '' ? null : labelCell, attributes });
  }
  if (error !== null) fail(`${csvKey}:${error.line}`, withFile(csvKey, error));
  return result;
}

function withFile(csvKey: string, error: CsvSyntaxError): CsvSyntaxError {
  return new CsvSyntaxError(`${csvKey}: ${error.message} Rows from this line on were not read.`, error.line);
}

/** Trimmed, NFC, `/`-separated, without a leading `./` or `/`: the form paths.ts gives keys. */
function normalizePath(cell: string): string {
  return cell
    .trim()
    .normalize('NFC')
    .split(/[\\/]/)
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}
