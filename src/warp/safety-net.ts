/**
 * The per-image safety net (issue 20): a warp is kept only when the run's own evidence (no ground truth) says it is
 * at least as plausible as the aligned copy of the reference (zero network flow: the reference label through the
 * image's working frame alone); otherwise that image falls back to the copy, so that the result for it is never
 * worse than doing nothing by that evidence.
 *
 * Evidence: the structural agreement of the reference's working copy with the test's, warped and unwarped, at a
 * coarser scale than the network's image loss: both copies are area-reduced by COARSE_FACTOR (texture, speckle and
 * the fine detail the loss was trained to match average out; organ-sized structure stays) and compared by the mean
 * local Pearson correlation over COARSE_WINDOW×COARSE_WINDOW windows (flat windows left out). A warp that improves
 * the image match only below that scale while moving the structures away from their match is caught; one that
 * moves them into place raises it. The warp falls back when its agreement is below the copy's.
 * Frames: both working copies are R×R on the working grid (xyWarp); the flow maps test → reference (spatial.ts).
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

export interface SafetyNetDecision {
  /** True when the image falls back to the aligned copy (zero flow). */
  fellBack: boolean;
  /** Coarse local correlation of the warped reference with the test, and of the unwarped (aligned) copy. */
  warpAgreement: number;
  copyAgreement: number;
}

function coarse(plane: Float32Array, size: number): { data: Float32Array; side: number } {
  const side = Math.max(COARSE_WINDOW, Math.round(size / COARSE_FACTOR));
  return { data: resizeImage({ width: size, height: size, channels: 1, data: plane }, side, side, 'area').data, side };
}

/** Mean Pearson correlation of a and b over window×window windows (stride 1) that are not flat in either. */
export function meanLocalCorrelation(a: Float32Array, b: Float32Array, side: number, window: number): number {
  let sum = 0;
  let windows = 0;
  const n = window * window;
  for (let y0 = 0; y0 + window <= side; y0++) {
    for (let x0 = 0; x0 + window <= side; x0++) {
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
      if (varA < FLAT_VARIANCE || varB < FLAT_VARIANCE) continue;
      sum += (sab / n - ma * mb) / Math.sqrt(varA * varB);
      windows++;
    }
  }
  return windows > 0 ? sum / windows : 0;
}

/**
 * Keep the warp or fall back to the aligned copy for one image. referenceWork, testWork: R×R working copies
 * (the model's, smoothed as it trains on them); flowXyWarp: the network's flow on that grid.
 */
export function safetyNetDecision(referenceWork: Float32Array, testWork: Float32Array, flowXyWarp: Float32Array, size: number): SafetyNetDecision {
  const fixed = coarse(testWork, size);
  const warped = coarse(warpPlaneBilinear(referenceWork, size, size, flowXyWarp, size, size), size);
  const copy = coarse(referenceWork, size);
  const warpAgreement = meanLocalCorrelation(warped.data, fixed.data, fixed.side, COARSE_WINDOW);
  const copyAgreement = meanLocalCorrelation(copy.data, fixed.data, fixed.side, COARSE_WINDOW);
  return { fellBack: warpAgreement < copyAgreement, warpAgreement, copyAgreement };
}
