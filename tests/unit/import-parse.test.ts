import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCsv, parseLabelCsv } from '../../src/lib/data/import/csv';
import { matchCsvRow } from '../../src/lib/data/import/import-job';
import { classifyPaths, type DroppedEntry } from '../../src/lib/data/import/paths';
import { rgbaToInput } from '../../src/lib/data/import/pixels';
import { MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE_PX, sniffImage, type ImageFormat } from '../../src/lib/data/import/sniff';
import type { InputSpec, SampleMeta } from '../../src/lib/storage/records';

const FIXTURES = join(import.meta.dirname, '../fixtures/import');
const read = (rel: string): Uint8Array => new Uint8Array(readFileSync(join(FIXTURES, rel)));
const readText = (rel: string): string => readFileSync(join(FIXTURES, rel), 'utf8');

/** The error a call throws, for asserting on its name and message (names cross workers, not classes). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to throw');
}

describe('sniffImage on the good fixtures', () => {
  const good: [string, ImageFormat, number, number][] = [
    ['train/cat/001.png', 'png', 12, 10],
    ['train/cat/café-猫.png', 'png', 10, 8],
    ['train/cat/002.jpg', 'jpeg', 16, 12],
    ['train/dog/001.png', 'png', 9, 7],
    ['train/dog/002.bmp', 'bmp', 11, 5],
    ['train/dog/003.webp', 'webp', 13, 9], // lossless, VP8L chunk
    ['train/bird/001.gif', 'gif', 8, 6],
    ['train/bird/002.jpeg', 'jpeg', 7, 5], // progressive: several scans
    ['test/cat/101.webp', 'webp', 14, 10], // lossy, VP8 chunk
    ['test/cat/png-named.jpg', 'png', 5, 7], // content decides, not the extension
    ['test/dog/101.bmp', 'bmp', 6, 4], // 32-bit, top-down
    ['test/dog/102.webp', 'webp', 5, 3], // lossy with alpha, VP8X chunk
    ['test/bird/101.png', 'png', 6, 6],
    ['unlabeled.png', 'png', 8, 8],
  ];
  it.each(good)('%s is %s %ix%i', (rel, format, width, height) => {
    const header = sniffImage(read(`good/${rel}`), rel);
    expect(header).toEqual({ format, mimeType: `image/${format}`, width, height });
  });

  it('accepts bytes after the end of the image (trailers some cameras append)', () => {
    for (const rel of ['train/cat/001.png', 'train/cat/002.jpg', 'train/bird/001.gif']) {
      const bytes = read(`good/${rel}`);
      const padded = new Uint8Array(bytes.length + 100).fill(0x41);
      padded.set(bytes);
      expect(sniffImage(padded, rel).width).toBe(sniffImage(bytes, rel).width);
    }
  });
});

describe('sniffImage on the bad fixtures', () => {
  const bad: [string, string][] = [
    ['zero-byte.png', 'EmptyFileError'],
    ['truncated.png', 'CorruptImageError'],
    ['truncated.jpg', 'CorruptImageError'],
    ['truncated.gif', 'CorruptImageError'],
    ['truncated.bmp', 'CorruptImageError'],
    ['truncated.webp', 'CorruptImageError'],
    ['corrupt-header.png', 'CorruptImageError'],
    ['not-an-image.png', 'NotAnImageError'],
    ['tiff-named.png', 'NotAnImageError'],
    ['huge-20000x20000.png', 'ImageTooLargeError'],
    ['wide-20000x1.png', 'ImageTooLargeError'],
  ];
  it.each(bad)('%s throws %s naming the file', (rel, name) => {
    const err = thrown(() => sniffImage(read(`bad/${rel}`), rel));
    expect(err.name).toBe(name);
    expect(err.message).toContain(`"${rel}"`);
  });

  it('says what a non-image looks like', () => {
    expect(thrown(() => sniffImage(read('bad/not-an-image.png'), 'x.png')).message).toContain('a text file');
    expect(thrown(() => sniffImage(read('bad/tiff-named.png'), 'x.png')).message).toContain('TIFF');
  });

  it('says the file is cut short when it is', () => {
    for (const rel of ['truncated.png', 'truncated.jpg', 'truncated.gif', 'truncated.bmp', 'truncated.webp']) {
      expect(thrown(() => sniffImage(read(`bad/${rel}`), rel)).message).toContain('cut short');
    }
  });

  it('rejects every prefix of a good file, never returning a size for a cut file', () => {
    for (const rel of ['train/cat/001.png', 'train/cat/002.jpg', 'train/bird/002.jpeg', 'train/bird/001.gif', 'train/dog/002.bmp', 'test/dog/102.webp']) {
      const bytes = read(`good/${rel}`);
      for (let n = 1; n < bytes.length; n++) {
        const err = thrown(() => sniffImage(bytes.subarray(0, n), rel));
        expect(['CorruptImageError', 'NotAnImageError']).toContain(err.name);
      }
    }
  });
});

describe('sniffImage dimension reading and limits', () => {
  /** A PNG header (signature + IHDR with a correct CRC) + IEND for any claimed size. */
  function pngClaiming(width: number, height: number): Uint8Array {
    const good = read('good/train/cat/001.png');
    const bytes = new Uint8Array(good);
    const view = new DataView(bytes.buffer);
    view.setUint32(16, width);
    view.setUint32(20, height);
    let c = 0xffffffff;
    for (let i = 12; i < 29; i++) {
      c ^= bytes[i] as number;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    view.setUint32(29, (c ^ 0xffffffff) >>> 0);
    return bytes;
  }

  it('allows exactly the limits and rejects one pixel more', () => {
    expect(sniffImage(pngClaiming(MAX_IMAGE_SIDE_PX, 1), 'a.png').width).toBe(MAX_IMAGE_SIDE_PX);
    expect(thrown(() => sniffImage(pngClaiming(MAX_IMAGE_SIDE_PX + 1, 1), 'a.png')).name).toBe('ImageTooLargeError');
    expect(sniffImage(pngClaiming(8192, 8192), 'a.png').height).toBe(8192);
    expect(8192 * 8192).toBe(MAX_IMAGE_PIXELS);
    expect(thrown(() => sniffImage(pngClaiming(8192, 8193), 'a.png')).name).toBe('ImageTooLargeError');
  });

  it('reads big sizes from each format header', () => {
    // GIF: logical screen, 16-bit little-endian, at byte 6.
    const gif = read('good/train/bird/001.gif');
    new DataView(gif.buffer).setUint16(6, 300, true);
    new DataView(gif.buffer).setUint16(8, 200, true);
    expect(sniffImage(gif, 'a.gif')).toMatchObject({ width: 300, height: 200 });
    // BMP: signed 32-bit width/height; negative height means top-down rows.
    const bmp = read('good/test/dog/101.bmp');
    expect(new DataView(bmp.buffer).getInt32(22, true)).toBe(-4);
    expect(sniffImage(bmp, 'a.bmp')).toMatchObject({ width: 6, height: 4 });
    // WebP VP8X: 24-bit canvas size minus one.
    const webp = read('good/test/dog/102.webp');
    webp.set([0xff, 0x3f, 0x00], 24); // width - 1 = 16383
    expect(sniffImage(webp, 'a.webp')).toMatchObject({ width: 16384, height: 3 });
    webp.set([0x00, 0x40, 0x00], 24); // width - 1 = 16384
    expect(thrown(() => sniffImage(webp, 'a.webp')).name).toBe('ImageTooLargeError');
  });

  it('rejects a corrupted PNG header by its checksum', () => {
    const bytes = read('good/train/cat/001.png');
    bytes[17] = (bytes[17] as number) ^ 0x01;
    expect(thrown(() => sniffImage(bytes, 'a.png')).name).toBe('CorruptImageError');
  });

  it('tells a JPEG cut before its frame header from a non-image', () => {
    expect(thrown(() => sniffImage(Uint8Array.of(0xff, 0xd8, 0xff), 'a.jpg')).name).toBe('CorruptImageError');
    expect(thrown(() => sniffImage(new TextEncoder().encode('BMW service log, March 2024'), 'a.bmp')).name).toBe('NotAnImageError');
  });
});

