/**
 * Per-image preprocessing of the warping model (issue 8 item 3: every kind of scan): from an image as read (grey or
 * colour, any size) to its R×R working copy and its working frame (working-frame.ts).
 *
 *   colour → grey    the projection chosen on the reference (image/colour.ts; luminance for grey references)
 *   padding          constant border areas found on the grey image (image/padding.ts), left out of the alignment
 *   normalise        percentile clip + min-max to [0, 1] (image/normalize.ts)
 *   align            a similarity to the reference found by prealign.ts (tests only), or the plain resize
 *   polarity         an inverted test image (prealign.ts's polarity check) is flipped back: v → 1 − v
 *   working copy     R×R, through the frame; aligned pixels outside the test's content show the reference's
 *                    working pixels ('reference' fill: the image loss then asks for no deformation there) or 0
 *   denoise          when the reference's working copy is noisy (speckle: loss-choice.ts noiseRatio > NOISE_LIMIT),
 *                    every working copy (reference and tests alike) is smoothed by a Gaussian of DENOISE_SIGMA
 *                    working pixels, and the alignment search's pyramid levels by PREALIGN_DENOISE_FACTOR × that; the
 *                    alignment, the network, its image loss and the quality signals then see the anatomy rather
 *                    than the grain
 * Pure (no tensors, no file system).
 */
import { chooseColourProjection, projectToGrey, type ColourMode, type ColourProjection } from '../image/colour.js';
import { composeAffine } from '../image/affine.js';
import { normalizeIntensity } from '../image/normalize.js';
import { contentMask } from '../image/padding.js';
import type { FloatImage, LabelMap } from '../image/types.js';
import { gaussianBlurPlane } from '../image/blur.js';
import { NOISE_LIMIT, noiseRatio } from './loss-choice.js';
import type { RepeatPeriod } from './periodic.js';
import { estimatePrealignment, PrealignReference, type PolarityMode, type Prealignment, type PrealignMethod } from './prealign.js';
import { plainResizeMap, workingImage, type WorkingFrame } from './working-frame.js';

export type WorkingFill = 'reference' | 'zero';
/** Smooth noisy working copies ('auto', decided on the reference) or never ('off'). */
export type DenoiseMode = 'auto' | 'off';

export interface WarpPreprocessOptions {
  /** Colour → grey projection (default 'auto': chosen on the reference's labelled edges). */
  colour: ColourMode;
  /** Initial alignment of each test image to the reference (default 'search'). */
  prealign: PrealignMethod;
  /** Detect and undo inverted test images (default 'auto'). */
  polarity: PolarityMode;
  /** What aligned working pixels outside a test image's content show (default 'reference'). */
  fill: WorkingFill;
  /** Smoothing of noisy working copies (default 'auto'; absent, as in models saved before it existed = 'off'). */
  denoise?: DenoiseMode;
}

/** Defaults for any kind of scan (the CPU preset). */
export const ROBUST_PREPROCESS: WarpPreprocessOptions = { colour: 'auto', prealign: 'search', polarity: 'auto', fill: 'reference', denoise: 'auto' };
/** The paper's own preprocessing: luminance, each image resized on its own, no polarity check. */
export const PAPER_PREPROCESS: WarpPreprocessOptions = { colour: 'luminance', prealign: 'none', polarity: 'keep', fill: 'zero', denoise: 'off' };

/**
 * Gaussian σ (working pixels) of the denoising. Measured on the speckle stress sets (bench/stress: multiplicative
 * Gamma speckle, 1.5–3 looks, contrast 0.25–0.5), as the correlation of a speckled image's smoothed 128 px working
 * copy with the clean image's: JSRT 0.45–0.61 unsmoothed → 0.80–0.89 (σ 1) → 0.88–0.94 (σ 1.5) → 0.91–0.96 (σ 2);
 * phantoms 0.78–0.82 → 0.96–0.97 (σ 1) → 0.97 (σ 1.5) → 0.96 (σ 2). 1.5 is within 0.03 of the best on both.
 * Clean images never trigger it (noise ratio JSRT 0.01, phantoms 0.06; the limit is 0.25).
 */
