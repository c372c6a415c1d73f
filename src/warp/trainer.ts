/**
 * One training step of the warping model (paper §3.1 Eq. 1–3, §3.3 retraining, App. B.1 coefficients).
 *
 * A batch holds B test images (fixed) and A augmented copies of the reference (fixed, Eq. 2); the moving image is
 * always the reference, so the network encodes it once per step. With λ's from Table 12 (JSRT: λw 1, λr 0.75,
 * λa 0.1) and λseg = 1 (App. B.1):
 *
 *   L_pair(F)   = λw·L_img(φ∘M, F) + λr·L_reg(φ)                                   (Eq. 1, per fixed image F)
 *   L_aug       = L_pair(M_aug) + λseg·DiceCE(φ∘Y_M, Y_aug)                          (Eq. 2)
 *   L           = mean_tests L_pair + λa·mean_aug L_aug                              (Eq. 3)
 *               + λseg·mean_pseudo DiceCE(φ∘Y_M, Ŷ)        for tests with a pseudolabel Ŷ (§3.3 retraining)
 *
 * L_img = SSIM loss (window 7), NCC loss (window 9) or multi-scale NCC (window 9 at 1× and 2×); L_reg = mean squared spatial gradient of the flow (in
 * working pixels); DiceCE = Dice (weight 1) + cross-entropy (weight 0.001) over the one-hot class channels.
 */
import * as tf from '@tensorflow/tfjs';
import type { WarpNetwork } from './network.js';
import { AdamW } from './params.js';
import { warpShared } from './fast-warp.js';
import { ssimLoss, nccLoss, multiScaleNccLoss, flowGradL2, diceCELoss } from './losses.js';

export type ImageLossKind = 'ssim' | 'ncc' | 'ncc-ms';
/** 'auto' is resolved by WarpModel from the reference (loss-choice.ts) before any training step. */
export type ImageLossMode = ImageLossKind | 'auto';

/** Loss weights and switches. Defaults: paper Table 12 (JSRT) and App. B.1. */
export interface WarpLossOptions {
  /** Image similarity loss (App. B.1: SSIM for JSRT; NCC for images with large black padding; 'auto' = that rule). */
  imageLoss: ImageLossMode;
  /** λw, warping (image) loss weight. Table 12: 1. */
  lambdaWarp: number;
  /** λr, flow regularisation weight. Table 12 JSRT: 0.75. */
  lambdaReg: number;
  /** λa, augmentation loss weight (Eq. 2). Table 12 JSRT: 0.1. 0 or `augmentation: false` removes the term. */
  lambdaAug: number;
  /** Segmentation (DiceCE) loss weight. App. B.1: 1. */
  lambdaSeg: number;
  /** Augmentation loss on/off (Table 10 ablation). */
  augmentation: boolean;
}

export const DEFAULT_LOSS_OPTIONS: WarpLossOptions = {
  imageLoss: 'auto',
  lambdaWarp: 1,
  lambdaReg: 0.75,
  lambdaAug: 0.1,
  lambdaSeg: 1,
  augmentation: true,
};

/** One batch, all at working resolution R. */
export interface WarpBatch {
  /** [1,R,R,1] the reference image (moving). */
  reference: tf.Tensor4D;
  /** [1,R,R,K] the reference label as soft one-hot (channel 0 = background). */
  referenceOneHot: tf.Tensor4D;
  /** [B,R,R,1] test images (fixed). B may be 0 only when augmented pairs exist. */
  tests: tf.Tensor4D | null;
  /** Pseudolabels for some tests: indices into `tests` and their one-hot targets [P,R,R,K]. */
  pseudo: { index: number[]; oneHot: tf.Tensor4D } | null;
  /** Augmented reference pairs (Eq. 2): images [A,R,R,1] and one-hot masks [A,R,R,K]. */
  augmented: { images: tf.Tensor4D; oneHot: tf.Tensor4D } | null;
}

export interface LossBreakdown {
  total: number;
  image: number;
  reg: number;
  aug: number;
  augSeg: number;
  pseudoSeg: number;
}

