/**
 * Resizing of images (bilinear, area) and of label maps / binary masks (nearest).
 *
 * Geometry: pixel-centre aligned (the OpenCV / PyTorch `align_corners=false` convention). With scale = srcSize /
 * dstSize, destination pixel d samples source coordinate s = (d + 0.5) * scale - 0.5; for bilinear, coordinates
 * outside [0, srcSize-1] are clamped (edge pixels replicated).
 *
 * 'area' is the box average: destination pixel d covers the source interval [d*scale, (d+1)*scale) and each source
 * pixel contributes by its overlap length (fractional at the ends), weights summing to 1. For integer downsampling
 * factors this is exactly the block mean. (Used for upsampling it degenerates to nearest-like box sampling.)
 *
 * Speed: every method precomputes per-axis index/weight tables once and runs allocation-free loops per pixel;
 * area is separable (horizontal pass, then vertical).
 */
import type { BinaryMask, FloatImage, LabelMap } from './types.js';

export type ResizeMethod = 'bilinear' | 'area';

function checkSize(what: string, w: number, h: number): void {
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1) {
    throw new RangeError(`${what}: size must be positive integers, got ${w}x${h}`);
  }
}

function checkData(what: string, length: number, w: number, h: number, channels: number): void {
  if (length !== w * h * channels) {
    throw new RangeError(`${what}: data length ${length} does not match ${w}x${h}x${channels}`);
  }
}

/** Bilinear tables for one axis: lower index, upper index, weight of the upper index. */
interface LinearAxis {
  i0: Int32Array;
  i1: Int32Array;
  f: Float32Array;
}

function linearAxis(srcSize: number, dstSize: number): LinearAxis {
  const i0 = new Int32Array(dstSize);
  const i1 = new Int32Array(dstSize);
  const f = new Float32Array(dstSize);
  const scale = srcSize / dstSize;
  for (let d = 0; d < dstSize; d++) {
    let s = (d + 0.5) * scale - 0.5;
    if (s < 0) s = 0;
    if (s > srcSize - 1) s = srcSize - 1;
    const lo = Math.floor(s);
    i0[d] = lo;
    i1[d] = lo + 1 < srcSize ? lo + 1 : lo;
    f[d] = s - lo;
  }
  return { i0, i1, f };
}

/**
 * Area (box-filter) taps along one axis: destination d averages source [d*srcPerOut, (d+1)*srcPerOut), source pixel
 * s being the constant on [s, s+1); its taps are idx[start[d]..start[d+1]) with weights wt (overlap / srcPerOut).
 * srcPerOut defaults to srcSize / dstSize (the plain resize). A larger srcPerOut lets the destination reach past the
 * source (e.g. a padded frame): past the end there are no taps, and `coverage[d]` (the sum of d's weights) is < 1.
 */
export interface AreaTaps {
  start: Int32Array;
  idx: Int32Array;
  wt: Float64Array;
  coverage: Float64Array;
}

export function areaTaps(srcSize: number, dstSize: number, srcPerOut?: number): AreaTaps {
  const scale = srcPerOut ?? srcSize / dstSize;
  const start = new Int32Array(dstSize + 1);
  const coverage = new Float64Array(dstSize);
  const idxList: number[] = [];
  const wtList: number[] = [];
  for (let d = 0; d < dstSize; d++) {
    start[d] = idxList.length;
    // Plain resize: interval ends as exact rationals d*src/dst to avoid drift.
    const a = srcPerOut === undefined ? (d * srcSize) / dstSize : d * scale;
    const b = srcPerOut === undefined ? ((d + 1) * srcSize) / dstSize : (d + 1) * scale;
    const first = Math.floor(a);
    const last = Math.min(srcSize - 1, Math.ceil(b) - 1);
    let sum = 0;
    for (let s = first; s <= last; s++) {
      const overlap = Math.min(b, s + 1) - Math.max(a, s);
      if (overlap > 1e-12) {
        idxList.push(s);
        wtList.push(overlap / scale);
        sum += overlap / scale;
      }
    }
    coverage[d] = sum;
  }
  start[dstSize] = idxList.length;
  return { start, idx: Int32Array.from(idxList), wt: Float64Array.from(wtList), coverage };
}

/** Bilinear resize of interleaved data with `channels` channels. */
function bilinearInterleaved(
  src: Float32Array,
  w: number,
  h: number,
  channels: number,
  newW: number,
  newH: number,
): Float32Array {
  const out = new Float32Array(newW * newH * channels);
  const ax = linearAxis(w, newW);
  const ay = linearAxis(h, newH);
  const rowStride = w * channels;
  for (let y = 0; y < newH; y++) {
    const r0 = ay.i0[y]! * rowStride;
    const r1 = ay.i1[y]! * rowStride;
    const fy = ay.f[y]!;
    const gy = 1 - fy;
    let o = y * newW * channels;
    for (let x = 0; x < newW; x++) {
      const c0 = ax.i0[x]! * channels;
      const c1 = ax.i1[x]! * channels;
      const fx = ax.f[x]!;
      const gx = 1 - fx;
      for (let c = 0; c < channels; c++) {
        const top = src[r0 + c0 + c]! * gx + src[r0 + c1 + c]! * fx;
        const bottom = src[r1 + c0 + c]! * gx + src[r1 + c1 + c]! * fx;
        out[o++] = top * gy + bottom * fy;
      }
    }
  }
  return out;
}

