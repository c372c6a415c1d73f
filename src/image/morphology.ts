/**
 * Binary morphology (erosion, dilation, opening, closing) on BinaryMask, used for the paper's mask-prompt
 * post-processing (Appendix C) and by the prompt generator.
 *
 * Kernels are flat and symmetric, size 2*radius+1:
 *  - 'square': all offsets with |dx| <= r and |dy| <= r. Done separably with running window counts: O(1) per pixel
 *    whatever the radius.
 *  - 'disk':   offsets with dx^2 + dy^2 <= r^2 (so a disk of radius 1 is the 3x3 cross, as in skimage's disk(1)).
 *  - 'cross':  offsets with dx = 0 or dy = 0 (a plus sign with arms of length r).
 *  Disk and cross are decomposed into one horizontal span per row offset dy (half-width w(dy)); each span is tested
 *  in O(1) with per-row prefix sums, so they cost O(r) per pixel.
 *
 * Border convention: pixels outside the image count as background. Hence erosion shrinks objects that touch the
 * border (a pixel whose kernel leaves the image is eroded), and dilation never adds anything from outside.
 * `opening` = dilate(erode(m)) (anti-extensive). `closing` is computed as if the mask were embedded in an infinite
 * background plane (padded by the radius before dilate→erode, then cropped), so it is extensive (never removes a
 * foreground pixel, also at the border).
 */
import { assertPlaneSize } from './labels.js';
import type { BinaryMask } from './types.js';

export type KernelShape = 'square' | 'disk' | 'cross';

/** A flat structuring element of size (2*radius+1)^2. radius must be an integer >= 0 (0 = identity). */
export interface Kernel {
  shape: KernelShape;
  radius: number;
}

function checkKernel(kernel: Kernel): void {
  if (!Number.isInteger(kernel.radius) || kernel.radius < 0) {
    throw new RangeError(`morphology: kernel radius must be an integer >= 0, got ${kernel.radius}`);
  }
  if (kernel.shape !== 'square' && kernel.shape !== 'disk' && kernel.shape !== 'cross') {
    throw new RangeError(`morphology: unknown kernel shape ${String(kernel.shape)}`);
  }
}

/**
 * Half-width of the kernel's horizontal span at each row offset: element k is w(dy) for dy = k - radius; the kernel
 * holds (dx, dy) iff |dx| <= w(dy).
 */
export function kernelHalfWidths(kernel: Kernel): Int32Array {
  checkKernel(kernel);
  const r = kernel.radius;
  const hw = new Int32Array(2 * r + 1);
  for (let dy = -r; dy <= r; dy++) {
    let w: number;
    if (kernel.shape === 'square') w = r;
    else if (kernel.shape === 'cross') w = dy === 0 ? r : 0;
    else w = Math.floor(Math.sqrt(r * r - dy * dy) + 1e-9);
    hw[dy + r] = w;
  }
  return hw;
}

function copyMask(mask: BinaryMask): BinaryMask {
  return { width: mask.width, height: mask.height, data: new Uint8Array(mask.data) };
}

/** Horizontal pass of the separable square: out(x) = [count of ones in x-r..x+r] test. */
function horizontalPass(src: Uint8Array, out: Uint8Array, width: number, height: number, r: number, erode: boolean): void {
  const full = 2 * r + 1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let count = 0;
    const initEnd = Math.min(r, width - 1);
    for (let x = 0; x <= initEnd; x++) count += src[row + x]! !== 0 ? 1 : 0;
    for (let x = 0; x < width; x++) {
      // A window clipped by the border has fewer than 2r+1 pixels, so it can never satisfy erosion.
      out[row + x] = erode ? (count === full ? 1 : 0) : count > 0 ? 1 : 0;
      const add = x + r + 1;
      if (add < width && src[row + add]! !== 0) count++;
      const drop = x - r;
      if (drop >= 0 && src[row + drop]! !== 0) count--;
    }
  }
}

/** Vertical pass of the separable square, row-major friendly: one running count per column. */
function verticalPass(src: Uint8Array, out: Uint8Array, width: number, height: number, r: number, erode: boolean): void {
  const full = 2 * r + 1;
  const counts = new Int32Array(width);
  const initEnd = Math.min(r, height - 1);
  for (let y = 0; y <= initEnd; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) counts[x]! += src[row + x]! !== 0 ? 1 : 0;
  }
  for (let y = 0; y < height; y++) {
    const row = y * width;
    if (erode) for (let x = 0; x < width; x++) out[row + x] = counts[x] === full ? 1 : 0;
    else for (let x = 0; x < width; x++) out[row + x] = counts[x]! > 0 ? 1 : 0;
    const add = y + r + 1;
    if (add < height) {
      const addRow = add * width;
      for (let x = 0; x < width; x++) if (src[addRow + x]! !== 0) counts[x]!++;
    }
    const drop = y - r;
    if (drop >= 0) {
      const dropRow = drop * width;
      for (let x = 0; x < width; x++) if (src[dropRow + x]! !== 0) counts[x]!--;
    }
  }
}

