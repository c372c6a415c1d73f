/**
 * Point-prompt diagnostics (paper §4.5, Tables 4 and 7): how many prompt points land on the right side of the
 * ground truth, and how clustered the points are (Hopkins statistic).
 */
import type { BinaryMask, LabeledPoint } from '../image/types.js';
import { mulberry32 } from '../image/random.js';

export interface PointAccuracy {
  /** Share of positive points (label 1) inside the ground truth; NaN when there are none. */
  positive: number;
  /** Share of negative points (label 0) outside the ground truth; NaN when there are none. */
  negative: number;
  /** Share of all points on their correct side; NaN when there are no points. */
  total: number;
  nPositive: number;
  nNegative: number;
  nPositiveCorrect: number;
  nNegativeCorrect: number;
}

/**
 * Point accuracy against a ground-truth mask. Points are in the mask's pixel frame (original frame) and are rounded
 * to the nearest pixel; a point outside the image counts as wrong whatever its label.
 */
export function pointAccuracy(points: readonly LabeledPoint[], gt: BinaryMask): PointAccuracy {
  let nPositive = 0;
  let nNegative = 0;
  let nPositiveCorrect = 0;
  let nNegativeCorrect = 0;
  for (const p of points) {
    const x = Math.round(p.x);
    const y = Math.round(p.y);
    const inImage = x >= 0 && y >= 0 && x < gt.width && y < gt.height;
    const inside = inImage && gt.data[y * gt.width + x]! !== 0;
    if (p.label === 1) {
      nPositive++;
      if (inside) nPositiveCorrect++;
    } else {
      nNegative++;
      if (inImage && !inside) nNegativeCorrect++;
    }
  }
  const share = (k: number, n: number) => (n === 0 ? Number.NaN : k / n);
  return {
    positive: share(nPositiveCorrect, nPositive),
    negative: share(nNegativeCorrect, nNegative),
    total: share(nPositiveCorrect + nNegativeCorrect, nPositive + nNegative),
    nPositive,
    nNegative,
    nPositiveCorrect,
    nNegativeCorrect,
  };
}

export interface HopkinsOptions {
  /** m, the number of random locations and of sampled points. Default max(1, round(0.1 * n)), at most n. */
  samples?: number;
  /** Seed of the random generator (mulberry32). Default 1. Same seed + same input → same value. */
  seed?: number;
  /** Independent draws averaged (default 1). More trials reduce the variance of a small m. */
  trials?: number;
}

/**
 * Hopkins statistic of a point set within the region it was drawn from (paper §4.5, Table 4).
 *
 * With n points X and m = `samples`:
 *  - draw m random locations Y_1..Y_m uniformly among the pixel centres of `region` (with replacement);
 *    u_i = Euclidean distance from Y_i to its nearest point of X;
 *  - draw m distinct points X_1..X_m of X (without replacement);
 *    w_i = distance from X_i to its nearest OTHER point of X;
 *  - H = sum(u) / (sum(u) + sum(w))   (distances to the first power).
 * H ≈ 0.5 for points scattered uniformly over the region, → 1 for clustered points, lower (toward 0) for regularly
 * spread points. Coordinates are used as given (not rounded). Returns NaN for fewer than 2 points or when
 * sum(u) + sum(w) = 0 (all points identical and every location on them). Throws RangeError for an empty region.
 */
export function hopkinsStatistic(
  points: readonly { x: number; y: number }[],
  region: BinaryMask,
  opts: HopkinsOptions = {},
): number {
  const n = points.length;
  const regionPixels: number[] = [];
  for (let i = 0; i < region.data.length; i++) if (region.data[i]! !== 0) regionPixels.push(i);
  if (regionPixels.length === 0) throw new RangeError('hopkinsStatistic: the region mask has no foreground pixel');
  if (n < 2) return Number.NaN;
  const m = Math.min(n, Math.max(1, Math.round(opts.samples ?? 0.1 * n)));
  const trials = Math.max(1, Math.floor(opts.trials ?? 1));
  const random = mulberry32(opts.seed ?? 1);
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  points.forEach((p, i) => {
    xs[i] = p.x;
    ys[i] = p.y;
  });
  const nearest = (x: number, y: number, skip: number): number => {
    let best = Infinity;
    for (let j = 0; j < n; j++) {
      if (j === skip) continue;
      const dx = xs[j]! - x;
      const dy = ys[j]! - y;
      const d = dx * dx + dy * dy;
      if (d < best) best = d;
    }
    return Math.sqrt(best);
  };
  const order = Int32Array.from({ length: n }, (_, i) => i);
  let total = 0;
  let valid = 0;
  for (let t = 0; t < trials; t++) {
    let sumU = 0;
    for (let i = 0; i < m; i++) {
      const pix = regionPixels[Math.floor(random() * regionPixels.length)]!;
      const x = pix % region.width;
      const y = (pix - x) / region.width;
      sumU += nearest(x, y, -1);
    }
    let sumW = 0;
    // partial Fisher–Yates: the first m entries of `order` become a uniform sample without replacement
    for (let i = 0; i < m; i++) {
      const j = i + Math.floor(random() * (n - i));
      const tmp = order[i]!;
      order[i] = order[j]!;
      order[j] = tmp;
      const k = order[i]!;
      sumW += nearest(xs[k]!, ys[k]!, k);
    }
    const denom = sumU + sumW;
    if (denom > 0) {
      total += sumU / denom;
      valid++;
    }
  }
  return valid === 0 ? Number.NaN : total / valid;
}
