/**
 * Prompt refinement helpers (end of §3.2, App. C.1): the SAM output becomes the next mask prompt after "boundary
 * smoothing through erosion and dilation, as well as binary hole refilling".
 * Here: threshold the logits (> 0) → opening (erosion then dilation, small kernel) → fill holes → optionally keep
 * the largest component(s). If the opening would remove everything (an object thinner than the kernel), the
 * unsmoothed mask is kept (diagnostic 'opening-emptied-kept-unsmoothed').
 * Runs on the bounding box + 1 pixel (exact: opening never grows the mask, and the 1-pixel background ring
 * connects everything outside, so hole filling is unchanged).
 */
import { boundingBox, connectedComponents, fillHoles } from '../image/components.js';
import { countForeground } from '../image/labels.js';
import { opening, type KernelShape } from '../image/morphology.js';
import { nearestAxis } from '../image/resize.js';
import type { BinaryMask } from '../image/types.js';
import { cropMask, expandBox, pasteMask } from './crop.js';

/** Foreground where logit > threshold (default 0, SAM's mask threshold). */
export function binaryFromLogits(logits: Float32Array, width: number, height: number, threshold = 0): BinaryMask {
  if (logits.length !== width * height) {
    throw new RangeError(`binaryFromLogits: logits length ${logits.length} != ${width}x${height}`);
  }
  const data = new Uint8Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = logits[i]! > threshold ? 1 : 0;
  return { width, height, data };
}

/**
 * `resizeBinaryNearest(binaryFromLogits(logits, width, height, threshold), outWidth, outHeight)` without the
 * full-size mask: the logits are thresholded only at the pixels the nearest-neighbour resize samples.
 */
export function binaryFromLogitsNearest(
  logits: Float32Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  threshold = 0,
): BinaryMask {
  if (logits.length !== width * height) {
    throw new RangeError(`binaryFromLogitsNearest: logits length ${logits.length} != ${width}x${height}`);
  }
  if (!(Number.isInteger(outWidth) && Number.isInteger(outHeight) && outWidth >= 1 && outHeight >= 1)) {
    throw new RangeError(`binaryFromLogitsNearest: output size ${outWidth}x${outHeight} must be positive integers`);
  }
  const ix = nearestAxis(width, outWidth);
  const iy = nearestAxis(height, outHeight);
  const data = new Uint8Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const row = iy[y]! * width;
    const o = y * outWidth;
    for (let x = 0; x < outWidth; x++) data[o + x] = logits[row + ix[x]!]! > threshold ? 1 : 0;
  }
  return { width: outWidth, height: outHeight, data };
}

export interface SmoothMaskOptions {
  /** Opening radius in pixels (absolute); default max(1, round(radiusFraction * max(width, height))). */
  radius?: number;
  /** Default 0.005 (our choice; the paper gives no size): 5 px at 1024, 1 px at 256. */
  radiusFraction?: number;
  /** Default 'disk'. */
  kernelShape?: KernelShape;
  /** Default true. */
  fillHoles?: boolean;
  /** 'all' (default), 'largest', or keep the N largest 8-connected components (e.g. 2 for a bilateral organ). */
  keepComponents?: 'all' | 'largest' | number;
}

export interface SmoothMaskResult {
  mask: BinaryMask;
  radiusUsed: number;
  pixelsBefore: number;
  pixelsAfter: number;
  fallbacks: string[];
}

function keepLargest(mask: BinaryMask, n: number): BinaryMask {
  const { labels, sizes } = connectedComponents(mask, 8);
  if (sizes.length <= n) return mask;
  // Component ids by size descending, ties by first appearance (lower id).
  const order = sizes.map((s, i) => ({ s, id: i + 1 })).sort((a, b) => b.s - a.s || a.id - b.id);
  const keep = new Uint8Array(sizes.length + 1);
  for (let k = 0; k < n; k++) keep[order[k]!.id] = 1;
  const data = new Uint8Array(mask.data.length);
  for (let i = 0; i < data.length; i++) data[i] = keep[labels[i]!]!;
  return { width: mask.width, height: mask.height, data };
}

/** SAM output mask → next mask prompt (opening, hole filling, optional component filter). */
export function smoothMaskForNextPrompt(mask: BinaryMask, opts: SmoothMaskOptions = {}): SmoothMaskResult {
  const { width, height } = mask;
  const radius = opts.radius ?? Math.max(1, Math.round((opts.radiusFraction ?? 0.005) * Math.max(width, height)));
  if (!Number.isInteger(radius) || radius < 0) throw new RangeError(`smoothMaskForNextPrompt: radius must be an integer >= 0, got ${radius}`);
  const keep = opts.keepComponents ?? 'all';
  if (typeof keep === 'number' && !(Number.isInteger(keep) && keep >= 1)) {
    throw new RangeError(`smoothMaskForNextPrompt: keepComponents must be 'all', 'largest' or an integer >= 1`);
  }
  const fallbacks: string[] = [];
  const pixelsBefore = countForeground(mask);
  const bbox = boundingBox(mask);
  if (!bbox) return { mask: { width, height, data: new Uint8Array(width * height) }, radiusUsed: radius, pixelsBefore, pixelsAfter: 0, fallbacks };
  const cropBox = expandBox(bbox, 1, width, height);
  const cropped = cropMask(mask, cropBox);
  let out = opening(cropped, { shape: opts.kernelShape ?? 'disk', radius });
  if (countForeground(out) === 0) {
    out = cropped;
    fallbacks.push('opening-emptied-kept-unsmoothed');
  }
  if (opts.fillHoles ?? true) out = fillHoles(out);
  if (keep !== 'all') out = keepLargest(out, keep === 'largest' ? 1 : keep);
  out = pasteMask(out, cropBox, width, height);
  return { mask: out, radiusUsed: radius, pixelsBefore, pixelsAfter: countForeground(out), fallbacks };
}
