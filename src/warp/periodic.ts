/**
 * Repeated structures and the initial alignment (issue 20): a column of similar vertebrae, a row of similar teeth.
 * When the reference matches itself shifted by one object (its *period*) nearly as well as unshifted, an alignment
 * shifted by a whole object matches a test image nearly as well as the right one: the image cannot tell them apart,
 * and the search picks among them by chance (curvature, noise, which partial objects the field of view cuts). What
 * still tells them apart is where the labels sit in the field of view: a test image is framed like the reference up
 * to a part of an object, so among the alignments that differ by whole periods and score alike, the one that moves
 * the reference's labels least from where the plain resize puts them is kept. Pure (no tensors, no file system).
 */

/** A repeat of the reference's pattern: the shift (reference pixels) that maps it onto itself. */
export interface RepeatPeriod {
  dx: number;
  dy: number;
  /** Similarity of the reference with itself shifted by (dx, dy) (the search's local correlation). */
  correlation: number;
  /** The same at half the shift (objects on gaps): the dip that makes the peak a repeat, not a slow decay. */
  halfShiftCorrelation: number;
}

/**
 * A repeat must match the reference to itself clearly better than the two mirror-image halves of a body do, and
 * half a period must fall at least PERIOD_MIN_DIP below it (objects shifted onto the gaps between them: a repeat,
 * not a slow decay). Measured on the search's 48 px level (local correlation in 5×5 windows, noise and curvature
 * included): copies of one object reach 0.38–0.42 (the stress set's column of blocks 0.40, its teeth 0.38 along a
 * row and 0.42 row onto row); a chest shifted so that one lung lies on the other, a mirror image and not a copy,
 * reaches 0.26 (JSRT), the phantoms' organs 0.16. The threshold lies between the two kinds.
 */
export const PERIOD_MIN_CORRELATION = 0.33;
export const PERIOD_MIN_DIP = 0.3;
/** A repeat shorter than this fraction of the longest side is texture, not an object. */
const PERIOD_MIN_FRACTION = 0.05;

/**
 * The strongest repeat of the reference, found on a grid of integer shifts (level pixels, `toOriginal` scales them
 * to reference pixels). `correlationAt(dx, dy)` is the similarity of the reference with itself shifted by (dx, dy),
 * or null when too little of it overlaps. Only one half-plane is scanned (a shift and its opposite are one repeat).
 * A repeat is a local maximum above PERIOD_MIN_CORRELATION with the dip at half its shift; of several, the highest.
 */
export function findRepeatPeriod(
  width: number,
  height: number,
  correlationAt: (dx: number, dy: number) => number | null,
  toOriginal: number,
): RepeatPeriod | null {
  const maxX = Math.floor(width / 2);
  const maxY = Math.floor(height / 2);
  const minShift = PERIOD_MIN_FRACTION * Math.max(width, height);
  const cols = 2 * maxX + 1;
  const map = new Float64Array(cols * (maxY + 1)).fill(Number.NaN);
  for (let dy = 0; dy <= maxY; dy++) {
    for (let dx = -maxX; dx <= maxX; dx++) {
      if (dy === 0 && dx <= 0) continue;
      map[dy * cols + dx + maxX] = correlationAt(dx, dy) ?? Number.NaN;
    }
  }
  const at = (dx: number, dy: number): number => {
    if (dy < 0) return at(-dx, -dy);
    if (dy > maxY || Math.abs(dx) > maxX) return Number.NaN;
    return dy === 0 && dx === 0 ? 1 : map[dy * cols + dx + maxX]!;
  };
  let best: RepeatPeriod | null = null;
  for (let dy = 0; dy <= maxY; dy++) {
    for (let dx = -maxX; dx <= maxX; dx++) {
      const r = at(dx, dy);
      if (!(r >= PERIOD_MIN_CORRELATION) || Math.hypot(dx, dy) < minShift) continue;
      if (!isLocalMaximum(at, dx, dy, r)) continue;
      const half = correlationAt(dx / 2, dy / 2);
      if (half === null || half > r - PERIOD_MIN_DIP) continue;
      if (!best || r > best.correlation) best = { dx: dx * toOriginal, dy: dy * toOriginal, correlation: r, halfShiftCorrelation: half };
    }
  }
  return best;
}

const signed = (k: number): string => (k > 0 ? `+${k}` : `${k}`);

function isLocalMaximum(at: (dx: number, dy: number) => number, dx: number, dy: number, r: number): boolean {
  for (let j = -1; j <= 1; j++) {
    for (let i = -1; i <= 1; i++) {
      if ((i !== 0 || j !== 0) && at(dx + i, dy + j) > r) return false;
    }
  }
  return true;
}

/** An alignment with its score (the search's objective) and how far it moves the reference's labels. */
export interface RepeatCandidate<P> {
  params: P;
  score: number;
  /** Shift of the labels' centre from where the plain resize puts it, as a fraction of the test image's sides. */
  labelDisplacement: number;
  /** Whole periods added to the search's best alignment (0: the best itself). */
  periods: number;
}

/**
 * Among the search's best alignment and its copies shifted by whole periods, the ones that score within
 * `tolerance` of the best are look-alikes; of those, the one that moves the labels least is kept.
 * `tolerance` is what one period costs the reference against itself (1 − its repeat correlation): a test image
 * cannot separate alignments whose scores differ by less than the pattern itself does.
 */
export function chooseAmongRepeats<P>(candidates: RepeatCandidate<P>[], tolerance: number): { chosen: RepeatCandidate<P>; reason: string } {
  const best = candidates.reduce((a, c) => (c.score > a.score ? c : a));
  const alike = candidates.filter((c) => c.score >= best.score - tolerance);
  const chosen = alike.reduce((a, c) => (c.labelDisplacement < a.labelDisplacement ? c : a));
  const f = (x: number): string => x.toFixed(3);
  const reason =
    chosen === best
      ? `repeated structure: the best alignment moves the labels least of ${alike.length} look-alike(s) (label shift ${f(best.labelDisplacement)})`
      : `repeated structure: ${signed(chosen.periods - best.periods)} period(s) from the best (score ${f(chosen.score)} vs ${f(best.score)}, within ${f(tolerance)}), label shift ${f(chosen.labelDisplacement)} instead of ${f(best.labelDisplacement)}`;
  return { chosen, reason };
}
