/**
 * Named errors for one dropped file that cannot be imported. They cross the worker
 * boundary by `name` only (comlink keeps `{name, message, stack}`), so each message
 * names the file and says what the user can do about it: it is shown as is.
 */
import { HearthError } from '../../jobs/errors';

/** The file has no bytes at all (a failed copy or a placeholder from a cloud drive). */
export class EmptyFileError extends HearthError {
  constructor(fileName: string) {
    super(
      `"${fileName}" is empty (0 bytes). Copy the file again from where it came from ` +
        '(a cloud folder may not have downloaded it yet), then import it again.',
      'EmptyFileError',
    );
  }
}

/** The bytes are not PNG, JPEG, GIF, BMP or WebP, whatever the file's extension says. */
export class NotAnImageError extends HearthError {
  constructor(fileName: string, seemsToBe: string | null) {
    const what = seemsToBe === null ? 'is not an image Hearth can read' : `looks like ${seemsToBe}, not an image Hearth can read`;
    super(
      `"${fileName}" ${what}. Hearth imports PNG, JPEG, GIF, BMP and WebP: ` +
        'convert the file to PNG or JPEG, or remove it from the folder.',
      'NotAnImageError',
    );
  }
}

/** The file starts like an image but its header is invalid or the file is cut short. */
export class CorruptImageError extends HearthError {
  constructor(fileName: string, problem: string) {
    super(
      `"${fileName}" is damaged: ${problem}. Open it in an image viewer to check, ` +
        're-export or copy it again, then import it again.',
      'CorruptImageError',
    );
  }
}

/** The header claims more pixels than a browser tab can decode safely. */
export class ImageTooLargeError extends HearthError {
  constructor(fileName: string, width: number, height: number, maxSidePx: number, maxPixels: number) {
    const RGBA_BYTES_PER_PIXEL = 4;
    const bytes = width * height * RGBA_BYTES_PER_PIXEL;
    const memory = bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.ceil(bytes / 1e6)} MB`;
    super(
      `"${fileName}" is ${width}x${height} pixels (decoding it would take ${memory} of memory); Hearth decodes images ` +
        `up to ${maxSidePx} pixels a side and ${(maxPixels / 1e6).toFixed(1)} megapixels in all. ` +
        'Shrink it in an image editor, then import it again.',
      'ImageTooLargeError',
    );
  }
}

/** The CSV text cannot be split into rows (an opening quote is never closed). */
export class CsvSyntaxError extends HearthError {
  /** 1-based line of the text where the problem starts. */
  readonly line: number;
  constructor(message: string, line: number) {
    super(message, 'CsvSyntaxError');
    this.line = line;
  }
}

/** A label CSV's header row lacks the filename or label column. */
export class CsvHeaderError extends HearthError {
  constructor(message: string) {
    super(message, 'CsvHeaderError');
  }
}

/** One row of a label CSV cannot be used (wrong column count, empty or repeated filename). */
export class CsvRowError extends HearthError {
  constructor(message: string) {
    super(message, 'CsvRowError');
  }
}