function imageLoss(kind: ImageLossMode, warped: tf.Tensor4D, fixed: tf.Tensor4D): tf.Scalar {
  if (kind === 'auto') throw new Error('image loss "auto" must be resolved before training (WarpModel does it)');
  if (kind === 'ssim') return ssimLoss(warped, fixed);
  return kind === 'ncc-ms' ? multiScaleNccLoss(warped, fixed) : nccLoss(warped, fixed);
}

/**
 * A shard's share of each batch mean (data-parallel training): every term of Eq. 3 is a mean over the batch's test
 * images, augmented pairs or pseudolabelled tests, so a shard holding n_s of the batch's n images of a group weights
 * that group's terms by n_s / n, and the shards' weighted losses (and gradients) add up to the whole batch's.
 * A whole batch has all shares 1 (the terms are then computed exactly as without sharding).
 */
export interface BatchShares {
  tests: number;
  augmented: number;
  pseudo: number;
}

export const WHOLE_BATCH: BatchShares = { tests: 1, augmented: 1, pseudo: 1 };

/**
 * Build the scalar loss of Eq. 3 (+ §3.3 term) for a batch; returns the total and its parts (tensors), each part
 * already multiplied by its share (see BatchShares).
 */
export function batchLoss(
  network: WarpNetwork,
  batch: WarpBatch,
  opts: WarpLossOptions,
  shares: BatchShares = WHOLE_BATCH,
): { total: tf.Scalar; parts: Record<keyof Omit<LossBreakdown, 'total'>, tf.Scalar> } {
  const nTests = batch.tests ? batch.tests.shape[0] : 0;
  const useAug = opts.augmentation && opts.lambdaAug > 0 && batch.augmented !== null;
  const fixedParts: tf.Tensor4D[] = [];
  if (batch.tests) fixedParts.push(batch.tests);
  if (useAug) fixedParts.push(batch.augmented!.images);
  if (fixedParts.length === 0) throw new Error('empty batch');
  const fixed = fixedParts.length === 1 ? fixedParts[0]! : (tf.concat(fixedParts, 0) as tf.Tensor4D);
  const N = fixed.shape[0];
  const { flowXyWarp } = network.forward(fixed, batch.reference);
  const warpedRef = warpShared(batch.reference, flowXyWarp);

  const zero = tf.scalar(0);
  let image = zero;
  let reg = zero;
  let aug = zero;
  let augSeg = zero;
  let pseudoSeg = zero;
  let total = zero;

  const slice = (t: tf.Tensor4D, start: number, count: number): tf.Tensor4D =>
    t.slice([start, 0, 0, 0], [count, -1, -1, -1]);

  // A share of 1 leaves a term untouched (no multiplication), so whole batches compute exactly as before sharding.
  const share = (t: tf.Scalar, w: number): tf.Scalar => (w === 1 ? t : t.mul(w));

  if (nTests > 0) {
    const flowT = slice(flowXyWarp, 0, nTests);
    image = share(imageLoss(opts.imageLoss, slice(warpedRef, 0, nTests), batch.tests!), shares.tests);
    reg = share(flowGradL2(flowT), shares.tests);
    total = total.add(image.mul(opts.lambdaWarp)).add(reg.mul(opts.lambdaReg));
    if (batch.pseudo && batch.pseudo.index.length > 0) {
      const idx = tf.tensor1d(batch.pseudo.index, 'int32');
      const flowP = tf.gather(flowT, idx) as tf.Tensor4D;
      const P = batch.pseudo.index.length;
      const warpedMask = warpShared(batch.referenceOneHot, flowP);
      pseudoSeg = share(diceCELoss(warpedMask, batch.pseudo.oneHot), shares.pseudo);
      total = total.add(pseudoSeg.mul(opts.lambdaSeg));
    }
  }
  if (useAug) {
    const A = N - nTests;
    const flowA = slice(flowXyWarp, nTests, A);
    const augImage = imageLoss(opts.imageLoss, slice(warpedRef, nTests, A), batch.augmented!.images);
    const augReg = flowGradL2(flowA);
    const warpedMask = warpShared(batch.referenceOneHot, flowA);
    augSeg = diceCELoss(warpedMask, batch.augmented!.oneHot);
    aug = share(augImage.mul(opts.lambdaWarp).add(augReg.mul(opts.lambdaReg)).add(augSeg.mul(opts.lambdaSeg)), shares.augmented);
    augSeg = share(augSeg, shares.augmented);
    total = total.add(aug.mul(opts.lambdaAug));
  }
  return { total: total as tf.Scalar, parts: { image, reg, aug, augSeg, pseudoSeg } };
}

