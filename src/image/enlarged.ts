/**
 * A binary mask at width × height given as a smaller mask and its nearest-neighbour enlargement
 * (resize.ts `resizeBinaryNearest` to width × height), never built: what a prompt needs of the enlarged mask
 * (its box, its nearest resize to another size, the runs of each of its rows) computed from the small one.
 *
 * Enlarging with `nearestAxis` is monotone and onto: enlarged column x shows small column ix[x], ix is
 * non-decreasing, and every small column is shown by at least one enlarged column (the same for rows). So small
 * column a covers the enlarged columns [start[a], start[a + 1]), and runs and boxes map exactly.
 * Pure typed-array code, browser-safe.
 */
import { assertPlaneSize } from './labels.js';
import { boundingBox } from './components.js';
import { nearestAxis } from './resize.js';
import type { BinaryMask, Box } from './types.js';

export interface EnlargedMask {
  /** The mask as stored (small.width ≤ width, small.height ≤ height). */
  small: BinaryMask;
  /** Size of the enlarged mask it stands for. */
  width: number;
  height: number;
}

/** The enlarged mask `small` stands for at width × height (each side at least the small one's). */
export function enlargedMask(small: BinaryMask, width: number, height: number): EnlargedMask {
  assertPlaneSize('enlargedMask', small);
  if (!(Number.isInteger(width) && Number.isInteger(height)) || small.width < 1 || small.height < 1 || width < small.width || height < small.height) {
    throw new RangeError(`enlargedMask: ${small.width}x${small.height} cannot be enlarged to ${width}x${height}`);
  }
  return { small, width, height };
}

/**
 * Per small index a (0..smallSize): the first enlarged index showing it; entry smallSize = size. Small index a
 * covers the enlarged indices [start[a], start[a + 1]).
 */
export function enlargedStarts(smallSize: number, size: number): Int32Array {
  const ix = nearestAxis(smallSize, size);
  const start = new Int32Array(smallSize + 1);
  start[smallSize] = size;
  for (let x = size - 1; x >= 0; x--) start[ix[x]!] = x;
  return start;
}

/** The enlarged mask, built (for tests and callers that need the pixels). */
export function materializeEnlarged(m: EnlargedMask): BinaryMask {
  const ix = nearestAxis(m.small.width, m.width);
  const iy = nearestAxis(m.small.height, m.height);
  const data = new Uint8Array(m.width * m.height);
  for (let y = 0; y < m.height; y++) {
    const row = iy[y]! * m.small.width;
    const o = y * m.width;
    for (let x = 0; x < m.width; x++) data[o + x] = m.small.data[row + ix[x]!]!;
  }
  return { width: m.width, height: m.height, data };
}

/** `boundingBox` of the enlarged mask, from the small mask's box. */
export function enlargedBoundingBox(m: EnlargedMask): Box | null {
  const b = boundingBox(m.small);
  if (!b) return null;
  const sx = enlargedStarts(m.small.width, m.width);
  const sy = enlargedStarts(m.small.height, m.height);
  return { x0: sx[b.x0]!, y0: sy[b.y0]!, x1: sx[b.x1 + 1]! - 1, y1: sy[b.y1 + 1]! - 1 };
}

/** `resizeBinaryNearest` of the enlarged mask to outWidth × outHeight, read straight from the small mask. */
export function resizeEnlargedNearest(m: EnlargedMask, outWidth: number, outHeight: number): BinaryMask {
  const toEnlargedX = nearestAxis(m.width, outWidth);
  const toEnlargedY = nearestAxis(m.height, outHeight);
  const toSmallX = nearestAxis(m.small.width, m.width);
  const toSmallY = nearestAxis(m.small.height, m.height);
  const ix = toEnlargedX.map((x) => toSmallX[x]!);
  const data = new Uint8Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const row = toSmallY[toEnlargedY[y]!]! * m.small.width;
    const o = y * outWidth;
    for (let x = 0; x < outWidth; x++) data[o + x] = m.small.data[row + ix[x]!]!;
  }
  return { width: outWidth, height: outHeight, data };
}

/**
 * The maximal foreground runs of every enlarged row, as [start, end) pairs in enlarged columns, left to right:
 * `rows[y]` is the runs of small row ix(y) mapped through `enlargedStarts` (rows showing the same small row share
 * one array).
 */
export function enlargedRowRuns(m: EnlargedMask): Int32Array[] {
  const { small } = m;
  const sx = enlargedStarts(small.width, m.width);
  const perSmallRow: Int32Array[] = [];
  for (let r = 0; r < small.height; r++) {
    const runs: number[] = [];
    const row = r * small.width;
    let a = -1;
    for (let x = 0; x < small.width; x++) {
      if (small.data[row + x] !== 0) {
        if (a < 0) a = x;
      } else if (a >= 0) {
        runs.push(sx[a]!, sx[x]!);
        a = -1;
      }
    }
    if (a >= 0) runs.push(sx[a]!, m.width);
    perSmallRow.push(Int32Array.from(runs));
  }
  const iy = nearestAxis(small.height, m.height);
  return Array.from(iy, (r) => perSmallRow[r]!);
}
