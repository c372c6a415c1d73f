/**
 * Padding detection: the constant areas that surround the content of many scans (a rotated or letter-boxed image,
 * CT's circular field of view, an ultrasound sector) are not anatomy, and registration should not try to match
 * them. Padding = the pixels holding exactly the image's minimum (or maximum) value that are connected (4-neighbours)
 * to the image border, when they cover at least MIN_PADDING_FRACTION of the image. Pure, browser-safe.
 */
import type { FloatImage } from './types.js';

/** Smaller constant border areas are ignored (a burnt-in marker, a few clipped pixels). */
export const MIN_PADDING_FRACTION = 0.01;

/**
 * 1 for content, 0 for padding, on the image's own grid; null when the image has no padding. Grey images only
 * (take the grey projection of a colour image first). Values are compared exactly: call it before any
 * resampling or normalisation that would blur the constant.
 */
export function contentMask(image: FloatImage): Uint8Array | null {
  if (image.channels !== 1) throw new Error('contentMask: expects a grey image');
  const { width: W, height: H, data } = image;
  const n = W * H;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (!(hi > lo)) return null;
  let best: Uint8Array | null = null;
  let bestCount = 0;
  for (const value of [lo, hi]) {
    const padded = new Uint8Array(n);
    const stack: number[] = [];
    const seed = (i: number): void => {
      if (!padded[i] && data[i] === value) {
        padded[i] = 1;
        stack.push(i);
      }
    };
    for (let x = 0; x < W; x++) {
      seed(x);
      seed((H - 1) * W + x);
    }
    for (let y = 0; y < H; y++) {
      seed(y * W);
      seed(y * W + W - 1);
    }
    let count = 0;
    while (stack.length > 0) {
      const i = stack.pop()!;
      count++;
      const x = i % W;
      if (x > 0) seed(i - 1);
      if (x < W - 1) seed(i + 1);
      if (i >= W) seed(i - W);
      if (i < n - W) seed(i + W);
    }
    if (count > bestCount) {
      bestCount = count;
      best = padded;
    }
  }
  if (!best || bestCount < MIN_PADDING_FRACTION * n) return null;
  const content = new Uint8Array(n);
  for (let i = 0; i < n; i++) content[i] = best[i] ? 0 : 1;
  return content;
}
