/**
 * Crop/paste of binary masks, so that morphology runs on the mask's bounding box plus a margin instead of the whole
 * image. Exact for our uses: erosion/opening/hole filling only need one background pixel of margin (or the image
 * border, which already counts as background), dilation needs a margin of its radius.
 */
import type { BinaryMask, Box } from '../image/types.js';

/** box grown by `margin` on every side, clipped to the image. */
export function expandBox(box: Box, margin: number, width: number, height: number): Box {
  return {
    x0: Math.max(0, box.x0 - margin),
    y0: Math.max(0, box.y0 - margin),
    x1: Math.min(width - 1, box.x1 + margin),
    y1: Math.min(height - 1, box.y1 + margin),
  };
}

/** The pixels of `mask` inside `box` (inclusive) as a new mask. */
export function cropMask(mask: BinaryMask, box: Box): BinaryMask {
  const w = box.x1 - box.x0 + 1;
  const h = box.y1 - box.y0 + 1;
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const src = (box.y0 + y) * mask.width + box.x0;
    data.set(mask.data.subarray(src, src + w), y * w);
  }
  return { width: w, height: h, data };
}

/** A width x height mask, zero outside `box`, holding `crop` inside it. */
export function pasteMask(crop: BinaryMask, box: Box, width: number, height: number): BinaryMask {
  const data = new Uint8Array(width * height);
  for (let y = 0; y < crop.height; y++) {
    data.set(crop.data.subarray(y * crop.width, (y + 1) * crop.width), (box.y0 + y) * width + box.x0);
  }
  return { width, height, data };
}