export const DENOISE_SIGMA = 1.5;
/**
 * The alignment search (prealign.ts) smooths its pyramid levels by PREALIGN_DENOISE_FACTOR × DENOISE_SIGMA working
 * pixels' width. Measured on the speckle stress sets, first 20 images, reference mask carried through the
 * alignment alone (`bench/stress-bench.ts --align-only`; mean / worst image Dice): factor 0 (no smoothing) JSRT
 * 77.8 / 65.5, phantoms 89.1 / 83.9; 1: 81.7 / 69.3, 89.4 / 84.2; **2: 85.2 / 76.4, 89.5 / 84.6**; 2.5: 85.4 /
 * 79.1, 89.0 / 84.7; 3: 72.6 / 0.0 (a failed alignment), 88.8 / 84.4; 4: 76.9 / 3.1; 6: 57.5 / 6.2. Unspeckled
 * JSRT reaches 85.4 that way, so 2 recovers it; 3 and more blur the equalised levels into wrong optima. On all 40
 * images of each set: factor 1.5 JSRT 80.4, phantoms 89.6; **2: 82.3, 89.6**; 2.25: 81.0, 89.5; 2.5: 80.9, 89.3 (at
 * 2, two JSRT images of 40 still align wrongly: scale ≈ 0.63, Dice ~40).
 */
export const PREALIGN_DENOISE_FACTOR = 2;

/** Whether and how much the working copies are smoothed (for run records). */
export interface DenoiseChoice {
  /** Gaussian σ in working pixels; 0 = not smoothed. */
  sigmaWorkingPx: number;
  /** loss-choice.ts noiseRatio of the reference's unsmoothed working copy. */
  noiseRatio: number;
  reason: string;
}

export function chooseDenoise(mode: DenoiseMode | undefined, referenceNoiseRatio: number): DenoiseChoice {
  const noise = Math.round(referenceNoiseRatio * 1000) / 1000;
  if (mode !== 'auto') return { sigmaWorkingPx: 0, noiseRatio: noise, reason: 'denoising off' };
  if (referenceNoiseRatio > NOISE_LIMIT) {
    return { sigmaWorkingPx: DENOISE_SIGMA, noiseRatio: noise, reason: `noisy reference (noise/contrast ${noise.toFixed(2)} > ${NOISE_LIMIT}): Gaussian σ ${DENOISE_SIGMA} working px` };
  }
  return { sigmaWorkingPx: 0, noiseRatio: noise, reason: `low noise (${noise.toFixed(2)} ≤ ${NOISE_LIMIT}): not smoothed` };
}

export interface PreparedImage {
  frame: WorkingFrame;
  /** R×R working copy, intensities in [0, 1]. */
  work: Float32Array;
  /** The alignment found (null when neither alignment nor the polarity check ran). */
  prealignment: Prealignment | null;
}

/** What the preprocessing chose for one test image (for run records). */
export interface PrealignRecord {
  aligned: boolean;
  rotationDeg?: number;
  scale?: number;
  shiftX?: number;
  shiftY?: number;
  inverted: boolean;
  correlation: number;
  resizeCorrelation: number;
  /** Why the search's alignment was used or not (prealign.ts trustAlignment; absent without a search). */
  decision?: string;
}

const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;

export function prealignRecord(p: Prealignment): PrealignRecord {
  const out: PrealignRecord = { aligned: p.refToTest !== null, inverted: p.inverted, correlation: round(p.correlation), resizeCorrelation: round(p.resizeCorrelation) };
  if (p.evidence) out.decision = p.evidence.reason;
  if (p.params) {
    out.rotationDeg = round(p.params.rotationDeg, 2);
    out.scale = round(p.params.scaleFactor);
    out.shiftX = round(p.params.shiftX);
    out.shiftY = round(p.params.shiftY);
  }
  return out;
}