/**
 * Separable area resampling of interleaved data (`channels` values per pixel) with the given taps (horizontal pass,
 * then vertical; Float64 sums). Where a destination pixel reaches past the source (coverage < 1) the uncovered
 * fraction takes `padValue`: out = Σ wy Σ wx src + padValue · (1 - coverageX · coverageY).
 */
export function resampleAreaSeparable(
  src: ArrayLike<number>,
  w: number,
  h: number,
  channels: number,
  ax: AreaTaps,
  ay: AreaTaps,
  padValue = 0,
): Float32Array {
  const newW = ax.coverage.length;
  const newH = ay.coverage.length;
  // Horizontal pass: h rows of newW pixels (Float64 to keep sums exact enough).
  const tmp = new Float64Array(newW * h * channels);
  for (let y = 0; y < h; y++) {
    const srcRow = y * w * channels;
    const tmpRow = y * newW * channels;
    for (let x = 0; x < newW; x++) {
      const k0 = ax.start[x]!;
      const k1 = ax.start[x + 1]!;
      for (let c = 0; c < channels; c++) {
        let acc = 0;
        for (let k = k0; k < k1; k++) acc += src[srcRow + ax.idx[k]! * channels + c]! * ax.wt[k]!;
        tmp[tmpRow + x * channels + c] = acc;
      }
    }
  }
  // Vertical pass, row-wise accumulation for locality.
  const out = new Float32Array(newW * newH * channels);
  const rowLen = newW * channels;
  const acc = new Float64Array(rowLen);
  for (let y = 0; y < newH; y++) {
    acc.fill(0);
    for (let k = ay.start[y]!; k < ay.start[y + 1]!; k++) {
      const base = ay.idx[k]! * rowLen;
      const wgt = ay.wt[k]!;
      for (let i = 0; i < rowLen; i++) acc[i]! += tmp[base + i]! * wgt;
    }
    if (padValue !== 0) {
      const cy = ay.coverage[y]!;
      for (let x = 0; x < newW; x++) {
        const pad = 1 - ax.coverage[x]! * cy;
        if (pad > 1e-7) for (let c = 0; c < channels; c++) acc[x * channels + c]! += padValue * pad;
      }
    }
    out.set(acc, y * rowLen);
  }
  return out;
}

/** Resizes a float image (any channel count) to width x height. Default method 'bilinear'; use 'area' to downsample. */
export function resizeImage(img: FloatImage, width: number, height: number, method: ResizeMethod = 'bilinear'): FloatImage {
  checkSize('resizeImage', width, height);
  checkSize('resizeImage (source)', img.width, img.height);
  checkData('resizeImage', img.data.length, img.width, img.height, img.channels);
  let data: Float32Array;
  if (width === img.width && height === img.height) {
    data = new Float32Array(img.data);
  } else if (method === 'bilinear') {
    data = bilinearInterleaved(img.data, img.width, img.height, img.channels, width, height);
  } else if (method === 'area') {
    data = resampleAreaSeparable(img.data, img.width, img.height, img.channels, areaTaps(img.width, width), areaTaps(img.height, height));
  } else {
    throw new RangeError(`resizeImage: unknown method ${String(method)}`);
  }
  return { width, height, channels: img.channels, data };
}

/** Bilinear resize of one float plane (w x h, row-major) to newW x newH; same geometry as resizeImage. */
export function resizePlaneBilinear(plane: Float32Array, w: number, h: number, newW: number, newH: number): Float32Array {
  checkSize('resizePlaneBilinear', newW, newH);
  checkSize('resizePlaneBilinear (source)', w, h);
  checkData('resizePlaneBilinear', plane.length, w, h, 1);
  return bilinearInterleaved(plane, w, h, 1, newW, newH);
}

/** Nearest source index per destination index: floor((d + 0.5) * src / dst), in exact integer arithmetic. */
export function nearestAxis(srcSize: number, dstSize: number): Int32Array {
  const out = new Int32Array(dstSize);
  for (let d = 0; d < dstSize; d++) {
    const s = Math.floor(((2 * d + 1) * srcSize) / (2 * dstSize));
    out[d] = s < srcSize ? s : srcSize - 1;
  }
  return out;
}

function nearestPlane(src: Uint8Array, w: number, h: number, newW: number, newH: number): Uint8Array {
  const ix = nearestAxis(w, newW);
  const iy = nearestAxis(h, newH);
  const out = new Uint8Array(newW * newH);
  for (let y = 0; y < newH; y++) {
    const row = iy[y]! * w;
    const o = y * newW;
    for (let x = 0; x < newW; x++) out[o + x] = src[row + ix[x]!]!;
  }
  return out;
}

/** Nearest-neighbour resize of a label map (labels are never mixed). */
export function resizeLabelNearest(label: LabelMap, width: number, height: number): LabelMap {
  checkSize('resizeLabelNearest', width, height);
  checkSize('resizeLabelNearest (source)', label.width, label.height);
  checkData('resizeLabelNearest', label.data.length, label.width, label.height, 1);
  return { width, height, data: nearestPlane(label.data, label.width, label.height, width, height) };
}

/** Nearest-neighbour resize of a binary mask. */
export function resizeBinaryNearest(mask: BinaryMask, width: number, height: number): BinaryMask {
  checkSize('resizeBinaryNearest', width, height);
  checkSize('resizeBinaryNearest (source)', mask.width, mask.height);
  checkData('resizeBinaryNearest', mask.data.length, mask.width, mask.height, 1);
  return { width, height, data: nearestPlane(mask.data, mask.width, mask.height, width, height) };
}
