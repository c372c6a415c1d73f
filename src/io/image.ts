/**
 * `readImage`: one entry point for every supported image format, detected from the file's magic bytes (never
 * from its extension). Returns the image with float intensities on the file's own scale: 0..255 for 8-bit,
 * 0..65535 for 16-bit, DICOM after RescaleSlope/Intercept, NIfTI after scl_slope/scl_inter.
 *
 * Low-bit grey PNGs (1/2/4 bits) come back with their stored values (0..1, 0..3, 0..15).
 *
 * Channels: grey files come back with 1 channel, colour files with 3 (alpha is dropped). Palette PNGs whose
 * colours are all grey come back with 1 channel. An RGB file whose three channels happen to be equal is still
 * reported as 3 channels (that is how it is stored); `toGrey` (src/image) turns it into one.
 *
 * No EXIF auto-rotation is applied: pixels are returned in stored order, the order a mask drawn on them uses.
 *
 * Node-only twin of read-image.ts (which holds the format dispatch and the pure decoders): this file adds the
 * file system and sharp (libvips) for PNG, JPEG and TIFF.
 */
import { readFile, stat } from 'node:fs/promises';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { MedpersamUserError } from '../errors.js';
import type { FloatImage } from '../image/types.js';
import { checkPixelLimit, type PixelLimit } from './pixel-limit.js';
import { checkTiffBlocks } from './tiff.js';
import { decodeImageWith, type JpegFrame, type RasterDecoders, type ReadImageOptions, type ReadImageResult } from './read-image.js';

export type { ImageFormat } from './formats.js';
export type { ReadImageOptions, ReadImageResult } from './read-image.js';

/**
 * Read a file's bytes. Missing → 'FILE_NOT_FOUND'; a folder or unreadable file → 'UNREADABLE_IMAGE'.
 * Shared by every reader in src/io.
 */
export async function readFileBytes(path: string, what = 'file'): Promise<Uint8Array> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) {
      throw new MedpersamUserError('UNREADABLE_IMAGE', `expected a ${what} but this is a folder`, { file: path });
    }
    const buffer = await readFile(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (err) {
    if (err instanceof MedpersamUserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new MedpersamUserError('FILE_NOT_FOUND', `${what} not found`, { file: path, cause: err });
    }
    throw new MedpersamUserError('UNREADABLE_IMAGE', `cannot read ${what} (${code ?? (err as Error).message})`, {
      file: path,
      cause: err,
    });
  }
}

type SharpDepth = 'uchar' | 'ushort' | 'float';

