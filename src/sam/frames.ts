/**
 * SAM's coordinate frames and the conversions into them: the ONE place this maths lives.
 * Pure and import-free, so browser-safe code (prompts/) can use it without loading the ONNX runtime.
 *
 * Named frames (continuous coordinates use the "pixel edges" convention: pixel i spans [i, i+1), its centre is
 * i + 0.5; integer pixel indices are written x, y):
 *  - original : the image as read, originalWidth x originalHeight pixels (points named xyOriginal).
 *  - sam1024  : SAM's input frame. The image is resized so that its longest side is 1024
 *               (scale = 1024 / max(w, h); resizedWidth = floor(w * scale + 0.5), same for the height, as in
 *               segment-anything's ResizeLongestSide) and occupies the TOP-LEFT resizedWidth x resizedHeight of a
 *               zero-padded 1024 x 1024 square (points named xySam1024).
 *               SAM 2 squashes instead (`squash`): the image is resized to 1024 x 1024 without keeping its aspect
 *               ratio and without padding (SAM2Transforms' Resize((1024, 1024))), so resizedWidth = resizedHeight =
 *               1024 and every per-axis rule below holds unchanged.
 *  - sam256   : the padded 1024 square downsampled x4 (`mask_input`, `low_res_masks`).
 *  - grid     : the encoder feature grid, gridSize x gridSize (64 x 64) cells over the padded 1024 square;
 *               cell (gx, gy) covers sam1024 pixels [gx*cellSize, (gx+1)*cellSize) (cellSize = 16).
 *
 * Per axis the original → sam1024 factor is resizedWidth / originalWidth (resp. height), exactly what SAM applies
 * to point coordinates (`x * newW / oldW`); it equals `scale` up to the rounding of the resized size.
 */

/** Side of SAM's padded input square (SAM v1). */
export const SAM_LONG_SIDE = 1024;
/** Side of the low-resolution mask frame (`mask_input`, `low_res_masks`). */
export const SAM_LOW_RES = 256;

/** The geometry of one image in SAM's frames. */
export interface SamFrame {
  readonly originalWidth: number;
  readonly originalHeight: number;
  /** paddedSize / max(originalWidth, originalHeight) (squashed frame: the long side's factor; use the per-axis resized / original). */
  readonly scale: number;
  /** Size of the resized image inside the padded square (sam1024 frame). */
  readonly resizedWidth: number;
  readonly resizedHeight: number;
  /** Side of the padded square (1024). */
  readonly paddedSize: number;
  /** Cells per side of the feature grid (64). */
  readonly gridSize: number;
  /** sam1024 pixels per grid cell (paddedSize / gridSize = 16). */
  readonly cellSize: number;
  /** Grid columns / rows that hold image content (the rest is padding): ceil(resized / cellSize). */
  readonly gridColumnsUsed: number;
  readonly gridRowsUsed: number;
}

export interface SamFrameOptions {
  /** Longest side of SAM's input (default SAM_LONG_SIDE = 1024, SAM v1). */
  paddedSize?: number;
  /** Feature grid side (default 64 = 1024 / 16). */
  gridSize?: number;
  /** SAM 2's frame: squash the image to paddedSize × paddedSize (no aspect ratio kept, no padding). Default false. */
  squash?: boolean;
}

/** The SAM frame geometry for an image of the given original size (RangeError for non-positive / fractional sizes). */
export function samFrame(originalWidth: number, originalHeight: number, opts: SamFrameOptions = {}): SamFrame {
  const paddedSize = opts.paddedSize ?? SAM_LONG_SIDE;
  const gridSize = opts.gridSize ?? 64;
  if (!(Number.isInteger(originalWidth) && originalWidth > 0 && Number.isInteger(originalHeight) && originalHeight > 0)) {
    throw new RangeError(`samFrame: image size must be positive integers, got ${originalWidth}x${originalHeight}`);
  }
  if (!(Number.isInteger(paddedSize) && Number.isInteger(gridSize) && gridSize > 0 && paddedSize % gridSize === 0)) {
    throw new RangeError(`samFrame: paddedSize ${paddedSize} must be a multiple of gridSize ${gridSize}`);
  }
  const scale = paddedSize / Math.max(originalWidth, originalHeight);
  const resizedWidth = opts.squash ? paddedSize : Math.floor(originalWidth * scale + 0.5);
  const resizedHeight = opts.squash ? paddedSize : Math.floor(originalHeight * scale + 0.5);
  const cellSize = paddedSize / gridSize;
  return {
    originalWidth,
    originalHeight,
    scale,
    resizedWidth,
    resizedHeight,
    paddedSize,
    gridSize,
    cellSize,
    gridColumnsUsed: Math.ceil(resizedWidth / cellSize),
    gridRowsUsed: Math.ceil(resizedHeight / cellSize),
  };
}

/** A point (continuous or integer pixel coordinates) in some frame. */
export interface XY {
  x: number;
  y: number;
}

/**
 * original → sam1024, SAM's own rule for prompt coordinates (ResizeLongestSide.apply_coords): multiply by
 * resized/original per axis. Pixel indices stay indices (SAM's decoder graph adds the 0.5 itself).
 */
export function xyOriginalToXySam1024(xyOriginal: XY, frame: SamFrame): XY {
  return {
    x: (xyOriginal.x * frame.resizedWidth) / frame.originalWidth,
    y: (xyOriginal.y * frame.resizedHeight) / frame.originalHeight,
  };
}

/** sam1024 → original, the inverse of xyOriginalToXySam1024 (for drawing SAM-frame things back on the image). */
export function xySam1024ToXyOriginal(xySam1024: XY, frame: SamFrame): XY {
  return {
    x: (xySam1024.x * frame.originalWidth) / frame.resizedWidth,
    y: (xySam1024.y * frame.originalHeight) / frame.resizedHeight,
  };
}
