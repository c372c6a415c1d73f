/**
 * Segmentation overlap metrics (paper §4.3: DICE and mIoU are computed per foreground class and averaged).
 *
 * Per class c:  P = |pred == c|,  G = |gt == c|,  I = |pred == c AND gt == c|
 *   Dice = 2I / (P + G),  IoU = I / (P + G - I).
 * Convention: when the class is absent from both masks (P = G = 0) the prediction is perfect, Dice = IoU = 1.
 * The counts are returned with each score so a caller can see (and, if it prefers, exclude) such cases:
 * a score with predPixels === 0 && gtPixels === 0 is a "both empty" score.
 */
import { MedpersamUserError } from '../errors.js';
import type { LabelMap } from '../image/types.js';

export interface ClassScore {
  cls: number;
  dice: number;
  iou: number;
  /** Pixels predicted as this class. */
  predPixels: number;
  /** Pixels of this class in the ground truth. */
  gtPixels: number;
}

/** Dice/IoU from the three counts, with the both-empty convention (→ 1). */
export function diceIoUFromCounts(predPixels: number, gtPixels: number, intersection: number): { dice: number; iou: number } {
  const sum = predPixels + gtPixels;
  if (sum === 0) return { dice: 1, iou: 1 };
  return { dice: (2 * intersection) / sum, iou: intersection / (sum - intersection) };
}

/**
 * Dice and IoU of `pred` against `gt` for each class in `classes` (in the given order).
 * Both maps must have the same size (a MedpersamUserError 'SIZE_MISMATCH' otherwise; callers that know the file
 * names should check first to name them).
 */
export function diceIoUPerClass(pred: LabelMap, gt: LabelMap, classes: number[]): ClassScore[] {
  if (pred.width !== gt.width || pred.height !== gt.height || pred.data.length !== gt.data.length) {
    throw new MedpersamUserError(
      'SIZE_MISMATCH',
      `prediction is ${pred.width}x${pred.height} but the ground truth is ${gt.width}x${gt.height}`,
    );
  }
  if (gt.data.length !== gt.width * gt.height) {
    throw new RangeError(`diceIoUPerClass: data length ${gt.data.length} does not match ${gt.width}x${gt.height}`);
  }
  // One pass counting every label value at once.
  const predCount = new Float64Array(256);
  const gtCount = new Float64Array(256);
  const interCount = new Float64Array(256);
  const p = pred.data;
  const g = gt.data;
  for (let i = 0; i < g.length; i++) {
    const a = p[i]!;
    const b = g[i]!;
    predCount[a]!++;
    gtCount[b]!++;
    if (a === b) interCount[a]!++;
  }
  return classes.map((cls) => {
    const inRange = Number.isInteger(cls) && cls >= 0 && cls <= 255;
    const predPixels = inRange ? predCount[cls]! : 0;
    const gtPixels = inRange ? gtCount[cls]! : 0;
    const inter = inRange ? interCount[cls]! : 0;
    return { cls, ...diceIoUFromCounts(predPixels, gtPixels, inter), predPixels, gtPixels };
  });
}

/** Unweighted mean over the given class scores (the paper's DICE / mIoU for one image). NaN for an empty list. */
export function meanScores(scores: readonly ClassScore[]): { dice: number; iou: number } {
  if (scores.length === 0) return { dice: Number.NaN, iou: Number.NaN };
  let dice = 0;
  let iou = 0;
  for (const s of scores) {
    dice += s.dice;
    iou += s.iou;
  }
  return { dice: dice / scores.length, iou: iou / scores.length };
}