/** Loss value (no update), e.g. for tests and monitoring. */
export function evaluateLoss(network: WarpNetwork, batch: WarpBatch, opts: WarpLossOptions, shares: BatchShares = WHOLE_BATCH): LossBreakdown {
  let out: LossBreakdown | null = null;
  tf.tidy(() => {
    const { total, parts } = batchLoss(network, batch, opts, shares);
    out = readBreakdown(total, parts);
  });
  return out!;
}

function readBreakdown(total: tf.Scalar, parts: Record<string, tf.Scalar>): LossBreakdown {
  return {
    total: total.dataSync()[0]!,
    image: parts['image']!.dataSync()[0]!,
    reg: parts['reg']!.dataSync()[0]!,
    aug: parts['aug']!.dataSync()[0]!,
    augSeg: parts['augSeg']!.dataSync()[0]!,
    pseudoSeg: parts['pseudoSeg']!.dataSync()[0]!,
  };
}

/**
 * Gradients of a batch's (or a shard's, see BatchShares) loss w.r.t. every network parameter, flattened into one
 * Float32Array in the parameter store's order (the layout the parallel trainer sends between threads), with the
 * names of parameters that got no gradient (they are left untouched by the update, not even decayed).
 */
export interface FlatGradients {
  flat: Float32Array;
  missing: string[];
  breakdown: LossBreakdown;
}

export function batchGradients(network: WarpNetwork, batch: WarpBatch, opts: WarpLossOptions, shares: BatchShares = WHOLE_BATCH): FlatGradients {
  const names = network.params.names();
  const vars = network.params.variables();
  let size = 0;
  for (const v of vars) size += v.size;
  const flat = new Float32Array(size);
  const missing: string[] = [];
  let breakdown: LossBreakdown | null = null;
  tf.tidy(() => {
    const partsOut: Record<string, tf.Scalar> = {};
    const { value, grads } = tf.variableGrads(() => {
      const { total, parts } = batchLoss(network, batch, opts, shares);
      for (const k of Object.keys(parts)) partsOut[k] = tf.keep(parts[k as keyof typeof parts]);
      return total;
    }, vars);
    breakdown = readBreakdown(value, partsOut);
    for (const t of Object.values(partsOut)) t.dispose();
    let offset = 0;
    vars.forEach((v, i) => {
      const g = grads[v.name];
      if (g) flat.set(g.dataSync() as Float32Array, offset);
      else missing.push(names[i]!);
      offset += v.size;
    });
  });
  return { flat, missing, breakdown: breakdown! };
}

/**
 * AdamW update from flat gradients (layout of batchGradients; parameters named in `missing` are skipped).
 * Returns the new weights in the same flat layout.
 */
export function applyFlatGradients(_network: WarpNetwork, optimizer: AdamW, flat: Float32Array, missing: readonly string[] = []): Float32Array {
  return optimizer.applyFlat(flat, new Set(missing));
}

/** One optimisation step on a whole batch: gradients of Eq. 3 w.r.t. every network parameter, then AdamW. */
export function trainStep(network: WarpNetwork, optimizer: AdamW, batch: WarpBatch, opts: WarpLossOptions): LossBreakdown {
  const g = batchGradients(network, batch, opts);
  applyFlatGradients(network, optimizer, g.flat, g.missing);
  return g.breakdown;
}
