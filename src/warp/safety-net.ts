/**
 * The per-image safety net (issue 20): a warp is kept unless the run's own evidence (no ground truth) says it is
 * clearly less plausible than the aligned copy of the reference (zero network flow: the reference label through the
 * image's working frame alone); then that image falls back to the copy, so that the result for it is not worse than
 * doing nothing by that evidence.
 *
 * Evidence: the structural agreement of the reference's working copy with the test's, warped and unwarped, at a
 * coarser scale than the network's image loss: all copies are area-reduced by COARSE_FACTOR (texture, speckle and
 * the fine detail the loss was trained to match average out; organ-sized structure stays) and compared by the local
 * Pearson correlation over COARSE_WINDOW×COARSE_WINDOW windows (stride 1). Per window, d = copy's correlation −
 * warp's; the agreements are the two means over the windows where the test is not flat.
 *
 * Decision: fall back when mean(d) exceeds FALLBACK_STANDARD_ERRORS standard errors of that mean (a one-sided paired
 * test, ~2 % false fallbacks where the two are equally plausible). The standard error is the windows' own spread,
 * sd(d) / √(independent windows), stride-1 windows overlapping COARSE_WINDOW² at a time; so the margin is the
 * image's own evidence noise, not a tuned constant. A difference far inside that noise (the float rounding of two
 * engines computing the same model, a barely trained model whose warp is the copy give or take noise) no longer
 * decides. And a flow whose largest displacement is under half a working pixel (MIN_DISPLACEMENT_PX) is the copy at
 * the working grid's resolution: it is kept, whatever the noise says.
 * Frames: all working copies are R×R on the working grid (xyWarp); the flow maps test → reference (spatial.ts).
 * Pure (no tensors).
 */
import { resizeImage } from '../image/resize.js';
import { warpPlaneBilinear } from './spatial.js';

/** Working pixels per coarse pixel: 128 px working copies are compared at 32 px. */
export const COARSE_FACTOR = 4;
/** Window of the coarse local correlation (5 coarse px = 20 working px: about a lung lobe, a heart chamber). */
export const COARSE_WINDOW = 5;
/** Windows with a variance below this (intensities in [0, 1]) are flat: no evidence either way. */
const FLAT_VARIANCE = 1e-4;
/** The copy must beat the warp by this many standard errors of the mean difference (one-sided, ~2 %). */
export const FALLBACK_STANDARD_ERRORS = 2;
/** A flow that moves no working pixel by half a pixel or more gives the copy's labels on the working grid. */
export const MIN_DISPLACEMENT_PX = 0.5;

export interface SafetyNetDecision {
  /** True when the image falls back to the aligned copy (zero flow). */
  fellBack: boolean;
  /** Mean coarse local correlation of the warped reference with the test, and of the unwarped (aligned) copy. */
  warpAgreement: number;
  copyAgreement: number;
  /** How far the copy's agreement had to exceed the warp's to fall back (FALLBACK_STANDARD_ERRORS standard errors). */
  margin: number;
  /** The flow's largest displacement (working px). */
  maxDisplacementPx: number;
}

function coarse(plane: Float32Array, size: number): { data: Float32Array; side: number } {
  const side = Math.max(COARSE_WINDOW, Math.round(size / COARSE_FACTOR));
  return { data: resizeImage({ width: size, height: size, channels: 1, data: plane }, side, side, 'area').data, side };
}

/**
 * Pearson correlation of a and b in every window×window window (stride 1, row-major); NaN where `b` (the fixed
 * image) is flat, 0 where only `a` is (a flat warped reference explains none of the structure there).
 */
