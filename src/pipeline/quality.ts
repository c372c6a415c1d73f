/**
 * The quality signals of one segmented image, gathered from what the run has at hand: the target image, the
 * trained warping model's flow for it, the final label map and, with SAM, the run record of the final round (and
 * the previous round's label). Turns them into the inputs of eval/quality-score.ts. No file system: the caller
 * persists the result (pipeline/quality-store.ts) so a resumed run need not recompute finished images.
 *
 * Frames: the registration and appearance signals are computed on the warping model's square working grid
 * (xyWarp, R×R), on the working copies the model itself sees (WarpModel.testWorkingImage and the preprocessor's
 * reference copy: colour projection, initial alignment, polarity). A test image's working grid is its plain resize
 * or, after an initial alignment, its aligned frame (warp/working-frame.ts); the final label is brought into that
 * frame nearest-neighbour, so it lies over the working copy and the flow. Mask shape signals use the label at its
 * original size, reduced to at most 256 px on the longest side (connected components on 1024² pixels cost more and
 * tell the same).
 */
import { appearanceSignals, flowAffineFit, mainPiecesShare, maskShapeAndPieces, samSignals, significantPieces, warpSignals } from '../eval/quality-signals.js';
import { defaultPerturbations, perturbationAgreement, perturbWorkingImage } from '../eval/quality-tta.js';
import type { ClassSignalsInput, ImageSignalsInput } from '../eval/quality-score.js';
import { resampleLabelAffine } from '../image/affine.js';
import { resizeLabelNearest } from '../image/resize.js';
import type { FloatImage, LabelMap } from '../image/types.js';
import { toWorkingImage } from '../warp/model.js';
import type { WorkingFrame } from '../warp/working-frame.js';
import { warpLabelNearest, warpPlaneBilinear } from '../warp/spatial.js';

/** What the quality signals need from the run, once per run. */
export interface QualityContext {
  /** Working resolution R of the warping model. */
  size: number;
  /** The reference image and label on the working grid. */
  referenceWork: Float32Array;
  referenceLabelWork: LabelMap;
  /** The reference's class shares (pixels / image pixels). */
  referenceAreas: ReadonlyMap<number, number>;
  /** Pieces of each class in the reference mask (quality-signals significantPieces: 2 for both lungs as one class). */
  referencePieces: ReadonlyMap<number, number>;
  classes: readonly number[];
  /** The trained model's flows for working images (test-time perturbations); omit to skip that signal. */
  predictFlows?: (works: Float32Array[]) => Float32Array[];
}

/**
 * The context from the reference pair, the model's resolution and (optionally) its flow predictor. `reference.work`
 * is the reference's working copy as the warping model sees it (WarpModel.preprocessor.referenceWork); without it,
 * the plain luminance resize (toWorkingImage).
 */
export function qualityContext(
  reference: { image: FloatImage; label: LabelMap; work?: Float32Array },
  classes: readonly number[],
  size: number,
  predictFlows?: (works: Float32Array[]) => Float32Array[],
): QualityContext {
  const referenceShapes = new Map(classes.map((c) => [c, maskShapeAndPieces(reference.label, c)] as const));
  const referenceAreas = new Map(classes.map((c) => [c, referenceShapes.get(c)!.shape.area] as const));
  const referencePieces = new Map(classes.map((c) => [c, significantPieces(referenceShapes.get(c)!.shares)] as const));
  if (reference.work && reference.work.length !== size * size) {
    throw new Error(`reference working copy has ${reference.work.length} pixels, expected ${size}x${size}`);
  }
  return {
    size,
    referenceWork: reference.work ?? toWorkingImage(reference.image, size),
    referenceLabelWork: resizeLabelNearest(reference.label, size, size),
    referenceAreas,
    referencePieces,
    classes,
    predictFlows,
  };
}

/** SAM's part of one class in the final round (from the run record). */
export interface SamClassOutcome {
  cls: number;
  iouScores: readonly number[];
}

export interface ImageQualityInput {
  id: string;
  /** The target image (any size, grey or RGB). */
  image: FloatImage;
  /**
   * The flow of the model that made the (final) mask prompt, xyWarp, R×R×2. Absent when no warping model made the
   * prompt (the PerSAM baseline): the registration and perturbation signals are then left out.
   */
  flowXyWarp?: Float32Array;
  /** The final label map (original size). */
  label: LabelMap;
  /** The image's working copy when the caller has it (WarpModel.testWorkingImage); computed from `image` otherwise. */
  fixedWork?: Float32Array;
  /**
   * The working frame of `fixedWork` and the flow (WarpModel.testFrame): the label is resampled into it. Absent or
   * plain resize: the label is resized to R×R.
   */
  frame?: WorkingFrame;
  /** With SAM: the final round's mask prompt (warped label), its per-class record and the previous round's label. */
  sam?: { warped: LabelMap; classes: readonly SamClassOutcome[]; previous?: LabelMap };
}