describe('classifyPaths', () => {
  const byKey = (entries: DroppedEntry[]): Record<string, DroppedEntry> =>
    Object.fromEntries(entries.map((e) => [e.key, e]));

  it('strips the dropped folder name and reads splits and labels', () => {
    const entries = classifyPaths(['mydata/train/cat/1.png', 'mydata/val/dog/2.JPG', 'mydata/test/dog/3.webp', 'mydata/labels.csv']);
    expect(entries).toEqual([
      { kind: 'image', key: 'train/cat/1.png', fileName: '1.png', label: 'cat', split: 'train' },
      { kind: 'image', key: 'val/dog/2.JPG', fileName: '2.JPG', label: 'dog', split: 'val' },
      { kind: 'image', key: 'test/dog/3.webp', fileName: '3.webp', label: 'dog', split: 'test' },
      { kind: 'csv', key: 'labels.csv', fileName: 'labels.csv' },
    ]);
  });

  it('keeps a top folder that is a split, or when paths do not share one', () => {
    expect(classifyPaths(['train/cat/1.png', 'train/dog/2.png']).map((e) => e.key)).toEqual(['train/cat/1.png', 'train/dog/2.png']);
    expect(classifyPaths(['cat/1.png', 'dog/2.png']).map((e) => e.key)).toEqual(['cat/1.png', 'dog/2.png']);
    // Picked files with bare names: nothing to strip.
    expect(classifyPaths(['1.png'])).toEqual([{ kind: 'image', key: '1.png', fileName: '1.png', label: null, split: 'unassigned' }]);
  });

  it('reads valid/ and validation/ as val, case-insensitively', () => {
    const entries = byKey(classifyPaths(['valid/a/1.png', 'Validation/b/2.png', 'TEST/c/3.png']));
    expect(entries['valid/a/1.png']).toMatchObject({ split: 'val', label: 'a' });
    expect(entries['Validation/b/2.png']).toMatchObject({ split: 'val', label: 'b' });
    expect(entries['TEST/c/3.png']).toMatchObject({ split: 'test', label: 'c' });
  });

  it('leaves images at the root or directly in a split folder unlabeled', () => {
    const entries = byKey(classifyPaths(['d/root.png', 'd/train/loose.png', 'd/cat/1.png']));
    expect(entries['root.png']).toMatchObject({ kind: 'image', label: null, split: 'unassigned' });
    expect(entries['train/loose.png']).toMatchObject({ kind: 'image', label: null, split: 'train' });
    expect(entries['cat/1.png']).toMatchObject({ kind: 'image', label: 'cat', split: 'unassigned' });
  });

  it('uses the first folder under the split as the label for deeper nesting', () => {
    const entries = byKey(classifyPaths(['train/cat/sub/deeper/1.png', 'cat/sub/2.png']));
    expect(entries['train/cat/sub/deeper/1.png']).toMatchObject({ label: 'cat', split: 'train', fileName: '1.png' });
    expect(entries['cat/sub/2.png']).toMatchObject({ label: 'cat', split: 'unassigned' });
  });

  it('ignores hidden and system files and other extensions, with a reason', () => {
    const entries = classifyPaths([
      'd/train/cat/1.png',
      'd/.DS_Store',
      'd/train/cat/._1.png',
      'd/train/Thumbs.db',
      'd/.git/config',
      'd/__MACOSX/train/cat/1.png',
      'd/notes.txt',
      'd/README',
      'd/photo.tiff',
    ]);
    expect(entries[0]).toMatchObject({ kind: 'image', key: 'train/cat/1.png' });
    for (const e of entries.slice(1)) {
      expect(e.kind).toBe('ignored');
      expect(e.kind === 'ignored' && e.reason.length).toBeGreaterThan(10);
    }
    expect(entries.find((e) => e.key === 'notes.txt')).toMatchObject({ reason: expect.stringContaining('.txt') });
  });

  it('strips the root even when system files sit beside the dropped folder', () => {
    expect(classifyPaths(['.DS_Store', 'd/cat/1.png', 'd/dog/2.png']).map((e) => e.key)).toEqual(['.DS_Store', 'cat/1.png', 'dog/2.png']);
  });

  it('NFC-normalises keys, names and labels, and accepts Windows separators', () => {
    const nfd = 'd/train/cafe\u0301/cafe\u0301-猫.png';
    const [entry] = classifyPaths([nfd.replaceAll('/', '\\')]);
    expect(entry).toEqual({ kind: 'image', key: 'train/caf\u00e9/caf\u00e9-猫.png', fileName: 'caf\u00e9-猫.png', label: 'caf\u00e9', split: 'train' });
  });

  it('ignores a second spelling of the same path instead of duplicating its key', () => {
    const entries = classifyPaths(['d/cafe\u0301.png', 'd/caf\u00e9.png']);
    expect(entries.map((e) => e.kind)).toEqual(['image', 'ignored']);
  });

  it('classifies the good fixture folder as dropped', () => {
    const paths = [
      'good/.DS_Store',
      'good/labels.csv',
      'good/unlabeled.png',
      'good/train/Thumbs.db',
      'good/train/cat/001.png',
      'good/train/dog/001.png',
      'good/train/cat/café-猫.png',
      'good/test/dog/101.bmp',
    ];
    const entries = byKey(classifyPaths(paths));
    expect(entries['train/cat/001.png']).toMatchObject({ kind: 'image', fileName: '001.png', label: 'cat', split: 'train' });
    expect(entries['train/dog/001.png']).toMatchObject({ kind: 'image', fileName: '001.png', label: 'dog', split: 'train' });
    expect(entries['unlabeled.png']).toMatchObject({ kind: 'image', label: null, split: 'unassigned' });
    expect(entries['labels.csv']).toMatchObject({ kind: 'csv' });
    expect(entries['.DS_Store']?.kind).toBe('ignored');
    expect(entries['train/Thumbs.db']?.kind).toBe('ignored');
    expect(entries['test/dog/101.bmp']).toMatchObject({ label: 'dog', split: 'test' });
  });
});

