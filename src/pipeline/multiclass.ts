/**
 * Multi-class combination (paper §3.4). Pure: runs in a browser.
 *
 * Each foreground class c gets its own mask prompt and its own SAM prediction (logits L_c at the original size).
 * "The foreground class with the highest prediction logit is assigned to each pixel, while pixels with all
 * foreground logits below 0 are labeled as background." Code:
 *   label(p) = argmax_c L_c(p)          when max_c L_c(p) > 0
 *            = 0 (background)           otherwise
 * Exactly 0 counts as background, so that a single class reproduces SAM's own threshold (mask = logits > 0).
 * Ties between classes go to the class listed first (callers list classes in ascending order).
 * A class without a prediction (e.g. its mask prompt was empty, so SAM was not asked) has `logits: null` and never
 * wins a pixel.
 */
import type { LabelMap } from '../image/types.js';

export interface ClassLogits {
  /** Class index (1..255) written into the label map. */
  cls: number;
  /** SAM logits for this class at the original size (width·height, row-major), or null when not predicted. */
  logits: Float32Array | null;
}

export interface CombineOptions {
  /** A pixel is foreground only when its best logit is above this (default 0, SAM's mask threshold). */
  threshold?: number;
}

export function combineClassLogits(classes: readonly ClassLogits[], width: number, height: number, opts: CombineOptions = {}): LabelMap {
  const n = width * height;
  const threshold = opts.threshold ?? 0;
  for (const c of classes) {
    if (!Number.isInteger(c.cls) || c.cls < 1 || c.cls > 255) throw new RangeError(`combineClassLogits: class ${c.cls} is not in 1..255`);
    if (c.logits && c.logits.length !== n) {
      throw new RangeError(`combineClassLogits: class ${c.cls} has ${c.logits.length} logits, expected ${width}x${height} = ${n}`);
    }
  }
  const out = new Uint8Array(n);
  const best = new Float32Array(n).fill(threshold);
  for (const c of classes) {
    const l = c.logits;
    if (!l) continue;
    const cls = c.cls;
    // Strictly greater: the first listed class keeps a tie, and logits equal to the threshold stay background.
    for (let i = 0; i < n; i++) {
      const v = l[i]!;
      if (v > best[i]!) {
        best[i] = v;
        out[i] = cls;
      }
    }
  }
  return { width, height, data: out };
}
