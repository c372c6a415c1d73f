/**
 * The one pixel limit of every image decoder, on both paths (sharp in Node, the pure decoders in a browser): a
 * file whose header declares more pixels is refused from the header, before anything is allocated for it. The
 * value is libvips' own default (sharp's `limitInputPixels`, 0x3FFF × 0x3FFF), which the Node path passes to
 * sharp explicitly, so the two paths refuse the same files.
 *
 * A caller with less memory than a desktop process (a browser tab) passes a smaller limit with its reason.
 */
import { MedpersamUserError } from '../errors.js';

/** The most pixels (width × height) any decoder accepts: 268,402,689, about 16k × 16k. */
export const MAX_IMAGE_PIXELS = 0x3fff * 0x3fff;

/** A pixel limit and why it is what it is (said in the error). */
export interface PixelLimit {
  pixels: number;
  reason: string;
}

export const DEFAULT_PIXEL_LIMIT: PixelLimit = { pixels: MAX_IMAGE_PIXELS, reason: 'the pixel limit of every reader' };

/**
 * Refuse a header that declares more than `limit.pixels` pixels (IMAGE_TOO_LARGE), or a size that is not a
 * positive whole number (UNREADABLE_IMAGE). `format` names the file type in the message.
 */
export function checkPixelLimit(width: number, height: number, format: string, file: string, limit: PixelLimit = DEFAULT_PIXEL_LIMIT): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new MedpersamUserError('UNREADABLE_IMAGE', `cannot read ${format}: the header declares an invalid size ${width}x${height}`, { file });
  }
  const pixels = width * height;
  if (pixels > limit.pixels) {
    throw new MedpersamUserError(
      'IMAGE_TOO_LARGE',
      `${format} header declares ${width}x${height} = ${pixels.toLocaleString('en-US')} pixels, more than ${limit.pixels.toLocaleString('en-US')} ` +
        `(${limit.reason}); the file is refused before decoding`,
      { file },
    );
  }
}

/**
 * The most bytes a gzip-compressed NIfTI volume may inflate to: as many voxels as the pixel limit at 8 bytes each
 * (float64, the widest voxel type read), plus the largest header (NIfTI-2, 544 bytes with its extension flag).
 */
export function maxInflatedBytes(limit: PixelLimit = DEFAULT_PIXEL_LIMIT): number {
  return limit.pixels * 8 + 544;
}