describe('parseCsv', () => {
  it('strips a BOM and reads quoted commas, escaped quotes and CRLF', () => {
    expect(parseCsv('\uFEFFa,b\r\n"x, y","say ""hi"""\r\n')).toEqual([
      ['a', 'b'],
      ['x, y', 'say "hi"'],
    ]);
  });

  it('keeps newlines inside quoted cells', () => {
    expect(parseCsv('a,b\n"line 1\r\nline 2",c\n')).toEqual([
      ['a', 'b'],
      ['line 1\r\nline 2', 'c'],
    ]);
  });

  it('ignores the trailing empty line but keeps empty cells', () => {
    expect(parseCsv('a,,c\n,\n')).toEqual([
      ['a', '', 'c'],
      ['', ''],
    ]);
    expect(parseCsv('a\nb')).toEqual([['a'], ['b']]);
    expect(parseCsv('')).toEqual([]);
    expect(parseCsv('""\nx\n')).toEqual([[''], ['x']]);
  });

  it('throws CsvSyntaxError with the line of an unterminated quote', () => {
    const err = thrown(() => parseCsv('a,b\n"multi\nline",ok\nc,"never closed\nd,e\n'));
    expect(err.name).toBe('CsvSyntaxError');
    expect((err as Error & { line: number }).line).toBe(4);
    expect(err.message).toContain('Line 4');
  });
});

