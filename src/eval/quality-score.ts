/**
 * The quality score without ground truth (issue 10): per image and class a number in [0, 1] (1 = looks right) and a
 * flag, `ok` or `check`, from the signals of src/eval/quality-signals.ts and quality-tta.ts (README, "Quality
 * score", has the table of signals and the validation).
 *
 * Two kinds of evidence:
 *
 *  1. Relative — how this result compares with the other results of the same run (the folder is the only sample of
 *     "what a normal result looks like" for this kind of scan). For each signal of RELATIVE_SIGNALS and each class,
 *     over the images of the run: z = (median − s) / (1.4826 · MAD) where low is bad (the sign flipped where high is
 *     bad; |z| − E|z| of log s for the area, where both directions are bad). The class's evidence is the mean of its
 *     z's; D is that mean in robust SDs of the run's means for the class, so D = 2 reads "clearly worse than this
 *     run's typical result", whatever the number and the correlation of the signals. Used only with at least
 *     `minImagesForRelative` images (default 8); below that only the absolute evidence counts.
 *
 *  2. Absolute — failures no folder statistic may excuse (when most of a folder failed, the median is a failure
 *     too): ABSOLUTE_CHECKS, each giving 0 in its normal range, 1 at its "bad" level and growing linearly beyond;
 *     A is their sum.
 *
 * Class score = σ(−k·(D − D0)) · exp(−A), σ the logistic function, D0 = 2, k = 1.5: a class with the run's typical
 * evidence (D = 0, A = 0) scores σ(3) ≈ 0.95; at D = 2 or at one absolute "bad" level about 0.5. An empty class
 * scores 0. Image score = the mean of its class scores, or its worst class's when that is below 0.5 (a mask with one
 * failed class needs checking even if the others are fine). Flag: `check` when the score is below 0.5.
 *
 * The constants come from what the signals mean (robust SDs, physical thresholds), not from a fit to a data set;
 * bench/quality-signals.ts + bench/quality.ts validate them on JSRT, its subsets and stress sets.
 */

import { csvField, num } from './report.js';

/** Registration signals of one class band (or the whole image), as src/eval/quality-signals.ts computes them. */
export interface RegistrationInput {
  ssim: number;
  ncc: number;
  folding: number;
  displacement: number;
  nonAffine?: number;
  logJacobianStd?: number;
  nccEdge?: number;
  /** A class of several pieces by anatomy: the lowest boundary NCC of its main pieces (quality-signals). */
  nccEdgeWorstPiece?: number;
}

/**
 * The boundary NCC that judges a class: of its worst main piece when it has several by anatomy (one misplaced lung of
 * a two-lung class is otherwise diluted by the other's good boundary), else of the whole class.
 */
const boundaryNcc = (c: ClassSignalsInput): number | undefined => c.registration?.nccEdgeWorstPiece ?? c.registration?.nccEdge;

/** Everything known about one class of one image; any group may be missing (e.g. no SAM in a warp-only run). */
export interface ClassSignalsInput {
  cls: number;
  /** Predicted class pixels / image pixels. */
  area: number;
  components: number;
  /** Largest component's share of the class pixels (NaN when empty). */
  largestShare: number;
  /** Pieces the reference mask's class has (quality-signals significantPieces; 1 if absent). */
  referencePieces?: number;
  /** Share of the class pixels in its `referencePieces` largest pieces (largestShare when absent). */
  mainPiecesShare?: number;
  /** The reference mask's class share (area / pixels), for the absolute area check. */
  referenceArea?: number;
  /**
   * What the global part of the registration (initial alignment, the flow's affine fit) alone does to a class share
   * (pipeline/quality.ts globalAreaScale): the area check compares `area` with referenceArea × this (1 if absent),
   * so a zoomed or rescaled image is not called wrong for showing its anatomy bigger or smaller.
   */
  referenceAreaScale?: number;
  registration?: RegistrationInput;
  /** Predicted-boundary contrast / the reference's (quality-signals appearanceSignals). */
  contrastRatio?: number;
  /** Mean Dice between the label and the labels of perturbed copies (quality-tta). */
  perturbationAgreement?: number;
  sam?: { predictedIoU: number; promptAgreement: number; roundAgreement: number };
}