export class WarpPreprocessor {
  readonly options: WarpPreprocessOptions;
  readonly resolution: number;
  readonly colour: ColourProjection;
  /** The reference's R×R working copy (plain resize), smoothed when `denoise` says so. */
  readonly referenceWork: Float32Array;
  /** The same before smoothing (what the image-loss choice measures). */
  readonly referenceWorkUnsmoothed: Float32Array;
  readonly denoise: DenoiseChoice;
  private readonly reference: { width: number; height: number };
  private readonly alignReference: PrealignReference | null;

  constructor(options: WarpPreprocessOptions, reference: { image: FloatImage; label: LabelMap }, resolution: number) {
    this.options = options;
    this.resolution = resolution;
    this.colour = chooseColourProjection(reference.image, reference.label, options.colour);
    const grey = projectToGrey(reference.image, this.colour.weights);
    const normalised = normalizeIntensity(grey);
    this.reference = { width: grey.width, height: grey.height };
    this.referenceWorkUnsmoothed = workingImage(normalised, { width: grey.width, height: grey.height, warpToOriginal: null }, resolution).work;
    this.denoise = chooseDenoise(options.denoise, noiseRatio(this.referenceWorkUnsmoothed, resolution, resolution));
    this.referenceWork = this.smooth(this.referenceWorkUnsmoothed);
    const needsAlignment = options.prealign !== 'none' || options.polarity === 'auto';
    const alignSmoothing = (PREALIGN_DENOISE_FACTOR * this.denoise.sigmaWorkingPx) / resolution;
    this.alignReference = needsAlignment ? new PrealignReference(normalised, contentMask(grey), alignSmoothing, labelCentre(reference.label)) : null;
  }

  /** The reference's repeat (periodic.ts), null when its pattern does not repeat or nothing is aligned. */
  get repeatPeriod(): RepeatPeriod | null {
    return this.alignReference && this.options.prealign === 'search' ? this.alignReference.period : null;
  }

  /** The working copy and frame of an image (a test image, or any new image of the same kind). */
  prepare(image: FloatImage): PreparedImage {
    const R = this.resolution;
    const grey = projectToGrey(image, this.colour.weights);
    const normalised = normalizeIntensity(grey);
    const plain: WorkingFrame = { width: image.width, height: image.height, warpToOriginal: null };
    if (!this.alignReference) return { frame: plain, work: this.smooth(workingImage(normalised, plain, R).work), prealignment: null };
    const content = contentMask(grey);
    const prealignment = estimatePrealignment(this.alignReference, normalised, { method: this.options.prealign, polarity: this.options.polarity }, content);
    const frame: WorkingFrame = prealignment.refToTest
      ? { ...plain, warpToOriginal: composeAffine(prealignment.refToTest, plainResizeMap(R, this.reference.width, this.reference.height)) }
      : plain;
    // The fill is unsmoothed: the whole copy is smoothed once below, so filled areas match the reference's.
    const fill = this.options.fill === 'reference' ? this.referenceWorkUnsmoothed : 0;
    const { work, inside } = workingImage(normalised, frame, R, frame.warpToOriginal ? content : null, fill);
    if (prealignment.inverted) for (let i = 0; i < work.length; i++) if (inside[i]) work[i] = 1 - work[i]!;
    return { frame, work: this.smooth(work), prealignment };
  }

  /** A working copy smoothed as `denoise` chose (the same array when not smoothed). */
  private smooth(work: Float32Array): Float32Array {
    const sigma = this.denoise.sigmaWorkingPx;
    return sigma > 0 ? gaussianBlurPlane(work, this.resolution, this.resolution, sigma) : work;
  }
}

/** Centre of a label map's labelled (non-zero) pixels, or null when it has none. */
function labelCentre(label: LabelMap): { x: number; y: number } | null {
  let n = 0;
  let sx = 0;
  let sy = 0;
  for (let y = 0, i = 0; y < label.height; y++) {
    for (let x = 0; x < label.width; x++, i++) {
      if (label.data[i] === 0) continue;
      n++;
      sx += x;
      sy += y;
    }
  }
  return n > 0 ? { x: sx / n, y: sy / n } : null;
}
