/**
 * Image format and size from the bytes alone, before anything is decoded. The browser
 * decoder would otherwise be the first to see a broken or gigantic file: a truncated
 * JPEG decodes to a half-grey picture without complaint, and a 20000x20000 PNG that is
 * 50 KB on disk asks for 1.6 GB of RGBA and takes the tab down. Reading the header and
 * walking the container structure (chunk lengths, markers, sub-blocks; never the pixel
 * data itself) catches both, and gives each file a named error that says what to do.
 */
import { CorruptImageError, EmptyFileError, ImageTooLargeError, NotAnImageError } from './errors';

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'bmp' | 'webp';

export interface ImageHeader {
  format: ImageFormat;
  mimeType: string;
  width: number;
  height: number;
}

/** Longest side accepted; also the largest canvas side browsers reliably support. */
export const MAX_IMAGE_SIDE_PX = 16384;
/** Most pixels accepted: 64 Mpx is 256 MB of RGBA, already a lot for one decode in a worker. */
export const MAX_IMAGE_PIXELS = 64 * 1024 * 1024;

const MIME_TYPES: Record<ImageFormat, string> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  bmp: 'image/bmp',
  webp: 'image/webp',
};

/** Reads format and size from the magic bytes and header alone (never decodes pixels). */
export function sniffImage(bytes: Uint8Array, fileName: string): ImageHeader {
  if (bytes.length === 0) throw new EmptyFileError(fileName);
  const r = new ByteReader(bytes, fileName);
  let size: { width: number; height: number };
  let format: ImageFormat;
  if (startsWith(bytes, PNG_SIGNATURE)) {
    format = 'png';
    size = readPng(r);
  } else if (startsWith(bytes, [0xff, 0xd8, 0xff])) {
    format = 'jpeg';
    size = readJpeg(r);
  } else if (startsWith(bytes, ascii('GIF87a')) || startsWith(bytes, ascii('GIF89a'))) {
    format = 'gif';
    size = readGif(r);
  } else if (startsWith(bytes, ascii('RIFF')) && bytes.length >= 12 && startsWith(bytes.subarray(8), ascii('WEBP'))) {
    format = 'webp';
    size = readWebp(r);
  } else if (looksLikeBmp(bytes)) {
    format = 'bmp';
    size = readBmp(r);
  } else {
    throw new NotAnImageError(fileName, guessOtherFormat(bytes));
  }
  const { width, height } = size;
  if (width > MAX_IMAGE_SIDE_PX || height > MAX_IMAGE_SIDE_PX || width * height > MAX_IMAGE_PIXELS) {
    throw new ImageTooLargeError(fileName, width, height, MAX_IMAGE_SIDE_PX, MAX_IMAGE_PIXELS);
  }
  return { format, mimeType: MIME_TYPES[format], width, height };
}

/** Bounds-checked little/big-endian reads; running off the end means the file is cut short. */
class ByteReader {
  constructor(
    readonly bytes: Uint8Array,
    readonly fileName: string,
  ) {}

  get length(): number {
    return this.bytes.length;
  }

  corrupt(problem: string): CorruptImageError {
    return new CorruptImageError(this.fileName, problem);
  }

  need(offset: number, count: number, what: string): void {
    if (offset < 0 || offset + count > this.bytes.length) {
      throw this.corrupt(`the file ends inside its ${what} (it looks cut short)`);
    }
  }

  u8(offset: number, what: string): number {
    this.need(offset, 1, what);
    return this.bytes[offset] as number;
  }

  u16be(offset: number, what: string): number {
    this.need(offset, 2, what);
    return ((this.bytes[offset] as number) << 8) | (this.bytes[offset + 1] as number);
  }

  u16le(offset: number, what: string): number {
    this.need(offset, 2, what);
    return (this.bytes[offset] as number) | ((this.bytes[offset + 1] as number) << 8);
  }

  u24le(offset: number, what: string): number {
    this.need(offset, 3, what);
    return this.u16le(offset, what) | ((this.bytes[offset + 2] as number) << 16);
  }

  u32be(offset: number, what: string): number {
    this.need(offset, 4, what);
    return this.u16be(offset, what) * 0x10000 + this.u16be(offset + 2, what);
  }

  u32le(offset: number, what: string): number {
    this.need(offset, 4, what);
    return this.u16le(offset, what) + this.u16le(offset + 2, what) * 0x10000;
  }

  i32le(offset: number, what: string): number {
    const v = this.u32le(offset, what);
    return v >= 0x80000000 ? v - 0x100000000 : v;
  }
}

// ---------------------------------------------------------------------------- PNG

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Bit depths allowed per PNG colour type (PNG spec, table 11.1). */
const PNG_BIT_DEPTHS: Record<number, readonly number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