export interface ImageSignalsInput {
  id: string;
  /** Whole-image registration signals and the Eq. 1 regulariser. */
  registration?: RegistrationInput & { flowGradL2: number };
  perClass: readonly ClassSignalsInput[];
}

export type QualityFlag = 'ok' | 'check';

export interface ClassQuality {
  cls: number;
  score: number;
  flag: QualityFlag;
  /** Why the class scores low (empty when nothing stands out). */
  reasons: string[];
  /** The signals used, by name (for the report). */
  signals: Record<string, number>;
  /** Relative badness D (robust SDs, NaN without folder statistics) and absolute badness A. */
  relative: number;
  absolute: number;
}

export interface ImageQuality {
  id: string;
  score: number;
  flag: QualityFlag;
  reasons: string[];
  perClass: ClassQuality[];
  /** Whole-image signals (for the report). */
  signals: Record<string, number>;
}

export interface QualityScoreOptions {
  /** Fewest images with a class for the folder statistics of that class (default 8). */
  minImagesForRelative?: number;
  /** Relative badness at which the class score is 0.5 (default 1.5 robust SDs). */
  relativeMidpoint?: number;
  /** Steepness of the logistic (default 2). */
  steepness?: number;
  /** The folder-relative signals (default RELATIVE_SIGNALS; other lists are for ablations). */
  relativeSignals?: readonly RelativeSignal[];
  /** Class names for the reasons (default "class <k>"). */
  classNames?: ReadonlyMap<number, string>;
}

type Direction = 'low-bad' | 'high-bad' | 'both-log';

export interface RelativeSignal {
  name: string;
  weight: number;
  direction: Direction;
  /**
   * Smallest robust SD used: differences below it are within measurement noise, so a folder whose results are all
   * nearly identical does not turn a negligible difference into many SDs (log units for logged signals).
   */
  minSd: number;
  get(c: ClassSignalsInput, img: ImageSignalsInput): number | undefined;
}


/**
 * Folder-relative signals, their direction and weight (1 each: one kind of evidence each). The registration terms
 * are those of Eq. 1, taken locally: the NCC on the class boundary (where a misplaced mask differs from the image;
 * of the worst main piece for a class of several pieces, boundaryNcc) and the spread of the log Jacobian in the
 * class band (a local view of the regulariser), plus the global regulariser; then the model's stability under
 * small input perturbations, the class area, and SAM's own signals.
 */
export const RELATIVE_SIGNALS: readonly RelativeSignal[] = [
  // minSd 0.03: in a folder of near-perfect registrations (phantoms: boundary NCC 0.96 ± 0.01) a 0.77 is not a
  // failure (Dice 0.99), yet it is 12 robust SDs off; NCC differences under ~0.03 are within registration noise.
  { name: 'nccEdge', weight: 1, direction: 'low-bad', minSd: 0.03, get: boundaryNcc },
  { name: 'logJacobianStd', weight: 1, direction: 'high-bad', minSd: 0.01, get: (c) => c.registration?.logJacobianStd },
  { name: 'flowGradL2', weight: 1, direction: 'high-bad', minSd: 0.05, get: (_c, img) => logOf(img.registration?.flowGradL2) },
  { name: 'perturbationAgreement', weight: 1, direction: 'low-bad', minSd: 0.005, get: (c) => c.perturbationAgreement },
  { name: 'area', weight: 1, direction: 'both-log', minSd: 0.05, get: (c) => c.area },
  { name: 'predictedIoU', weight: 1, direction: 'low-bad', minSd: 0.01, get: (c) => c.sam?.predictedIoU },
  { name: 'promptAgreement', weight: 1, direction: 'low-bad', minSd: 0.01, get: (c) => c.sam?.promptAgreement },
  { name: 'roundAgreement', weight: 1, direction: 'low-bad', minSd: 0.005, get: (c) => c.sam?.roundAgreement },
];