describe('parseLabelCsv', () => {
  it('reads the good labels.csv (BOM, CRLF, quotes, relative paths, empty cells)', () => {
    const csv = parseLabelCsv(readText('good/labels.csv'), 'labels.csv');
    expect(csv.errors).toEqual([]);
    expect(csv.attributes).toEqual(['color', 'size']);
    expect(csv.rows).toEqual([
      { line: 2, fileName: 'train/cat/001.png', label: 'cat', attributes: { color: 'orange, striped', size: 'small' } },
      { line: 3, fileName: 'train/dog/001.png', label: 'dog', attributes: { color: 'brown', size: 'large' } },
      { line: 4, fileName: 'café-猫.png', label: 'cat', attributes: { color: 'white "snowy"', size: 'small' } },
      { line: 5, fileName: '002.jpg', label: 'cat', attributes: { color: 'black', size: 'medium' } },
      { line: 6, fileName: 'train/dog/002.bmp', label: 'dog', attributes: { size: 'large' } },
      { line: 7, fileName: 'unlabeled.png', label: null, attributes: { color: 'gray', size: 'small' } },
      { line: 8, fileName: '001.gif', label: 'bird', attributes: { color: 'red', size: 'small' } },
    ]);
  });

  it('accepts other filename headers, any case and spacing, and NFC-normalises names', () => {
    const csv = parseLabelCsv(' Image , LABEL ,Group\n./sub\\cafe\u0301.png, dog ,a\n', 'l.csv');
    expect(csv.errors).toEqual([]);
    expect(csv.attributes).toEqual(['Group']);
    expect(csv.rows).toEqual([{ line: 2, fileName: 'sub/caf\u00e9.png', label: 'dog', attributes: { Group: 'a' } }]);
  });

  it('reports too few and too many columns per row and keeps the good rows', () => {
    const csv = parseLabelCsv(readText('bad/bad-columns.csv'), 'bad-columns.csv');
    expect(csv.rows.map((r) => r.fileName)).toEqual(['a.png', 'e.png']);
    expect(csv.errors.map((e) => e.key)).toEqual(['bad-columns.csv:3', 'bad-columns.csv:4', 'bad-columns.csv:5']);
    expect(csv.errors.every((e) => e.name === 'CsvRowError')).toBe(true);
    expect(csv.errors[0]?.message).toContain('color missing');
    expect(csv.errors[1]?.message).toContain('header has 3');
    expect(csv.errors[2]?.message).toContain('label, color missing');
  });

  it('keeps the first of two rows for one file and reports the second', () => {
    const csv = parseLabelCsv(readText('bad/duplicate-rows.csv'), 'duplicate-rows.csv');
    expect(csv.rows.map((r) => [r.fileName, r.label])).toEqual([
      ['a.png', 'cat'],
      ['b.png', 'dog'],
    ]);
    expect(csv.errors).toHaveLength(1);
    expect(csv.errors[0]).toMatchObject({ key: 'duplicate-rows.csv:4', name: 'CsvRowError' });
    expect(csv.errors[0]?.message).toContain('line 2');
  });

  it('reports empty filename cells', () => {
    const csv = parseLabelCsv(readText('bad/empty-filename.csv'), 'e.csv');
    expect(csv.rows.map((r) => r.fileName)).toEqual(['a.png']);
    expect(csv.errors.map((e) => e.key)).toEqual(['e.csv:3', 'e.csv:4']);
    expect(csv.errors[0]?.message).toContain('empty filename');
  });

  it('reports a header without filename/label as one error for the file', () => {
    const csv = parseLabelCsv(readText('bad/bad-header.csv'), 'bad-header.csv');
    expect(csv.rows).toEqual([]);
    expect(csv.errors).toEqual([{ key: 'bad-header.csv', name: 'CsvHeaderError', message: expect.stringContaining('filename,label') }]);
    expect(parseLabelCsv('filename,color\na.png,red\n', 'x.csv').errors[0]?.message).toContain('no label column');
    expect(parseLabelCsv('', 'x.csv').errors[0]).toMatchObject({ key: 'x.csv', name: 'CsvHeaderError' });
  });

  it('keeps rows before an unterminated quote and reports it at its line', () => {
    const csv = parseLabelCsv(readText('bad/unterminated-quote.csv'), 'u.csv');
    expect(csv.rows.map((r) => r.fileName)).toEqual(['a.png']);
    expect(csv.errors).toEqual([{ key: 'u.csv:3', name: 'CsvSyntaxError', message: expect.stringContaining('never closed') }]);
  });

  it('parses rows that name missing files (matching against the drop is the import job’s)', () => {
    const csv = parseLabelCsv(readText('bad/missing-files.csv'), 'm.csv');
    expect(csv.errors).toEqual([]);
    expect(csv.rows.map((r) => [r.fileName, r.label])).toEqual([
      ['ghost-1.png', 'cat'],
      ['train/dog/ghost-2.png', 'dog'],
      ['ghost-3.jpg', null],
    ]);
  });

  it('skips blank lines but counts them in line numbers', () => {
    const csv = parseLabelCsv('filename,label\n\na.png,cat\n,\nb.png\n', 'b.csv');
    expect(csv.rows).toEqual([{ line: 3, fileName: 'a.png', label: 'cat', attributes: {} }]);
    expect(csv.errors.map((e) => e.key)).toEqual(['b.csv:5']);
  });
});

