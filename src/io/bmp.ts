/**
 * A small decoder for Windows BMP files (sharp/libvips does not read BMP).
 *
 * Supported: BITMAPINFOHEADER and its V4/V5 extensions (and the old 12-byte core header), bottom-up (positive
 * height) and top-down (negative height) rows; 1/4/8-bit palette, 16-bit (5-5-5 or bit fields), 24-bit BGR and
 * 32-bit BGRX/BGRA (BI_RGB or BI_BITFIELDS). Alpha is dropped. RLE-compressed and embedded JPEG/PNG BMPs are
 * rejected with a clear error.
 *
 * Channels: palette images whose palette entries used by the pixels are all grey (R = G = B) come back with one
 * channel; everything else comes back as RGB (a 24/32-bit file is reported as 3 channels even when its
 * channels happen to be equal, because that is how it is stored).
 */
import { MedpersamUserError } from '../errors.js';
import type { FloatImage } from '../image/types.js';
import { checkPixelLimit, DEFAULT_PIXEL_LIMIT, type PixelLimit } from './pixel-limit.js';

export interface DecodedBmp {
  image: FloatImage;
  /** Bits per pixel as stored (1, 4, 8, 16, 24, 32). */
  bitsPerPixel: number;
}

const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;
const BI_JPEG = 4;
const BI_PNG = 5;
const BI_ALPHABITFIELDS = 6;

function unreadable(file: string, problem: string): MedpersamUserError {
  return new MedpersamUserError('UNREADABLE_IMAGE', `cannot read BMP: ${problem}`, { file });
}

/** Shift and scale for one bit-field mask, mapping the field to 0..255. */
function fieldDecoder(mask: number): (pixel: number) => number {
  if (mask === 0) return () => 0;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  let bits = 0;
  while (((mask >>> (shift + bits)) & 1) === 1 && shift + bits < 32) bits++;
  const max = 2 ** bits - 1;
  return (pixel) => Math.round((((pixel & mask) >>> shift) * 255) / max);
}

