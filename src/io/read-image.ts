/**
 * Decoding an image file's bytes, browser-safe: the format is detected from the magic bytes (never the extension),
 * gzip (.nii.gz) is inflated with fflate, BMP, DICOM and NIfTI are decoded here in plain TypeScript, and the three
 * compressed raster formats (PNG, JPEG, TIFF) go to a `RasterDecoders` object given by the environment:
 *   - Node (src/io/image.ts, the Node twin of this file): sharp (libvips) for all three;
 *   - browser (src/io/raster-browser.ts): the pure PNG decoder of png.ts (16-bit kept), the browser's own JPEG
 *     decoder, a pure TIFF decoder.
 * Intensities come back on the file's own scale: 0..255 for 8-bit, 0..65535 for 16-bit, DICOM after
 * RescaleSlope/Intercept, NIfTI after scl_slope/scl_inter (see image.ts for the channel rules, which every decoder
 * follows).
 */
import { gunzipSync } from 'fflate';
import { MedpersamUserError } from '../errors.js';
import type { FloatImage } from '../image/types.js';
import { decodeBmp } from './bmp.js';
import { decodeDicom } from './dicom.js';
import { describeUnsupported, detectFormat, isNifti, SUPPORTED_FORMATS_TEXT, type ImageFormat } from './formats.js';
import { decodeNifti } from './nifti.js';
import { DEFAULT_PIXEL_LIMIT, maxInflatedBytes, type PixelLimit } from './pixel-limit.js';

export type { ImageFormat } from './formats.js';

export interface ReadImageOptions {
  /** 0-based slice of a 3D NIfTI volume or frame of a multi-frame DICOM; required for those, ignored otherwise. */
  slice?: number;
  /** The most pixels accepted (checked from the header, before decoding); default `DEFAULT_PIXEL_LIMIT`. */
  pixelLimit?: PixelLimit;
}

export interface ReadImageResult {
  image: FloatImage;
  format: ImageFormat;
  /** Bits per sample as stored: 8, 16, 32 (float TIFF / NIfTI), DICOM BitsStored. */
  bitDepth: number;
}

/** An 8-bit JPEG frame from inside a DICOM file, as grey (1 sample) or RGB (3 samples). */
export interface JpegFrame {
  width: number;
  height: number;
  data: Float32Array;
}

/**
 * Decoders for the compressed raster formats; each returns the image with the rules of this module's comment and
 * refuses a file whose header declares more pixels than `limit` before decoding it.
 */
export interface RasterDecoders {
  png(bytes: Uint8Array, file: string, limit: PixelLimit): Promise<ReadImageResult>;
  jpeg(bytes: Uint8Array, file: string, limit: PixelLimit): Promise<ReadImageResult>;
  tiff(bytes: Uint8Array, file: string, limit: PixelLimit): Promise<ReadImageResult>;
  /** A JPEG Baseline frame of a DICOM file: RGB when `colour`, else grey. */
  dicomJpegFrame(jpeg: Uint8Array, colour: boolean, file: string, limit: PixelLimit): Promise<JpegFrame>;
}

/** gunzip with the inflated size bounded (the gzip trailer's size is checked before anything is allocated). */
function gunzipBounded(bytes: Uint8Array, file: string, limit: PixelLimit): Uint8Array {
  const unreadable = (why: string, cause?: unknown) =>
    new MedpersamUserError('UNREADABLE_IMAGE', `cannot decompress gzip data (the file is damaged or truncated: ${why})`, { file, cause });
  if (bytes.length < 18) throw unreadable('shorter than a gzip header and trailer');
  // ISIZE, the last 4 bytes: the inflated size modulo 2^32 (RFC 1952 §2.3.1).
  const declared = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(bytes.length - 4, true);
  if (declared > maxInflatedBytes(limit)) {
    throw new MedpersamUserError('IMAGE_TOO_LARGE', `gzip data declares ${declared} inflated bytes, more than a volume within ${limit.reason} needs`, { file });
  }
  let inflated: Uint8Array;
  try {
    inflated = gunzipSync(bytes, { out: new Uint8Array(declared) });
  } catch (err) {
    throw unreadable((err as Error).message, err);
  }
  if (inflated.length !== declared) throw unreadable(`inflates to ${inflated.length} bytes, the trailer says ${declared}`);
  return inflated;
}

/** Decode bytes already in memory with the given raster decoders; `file` is only used in messages. */
export async function decodeImageWith(
  bytes: Uint8Array,
  file: string,
  opts: ReadImageOptions,
  raster: RasterDecoders,
): Promise<ReadImageResult> {
  const limit = opts.pixelLimit ?? DEFAULT_PIXEL_LIMIT;
  let format = detectFormat(bytes);
  if (format === 'gzip') {
    const inflated = gunzipBounded(bytes, file, limit);
    if (!isNifti(inflated)) {
      throw new MedpersamUserError('UNSUPPORTED_FORMAT', `gzip-compressed file that is not NIfTI; supported: ${SUPPORTED_FORMATS_TEXT}`, { file });
    }
    bytes = inflated;
    format = 'nifti';
  }
  switch (format) {
    case 'png':
      return raster.png(bytes, file, limit);
    case 'jpeg':
      return raster.jpeg(bytes, file, limit);
    case 'tiff':
      return raster.tiff(bytes, file, limit);
    case 'bmp': {
      const { image } = decodeBmp(bytes, file, limit); // every BMP variant is decoded to 0..255 per channel
      return { image, format, bitDepth: 8 };
    }
    case 'dicom': {
      const { image, bitDepth } = await decodeDicom(bytes, file, { ...opts, pixelLimit: limit, jpegFrame: (jpeg, colour) => raster.dicomJpegFrame(jpeg, colour, file, limit) });
      return { image, format, bitDepth };
    }
    case 'nifti': {
      const { image, bitDepth } = decodeNifti(bytes, file, { ...opts, pixelLimit: limit });
      return { image, format, bitDepth };
    }
    default: {
      if (bytes.length === 0) throw new MedpersamUserError('UNREADABLE_IMAGE', 'the file is empty', { file });
      const known = describeUnsupported(bytes);
      throw new MedpersamUserError(
        'UNSUPPORTED_FORMAT',
        `${known ? `${known} files are` : 'this file format is'} not supported; supported: ${SUPPORTED_FORMATS_TEXT}`,
        { file },
      );
    }
  }
}