/** Longest side of the label used for the shape signals. */
const SHAPE_MAX = 256;

/** Every signal of one image (see the module comment). */
export function imageQualitySignals(ctx: QualityContext, input: ImageQualityInput): ImageSignalsInput {
  const R = ctx.size;
  const fixedWork = input.fixedWork ?? toWorkingImage(input.image, R);
  const toOriginal = input.frame?.warpToOriginal;
  const labelWork = toOriginal ? resampleLabelAffine(input.label, R, R, toOriginal) : resizeLabelNearest(input.label, R, R);
  const flow = input.flowXyWarp;
  const reg = flow
    ? warpSignals({
        fixedWork,
        warpedReferenceWork: warpPlaneBilinear(ctx.referenceWork, R, R, flow, R, R),
        flowXyWarp: flow,
        size: R,
        labelWork,
        classes: ctx.classes,
        piecesPerClass: ctx.referencePieces,
      })
    : undefined;
  const app = appearanceSignals({ targetWork: fixedWork, referenceWork: ctx.referenceWork, size: R, labelWork, referenceLabelWork: ctx.referenceLabelWork, classes: ctx.classes });
  const agreement = flow && ctx.predictFlows ? perturbationSignals(ctx, fixedWork, flow) : undefined;
  const { width, height } = input.label;
  const referenceAreaScale = flow ? globalAreaScale(flow, R, input.frame, width, height) : undefined;
  const scale = Math.min(1, SHAPE_MAX / Math.max(width, height));
  const shapeLabel = scale < 1 ? resizeLabelNearest(input.label, Math.max(1, Math.round(width * scale)), Math.max(1, Math.round(height * scale))) : input.label;
  const perClass: ClassSignalsInput[] = ctx.classes.map((cls) => {
    const { shape, shares } = maskShapeAndPieces(shapeLabel, cls);
    const pieces = ctx.referencePieces.get(cls) ?? 1;
    const r = reg?.perClass.get(cls);
    const samRecord = input.sam?.classes.find((c) => c.cls === cls);
    return {
      cls,
      area: shape.area,
      components: shape.components,
      largestShare: shape.largestShare,
      referencePieces: pieces,
      mainPiecesShare: mainPiecesShare(shares, pieces),
      referenceArea: ctx.referenceAreas.get(cls),
      ...(referenceAreaScale !== undefined ? { referenceAreaScale } : {}),
      registration: r,
      contrastRatio: app.get(cls)?.contrastRatio,
      perturbationAgreement: agreement?.get(cls),
      sam:
        input.sam && samRecord
          ? samSignals({ cls, iouScores: samRecord.iouScores, warped: input.sam.warped, final: input.label, previous: input.sam.previous })
          : undefined,
    };
  });
  return { id: input.id, registration: reg?.global, perClass };
}

/**
 * How much the global part of the registration alone scales a class's share of the image: the affine fit of the
 * flow (test working pixel x ↦ reference working pixel x + φ(x), linear part M) and the working frame (working
 * pixel → test pixel, linear part L; the plain resize when absent). A reference region of share s covers R²·s/det M
 * working pixels, i.e. R²·s·|det L| / (det M · W·H) of the test image: the factor is R²·|det L| / (det M · W·H).
 * A zoomed, cropped or rescaled image then has the reference's class share × this, not the reference's share.
 * Undefined for a degenerate fit (det M ≤ 0: the global part folds).
 */
export function globalAreaScale(flowXyWarp: Float32Array, R: number, frame: WorkingFrame | undefined, width: number, height: number): number | undefined {
  const [a, b, c, d] = flowAffineFit(flowXyWarp, R, R).linear;
  const detM = (1 + a) * (1 + d) - b * c;
  const L = frame?.warpToOriginal;
  const detL = L ? Math.abs(L[0] * L[4] - L[1] * L[3]) : (width * height) / (R * R);
  return detM > 1e-6 ? (R * R * detL) / (detM * width * height) : undefined;
}

/**
 * Mean Dice, per class, between the reference label warped with the image's flow and with the flows of perturbed
 * copies of the image (eval/quality-tta.ts), on the working grid.
 */
function perturbationSignals(ctx: QualityContext, fixedWork: Float32Array, flowXyWarp: Float32Array): Map<number, number> {
  const R = ctx.size;
  const perturbations = defaultPerturbations(R);
  const flows = ctx.predictFlows!(perturbations.map((p, k) => perturbWorkingImage(fixedWork, R, p, k + 1)));
  const base = warpLabelNearest(ctx.referenceLabelWork, flowXyWarp, R, R);
  const sums = new Map<number, number>(ctx.classes.map((c) => [c, 0]));
  perturbations.forEach((p, k) => {
    const agree = perturbationAgreement(base, warpLabelNearest(ctx.referenceLabelWork, flows[k]!, R, R), ctx.classes, p.shift);
    for (const c of ctx.classes) sums.set(c, sums.get(c)! + agree.get(c)! / perturbations.length);
  });
  return sums;
}
