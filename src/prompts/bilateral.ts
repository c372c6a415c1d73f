/**
 * Bilateral organs (App. C.1): "for bilateral organs (e.g. bilateral lung or teeth) we designate 10 positive and
 * negative prompts, ensuring that an equal quantity of these points is chosen from both the left and the right
 * sides; for non-bilateral organs 5".
 *
 * Rule for 'auto' (ours; the paper decides per dataset):
 *  1. Ignore 8-connected components smaller than ignoreComponentFraction (2%) of the foreground (specks).
 *  2. Project the remaining ("significant") foreground onto x. Every run of empty columns strictly between the
 *     first and the last occupied column is a candidate gap; it splits the significant foreground into a left and
 *     a right part, with no component straddling it.
 *  3. Take the gap with the most balanced split (largest min(left, right); first such gap on ties). The organ is
 *     bilateral when min(left, right) >= minSideFraction (20%) of the significant foreground.
 *  splitX = the middle column of that gap (gap [a, b] → a + floor((b - a + 1) / 2)); left side = x < splitX.
 * So two lungs side by side are bilateral, a single lung or heart is not, vertebrae stacked vertically are not,
 * and a dental arch with a gap at the midline is.
 * 'bilateral' (forced): the best gap if it passes the balance test, else the column splitting all foreground
 * pixels in half (smallest s with at least half of them at x < s). 'single': never split.
 */
import { boundingBox, connectedComponents } from '../image/components.js';
import type { BinaryMask } from '../image/types.js';
import { cropMask } from './crop.js';
import type { BilateralDecision, BilateralMode, BilateralRuleOptions } from './types.js';

export const DEFAULT_MIN_SIDE_FRACTION = 0.2;
export const DEFAULT_IGNORE_COMPONENT_FRACTION = 0.02;

interface GapSplit {
  splitX: number;
  left: number;
  right: number;
}

function bestGap(columns: Float64Array, total: number): GapSplit | null {
  const w = columns.length;
  let first = -1;
  let last = -1;
  for (let x = 0; x < w; x++) {
    if (columns[x]! > 0) {
      if (first < 0) first = x;
      last = x;
    }
  }
  if (first < 0) return null;
  let best: GapSplit | null = null;
  let cumulative = 0;
  let x = first;
  while (x <= last) {
    if (columns[x]! > 0) {
      cumulative += columns[x]!;
      x++;
      continue;
    }
    const a = x;
    while (columns[x]! === 0) x++;
    const b = x - 1;
    const split: GapSplit = { splitX: a + Math.floor((b - a + 1) / 2), left: cumulative, right: total - cumulative };
    if (!best || Math.min(split.left, split.right) > Math.min(best.left, best.right)) best = split;
  }
  return best;
}

/** Decides whether `mask` is a bilateral organ and where its midline is (see the rule above). */
export function decideBilateral(mask: BinaryMask, mode: BilateralMode = 'auto', opts: BilateralRuleOptions = {}): BilateralDecision {
  const minSide = opts.minSideFraction ?? DEFAULT_MIN_SIDE_FRACTION;
  const ignoreFraction = opts.ignoreComponentFraction ?? DEFAULT_IGNORE_COMPONENT_FRACTION;
  const none = (reason: string): BilateralDecision => ({ mode, bilateral: false, splitX: null, leftPixels: 0, rightPixels: 0, reason });
  if (mode === 'single') return none('forced single');
  const bbox = boundingBox(mask);
  if (!bbox) return none('empty mask');
  // Components and columns on the bounding box only; columns are offset back by bbox.x0 at the end.
  const cropped = cropMask(mask, bbox);
  const { width, height } = cropped;
  const x0 = bbox.x0;
  const { labels, sizes } = connectedComponents(cropped, 8);
  let total = 0;
  for (const s of sizes) total += s;
  const significant = sizes.map((s) => s >= ignoreFraction * total);
  const columns = new Float64Array(width);
  const allColumns = new Float64Array(width);
  let significantTotal = 0;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      const l = labels[row + x]!;
      if (l === 0) continue;
      allColumns[x]! += 1;
      if (significant[l - 1]) {
        columns[x]! += 1;
        significantTotal++;
      }
    }
  }
  const gap = bestGap(columns, significantTotal);
  const balanced = gap !== null && Math.min(gap.left, gap.right) >= minSide * significantTotal;
  if (balanced) {
    return {
      mode,
      bilateral: true,
      splitX: gap.splitX + x0,
      leftPixels: gap.left,
      rightPixels: gap.right,
      reason: `vertical gap at x=${gap.splitX + x0} splits the foreground ${gap.left}:${gap.right}`,
    };
  }
  if (mode === 'auto') {
    return none(gap ? `most balanced vertical gap splits ${gap.left}:${gap.right}, below ${minSide} per side` : 'no vertical gap between components');
  }
  // Forced bilateral without a balanced gap: split all foreground pixels in half by column.
  let cumulative = 0;
  let splitX = width;
  for (let x = 0; x < width; x++) {
    cumulative += allColumns[x]!;
    if (cumulative * 2 >= total) {
      splitX = x + 1;
      break;
    }
  }
  let left = 0;
  for (let x = 0; x < splitX; x++) left += allColumns[x]!;
  return {
    mode,
    bilateral: true,
    splitX: splitX + x0,
    leftPixels: left,
    rightPixels: total - left,
    reason: `forced bilateral: no balanced gap, split at the median column x=${splitX + x0}`,
  };
}