export function localCorrelations(a: Float32Array, b: Float32Array, side: number, window: number): Float64Array {
  const across = side - window + 1;
  const out = new Float64Array(Math.max(0, across) * Math.max(0, across));
  const n = window * window;
  for (let y0 = 0; y0 < across; y0++) {
    for (let x0 = 0; x0 < across; x0++) {
      let sa = 0;
      let sb = 0;
      let saa = 0;
      let sbb = 0;
      let sab = 0;
      for (let y = y0; y < y0 + window; y++) {
        for (let x = x0; x < x0 + window; x++) {
          const va = a[y * side + x]!;
          const vb = b[y * side + x]!;
          sa += va;
          sb += vb;
          saa += va * va;
          sbb += vb * vb;
          sab += va * vb;
        }
      }
      const ma = sa / n;
      const mb = sb / n;
      const varA = saa / n - ma * ma;
      const varB = sbb / n - mb * mb;
      out[y0 * across + x0] = varB < FLAT_VARIANCE ? Number.NaN : varA < FLAT_VARIANCE ? 0 : (sab / n - ma * mb) / Math.sqrt(varA * varB);
    }
  }
  return out;
}

/** Mean of the local correlations of a and b over the windows where b is not flat (0 when every window is). */
export function meanLocalCorrelation(a: Float32Array, b: Float32Array, side: number, window: number): number {
  let sum = 0;
  let count = 0;
  for (const r of localCorrelations(a, b, side, window)) {
    if (Number.isNaN(r)) continue;
    sum += r;
    count++;
  }
  return count > 0 ? sum / count : 0;
}

/** Largest displacement |(dx, dy)| of an interleaved xy flow. */
function maxDisplacement(flowXy: Float32Array): number {
  let max2 = 0;
  for (let i = 0; i + 1 < flowXy.length; i += 2) max2 = Math.max(max2, flowXy[i]! * flowXy[i]! + flowXy[i + 1]! * flowXy[i + 1]!);
  return Math.sqrt(max2);
}

/**
 * The paired comparison of the copy's and the warp's per-window correlations (same windows, the fixed image's
 * non-flat ones): the two means, and FALLBACK_STANDARD_ERRORS standard errors of the mean difference, with
 * (windows / window²) independent windows.
 */
export function pairedAgreement(copy: Float64Array, warp: Float64Array, window: number): { copy: number; warp: number; margin: number } {
  let n = 0;
  let sumCopy = 0;
  let sumWarp = 0;
  let sumD = 0;
  let sumD2 = 0;
  for (let i = 0; i < copy.length; i++) {
    const c = copy[i]!;
    const w = warp[i]!;
    if (Number.isNaN(c) || Number.isNaN(w)) continue;
    n++;
    sumCopy += c;
    sumWarp += w;
    sumD += c - w;
    sumD2 += (c - w) * (c - w);
  }
  if (n === 0) return { copy: 0, warp: 0, margin: Infinity };
  const meanD = sumD / n;
  const sdD = Math.sqrt(Math.max(0, sumD2 / n - meanD * meanD));
  const independent = Math.max(1, n / (window * window));
  return { copy: sumCopy / n, warp: sumWarp / n, margin: (FALLBACK_STANDARD_ERRORS * sdD) / Math.sqrt(independent) };
}

/**
 * Keep the warp or fall back to the aligned copy for one image. referenceWork, testWork: R×R working copies
 * (the model's, smoothed as it trains on them); flowXyWarp: the network's flow on that grid.
 */
export function safetyNetDecision(referenceWork: Float32Array, testWork: Float32Array, flowXyWarp: Float32Array, size: number): SafetyNetDecision {
  const fixed = coarse(testWork, size);
  const warped = coarse(warpPlaneBilinear(referenceWork, size, size, flowXyWarp, size, size), size);
  const copy = coarse(referenceWork, size);
  const agreement = pairedAgreement(
    localCorrelations(copy.data, fixed.data, fixed.side, COARSE_WINDOW),
    localCorrelations(warped.data, fixed.data, fixed.side, COARSE_WINDOW),
    COARSE_WINDOW,
  );
  const maxDisplacementPx = maxDisplacement(flowXyWarp);
  const copyBetter = agreement.copy - agreement.warp > agreement.margin;
  return {
    fellBack: copyBetter && maxDisplacementPx >= MIN_DISPLACEMENT_PX,
    warpAgreement: agreement.warp,
    copyAgreement: agreement.copy,
    margin: agreement.margin,
    maxDisplacementPx,
  };
}
