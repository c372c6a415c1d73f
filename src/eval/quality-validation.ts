/**
 * Does the quality score find the bad results? Measured against the true Dice where ground truth exists (`bench`,
 * `segment --gt`): the Spearman rank correlation between score and Dice over images, and how much of the worst
 * decile by Dice the `check` flag catches, at what share of images flagged. Pure.
 */

/** Ranks 1..n of the values, ties sharing their average rank (the usual Spearman convention). */
export function averageRanks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  for (let s = 0; s < order.length; ) {
    let t = s + 1;
    while (t < order.length && order[t]![0] === order[s]![0]) t++;
    const rank = (s + 1 + t) / 2; // mean of ranks s+1 .. t
    for (let k = s; k < t; k++) ranks[order[k]![1]] = rank;
    s = t;
  }
  return ranks;
}

/** Pearson's correlation of two equally long series (NaN when either is constant). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]! / n;
    mb += b[i]! / n;
  }
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : Number.NaN;
}

/**
 * Spearman's rank correlation (Pearson correlation of the average ranks). Pairs where either value is not finite
 * are left out; NaN with fewer than 3 pairs or when one side is constant.
 */
export function spearman(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new RangeError(`spearman: ${a.length} vs ${b.length} values`);
  const keep = a.map((_, i) => i).filter((i) => Number.isFinite(a[i]) && Number.isFinite(b[i]));
  if (keep.length < 3) return Number.NaN;
  return pearson(averageRanks(keep.map((i) => a[i]!)), averageRanks(keep.map((i) => b[i]!)));
}

export interface QualityValidation {
  /** Images compared. */
  n: number;
  /** Spearman(score, Dice) over images. */
  spearman: number;
  /** The worst decile by Dice: ceil(n/10) images (ties at the cut included), and how many of them are flagged. */
  worstDecile: { count: number; flagged: number; share: number; maxDice: number };
  /** Images flagged `check`, and their share of all. */
  flagged: number;
  flaggedShare: number;
  /** Mean Dice of the flagged and of the other images. */
  meanDiceFlagged: number;
  meanDiceOk: number;
}

/**
 * Validation of per-image scores and flags against the true Dice (same order, one entry per image).
 * The worst decile holds the ceil(n/10) lowest-Dice images, extended by ties at the cut.
 */
export function validateQuality(items: readonly { score: number; check: boolean; dice: number }[]): QualityValidation {
  const n = items.length;
  const byDice = [...items].sort((x, y) => x.dice - y.dice);
  const k = Math.ceil(n / 10);
  const cut = n > 0 ? byDice[k - 1]!.dice : Number.NaN;
  const worst = byDice.filter((x) => x.dice <= cut);
  const flaggedWorst = worst.filter((x) => x.check).length;
  const flagged = items.filter((x) => x.check);
  const mean = (v: readonly number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN);
  return {
    n,
    spearman: spearman(items.map((x) => x.score), items.map((x) => x.dice)),
    worstDecile: { count: worst.length, flagged: flaggedWorst, share: worst.length ? flaggedWorst / worst.length : Number.NaN, maxDice: cut },
    flagged: flagged.length,
    flaggedShare: n ? flagged.length / n : Number.NaN,
    meanDiceFlagged: mean(flagged.map((x) => x.dice)),
    meanDiceOk: mean(items.filter((x) => !x.check).map((x) => x.dice)),
  };
}