describe('rgbaToInput', () => {
  const spec = (width: number, height: number, channels: 1 | 3): InputSpec => ({ width, height, channels, resize: 'stretch' });
  /** Opaque RGBA from one gray value per pixel. */
  const grayRgba = (values: number[]): Uint8Array => Uint8Array.from(values.flatMap((v) => [v, v, v, 255]));

  it('area-averages 4x4 → 2x2 exactly', () => {
    // Each output pixel is the mean of one 2x2 block: (0+10+40+50)/4 = 25, …
    const src = grayRgba([0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150]);
    expect(Array.from(rgbaToInput(src, 4, 4, spec(2, 2, 1)))).toEqual([25, 45, 105, 125]);
    expect(Array.from(rgbaToInput(src, 4, 4, spec(2, 2, 3)))).toEqual([25, 25, 25, 45, 45, 45, 105, 105, 105, 125, 125, 125]);
  });

  it('area-averages a fractional scale by coverage (5x1 → 2x1)', () => {
    // Output 0 covers source [0, 2.5): (10 + 20 + 0.5 * 30) / 2.5 = 18; output 1: (0.5*30 + 40 + 50) / 2.5 = 42.
    expect(Array.from(rgbaToInput(grayRgba([10, 20, 30, 40, 50]), 5, 1, spec(2, 1, 1)))).toEqual([18, 42]);
  });

  it('grays with OpenCV weights 0.299 R + 0.587 G + 0.114 B, rounded', () => {
    const src = Uint8Array.from([255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255, 100, 150, 200, 255]);
    // 76.245 → 76, 149.685 → 150, 29.07 → 29, 29.9 + 88.05 + 22.8 = 140.75 → 141
    expect(Array.from(rgbaToInput(src, 4, 1, spec(4, 1, 1)))).toEqual([76, 150, 29, 141]);
  });

  it('composites alpha over black', () => {
    const src = Uint8Array.from([200, 100, 50, 128, 255, 255, 255, 0, 10, 20, 30, 255]);
    // 200 * 128 / 255 = 100.39 → 100, 50.2 → 50, 25.1 → 25; alpha 0 → black; opaque unchanged.
    expect(Array.from(rgbaToInput(src, 3, 1, spec(3, 1, 3)))).toEqual([100, 50, 25, 0, 0, 0, 10, 20, 30]);
    // Averaging happens after compositing: a transparent white pixel counts as black.
    expect(Array.from(rgbaToInput(Uint8Array.from([255, 255, 255, 0, 255, 255, 255, 255]), 2, 1, spec(1, 1, 1)))).toEqual([128]);
  });

  it('upscales 2x2 → 4x4 bilinearly with half-pixel centres (OpenCV INTER_LINEAR, exact here)', () => {
    // Source coords of outputs 0..3: -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
    // E.g. output (1,1) = 0.75*0.75*0 + 0.75*0.25*100 + 0.25*0.75*200 + 0.25*0.25*40 = 58.75 → 59.
    // Expected values from cv2.resize(np.array([[0,100],[200,40]], np.uint8), (4,4), interpolation=INTER_LINEAR).
    const out = rgbaToInput(grayRgba([0, 100, 200, 40]), 2, 2, spec(4, 4, 1));
    expect(Array.from(out)).toEqual([0, 25, 75, 100, 50, 59, 76, 85, 150, 126, 79, 55, 200, 160, 80, 40]);
  });

  it('handles one axis shrinking while the other grows', () => {
    // 4x1 → 2x2: x area-averages pairs, y replicates the single row.
    expect(Array.from(rgbaToInput(grayRgba([0, 10, 100, 200]), 4, 1, spec(2, 2, 1)))).toEqual([5, 150, 5, 150]);
    // 1x4 → 2x2: the transpose, taking the other (vertical-first) code path.
    expect(Array.from(rgbaToInput(grayRgba([0, 10, 100, 200]), 1, 4, spec(2, 2, 1)))).toEqual([5, 5, 150, 150]);
  });

  it('returns the identity at the same size', () => {
    const src = Uint8Array.from({ length: 6 * 5 * 4 }, (_, i) => (i % 4 === 3 ? 255 : (i * 37) % 256));
    const expected = Array.from(src).filter((_, i) => i % 4 !== 3);
    expect(Array.from(rgbaToInput(src, 6, 5, spec(6, 5, 3)))).toEqual(expected);
  });

  interface GoldenCase {
    name: string;
    input: InputSpec;
    expectedHwc: number[];
  }
  const golden = JSON.parse(readText('resize-golden.json')) as {
    source: { width: number; height: number; rgba: number[] };
    cases: GoldenCase[];
  };
  // OpenCV rounds after each uint8 step with fixed-point weights; Hearth rounds once: tolerance 1.
  const GOLDEN_TOLERANCE = 1;
  it.each(golden.cases.map((c) => [c.name, c] as const))('matches OpenCV within 1: %s', (_name, c) => {
    const out = rgbaToInput(Uint8Array.from(golden.source.rgba), golden.source.width, golden.source.height, c.input);
    expect(out).toHaveLength(c.expectedHwc.length);
    const worst = Math.max(...Array.from(out, (v, i) => Math.abs(v - (c.expectedHwc[i] as number))));
    expect(worst).toBeLessThanOrEqual(GOLDEN_TOLERANCE);
  });

  it('rejects mismatched buffer sizes and invalid specs by name', () => {
    expect(thrown(() => rgbaToInput(new Uint8Array(15), 2, 2, spec(1, 1, 1))).name).toBe('InvalidInputError');
    expect(thrown(() => rgbaToInput(new Uint8Array(16), 2, 2, spec(0, 1, 1))).name).toBe('InvalidInputError');
  });
});

