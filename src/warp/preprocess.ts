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
 * Pure (no tensors, no file system).
 */
import { chooseColourProjection, projectToGrey, type ColourMode, type ColourProjection } from '../image/colour.js';
import { composeAffine } from '../image/affine.js';
import { normalizeIntensity } from '../image/normalize.js';
import { contentMask } from '../image/padding.js';
import type { FloatImage, LabelMap } from '../image/types.js';
import { estimatePrealignment, PrealignReference, type PolarityMode, type Prealignment, type PrealignMethod } from './prealign.js';
import { plainResizeMap, workingImage, type WorkingFrame } from './working-frame.js';

export type WorkingFill = 'reference' | 'zero';

export interface WarpPreprocessOptions {
  /** Colour → grey projection (default 'auto': chosen on the reference's labelled edges). */
  colour: ColourMode;
  /** Initial alignment of each test image to the reference (default 'search'). */
  prealign: PrealignMethod;
  /** Detect and undo inverted test images (default 'auto'). */
  polarity: PolarityMode;
  /** What aligned working pixels outside a test image's content show (default 'reference'). */
  fill: WorkingFill;
}

/** Defaults for any kind of scan (the CPU preset). */
export const ROBUST_PREPROCESS: WarpPreprocessOptions = { colour: 'auto', prealign: 'search', polarity: 'auto', fill: 'reference' };
/** The paper's own preprocessing: luminance, each image resized on its own, no polarity check. */
export const PAPER_PREPROCESS: WarpPreprocessOptions = { colour: 'luminance', prealign: 'none', polarity: 'keep', fill: 'zero' };

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
}

const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;

export function prealignRecord(p: Prealignment): PrealignRecord {
  const out: PrealignRecord = { aligned: p.refToTest !== null, inverted: p.inverted, correlation: round(p.correlation), resizeCorrelation: round(p.resizeCorrelation) };
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
  /** The reference's R×R working copy (plain resize). */
  readonly referenceWork: Float32Array;
  private readonly reference: { width: number; height: number };
  private readonly alignReference: PrealignReference | null;

  constructor(options: WarpPreprocessOptions, reference: { image: FloatImage; label: LabelMap }, resolution: number) {
    this.options = options;
    this.resolution = resolution;
    this.colour = chooseColourProjection(reference.image, reference.label, options.colour);
    const grey = projectToGrey(reference.image, this.colour.weights);
    const normalised = normalizeIntensity(grey);
    this.reference = { width: grey.width, height: grey.height };
    this.referenceWork = workingImage(normalised, { width: grey.width, height: grey.height, warpToOriginal: null }, resolution).work;
    const needsAlignment = options.prealign !== 'none' || options.polarity === 'auto';
    this.alignReference = needsAlignment ? new PrealignReference(normalised, contentMask(grey)) : null;
  }

  /** The working copy and frame of an image (a test image, or any new image of the same kind). */
  prepare(image: FloatImage): PreparedImage {
    const R = this.resolution;
    const grey = projectToGrey(image, this.colour.weights);
    const normalised = normalizeIntensity(grey);
    const plain: WorkingFrame = { width: image.width, height: image.height, warpToOriginal: null };
    if (!this.alignReference) return { frame: plain, work: workingImage(normalised, plain, R).work, prealignment: null };
    const content = contentMask(grey);
    const prealignment = estimatePrealignment(this.alignReference, normalised, { method: this.options.prealign, polarity: this.options.polarity }, content);
    const frame: WorkingFrame = prealignment.refToTest
      ? { ...plain, warpToOriginal: composeAffine(prealignment.refToTest, plainResizeMap(R, this.reference.width, this.reference.height)) }
      : plain;
    const fill = this.options.fill === 'reference' ? this.referenceWork : 0;
    const { work, inside } = workingImage(normalised, frame, R, frame.warpToOriginal ? content : null, fill);
    if (prealignment.inverted) for (let i = 0; i < work.length; i++) if (inside[i]) work[i] = 1 - work[i]!;
    return { frame, work, prealignment };
  }
}
