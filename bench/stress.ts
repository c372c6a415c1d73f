/**
 * Failure cases for the quality benchmarks: transforms applied to a test image and, geometrically identically, to
 * its ground truth, so the one-shot warp (trained on upright scans) is likely to fail on them while the ground truth
 * stays exact. Geometric transforms sample nearest-neighbour (exact for label maps).
 *
 *   rot90   rotated by 90° (width and height swap)         flip-v  upside down
 *   invert  intensities inverted (max − v), labels kept    zoom    the central half, enlarged 2×
 *   rot180  rotated by 180°                                shift   moved right and down by 30 % (zeros enter)
 */
import type { FloatImage, LabelMap } from '../src/image/types.js';

export const STRESS_KINDS = ['rot90', 'flip-v', 'invert', 'zoom', 'rot180', 'shift'] as const;
export type StressKind = (typeof STRESS_KINDS)[number];

/** Output size and, per output pixel, the source pixel (or −1 = outside: zero). */
function sourceIndex(kind: StressKind, width: number, height: number): { width: number; height: number; src: Int32Array } {
  const outW = kind === 'rot90' ? height : width;
  const outH = kind === 'rot90' ? width : height;
  const src = new Int32Array(outW * outH);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      let sx = x;
      let sy = y;
      if (kind === 'rot90') {
        sx = y;
        sy = height - 1 - x;
      } else if (kind === 'flip-v') sy = height - 1 - y;
      else if (kind === 'rot180') {
        sx = width - 1 - x;
        sy = height - 1 - y;
      } else if (kind === 'zoom') {
        sx = Math.floor(width / 4 + x / 2);
        sy = Math.floor(height / 4 + y / 2);
      } else if (kind === 'shift') {
        sx = x - Math.round(0.3 * width);
        sy = y - Math.round(0.3 * height);
      }
      src[y * outW + x] = sx >= 0 && sy >= 0 && sx < width && sy < height ? sy * width + sx : -1;
    }
  }
  return { width: outW, height: outH, src };
}

export function stressImage(image: FloatImage, kind: StressKind): FloatImage {
  const C = image.channels;
  if (kind === 'invert') {
    let max = -Infinity;
    for (const v of image.data) if (v > max) max = v;
    return { ...image, data: image.data.map((v) => max - v) };
  }
  const { width, height, src } = sourceIndex(kind, image.width, image.height);
  const data = new Float32Array(width * height * C);
  for (let i = 0; i < src.length; i++) {
    const s = src[i]!;
    if (s >= 0) for (let c = 0; c < C; c++) data[i * C + c] = image.data[s * C + c]!;
  }
  return { width, height, channels: C, data };
}

export function stressLabel(label: LabelMap, kind: StressKind): LabelMap {
  if (kind === 'invert') return label;
  const { width, height, src } = sourceIndex(kind, label.width, label.height);
  const data = new Uint8Array(width * height);
  for (let i = 0; i < src.length; i++) if (src[i]! >= 0) data[i] = label.data[src[i]!]!;
  return { width, height, data };
}