describe('matchCsvRow', () => {
  const metas = (keys: string[]): SampleMeta[] =>
    keys.map((key, i) => ({
      projectId: 'p',
      number: i + 1,
      key,
      fileName: key.slice(key.lastIndexOf('/') + 1),
      label: null,
      split: 'unassigned',
      attributes: {},
      provenance: { kind: 'real' },
      createdAt: 0,
    }));
  const goodSamples = metas([
    'train/cat/001.png',
    'train/cat/002.jpg',
    'train/cat/café-猫.png',
    'train/dog/001.png',
    'train/dog/002.bmp',
    'train/bird/001.gif',
    'unlabeled.png',
  ]);
  const byKey = new Map(goodSamples.map((m) => [m.key, m]));
  const byFileName = new Map<string, SampleMeta[]>();
  for (const m of goodSamples) byFileName.set(m.fileName, [...(byFileName.get(m.fileName) ?? []), m]);
  /** Each parsed row of the CSV with its match: the sample it names, or the error saying why none. */
  const matchAll = (text: string, csvKey: string) =>
    parseLabelCsv(text, csvKey).rows.map((row) => ({ row, match: matchCsvRow(csvKey, row, byKey, byFileName) }));
  const keyOf = (m: ReturnType<typeof matchCsvRow>): string | undefined => ('sample' in m ? m.sample.key : undefined);

  it('matches every row of the good labels.csv to one sample', () => {
    const matched = matchAll(readText('good/labels.csv'), 'labels.csv');
    expect(matched.flatMap(({ match }) => ('error' in match ? [match.error] : []))).toEqual([]);
    expect(matched.map(({ match }) => keyOf(match)).sort()).toEqual(goodSamples.map((m) => m.key).sort());
    const black = matched.find(({ match }) => keyOf(match) === 'train/cat/002.jpg');
    expect(black?.row.attributes).toEqual({ color: 'black', size: 'medium' });
  });

  it('reports rows naming files that are not in the project', () => {
    const matches = matchAll(readText('bad/missing-files.csv'), 'missing-files.csv').map(({ match }) => match);
    expect(matches).toMatchObject([
      { error: { key: 'missing-files.csv:2', name: 'CsvRowError' } },
      { error: { key: 'missing-files.csv:3', name: 'CsvRowError' } },
      { error: { key: 'missing-files.csv:4', name: 'CsvRowError' } },
    ]);
    expect(matches[1]).toMatchObject({
      error: { message: expect.stringContaining('"train/dog/ghost-2.png" names a file that is not in this project') },
    });
  });

  it('refuses a bare name shared by two samples', () => {
    const [shared, unique] = matchAll('filename,label\n001.png,cat\n002.bmp,dog\n', 'l.csv').map(({ match }) => match);
    expect(shared).toMatchObject({
      error: { key: 'l.csv:2', name: 'CsvRowError', message: expect.stringContaining('matches 2 files') },
    });
    expect(unique).toMatchObject({ sample: { key: 'train/dog/002.bmp' } });
  });

  it('reads paths in a CSV inside a subfolder relative to that folder', () => {
    const matched = matchAll('filename,label\ncat/001.png,cat\n', 'train/labels.csv');
    expect(matched.map(({ match }) => keyOf(match))).toEqual(['train/cat/001.png']);
  });
});
