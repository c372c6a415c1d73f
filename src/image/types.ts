/**
 * The two in-memory data types shared by every stage (docs/architecture.md "Rules of the house": one image type, one label-mask type).
 *
 * Pixel layout everywhere: row-major, index = y * width + x; channels interleaved
 * (index = (y * width + x) * channels + c). Coordinates are in the image's own pixel frame
 * ("original" frame) unless a name says otherwise (xySam1024, xyWarp, ...).
 */

/** An image with float intensities (not necessarily 0..1; see image/normalize for that). */
export interface FloatImage {
  readonly width: number;
  readonly height: number;
  /** 1 = grey, 3 = RGB. */
  readonly channels: 1 | 3;
  /** length = width * height * channels. */
  readonly data: Float32Array;
}

/** A label map: 0 = background, 1..K = foreground classes. */
export interface LabelMap {
  readonly width: number;
  readonly height: number;
  /** length = width * height. */
  readonly data: Uint8Array;
}

/** Class index → name (as in classes.json). Always contains 0 → "background". */
export type ClassNames = ReadonlyMap<number, string>;

/** An axis-aligned box in a pixel frame, inclusive min and max corners. */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** A point in a named frame; label 1 = positive, 0 = negative. */
export interface LabeledPoint {
  x: number;
  y: number;
  label: 0 | 1;
}

export function createFloatImage(width: number, height: number, channels: 1 | 3 = 1): FloatImage {
  return { width, height, channels, data: new Float32Array(width * height * channels) };
}

export function createLabelMap(width: number, height: number): LabelMap {
  return { width, height, data: new Uint8Array(width * height) };
}

/** A binary mask: data holds 0 or 1 only. Same layout as LabelMap. */
export interface BinaryMask {
  readonly width: number;
  readonly height: number;
  /** length = width * height, values 0 | 1. */
  readonly data: Uint8Array;
}

export function createBinaryMask(width: number, height: number): BinaryMask {
  return { width, height, data: new Uint8Array(width * height) };
}