function squareMorph(mask: BinaryMask, r: number, erode: boolean): BinaryMask {
  const { width, height } = mask;
  const tmp = new Uint8Array(width * height);
  const out = new Uint8Array(width * height);
  horizontalPass(mask.data, tmp, width, height, r, erode);
  verticalPass(tmp, out, width, height, r, erode);
  return { width, height, data: out };
}

/** Row-span decomposition (disk, cross): per-row prefix sums test each span in O(1). */
function spanMorph(mask: BinaryMask, halfWidths: Int32Array, erode: boolean): BinaryMask {
  const { width, height } = mask;
  const src = mask.data;
  const r = (halfWidths.length - 1) >> 1;
  const stride = width + 1;
  const prefix = new Int32Array(height * stride);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const p = y * stride;
    let acc = 0;
    for (let x = 0; x < width; x++) {
      acc += src[row + x]! !== 0 ? 1 : 0;
      prefix[p + x + 1] = acc;
    }
  }
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const centre = src[i]! !== 0;
      let value: number;
      if (erode) {
        if (!centre) {
          out[i] = 0;
          continue;
        }
        value = 1;
        for (let k = 0; k < halfWidths.length; k++) {
          const yy = y + k - r;
          const w = halfWidths[k]!;
          if (yy < 0 || yy >= height || x - w < 0 || x + w >= width) {
            value = 0;
            break;
          }
          const p = yy * stride;
          if (prefix[p + x + w + 1]! - prefix[p + x - w]! !== 2 * w + 1) {
            value = 0;
            break;
          }
        }
      } else {
        if (centre) {
          out[i] = 1;
          continue;
        }
        value = 0;
        for (let k = 0; k < halfWidths.length; k++) {
          const yy = y + k - r;
          if (yy < 0 || yy >= height) continue;
          const w = halfWidths[k]!;
          const lo = x - w < 0 ? 0 : x - w;
          const hi = x + w >= width ? width - 1 : x + w;
          const p = yy * stride;
          if (prefix[p + hi + 1]! - prefix[p + lo]! > 0) {
            value = 1;
            break;
          }
        }
      }
      out[i] = value;
    }
  }
  return { width, height, data: out };
}

function morph(mask: BinaryMask, kernel: Kernel, erode: boolean): BinaryMask {
  checkKernel(kernel);
  assertPlaneSize(erode ? 'erode' : 'dilate', mask);
  if (kernel.radius === 0 || mask.data.length === 0) return copyMask(mask);
  if (kernel.shape === 'square') return squareMorph(mask, kernel.radius, erode);
  return spanMorph(mask, kernelHalfWidths(kernel), erode);
}

/** Erosion: a pixel stays 1 iff every kernel offset lands on a foreground pixel inside the image. */
export function erode(mask: BinaryMask, kernel: Kernel): BinaryMask {
  return morph(mask, kernel, true);
}

/** Dilation: a pixel becomes 1 iff some kernel offset lands on a foreground pixel. */
export function dilate(mask: BinaryMask, kernel: Kernel): BinaryMask {
  return morph(mask, kernel, false);
}

/** Opening = dilate(erode(mask)): removes parts narrower than the kernel. Never adds pixels. */
export function opening(mask: BinaryMask, kernel: Kernel): BinaryMask {
  return dilate(erode(mask, kernel), kernel);
}

/**
 * Closing = erode(dilate(mask)) on the mask padded by `radius` background pixels, then cropped back: fills gaps
 * narrower than the kernel and never removes pixels (also at the image border).
 */
export function closing(mask: BinaryMask, kernel: Kernel): BinaryMask {
  checkKernel(kernel);
  assertPlaneSize('closing', mask);
  const r = kernel.radius;
  if (r === 0 || mask.data.length === 0) return copyMask(mask);
  const { width, height } = mask;
  const pw = width + 2 * r;
  const ph = height + 2 * r;
  const padded = new Uint8Array(pw * ph);
  for (let y = 0; y < height; y++) {
    padded.set(mask.data.subarray(y * width, (y + 1) * width), (y + r) * pw + r);
  }
  const closed = erode(dilate({ width: pw, height: ph, data: padded }, kernel), kernel);
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    out.set(closed.data.subarray((y + r) * pw + r, (y + r) * pw + r + width), y * width);
  }
  return { width, height, data: out };
}
