/**
 * Prompt-engine helpers on top of SAM's frames. The frame itself (`samFrame`, `SamFrame`) and the
 * original <-> sam1024 point conversions live in sam/frames.ts (pure, no ONNX runtime); the frame is re-exported
 * here for the prompt engine's callers. This module adds the grid-cell and mask-frame helpers prompt generation
 * needs.
 *
 * Frames (see sam/frames.ts for original / sam1024 / grid):
 *  - mask : a mask-prompt frame of any size W x H that covers the SAME extent as the original image
 *           (usually W x H = original size; a smaller "working" size is allowed).
 */
import type { SamFrame, XY } from '../sam/frames.js';

export { samFrame, type SamFrame, type SamFrameOptions, type XY } from '../sam/frames.js';

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
