/**
 * PerSAM baseline prompting (Zhang et al., "Personalize Segment Anything"), for Table 7's comparison.
 *
 * Points: the global most similar location is the positive and the global least similar the negative (PerSAM's
 * released code uses top-1 each; `topK` widens it to the "naive top-k" of §4.8). Ties → lowest raster index.
 *
 * PerSAM's cascade, which the PIPELINE must run with these points (it needs SAM, so it is not done here):
 *  1. decode(points, target embedding if available), multimask = false → mask m1, low-res logits l1
 *     (PerSAM also biases this pass with "target-guided attention" from the similarity map; an ONNX decoder
 *     has no input for that, so it is left out).
 *  2. decode(points, mask_input = l1), multimask = true → take the output with the highest IoU score: m2, l2.
 *  3. decode(points, box = tight box of m2, mask_input = l2), multimask = true → highest IoU score: the result.
 * PERSAM_CASCADE below spells out these steps as data.
 */
import type { LabeledPoint } from '../image/types.js';
import { topKIndices } from './select.js';

export interface PersamPointPrompts {
  /** k positives then k negatives, in the similarity map's pixel frame. */
  points: LabeledPoint[];
  positives: LabeledPoint[];
  negatives: LabeledPoint[];
}

export interface PersamOptions {
  /** Points per polarity (default 1, PerSAM's code). */
  topK?: number;
}

/** PerSAM's point prompts from a width x height similarity map. */
export function persamPrompts(similarity: Float32Array, width: number, height: number, opts: PersamOptions = {}): PersamPointPrompts {
  if (similarity.length !== width * height) {
    throw new RangeError(`persamPrompts: similarity length ${similarity.length} != ${width}x${height}`);
  }
  const k = opts.topK ?? 1;
  const at = (i: number, label: 0 | 1): LabeledPoint => ({ x: i % width, y: Math.floor(i / width), label });
  const positives = topKIndices(similarity, k, 'max').map((i) => at(i, 1));
  const negatives = topKIndices(similarity, k, 'min').map((i) => at(i, 0));
  return { points: [...positives, ...negatives], positives, negatives };
}

/** One decoder call of PerSAM's cascade. */
export interface PersamCascadeStep {
  /** Use the PerSAM points (always true). */
  points: true;
  /** Box from the previous step's selected mask. */
  boxFromPrevious: boolean;
  /** Previous step's low-res logits as mask_input. */
  maskInputFromPrevious: boolean;
  multimask: boolean;
  /** Add the target embedding (target-guided attention) where the decoder supports it. */
  targetEmbedding: boolean;
}

export const PERSAM_CASCADE: readonly PersamCascadeStep[] = [
  { points: true, boxFromPrevious: false, maskInputFromPrevious: false, multimask: false, targetEmbedding: true },
  { points: true, boxFromPrevious: false, maskInputFromPrevious: true, multimask: true, targetEmbedding: false },
  { points: true, boxFromPrevious: true, maskInputFromPrevious: true, multimask: true, targetEmbedding: false },
];
