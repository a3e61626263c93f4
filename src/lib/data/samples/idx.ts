import { HearthError } from '../../jobs/errors';

/**
 * The IDX file format of MNIST (http://yann.lecun.com/exdb/mnist/): a 4-byte magic
 * `0x00 0x00 <type> <ndims>`, then `ndims` big-endian uint32 sizes, then the values in
 * row-major order. Only type 0x08 (unsigned byte) is read: it is all MNIST uses.
 */

/** The bytes are not an unsigned-byte IDX file, or are cut short / padded. */
export class IdxFormatError extends HearthError {
  constructor(message: string) {
    super(message, 'IdxFormatError');
  }
}

export interface IdxArray {
  /** Sizes, outermost first (e.g. [60000, 28, 28] for MNIST training images). */
  dims: number[];
  /** The values, row-major: a view into the input bytes, not a copy. */
  data: Uint8Array;
}

const IDX_TYPE_UBYTE = 0x08;
const IDX_HEADER_BYTES = 4;
const IDX_DIM_BYTES = 4;

/**
 * Parses an IDX file. `what` names the file in error messages so the user knows which
 * download or build step to repeat.
 */
export function parseIdx(bytes: Uint8Array, what = 'IDX file'): IdxArray {
  const redo = 'Rebuild the sample datasets (npm run datasets) and reload.';
  if (bytes.length < IDX_HEADER_BYTES) {
    throw new IdxFormatError(`${what} is ${bytes.length} bytes, too short to be an IDX file. ${redo}`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    // The usual cause: gzip bytes (1f 8b) handed over without decompressing them.
    const magicHex = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new IdxFormatError(`${what} has magic ${magicHex}, not an IDX file (00 00 08 nn). ${redo}`);
  }
  if (bytes[2] !== IDX_TYPE_UBYTE) {
    throw new IdxFormatError(`${what} stores type 0x${(bytes[2] ?? 0).toString(16)}; only unsigned bytes (0x08) are supported. ${redo}`);
  }
  const ndims = bytes[3] ?? 0;
  const dataStart = IDX_HEADER_BYTES + ndims * IDX_DIM_BYTES;
  if (ndims === 0 || bytes.length < dataStart) {
    throw new IdxFormatError(`${what} declares ${ndims} dimensions but its header is cut short. ${redo}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(IDX_HEADER_BYTES + i * IDX_DIM_BYTES, false);
    dims.push(d);
    count *= d;
  }
  const dataBytes = bytes.length - dataStart;
  if (dataBytes !== count) {
    throw new IdxFormatError(
      `${what} declares ${dims.join('×')} = ${count} values but holds ${dataBytes} bytes of data. ${redo}`,
    );
  }
  return { dims, data: bytes.subarray(dataStart) };
}