/** Decode a BMP file; a header declaring more pixels than `limit` is refused before decoding. */
export function decodeBmp(bytes: Uint8Array, file: string, limit: PixelLimit = DEFAULT_PIXEL_LIMIT): DecodedBmp {
  if (bytes.length < 26 || bytes[0] !== 0x42 || bytes[1] !== 0x4d) throw unreadable(file, 'no "BM" signature');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pixelOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  if (14 + headerSize > bytes.length) throw unreadable(file, 'file is truncated inside the header');

  let width: number;
  let height: number;
  let bitsPerPixel: number;
  let compression = BI_RGB;
  let colorsUsed = 0;
  let paletteEntrySize = 4;
  let masks: [number, number, number] | null = null;

  if (headerSize === 12) {
    // BITMAPCOREHEADER
    width = view.getUint16(18, true);
    height = view.getInt16(20, true);
    bitsPerPixel = view.getUint16(24, true);
    paletteEntrySize = 3;
  } else if (headerSize >= 40) {
    width = view.getInt32(18, true);
    height = view.getInt32(22, true);
    bitsPerPixel = view.getUint16(28, true);
    compression = view.getUint32(30, true);
    colorsUsed = view.getUint32(46, true);
    if (compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS) {
      // Masks follow the 40-byte header (or are part of a V2+ header).
      if (14 + 40 + 12 > bytes.length) throw unreadable(file, 'file is truncated inside the bit-field masks');
      masks = [view.getUint32(54, true), view.getUint32(58, true), view.getUint32(62, true)];
    }
  } else {
    throw unreadable(file, `unknown header size ${headerSize}`);
  }

  if (compression === BI_RLE8 || compression === BI_RLE4) {
    throw new MedpersamUserError(
      'UNSUPPORTED_FORMAT',
      'RLE-compressed BMP is not supported; save it as an uncompressed BMP or as PNG',
      { file },
    );
  }
  if (compression === BI_JPEG || compression === BI_PNG) {
    throw new MedpersamUserError('UNSUPPORTED_FORMAT', 'BMP with embedded JPEG/PNG data is not supported', { file });
  }
  if (compression !== BI_RGB && compression !== BI_BITFIELDS && compression !== BI_ALPHABITFIELDS) {
    throw unreadable(file, `unknown compression ${compression}`);
  }
  if (![1, 4, 8, 16, 24, 32].includes(bitsPerPixel)) throw unreadable(file, `unsupported bits per pixel ${bitsPerPixel}`);
  const topDown = height < 0;
  height = Math.abs(height);
  if (width <= 0 || height <= 0) throw unreadable(file, `invalid size ${width}x${height}`);
  checkPixelLimit(width, height, 'BMP', file, limit);

  // Palette (for <= 8 bits per pixel): entries after the header (and masks in the BITMAPINFOHEADER case).
  let palette: Uint8Array | null = null; // RGB triplets
  if (bitsPerPixel <= 8) {
    const paletteCount = colorsUsed > 0 ? colorsUsed : 1 << bitsPerPixel;
    const paletteStart = 14 + headerSize;
    if (paletteStart + paletteCount * paletteEntrySize > bytes.length) {
      throw unreadable(file, 'file is truncated inside the colour palette');
    }
    palette = new Uint8Array(paletteCount * 3);
    for (let i = 0; i < paletteCount; i++) {
      const at = paletteStart + i * paletteEntrySize;
      palette[i * 3] = bytes[at + 2]!;
      palette[i * 3 + 1] = bytes[at + 1]!;
      palette[i * 3 + 2] = bytes[at]!;
    }
  }

  const rowStride = Math.ceil((width * bitsPerPixel) / 32) * 4;
  if (pixelOffset + rowStride * height > bytes.length) {
    throw unreadable(
      file,
      `file is truncated: pixel data needs ${rowStride * height} bytes from offset ${pixelOffset}, file has ${bytes.length} bytes`,
    );
  }

  const rgb = new Uint8Array(width * height * 3);
  const defaultMasks: [number, number, number] =
    bitsPerPixel === 16 ? [0x7c00, 0x03e0, 0x001f] : [0x00ff0000, 0x0000ff00, 0x000000ff];
  const [decodeR, decodeG, decodeB] = (masks ?? defaultMasks).map(fieldDecoder) as [
    (p: number) => number,
    (p: number) => number,
    (p: number) => number,
  ];

  for (let y = 0; y < height; y++) {
    const fileRow = topDown ? y : height - 1 - y;
    const rowStart = pixelOffset + fileRow * rowStride;
    for (let x = 0; x < width; x++) {
      const out = y * width + x;
      if (palette) {
        let index: number;
        if (bitsPerPixel === 8) index = bytes[rowStart + x]!;
        else if (bitsPerPixel === 4) index = (bytes[rowStart + (x >> 1)]! >> (x % 2 === 0 ? 4 : 0)) & 0x0f;
        else index = (bytes[rowStart + (x >> 3)]! >> (7 - (x % 8))) & 1;
        if (index * 3 >= palette.length) throw unreadable(file, `pixel (${x}, ${y}) uses palette index ${index} beyond the palette`);
        rgb[out * 3] = palette[index * 3]!;
        rgb[out * 3 + 1] = palette[index * 3 + 1]!;
        rgb[out * 3 + 2] = palette[index * 3 + 2]!;
      } else if (bitsPerPixel === 24 && !masks) {
        const at = rowStart + x * 3;
        rgb[out * 3] = bytes[at + 2]!;
        rgb[out * 3 + 1] = bytes[at + 1]!;
        rgb[out * 3 + 2] = bytes[at]!;
      } else {
        const at = rowStart + x * (bitsPerPixel / 8);
        const pixel = bitsPerPixel === 16 ? view.getUint16(at, true) : bitsPerPixel === 32 ? view.getUint32(at, true) : view.getUint32(at, true) & 0xffffff;
        rgb[out * 3] = decodeR(pixel);
        rgb[out * 3 + 1] = decodeG(pixel);
        rgb[out * 3 + 2] = decodeB(pixel);
      }
    }
  }

  let grey = false;
  if (palette) {
    grey = true;
    for (let i = 0; i < rgb.length && grey; i += 3) grey = rgb[i] === rgb[i + 1] && rgb[i] === rgb[i + 2];
  }
  if (grey) {
    const data = new Float32Array(width * height);
    for (let i = 0; i < data.length; i++) data[i] = rgb[i * 3]!;
    return { image: { width, height, channels: 1, data }, bitsPerPixel };
  }
  return { image: { width, height, channels: 3, data: Float32Array.from(rgb) }, bitsPerPixel };
}
