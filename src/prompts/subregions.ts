/**
 * Subregions (Eqs. 8–9): a candidate region's pixels ordered by raster index (y * W + x, ascending) and cut into
 * n consecutive segments of equal size (sizes differ by at most one).
 */
import type { BinaryMask } from '../image/types.js';

/** Raster indices (ascending) of the non-zero pixels of `mask`, optionally restricted to columns [xFrom, xTo). */
export function regionIndices(mask: BinaryMask, xFrom = 0, xTo = mask.width): Int32Array {
  const { width, height, data } = mask;
  const x0 = Math.max(0, xFrom);
  const x1 = Math.min(width, xTo);
  let count = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = x0; x < x1; x++) if (data[row + x] !== 0) count++;
  }
  const out = new Int32Array(count);
  let k = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = x0; x < x1; x++) if (data[row + x] !== 0) out[k++] = row + x;
  }
  return out;
}

/**
 * Cuts ascending raster indices into n consecutive segments: segment k holds positions
 * [floor(k * N / n), floor((k + 1) * N / n)), so sizes differ by at most one and earlier segments are never larger
 * than later ones. Empty segments (only when N < n) are left out, so the result has min(n, N) segments.
 * Returned arrays are views into `indices`.
 */
export function cutSubregions(indices: Int32Array, n: number): Int32Array[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`cutSubregions: n must be an integer >= 0, got ${n}`);
  const total = indices.length;
  const out: Int32Array[] = [];
  for (let k = 0; k < n; k++) {
    const start = Math.floor((k * total) / n);
    const end = Math.floor(((k + 1) * total) / n);
    if (end > start) out.push(indices.subarray(start, end));
  }
  return out;
}
