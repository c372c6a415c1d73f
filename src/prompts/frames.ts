/**
 * The coordinate frames that meet in prompt generation, and the conversions between them.
 *
 * Named frames (continuous coordinates use the "pixel edges" convention: pixel i spans [i, i+1), its centre is
 * i + 0.5; integer pixel indices are written x, y):
 *  - original  : the image as read, originalWidth x originalHeight pixels (points named xyOriginal).
 *  - mask      : a mask-prompt frame of any size W x H that covers the SAME extent as the original image
 *                (usually W x H = original size; a smaller "working" size is allowed).
 *  - sam1024   : SAM's input frame. The image is resized so that its longest side is 1024
 *                (scale = 1024 / max(w, h); resizedWidth = floor(w * scale + 0.5), same for the height, as in
 *                SAM's ResizeLongestSide) and occupies the TOP-LEFT resizedWidth x resizedHeight of a zero-padded
 *                1024 x 1024 square (points named xySam1024).
 *  - grid      : the encoder feature grid, gridSize x gridSize (64 x 64) cells over the padded 1024 square;
 *                cell (gx, gy) covers sam1024 pixels [gx*cellSize, (gx+1)*cellSize) (cellSize = 16).
 *
 * Per axis the original → sam1024 factor is resizedWidth / originalWidth (resp. height), exactly what SAM applies
 * to point coordinates (`x * newW / oldW`); it equals `scale` up to the rounding of the resized size.
 */

/** The geometry of one image in SAM's frames. */
export interface SamFrame {
  readonly originalWidth: number;
  readonly originalHeight: number;
  /** 1024 / max(originalWidth, originalHeight). */
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
  /** Longest side of SAM's input (default 1024, SAM v1). */
  paddedSize?: number;
  /** Feature grid side (default 64 = 1024 / 16). */
  gridSize?: number;
}

/** The SAM frame geometry for an image of the given original size. */
export function samFrame(originalWidth: number, originalHeight: number, opts: SamFrameOptions = {}): SamFrame {
  const paddedSize = opts.paddedSize ?? 1024;
  const gridSize = opts.gridSize ?? 64;
  if (!(Number.isInteger(originalWidth) && originalWidth > 0 && Number.isInteger(originalHeight) && originalHeight > 0)) {
    throw new RangeError(`samFrame: image size must be positive integers, got ${originalWidth}x${originalHeight}`);
  }
  if (!(Number.isInteger(paddedSize) && Number.isInteger(gridSize) && gridSize > 0 && paddedSize % gridSize === 0)) {
    throw new RangeError(`samFrame: paddedSize ${paddedSize} must be a multiple of gridSize ${gridSize}`);
  }
  const scale = paddedSize / Math.max(originalWidth, originalHeight);
  const resizedWidth = Math.floor(originalWidth * scale + 0.5);
  const resizedHeight = Math.floor(originalHeight * scale + 0.5);
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
 * original → sam1024, SAM's own rule for prompt coordinates: multiply by resized/original per axis
 * (pixel indices stay indices; SAM's decoder graph adds the 0.5 itself).
 */
export function originalToSam1024(frame: SamFrame, xyOriginal: XY): XY {
  return {
    x: (xyOriginal.x * frame.resizedWidth) / frame.originalWidth,
    y: (xyOriginal.y * frame.resizedHeight) / frame.originalHeight,
  };
}

/** sam1024 → original, the inverse of originalToSam1024. */
export function sam1024ToOriginal(frame: SamFrame, xySam1024: XY): XY {
  return {
    x: (xySam1024.x * frame.originalWidth) / frame.resizedWidth,
    y: (xySam1024.y * frame.originalHeight) / frame.resizedHeight,
  };
}

/** The grid cell (integer gx, gy) that contains a continuous sam1024 coordinate. */
export function sam1024ToGridCell(frame: SamFrame, xySam1024: XY): XY {
  return { x: Math.floor(xySam1024.x / frame.cellSize), y: Math.floor(xySam1024.y / frame.cellSize) };
}

/** The centre of grid cell (gx, gy) as a continuous sam1024 coordinate, e.g. cell 0 → 8 when cellSize = 16. */
export function gridCellCenterSam1024(frame: SamFrame, cell: XY): XY {
  return { x: (cell.x + 0.5) * frame.cellSize, y: (cell.y + 0.5) * frame.cellSize };
}

/**
 * Pixel-index point in a mask frame of size maskWidth x maskHeight (covering the whole original image) → the
 * continuous sam1024 coordinate of that pixel's centre.
 */
export function maskPixelCenterToSam1024(frame: SamFrame, maskWidth: number, maskHeight: number, xyMask: XY): XY {
  return {
    x: ((xyMask.x + 0.5) * frame.resizedWidth) / maskWidth,
    y: ((xyMask.y + 0.5) * frame.resizedHeight) / maskHeight,
  };
}

/**
 * Pixel-index points from one pixel frame to another covering the same extent (e.g. a working-size mask frame →
 * original). Maps pixel centres ((x + 0.5) * to / from - 0.5) and rounds to the nearest pixel, clamped inside.
 */
export function rescalePixelPoint(xy: XY, fromWidth: number, fromHeight: number, toWidth: number, toHeight: number): XY {
  const x = Math.round(((xy.x + 0.5) * toWidth) / fromWidth - 0.5);
  const y = Math.round(((xy.y + 0.5) * toHeight) / fromHeight - 0.5);
  return { x: Math.min(toWidth - 1, Math.max(0, x)), y: Math.min(toHeight - 1, Math.max(0, y)) };
}