function logOf(v: number | undefined): number | undefined {
  return v === undefined ? undefined : Math.log(Math.max(v, 1e-12));
}

/**
 * Absolute checks: [signal, value at which badness starts (0), value at which it is 1]; linear beyond.
 * Folding: up to 2 % of the band folded still gives a usable mask (phantoms rotated and rescaled without the initial
 * alignment fold that much near the edges at Dice ≥ 0.97), 10 % is broken (failed JSRT registrations fold 0–12 %).
 * Contrast ratio: the reference mask's own edge is 1; half of it is still plausible, no edge (0) is a failure.
 * Main pieces: the share of the class in as many of its largest pieces as the reference mask has (one for most
 * anatomy, two for both lungs annotated as one class: judging those by their largest piece alone called every
 * image of a good run fragmented); 10 % of it elsewhere is suspicious, 30 % is broken.
 * Area against the reference's, carried through the registration's global scaling (referenceAreaScale): ×/÷ 1.5 is
 * within anatomical variation, ×/÷ 2.5 is not.
 * SAM: predicted IoU below 0.8 / 0.5; prompt agreement below 0.8 / 0.5; round agreement below 0.9 / 0.7.
 */
interface AbsoluteCheck {
  name: string;
  good: number;
  bad: number;
  get(c: ClassSignalsInput): number | undefined;
  reason(v: number): string;
}

const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

export const ABSOLUTE_CHECKS: readonly AbsoluteCheck[] = [
  { name: 'folding', good: 0.02, bad: 0.1, get: (c) => c.registration?.folding, reason: (v) => `warp folds (${pct(v)} of the region)` },
  { name: 'contrastRatio', good: 0.5, bad: 0, get: (c) => c.contrastRatio, reason: (v) => `boundary contrast ${v.toFixed(2)}× the reference's` },
  {
    name: 'mainPiecesShare',
    good: 0.9,
    bad: 0.7,
    get: (c) => (c.area > 0 ? (c.mainPiecesShare ?? c.largestShare) : undefined),
    reason: (v) => `fragmented (its main pieces hold ${pct(v)})`,
  },
  {
    name: 'areaVsReference',
    good: Math.log(1.5),
    bad: Math.log(2.5),
    get: (c) => {
      const expected = (c.referenceArea ?? 0) * (c.referenceAreaScale ?? 1);
      return expected > 0 && c.area > 0 ? Math.abs(Math.log(c.area / expected)) : undefined;
    },
    reason: (v) => `area ${Math.exp(v).toFixed(1)}× off the reference's (after the global scaling)`,
  },
  { name: 'predictedIoU', good: 0.8, bad: 0.5, get: (c) => c.sam?.predictedIoU, reason: (v) => `SAM predicted IoU ${v.toFixed(2)}` },
  { name: 'promptAgreement', good: 0.8, bad: 0.5, get: (c) => c.sam?.promptAgreement, reason: (v) => `SAM's mask differs from its prompt (Dice ${v.toFixed(2)})` },
  { name: 'roundAgreement', good: 0.9, bad: 0.7, get: (c) => c.sam?.roundAgreement, reason: (v) => `changed between the last rounds (Dice ${v.toFixed(2)})` },
];

/**
 * Checks against the folder's best results rather than its typical one: the value as a share of the class's
 * `quantile` (the level the better registrations of this run reach, for this kind of scan), 0 badness at `good`,
 * 1 at `bad`, linear beyond. Unlike the median, the best decile is still a working registration when most of a
 * folder failed (a whole folder of rotated and rescaled images without the initial alignment), so a failure stays
 * a failure; unlike a fixed level, it adapts to how well images of this kind can match at all (speckle, low
 * contrast).
 * Boundary NCC: the warped reference explains the image along the class's boundary (the Eq. 1 NCC term, locally).
 * Below 70 % of what the folder's best decile reaches the boundary no longer follows the same edges; at 50 % it
 * sits elsewhere. Measured (bench/quality.ts): JSRT, all 246 (good registrations, lowest class share 0.6): nothing
 * added; JSRT rotated/rescaled/shifted without alignment, 20: every failed class (Dice ≤ 0.3) below 0.6.
 */