/** PNG / JPEG / TIFF through sharp, asking for the colour space that keeps the stored values unchanged. */
async function decodeWithSharp(bytes: Uint8Array, format: 'png' | 'jpeg' | 'tiff', file: string, limit: PixelLimit): Promise<ReadImageResult> {
  const unreadable = (err: unknown) =>
    new MedpersamUserError(
      'UNREADABLE_IMAGE',
      `cannot decode ${format.toUpperCase()} (the file is damaged or truncated: ${(err as Error).message.trim()})`,
      { file, cause: err },
    );
  let meta: Metadata;
  try {
    // The header alone (no limit here: the size is checked just below, with this module's error).
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw unreadable(err);
  }
  checkPixelLimit(meta.width ?? 0, meta.height ?? 0, format.toUpperCase(), file, limit);
  if (format === 'tiff') checkTiffBlocks(bytes, file, limit);
  const depth = meta.depth as string | undefined;
  if (depth !== 'uchar' && depth !== 'ushort' && depth !== 'float') {
    throw new MedpersamUserError(
      'UNSUPPORTED_FORMAT',
      `${format.toUpperCase()} with sample type ${depth ?? 'unknown'} is not supported (8/16-bit unsigned or 32-bit float)`,
      { file },
    );
  }
  const bands = (meta.channels ?? 1) - (meta.hasAlpha ? 1 : 0);
  const palette = meta.isPalette === true;
  const cmyk = meta.space === 'cmyk';
  const grey = bands === 1 && !palette;
  if (!grey && depth === 'float') {
    throw new MedpersamUserError('UNSUPPORTED_FORMAT', `colour ${format.toUpperCase()} with float samples is not supported`, { file });
  }
  // Colour space that is the identity for the stored samples (sharp otherwise converts to 8-bit sRGB):
  // 8-bit grey 'b-w', 16-bit grey 'grey16', float grey 'b-w', 8-bit colour 'srgb', 16-bit colour 'rgb16'.
  const space = grey ? (depth === 'ushort' ? 'grey16' : 'b-w') : depth === 'ushort' && !cmyk ? 'rgb16' : 'srgb';
  const outDepth: SharpDepth = palette || cmyk ? 'uchar' : depth;
  let raw: { data: Buffer; info: OutputInfo };
  try {
    raw = await sharp(bytes, { failOn: 'error', limitInputPixels: limit.pixels })
      .removeAlpha()
      .toColourspace(space)
      .raw({ depth: outDepth })
      .toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw unreadable(err);
  }
  const { width, height, channels } = raw.info;
  if (channels !== 1 && channels !== 3) throw unreadable(new Error(`unexpected ${channels} channels after decoding`));
  const buf = raw.data;
  let samples: ArrayLike<number>;
  if (outDepth === 'uchar') samples = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  else if (outDepth === 'ushort') samples = new Uint16Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  else samples = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));

  let image: FloatImage = { width, height, channels: channels as 1 | 3, data: Float32Array.from(samples) };
  if (palette && channels === 3) image = collapseIfGrey(image);
  let bitDepth = outDepth === 'uchar' ? 8 : outDepth === 'ushort' ? 16 : 32;
  // 1/2/4-bit grey PNGs: libvips scales them to 0..255; undo that so the stored values come back
  // (a 2-bit label map with labels 0..3 must read as 0..3, not 0/85/170/255).
  const storedBits = meta.bitsPerSample ?? 8;
  if (grey && outDepth === 'uchar' && storedBits < 8 && storedBits >= 1) {
    const factor = 255 / (2 ** storedBits - 1);
    for (let i = 0; i < image.data.length; i++) image.data[i] = Math.round(image.data[i]! / factor);
    bitDepth = storedBits;
  }
  return { image, format, bitDepth };
}

/** RGB with R = G = B everywhere → 1 channel (used for palette images, whose storage is not RGB anyway). */
function collapseIfGrey(image: FloatImage): FloatImage {
  const d = image.data;
  for (let i = 0; i < d.length; i += 3) if (d[i] !== d[i + 1] || d[i] !== d[i + 2]) return image;
  const grey = new Float32Array(image.width * image.height);
  for (let i = 0; i < grey.length; i++) grey[i] = d[i * 3]!;
  return { width: image.width, height: image.height, channels: 1, data: grey };
}

/** An 8-bit JPEG Baseline frame of a DICOM file through sharp (libjpeg), grey or RGB. */
async function sharpDicomJpegFrame(jpeg: Uint8Array, colour: boolean, limit: PixelLimit): Promise<JpegFrame> {
  const { data, info } = await sharp(jpeg, { limitInputPixels: limit.pixels })
    .toColourspace(colour ? 'srgb' : 'b-w')
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: Float32Array.from(data) };
}

/** The Node raster decoders: sharp for PNG, JPEG and TIFF. */
export const sharpRasterDecoders: RasterDecoders = {
  png: (bytes, file, limit) => decodeWithSharp(bytes, 'png', file, limit),
  jpeg: (bytes, file, limit) => decodeWithSharp(bytes, 'jpeg', file, limit),
  tiff: (bytes, file, limit) => decodeWithSharp(bytes, 'tiff', file, limit),
  dicomJpegFrame: (jpeg, colour, _file, limit) => sharpDicomJpegFrame(jpeg, colour, limit),
};

/** Decode bytes already in memory; `file` is only used in messages. */
export async function decodeImage(bytes: Uint8Array, file: string, opts: ReadImageOptions = {}): Promise<ReadImageResult> {
  return decodeImageWith(bytes, file, opts, sharpRasterDecoders);
}

/** Read an image file (format from its magic bytes). Errors name the file. */
export async function readImage(path: string, opts: ReadImageOptions = {}): Promise<ReadImageResult> {
  const bytes = await readFileBytes(path, 'image file');
  return decodeImage(bytes, path, opts);
}