function readPng(r: ByteReader): { width: number; height: number } {
  const ihdrLength = r.u32be(8, 'PNG header');
  if (ihdrLength !== 13 || !matchesAscii(r.bytes, 12, 'IHDR')) {
    throw r.corrupt('the PNG header chunk (IHDR) is missing or invalid');
  }
  r.need(8, 25, 'PNG header');
  const width = r.u32be(16, 'PNG header');
  const height = r.u32be(20, 'PNG header');
  const bitDepth = r.u8(24, 'PNG header');
  const colorType = r.u8(25, 'PNG header');
  if (crc32(r.bytes, 12, 29) !== r.u32be(29, 'PNG header')) {
    throw r.corrupt('the PNG header chunk fails its checksum');
  }
  if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) {
    throw r.corrupt(`the PNG header gives an impossible size ${width}x${height}`);
  }
  if (!(PNG_BIT_DEPTHS[colorType] ?? []).includes(bitDepth)) {
    throw r.corrupt(`the PNG header gives an invalid colour type ${colorType} / bit depth ${bitDepth}`);
  }
  // Walk chunk lengths to IEND: a cut-off PNG has a last chunk running past the end or
  // no IEND, and bytes after IEND (some tools append metadata) are harmless.
  let offset = 8;
  for (;;) {
    if (offset === r.length) throw r.corrupt('the PNG ends before its IEND chunk (it looks cut short)');
    const length = r.u32be(offset, 'PNG chunk list');
    if (length > 0x7fffffff) throw r.corrupt('a PNG chunk has an impossible length');
    r.need(offset, 12 + length, 'PNG chunk list');
    if (matchesAscii(r.bytes, offset + 4, 'IEND')) break;
    offset += 12 + length;
  }
  return { width, height };
}

let crcTable: Uint32Array | null = null;

