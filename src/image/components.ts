/**
 * Connected components, largest component, hole filling and bounding box on BinaryMask.
 * Iterative (explicit queue in a preallocated Int32Array), so one component filling a 1024x1024 image is fine.
 */
import { assertPlaneSize } from './labels.js';
import type { BinaryMask, Box } from './types.js';

export type Connectivity = 4 | 8;

export interface ComponentsResult {
  /** Per pixel: 0 = background, 1..count = component index, numbered in raster order of each component's first pixel. */
  labels: Int32Array;
  count: number;
  /** sizes[i] = number of pixels of component i + 1. */
  sizes: number[];
}

/**
 * Labels the foreground (non-zero) pixels of `mask` into connected components.
 * connectivity 8 (default) joins diagonal neighbours, 4 only edge neighbours.
 */
export function connectedComponents(mask: BinaryMask, connectivity: Connectivity = 8): ComponentsResult {
  assertPlaneSize('connectedComponents', mask);
  return labelWhere(mask, connectivity, true);
}

/** Shared flood fill: labels the pixels whose (data !== 0) equals `foreground`. */
function labelWhere(mask: BinaryMask, connectivity: Connectivity, foreground: boolean): ComponentsResult {
  if (connectivity !== 4 && connectivity !== 8) {
    throw new RangeError(`connectedComponents: connectivity must be 4 or 8, got ${String(connectivity)}`);
  }
  const { width, height } = mask;
  const src = mask.data;
  const n = width * height;
  const labels = new Int32Array(n);
  const queue = new Int32Array(n);
  const sizes: number[] = [];
  const diagonal = connectivity === 8;
  let count = 0;
  for (let start = 0; start < n; start++) {
    if (labels[start] !== 0 || (src[start]! !== 0) !== foreground) continue;
    count++;
    labels[start] = count;
    let head = 0;
    let tail = 0;
    queue[tail++] = start;
    while (head < tail) {
      const i = queue[head++]!;
      const x = i % width;
      const y = (i - x) / width;
      const x0 = x > 0 ? x - 1 : x;
      const x1 = x < width - 1 ? x + 1 : x;
      const y0 = y > 0 ? y - 1 : y;
      const y1 = y < height - 1 ? y + 1 : y;
      for (let yy = y0; yy <= y1; yy++) {
        for (let xx = x0; xx <= x1; xx++) {
          if (!diagonal && xx !== x && yy !== y) continue;
          const j = yy * width + xx;
          if (labels[j] !== 0 || (src[j]! !== 0) !== foreground) continue;
          labels[j] = count;
          queue[tail++] = j;
        }
      }
    }
    sizes.push(tail);
  }
  return { labels, count, sizes };
}

/**
 * The largest connected component as a mask (ties: the one whose first pixel comes first in raster order).
 * An empty mask gives an empty mask.
 */
export function largestComponent(mask: BinaryMask, connectivity: Connectivity = 8): BinaryMask {
  const { labels, count, sizes } = connectedComponents(mask, connectivity);
  const out = new Uint8Array(mask.width * mask.height);
  if (count === 0) return { width: mask.width, height: mask.height, data: out };
  let best = 0;
  for (let i = 1; i < sizes.length; i++) if (sizes[i]! > sizes[best]!) best = i;
  const keep = best + 1;
  for (let i = 0; i < labels.length; i++) out[i] = labels[i] === keep ? 1 : 0;
  return { width: mask.width, height: mask.height, data: out };
}

/**
 * Fills holes: background regions that do not touch the image border become foreground.
 * Background regions are taken 4-connected (the complement of 8-connected foreground), so a ring closed only
 * through diagonal steps still encloses its inside. Set `backgroundConnectivity` to 8 for the stricter reading.
 */
export function fillHoles(mask: BinaryMask, backgroundConnectivity: Connectivity = 4): BinaryMask {
  assertPlaneSize('fillHoles', mask);
  const { width, height } = mask;
  const { labels, count } = labelWhere(mask, backgroundConnectivity, false);
  const touchesBorder = new Uint8Array(count + 1);
  for (let x = 0; x < width; x++) {
    touchesBorder[labels[x]!] = 1;
    touchesBorder[labels[(height - 1) * width + x]!] = 1;
  }
  for (let y = 0; y < height; y++) {
    touchesBorder[labels[y * width]!] = 1;
    touchesBorder[labels[y * width + width - 1]!] = 1;
  }
  const out = new Uint8Array(width * height);
  const src = mask.data;
  for (let i = 0; i < out.length; i++) {
    const l = labels[i]!;
    out[i] = src[i]! !== 0 || (l !== 0 && touchesBorder[l] === 0) ? 1 : 0;
  }
  return { width, height, data: out };
}

/** First index in [from, to) of `src` holding a non-zero byte, or -1; 4 bytes at a time where `words` is given. */
function firstNonZero(src: Uint8Array, words: Uint32Array | null, from: number, to: number): number {
  let i = from;
  if (words !== null) {
    while (i < to && (i & 3) !== 0) {
      if (src[i] !== 0) return i;
      i++;
    }
    if (i < to) {
      let w = i >>> 2;
      const wEnd = to >>> 2;
      while (w < wEnd && words[w] === 0) w++;
      i = w << 2;
    }
  }
  for (; i < to; i++) if (src[i] !== 0) return i;
  return -1;
}

/** Last index in [from, to) of `src` holding a non-zero byte, or -1; 4 bytes at a time where `words` is given. */
function lastNonZero(src: Uint8Array, words: Uint32Array | null, from: number, to: number): number {
  let i = to - 1;
  if (words !== null) {
    while (i >= from && (i & 3) !== 3) {
      if (src[i] !== 0) return i;
      i--;
    }
    // Words wholly inside [from, i]: indices w with 4w >= from and 4w + 3 <= i.
    let w = (i - 3) >> 2;
    const wFirst = (from + 3) >>> 2;
    while (w >= wFirst && words[w] === 0) w--;
    i = 4 * w + 3;
  }
  for (; i >= from; i--) if (src[i] !== 0) return i;
  return -1;
}

/**
 * Inclusive bounding box of the non-zero pixels, or null when there are none. The first and last rows holding one
 * are searched from the top and from the bottom; each row between them is then read only outside the box found so
 * far (the same box as reading every pixel, at a fraction of the reads for a compact mask).
 */
export function boundingBox(mask: BinaryMask): Box | null {
  assertPlaneSize('boundingBox', mask);
  const { width, height } = mask;
  const src = mask.data;
  const words = src.byteOffset % 4 === 0 ? new Uint32Array(src.buffer, src.byteOffset, src.length >>> 2) : null;
  let y0 = -1;
  let x0 = width;
  for (let y = 0; y < height && y0 < 0; y++) {
    const i = firstNonZero(src, words, y * width, (y + 1) * width);
    if (i >= 0) {
      y0 = y;
      x0 = i - y * width;
    }
  }
  if (y0 < 0) return null;
  let y1 = y0;
  for (let y = height - 1; y > y0; y--) {
    if (firstNonZero(src, words, y * width, (y + 1) * width) >= 0) {
      y1 = y;
      break;
    }
  }
  let x1 = -1;
  for (let y = y0; y <= y1; y++) {
    const row = y * width;
    if (x0 > 0) {
      const left = firstNonZero(src, words, row, row + x0);
      if (left >= 0) x0 = left - row;
    }
    if (x1 < width - 1) {
      const right = lastNonZero(src, words, row + x1 + 1, row + width);
      if (right >= 0) x1 = right - row;
    }
  }
  return { x0, y0, x1, y1 };
}