export interface BestRelativeCheck {
  name: string;
  quantile: number;
  good: number;
  bad: number;
  /** Fewest images with the class for the folder's best level to mean anything. */
  minImages: number;
  get(c: ClassSignalsInput): number | undefined;
  reason(share: number): string;
}

export const BEST_RELATIVE_CHECKS: readonly BestRelativeCheck[] = [
  {
    name: 'nccEdgeVsBest',
    quantile: 0.9,
    good: 0.7,
    bad: 0.5,
    minImages: 4,
    get: boundaryNcc,
    reason: (v) => `boundary matches the reference image ${pct(v)} as well as this folder's best registrations`,
  },
];

/** The q-quantile (nearest rank) of the finite values, or NaN when there are none. */
function quantileOf(values: readonly number[], q: number): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return v.length ? v[Math.min(v.length - 1, Math.round(q * (v.length - 1)))]! : Number.NaN;
}

/** Badness of an absolute check: 0 on the good side of `good`, 1 at `bad`, linear (and unbounded) beyond. */
export function absoluteBadness(value: number, good: number, bad: number): number {
  if (!Number.isFinite(value)) return 0;
  const t = (value - good) / (bad - good);
  return Math.max(0, t);
}

function median(sorted: readonly number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

/** Median and robust SD (1.4826 · MAD, at least `minSd`). */
export function robustStats(values: readonly number[], minSd = 1e-9): { median: number; sd: number; n: number } {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { median: Number.NaN, sd: Number.NaN, n: 0 };
  const m = median(v);
  const mad = median(v.map((x) => Math.abs(x - m)).sort((a, b) => a - b));
  return { median: m, sd: Math.max(1.4826 * mad, minSd), n: v.length };
}

/**
 * Smallest robust SD of the combined evidence D used to express it in the folder's units: D is a mean of z-scores,
 * so its natural scale is 1/√k (independent signals) to 1 (identical ones); in a folder where every result is alike
 * its spread can be tiny, and dividing by it would turn noise into "2 SDs worse". With this floor the evidence is
 * amplified at most 2×: a flag needs the signals to be, on average, at least 1 robust SD worse than typical.
 */
const D_MIN_SD = 0.5;

/** E|z| of a standard normal z: subtracted from a two-sided |z| so an ordinary value adds 0 on average. */
const MEAN_ABS_NORMAL = Math.sqrt(2 / Math.PI);

function zBad(value: number, stats: { median: number; sd: number }, direction: Direction): number {
  if (direction === 'both-log') return Math.abs(Math.log(Math.max(value, 1e-12)) - stats.median) / stats.sd - MEAN_ABS_NORMAL;
  const z = (value - stats.median) / stats.sd;
  return direction === 'low-bad' ? -z : z;
}

const logistic = (x: number) => 1 / (1 + Math.exp(-x));

/** The folder statistics of each (class, signal): 'both-log' signals are summarised in log space. */
function folderStats(images: readonly ImageSignalsInput[], classes: readonly number[], signals: readonly RelativeSignal[]) {
  const stats = new Map<string, { median: number; sd: number; n: number }>();
  for (const cls of classes) {
    for (const s of signals) {
      const values: number[] = [];
      for (const img of images) {
        const c = img.perClass.find((x) => x.cls === cls);
        const v = c ? s.get(c, img) : undefined;
        if (v === undefined || !Number.isFinite(v)) continue;
        if (s.direction === 'both-log') {
          if (v > 0) values.push(Math.log(v));
        } else values.push(v);
      }
      stats.set(`${cls}:${s.name}`, robustStats(values, s.minSd));
    }
  }
  return stats;
}

interface ClassEvidence {
  /** Weighted mean of the signals' z (robust SDs worse than the folder), NaN without folder statistics. */
  raw: number;
  worst: { name: string; z: number } | null;
  absolute: number;
  reasons: string[];
  signals: Record<string, number>;
}

/** Scores every image of a run (see the module comment). Output in input order. */
export function scoreQuality(images: readonly ImageSignalsInput[], opts: QualityScoreOptions = {}): ImageQuality[] {
  const minN = opts.minImagesForRelative ?? 8;
  const d0 = opts.relativeMidpoint ?? 2;
  const k = opts.steepness ?? 1.5;
  const relativeSignals = opts.relativeSignals ?? RELATIVE_SIGNALS;
  const classes = [...new Set(images.flatMap((img) => img.perClass.map((c) => c.cls)))];
  const stats = folderStats(images, classes, relativeSignals);
  // Per class and BEST_RELATIVE_CHECKS entry: the folder's best level (NaN with too few images).
  const best = new Map<string, number>();
  for (const cls of classes) {
    for (const b of BEST_RELATIVE_CHECKS) {
      const values = images.flatMap((img) => img.perClass.filter((c) => c.cls === cls && c.area > 0).map((c) => b.get(c) ?? Number.NaN)).filter(Number.isFinite);
      best.set(`${cls}:${b.name}`, values.length >= b.minImages ? quantileOf(values, b.quantile) : Number.NaN);
    }
  }

  // Pass 1: each class's evidence.
  const evidence = images.map((img) =>
    img.perClass.map((c): ClassEvidence => {
      const signals: Record<string, number> = { area: c.area };
      for (const [key, v] of Object.entries(c.registration ?? {})) if (typeof v === 'number') signals[key] = v;
      let wSum = 0;
      let zSum = 0;
      let worst: ClassEvidence['worst'] = null;
      for (const s of relativeSignals) {
        const v = s.get(c, img);
        if (v === undefined || !Number.isFinite(v)) continue;
        // (a registration signal keeps its own value: the class's nccEdge, beside nccEdgeWorstPiece when there is one)
        signals[s.name] ??= s.name === 'flowGradL2' ? Math.exp(v) : v;
        const st = stats.get(`${c.cls}:${s.name}`)!;
        if (st.n < minN) continue;
        const z = zBad(v, st, s.direction);
        wSum += s.weight;
        zSum += s.weight * z;
        if (!worst || z > worst.z) worst = { name: s.name, z };
      }
      let absolute = 0;
      const reasons: string[] = [];
      for (const a of ABSOLUTE_CHECKS) {
        const v = a.get(c);
        if (v === undefined || !Number.isFinite(v)) continue;
        signals[a.name] = v;
        const b = absoluteBadness(v, a.good, a.bad);
        absolute += b;
        if (b >= 0.5) reasons.push(a.reason(v));
      }
      for (const check of BEST_RELATIVE_CHECKS) {
        const v = check.get(c);
        const level = best.get(`${c.cls}:${check.name}`)!;
        if (v === undefined || !Number.isFinite(v) || !(level > 0)) continue;
        const share = v / level;
        signals[check.name] = share;
        const b = absoluteBadness(share, check.good, check.bad);
        absolute += b;
        if (b >= 0.5) reasons.push(check.reason(share));
      }
      return { raw: wSum > 0 ? zSum / wSum : Number.NaN, worst, absolute, reasons, signals };
    }),
  );

  // Pass 2: the combined evidence D itself in robust SDs of the folder, per class, so the flag means "clearly worse
  // than this run's typical result for this class" whatever the number and correlation of the signals.
  const dStats = new Map<number, { median: number; sd: number; n: number }>();
  for (const cls of classes) {
    const values: number[] = [];
    images.forEach((img, i) => img.perClass.forEach((c, j) => c.cls === cls && values.push(evidence[i]![j]!.raw)));
    dStats.set(cls, robustStats(values, D_MIN_SD));
  }

  return images.map((img, i) => {
    const perClass: ClassQuality[] = img.perClass.map((c, j) => {
      const ev = evidence[i]![j]!;
      if (c.area <= 0) {
        return { cls: c.cls, score: 0, flag: 'check', reasons: ['class missing (empty mask)'], signals: ev.signals, relative: Number.NaN, absolute: Infinity };
      }
      const st = dStats.get(c.cls)!;
      const relative = Number.isFinite(ev.raw) && st.n >= minN ? (ev.raw - st.median) / st.sd : Number.NaN;
      const relScore = Number.isFinite(relative) ? logistic(-(relative - d0) * k) : logistic(d0 * k);
      const score = relScore * Math.exp(-ev.absolute);
      const reasons = [...ev.reasons];
      if (Number.isFinite(relative) && relative >= d0 && ev.worst) {
        reasons.unshift(`unusual for this folder (${ev.worst.name} ${ev.worst.z.toFixed(1)} SD worse than typical)`);
      }
      return { cls: c.cls, score, flag: score < 0.5 ? 'check' : 'ok', reasons, signals: ev.signals, relative, absolute: ev.absolute };
    });
    const mean = perClass.length ? perClass.reduce((a, c) => a + c.score, 0) / perClass.length : Number.NaN;
    const worst = perClass.reduce((m, c) => Math.min(m, c.score), Infinity);
    const score = worst < 0.5 ? Math.min(mean, worst) : mean;
    const name = (cls: number) => opts.classNames?.get(cls) ?? `class ${cls}`;
    const reasons = perClass.filter((c) => c.flag === 'check').flatMap((c) => c.reasons.map((r) => `${name(c.cls)}: ${r}`));
    const signals: Record<string, number> = {};
    if (img.registration) {
      for (const [key, v] of Object.entries(img.registration)) if (typeof v === 'number') signals[key] = v;
    }
    return { id: img.id, score, flag: score < 0.5 ? 'check' : 'ok', reasons, perClass, signals };
  });
}

// ------------------------------------------------------------------------------------------- quality.csv

/** Per-class signal columns of quality.csv, in this order (empty where a run has no such signal). */
const CSV_SIGNALS = ['area', 'ncc', 'nccEdge', 'nccEdgeVsBest', 'folding', 'contrastRatio', 'perturbationAgreement', 'predictedIoU', 'promptAgreement', 'roundAgreement'] as const;

/**
 * quality.csv: one row per image (in the given order) with `id,score,flag`, then per class `<name>_score`,
 * `<name>_flag` and its signals (`<name>_<signal>`), then `reasons` ("; "-separated). Numbers with up to 6
 * decimals; lines end with "\n".
 */
export function qualityToCsv(results: readonly ImageQuality[], classNames: ReadonlyMap<number, string> = new Map()): string {
  const classes = [...new Set(results.flatMap((r) => r.perClass.map((c) => c.cls)))].sort((a, b) => a - b);
  const name = (cls: number) => classNames.get(cls) ?? `class${cls}`;
  const header = ['id', 'score', 'flag'];
  for (const cls of classes) header.push(`${name(cls)}_score`, `${name(cls)}_flag`, ...CSV_SIGNALS.map((s) => `${name(cls)}_${s}`));
  header.push('reasons');
  const lines = [header.map(csvField).join(',')];
  for (const r of results) {
    const f = [r.id, num(r.score), r.flag];
    for (const cls of classes) {
      const c = r.perClass.find((x) => x.cls === cls);
      f.push(c ? num(c.score) : '', c?.flag ?? '', ...CSV_SIGNALS.map((s) => (c && c.signals[s] !== undefined ? num(c.signals[s]!) : '')));
    }
    f.push(r.reasons.join('; '));
    lines.push(f.map(csvField).join(','));
  }
  return lines.join('\n') + '\n';
}