/** CRC-32 as PNG uses it (ISO 3309), over bytes[start, end). */
function crc32(bytes: Uint8Array, start: number, end: number): number {
  if (crcTable === null) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = (crcTable[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// --------------------------------------------------------------------------- JPEG

/** Start-of-frame markers that carry the image size (all SOFn except DHT C4, JPG C8, DAC CC). */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** Markers without a length field: TEM and the restart markers RST0..7. */
function isStandaloneMarker(marker: number): boolean {
  return marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7);
}

function readJpeg(r: ByteReader): { width: number; height: number } {
  let size: { width: number; height: number } | null = null;
  let offset = 2;
  // Walk the markers to EOI. Inside entropy-coded data a 0xFF byte is always followed by
  // 0x00 (a stuffed byte) or a restart marker, so the first other marker ends the scan;
  // progressive JPEGs have several scans with tables between them. Walking to the real
  // EOI (rather than looking at the last bytes) accepts phones' trailers after EOI.
  for (;;) {
    if (offset >= r.length) throw r.corrupt('the JPEG ends before its end-of-image marker (it looks cut short)');
    if (r.u8(offset, 'JPEG marker') !== 0xff) throw r.corrupt(`a JPEG marker is missing at byte ${offset}`);
    let marker = r.u8(offset + 1, 'JPEG marker');
    // Any number of 0xFF fill bytes may precede a marker.
    while (marker === 0xff) {
      offset++;
      marker = r.u8(offset + 1, 'JPEG marker');
    }
    offset += 2;
    if (marker === 0xd9) break;
    if (isStandaloneMarker(marker)) continue;
    if (marker === 0xd8 || marker === 0x00) throw r.corrupt(`an unexpected JPEG marker 0xFF${hex(marker)} at byte ${offset - 2}`);
    const length = r.u16be(offset, 'JPEG segment');
    if (length < 2) throw r.corrupt('a JPEG segment has an impossible length');
    r.need(offset, length, 'JPEG segment');
    if (isStartOfFrame(marker) && size === null) {
      const height = r.u16be(offset + 3, 'JPEG frame header');
      const width = r.u16be(offset + 5, 'JPEG frame header');
      // Height 0 means "given later by a DNL marker", which browsers do not support.
      if (width === 0 || height === 0) throw r.corrupt(`the JPEG frame header gives a size of ${width}x${height}`);
      size = { width, height };
    }
    offset += length;
    if (marker === 0xda) {
      if (size === null) throw r.corrupt('the JPEG image data starts before its frame header');
      offset = skipEntropyCodedData(r.bytes, offset);
    }
  }
  if (size === null) throw r.corrupt('the JPEG has no frame header, so its size is unknown');
  return size;
}

/** Index of the first marker after entropy-coded data starting at `offset` (or the length). */
function skipEntropyCodedData(bytes: Uint8Array, offset: number): number {
  let i = offset;
  for (;;) {
    const ff = bytes.indexOf(0xff, i);
    if (ff < 0 || ff + 1 >= bytes.length) return bytes.length;
    const next = bytes[ff + 1] as number;
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) {
      i = ff + 2;
      continue;
    }
    return ff;
  }
}

// ---------------------------------------------------------------------------- GIF

function readGif(r: ByteReader): { width: number; height: number } {
  const width = r.u16le(6, 'GIF header');
  const height = r.u16le(8, 'GIF header');
  const packed = r.u8(10, 'GIF header');
  if (width === 0 || height === 0) throw r.corrupt(`the GIF header gives a size of ${width}x${height}`);
  let offset = 13;
  if (packed & 0x80) offset += 3 * (1 << ((packed & 0x07) + 1));
  // Walk blocks to the trailer (0x3B): sub-block lengths let us skip image data unread.
  let frames = 0;
  for (;;) {
    if (offset >= r.length) throw r.corrupt('the GIF ends before its trailer byte (it looks cut short)');
    const introducer = r.u8(offset, 'GIF block');
    if (introducer === 0x3b) break;
    if (introducer === 0x21) {
      offset = skipSubBlocks(r, offset + 2);
    } else if (introducer === 0x2c) {
      const imagePacked = r.u8(offset + 9, 'GIF image descriptor');
      offset += 10;
      if (imagePacked & 0x80) offset += 3 * (1 << ((imagePacked & 0x07) + 1));
      offset = skipSubBlocks(r, offset + 1); // +1: the LZW minimum code size byte
      frames++;
    } else {
      throw r.corrupt(`an unknown GIF block 0x${hex(introducer)} at byte ${offset}`);
    }
  }
  if (frames === 0) throw r.corrupt('the GIF has no image in it');
  return { width, height };
}

/** Offset just past a chain of GIF data sub-blocks (length byte, data, …, 0 terminator). */
function skipSubBlocks(r: ByteReader, offset: number): number {
  let at = offset;
  for (;;) {
    const length = r.u8(at, 'GIF data');
    at += 1;
    if (length === 0) return at;
    r.need(at, length, 'GIF data');
    at += length;
  }
}

// ---------------------------------------------------------------------------- BMP

/** DIB header sizes in the wild: CORE (OS/2 1.x), OS/2 2.x short/long, INFO, V2, V3, V4, V5. */
const BMP_DIB_HEADER_BYTES = [12, 16, 64, 40, 52, 56, 108, 124];
const BMP_BITS_PER_PIXEL = [1, 2, 4, 8, 16, 24, 32];
const BMP_BI_RGB = 0;
const BMP_BI_RLE8 = 1;
const BMP_BI_RLE4 = 2;
const BMP_BI_BITFIELDS = 3;
const BMP_BI_ALPHABITFIELDS = 6;

/** "BM" alone is too weak (a text file may start with it): also require a known DIB header size. */
function looksLikeBmp(bytes: Uint8Array): boolean {
  if (bytes[0] !== 0x42 || bytes[1] !== 0x4d) return false;
  if (bytes.length < 18) return true; // too short to tell: report it as a damaged BMP
  const dib = (bytes[14] as number) | ((bytes[15] as number) << 8) | ((bytes[16] as number) << 16) | ((bytes[17] as number) << 24);
  return BMP_DIB_HEADER_BYTES.includes(dib >>> 0);
}

function readBmp(r: ByteReader): { width: number; height: number } {
  const pixelOffset = r.u32le(10, 'BMP header');
  const dibBytes = r.u32le(14, 'BMP header');
  r.need(14, dibBytes, 'BMP header');
  let width: number;
  let height: number;
  let bitsPerPixel: number;
  let compression = BMP_BI_RGB;
  let imageBytes = 0;
  if (dibBytes === 12) {
    width = r.u16le(18, 'BMP header');
    height = r.u16le(20, 'BMP header');
    bitsPerPixel = r.u16le(24, 'BMP header');
  } else {
    width = r.i32le(18, 'BMP header');
    // Negative height = rows stored top-down; the size is its absolute value.
    height = Math.abs(r.i32le(22, 'BMP header'));
    bitsPerPixel = r.u16le(28, 'BMP header');
    if (dibBytes >= 20) compression = r.u32le(30, 'BMP header');
    if (dibBytes >= 24) imageBytes = r.u32le(34, 'BMP header');
  }
  if (width <= 0 || height <= 0) throw r.corrupt(`the BMP header gives an impossible size ${width}x${height}`);
  if (!BMP_BITS_PER_PIXEL.includes(bitsPerPixel)) throw r.corrupt(`the BMP header gives ${bitsPerPixel} bits per pixel`);
  if (pixelOffset < 14 + dibBytes) throw r.corrupt('the BMP pixel data starts inside its header');
  let pixelBytes: number;
  if (compression === BMP_BI_RGB || compression === BMP_BI_BITFIELDS || compression === BMP_BI_ALPHABITFIELDS) {
    // Rows are padded to whole 4-byte words.
    const rowBytes = Math.floor((bitsPerPixel * width + 31) / 32) * 4;
    pixelBytes = rowBytes * height;
  } else if (compression === BMP_BI_RLE8 || compression === BMP_BI_RLE4) {
    pixelBytes = imageBytes; // run-length data: only the header knows its length
  } else {
    throw r.corrupt(`the BMP uses compression type ${compression} (embedded JPEG/PNG or unknown), which browsers do not decode`);
  }
  if (r.length < pixelOffset + pixelBytes) {
    throw r.corrupt(
      `the BMP is ${r.length} bytes but its pixel data needs ${pixelOffset + pixelBytes} (it looks cut short)`,
    );
  }
  return { width, height };
}

// --------------------------------------------------------------------------- WebP

function readWebp(r: ByteReader): { width: number; height: number } {
  const riffBytes = r.u32le(4, 'WebP header');
  // The RIFF size counts everything after its own field: "WEBP" plus the chunks.
  if (riffBytes < 4 + 8) throw r.corrupt('the WebP RIFF header gives an impossible size');
  if (r.length < 8 + riffBytes) {
    throw r.corrupt(`the WebP is ${r.length} bytes but its header says ${8 + riffBytes} (it looks cut short)`);
  }
  const chunk = String.fromCharCode(...r.bytes.subarray(12, 16));
  const data = 20;
  let width: number;
  let height: number;
  if (chunk === 'VP8X') {
    // Extended format: canvas size minus one, 24 bits each.
    width = r.u24le(data + 4, 'WebP header') + 1;
    height = r.u24le(data + 7, 'WebP header') + 1;
  } else if (chunk === 'VP8 ') {
    // Lossy: 3-byte frame tag, start code 9D 01 2A, then 14-bit sizes (top 2 bits are scaling).
    if (r.u8(data + 3, 'WebP header') !== 0x9d || r.u8(data + 4, 'WebP header') !== 0x01 || r.u8(data + 5, 'WebP header') !== 0x2a) {
      throw r.corrupt('the lossy WebP frame has no start code');
    }
    width = r.u16le(data + 6, 'WebP header') & 0x3fff;
    height = r.u16le(data + 8, 'WebP header') & 0x3fff;
  } else if (chunk === 'VP8L') {
    // Lossless: signature 0x2F, then width-1 and height-1 in 14 bits each, little-endian bit order.
    if (r.u8(data, 'WebP header') !== 0x2f) throw r.corrupt('the lossless WebP has no signature byte');
    const bits = r.u32le(data + 1, 'WebP header');
    width = (bits & 0x3fff) + 1;
    height = ((bits >>> 14) & 0x3fff) + 1;
  } else {
    throw r.corrupt(`the WebP starts with an unknown chunk "${chunk}"`);
  }
  if (width === 0 || height === 0) throw r.corrupt(`the WebP header gives a size of ${width}x${height}`);
  return { width, height };
}

// ------------------------------------------------------------------------- helpers

function ascii(text: string): number[] {
  return Array.from(text, (ch) => ch.charCodeAt(0));
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  if (bytes.length < prefix.length) return false;
  return prefix.every((b, i) => bytes[i] === b);
}

function matchesAscii(bytes: Uint8Array, offset: number, text: string): boolean {
  return startsWith(bytes.subarray(offset), ascii(text));
}

function hex(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, '0');
}

/** A name for common files that are not importable images, so the message can say what it is. */
function guessOtherFormat(bytes: Uint8Array): string | null {
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return 'a TIFF image';
  if (matchesAscii(bytes, 4, 'ftyp')) {
    const brand = String.fromCharCode(...bytes.subarray(8, 12));
    if (brand.startsWith('avi')) return 'an AVIF image';
    if (brand.startsWith('hei') || brand.startsWith('mif') || brand.startsWith('hev')) return 'a HEIC image';
    return 'a video';
  }
  if (startsWith(bytes, ascii('%PDF'))) return 'a PDF document';
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return 'a ZIP archive';
  if (startsWith(bytes, ascii('RIFF'))) return 'a RIFF file that is not WebP (audio or video)';
  const head = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 256)).trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return 'an SVG drawing';
  if (isPlainText(bytes.subarray(0, 512))) return 'a text file';
  return null;
}

function isPlainText(head: Uint8Array): boolean {
  let printable = 0;
  for (const b of head) if (b === 0x09 || b === 0x0a || b === 0x0d || b >= 0x20) printable++;
  return head.length > 0 && printable === head.length;
}
