/**
 * Raster decoders for a browser (or any JavaScript runtime without sharp): PNG with the pure decoder of png.ts
 * (16-bit samples kept), JPEG with the platform's own decoder (createImageBitmap + OffscreenCanvas; 8-bit, as a
 * JPEG is), TIFF with the pure decoder of tiff.ts. Browser-safe twin of `sharpRasterDecoders` (src/io/image.ts).
 *
 * JPEG channel rule (as the Node reader): a file whose decoded R, G and B are equal everywhere is grey (1 channel).
 * Browser JPEG decoders may differ from libjpeg by ±1 grey level at some pixels (IDCT and chroma upsampling are
 * not bit-exact across decoders); PNG, TIFF, BMP, DICOM (uncompressed, RLE) and NIfTI decode identically.
 */
import { MedpersamUserError } from '../errors.js';
import type { FloatImage } from '../image/types.js';
import { jpegFrameSize } from './jpeg-header.js';
import { checkPixelLimit, type PixelLimit } from './pixel-limit.js';
import { decodePng } from './png.js';
import { decodeTiff } from './tiff.js';
import { decodeImageWith, type JpegFrame, type RasterDecoders, type ReadImageOptions, type ReadImageResult } from './read-image.js';

interface Rgba8 {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/** Decode compressed bytes to RGBA with the platform decoder; null when the platform has none. */
async function platformDecode(bytes: Uint8Array, mime: string): Promise<Rgba8 | null> {
  const g = globalThis as unknown as {
    createImageBitmap?: (b: Blob, o?: object) => Promise<ImageBitmap>;
    OffscreenCanvas?: new (w: number, h: number) => OffscreenCanvas;
  };
  if (!g.createImageBitmap || !g.OffscreenCanvas) return null;
  const bitmap = await g.createImageBitmap(new Blob([bytes as BlobPart], { type: mime }), {
    imageOrientation: 'none',
    premultiplyAlpha: 'none',
    colorSpaceConversion: 'none',
  });
  try {
    const canvas = new g.OffscreenCanvas(bitmap.width, bitmap.height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true }) as OffscreenCanvasRenderingContext2D | null;
    if (!ctx) return null;
    ctx.drawImage(bitmap, 0, 0);
    const { data } = ctx.getImageData(0, 0, bitmap.width, bitmap.height);
    return { width: bitmap.width, height: bitmap.height, data };
  } finally {
    bitmap.close();
  }
}

function rgbaTo(image: Rgba8, channels: 1 | 3 | 'auto'): FloatImage {
  const n = image.width * image.height;
  const d = image.data;
  let grey = channels === 1;
  if (channels === 'auto') {
    grey = true;
    for (let i = 0; i < n && grey; i++) grey = d[i * 4] === d[i * 4 + 1] && d[i * 4] === d[i * 4 + 2];
  }
  if (grey) {
    const out = new Float32Array(n);
    // Grey asked of a colour frame: ITU-R BT.601 luma (what libjpeg's grey conversion computes).
    for (let i = 0; i < n; i++) out[i] = channels === 1 ? Math.round(0.299 * d[i * 4]! + 0.587 * d[i * 4 + 1]! + 0.114 * d[i * 4 + 2]!) : d[i * 4]!;
    return { width: image.width, height: image.height, channels: 1, data: out };
  }
  const out = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[i * 3] = d[i * 4]!;
    out[i * 3 + 1] = d[i * 4 + 1]!;
    out[i * 3 + 2] = d[i * 4 + 2]!;
  }
  return { width: image.width, height: image.height, channels: 3, data: out };
}

/**
 * JPEG through the platform decoder, after the frame header's size was checked against the pixel limit (a JPEG
 * with no frame header is damaged: the platform decoder would only fail later).
 */
async function decodeJpeg(bytes: Uint8Array, file: string, limit: PixelLimit): Promise<Rgba8> {
  const size = jpegFrameSize(bytes);
  if (!size) throw new MedpersamUserError('UNREADABLE_IMAGE', 'cannot decode JPEG (the file is damaged or truncated: no frame header)', { file });
  checkPixelLimit(size.width, size.height, 'JPEG', file, limit);
  let rgba: Rgba8 | null;
  try {
    rgba = await platformDecode(bytes, 'image/jpeg');
  } catch (err) {
    throw new MedpersamUserError('UNREADABLE_IMAGE', `cannot decode JPEG (the file is damaged or truncated: ${(err as Error).message})`, { file, cause: err });
  }
  if (!rgba) {
    throw new MedpersamUserError('UNSUPPORTED_FORMAT', 'JPEG needs a browser (createImageBitmap) or the Node reader here', { file });
  }
  return rgba;
}

export const browserRasterDecoders: RasterDecoders = {
  async png(bytes: Uint8Array, file: string, limit: PixelLimit): Promise<ReadImageResult> {
    const { image, bitDepth } = decodePng(bytes, file, limit);
    return { image, format: 'png', bitDepth };
  },
  async jpeg(bytes: Uint8Array, file: string, limit: PixelLimit): Promise<ReadImageResult> {
    return { image: rgbaTo(await decodeJpeg(bytes, file, limit), 'auto'), format: 'jpeg', bitDepth: 8 };
  },
  async tiff(bytes: Uint8Array, file: string, limit: PixelLimit): Promise<ReadImageResult> {
    const { image, bitDepth } = decodeTiff(bytes, file, limit);
    return { image, format: 'tiff', bitDepth };
  },
  async dicomJpegFrame(jpeg: Uint8Array, colour: boolean, file: string, limit: PixelLimit): Promise<JpegFrame> {
    const image = rgbaTo(await decodeJpeg(jpeg, file, limit), colour ? 3 : 1);
    return { width: image.width, height: image.height, data: image.data };
  },
};

/** Decode an image file's bytes in a browser (twin of image.ts `decodeImage`); `file` names it in errors. */
export function decodeImage(bytes: Uint8Array, file: string, opts: ReadImageOptions = {}): Promise<ReadImageResult> {
  return decodeImageWith(bytes, file, opts, browserRasterDecoders);
}

/** Read a picked or dropped file (a `File`, or any Blob with a name) in a browser (twin of image.ts `readImage`). */
export async function readImageBlob(blob: Blob, name: string, opts: ReadImageOptions = {}): Promise<ReadImageResult> {
  return decodeImage(new Uint8Array(await blob.arrayBuffer()), name, opts);
}
