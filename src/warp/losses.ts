/**
 * Losses of the warping model (paper §3.1 Eqs. 1–3, Appendix B.1). All take NHWC float32 tensors and return a
 * scalar to MINIMISE; all are differentiable on wasm (box filters are avgPool 'valid', whose gradient kernel
 * AvgPoolGrad exists on wasm; no gather, no conv filter gradients).
 *
 * - `ssimLoss(a, b, window = 7)`   L_sim (SSIM variant) = 1 − mean SSIM (uniform 7×7 window, Wang et al. 2004)
 * - `nccLoss(a, b, window = 9)`    L_sim (NCC variant)  = −mean local squared NCC (VoxelMorph's definition)
 * - `multiScaleNccLoss(a, b)`      the NCC variant averaged over the image and its 2× reduced copy (speckle)
 * - `flowGradL2(flow)`             L_reg = mean ‖∇φ‖² (forward differences, averaged over x and y)
 * - `diceCELoss(probs, oneHot)`    L_seg = 1·Dice + 0.001·CE (B.1 coefficients)
 */
import * as tf from '@tensorflow/tfjs';

export interface SsimOptions {
  /** Side of the uniform window, default 7 (paper B.1). */
  window?: number;
  /** Dynamic range L of the intensities, default 1 (images in [0,1]); C1 = (0.01 L)², C2 = (0.03 L)². */
  dataRange?: number;
}

function checkSameShape(a: tf.Tensor, b: tf.Tensor, fn: string): void {
  if (a.shape.length !== 4 || a.shape.some((n, i) => n !== b.shape[i])) {
    throw new Error(`${fn}: inputs must be [B,H,W,C] of the same shape, got ${a.shape} and ${b.shape}`);
  }
}

function checkWindow(a: tf.Tensor4D, window: number, fn: string): void {
  if (!Number.isInteger(window) || window < 1 || a.shape[1] < window || a.shape[2] < window) {
    throw new Error(`${fn}: window ${window} does not fit images of ${a.shape[1]}×${a.shape[2]}`);
  }
}

/** Local means over window×window ('valid': only full windows), per channel. [B,H,W,C] → [B,H-w+1,W-w+1,C]. */
function boxMean(t: tf.Tensor4D, window: number): tf.Tensor4D {
  return tf.avgPool(t, window, 1, 'valid');
}

/**
 * SSIM loss = 1 − mean over all full windows (and channels, batch) of
 *   SSIM = (2 μa μb + C1)(2 σab + C2) / ((μa² + μb² + C1)(σa² + σb² + C2)),
 * with uniform-window means and population (co)variances. Identical images → 0 (up to float rounding).
 * @param a, b [B,H,W,C], intensities in [0, dataRange]
 */
export function ssimLoss(a: tf.Tensor4D, b: tf.Tensor4D, opts: SsimOptions | number = {}): tf.Scalar {
  const o: SsimOptions = typeof opts === 'number' ? { window: opts } : opts;
  const window = o.window ?? 7;
  const L = o.dataRange ?? 1;
  checkSameShape(a, b, 'ssimLoss');
  checkWindow(a, window, 'ssimLoss');
  const c1 = (0.01 * L) ** 2;
  const c2 = (0.03 * L) ** 2;
  return tf.tidy(() => {
    const ma = boxMean(a, window);
    const mb = boxMean(b, window);
    const maa = tf.square(ma);
    const mbb = tf.square(mb);
    const mab = tf.mul(ma, mb);
    const va = tf.sub(boxMean(tf.square(a), window), maa);
    const vb = tf.sub(boxMean(tf.square(b), window), mbb);
    const cov = tf.sub(boxMean(tf.mul(a, b), window), mab);
    const num = tf.mul(tf.add(tf.mul(mab, 2), c1), tf.add(tf.mul(cov, 2), c2));
    const den = tf.mul(tf.add(tf.add(maa, mbb), c1), tf.add(tf.add(va, vb), c2));
    return tf.sub(1, tf.mean(tf.div(num, den))) as tf.Scalar;
  });
}

export interface NccOptions {
  /** Side of the uniform window, default 9 (paper B.1). */
  window?: number;
  /** Added to the denominator, default 1e-5 (VoxelMorph). */
  eps?: number;
}

/**
 * Local normalised cross-correlation loss as in VoxelMorph (Balakrishnan et al.): with window sums over n pixels,
 *   cross = Σab − Σa Σb / n,  var_a = Σa² − (Σa)²/n,  cc = cross² / (var_a var_b + eps),
 * loss = −mean(cc) over full windows. cc ∈ [0, 1] is the squared local correlation, so perfectly (positively or
 * negatively) correlated textured images give −1; flat windows give 0. Minimise (range [−1, 0]).
 * @param a, b [B,H,W,C]
 */
export function nccLoss(a: tf.Tensor4D, b: tf.Tensor4D, opts: NccOptions | number = {}): tf.Scalar {
  const o: NccOptions = typeof opts === 'number' ? { window: opts } : opts;
  const window = o.window ?? 9;
  const eps = o.eps ?? 1e-5;
  checkSameShape(a, b, 'nccLoss');
  checkWindow(a, window, 'nccLoss');
  const n = window * window;
  return tf.tidy(() => {
    const ma = boxMean(a, window);
    const mb = boxMean(b, window);
    // window sums expressed through means: Σab − ΣaΣb/n = n (mean(ab) − μa μb), etc.
    const cross = tf.mul(tf.sub(boxMean(tf.mul(a, b), window), tf.mul(ma, mb)), n);
    const va = tf.mul(tf.sub(boxMean(tf.square(a), window), tf.square(ma)), n);
    const vb = tf.mul(tf.sub(boxMean(tf.square(b), window), tf.square(mb)), n);
    const cc = tf.div(tf.square(cross), tf.add(tf.mul(va, vb), eps));
    return tf.neg(tf.mean(cc)) as tf.Scalar;
  });
}

/**
 * Multi-scale NCC: the mean of nccLoss over the images and their 2×, 4×… area-reduced copies (`scales` levels, the
 * same window at each), so that one window sees speckle-sized detail at the finest level and chamber-sized
 * structure at the coarsest. Speckle decorrelates between patients; the coarse levels average it out while keeping
 * the walls and cavities. Range [−1, 0].
 * @param a, b [B,H,W,C]
 */
export function multiScaleNccLoss(a: tf.Tensor4D, b: tf.Tensor4D, opts: NccOptions & { scales?: number } = {}): tf.Scalar {
  const scales = opts.scales ?? 2;
  checkSameShape(a, b, 'multiScaleNccLoss');
  return tf.tidy(() => {
    let sum: tf.Scalar = nccLoss(a, b, opts);
    let pa = a;
    let pb = b;
    for (let k = 1; k < scales; k++) {
      pa = tf.avgPool(pa, 2, 2, 'valid');
      pb = tf.avgPool(pb, 2, 2, 'valid');
      sum = tf.add(sum, nccLoss(pa, pb, opts)) as tf.Scalar;
    }
    return tf.div(sum, scales) as tf.Scalar;
  });
}

/**
 * L2 flow regulariser (B.1, VoxelMorph "Grad l2"): (mean((φ[y+1]−φ[y])²) + mean((φ[x+1]−φ[x])²)) / 2, each mean
 * over batch, positions and both flow channels. Constant flows → 0. flow [B,H,W,2] (any C works).
 */
export function flowGradL2(flow: tf.Tensor4D): tf.Scalar {
  const [, H, W] = flow.shape;
  if (H < 2 || W < 2) throw new Error(`flowGradL2: flow must be at least 2×2, got ${flow.shape}`);
  return tf.tidy(() => {
    const dy = tf.sub(tf.slice(flow, [0, 1, 0, 0], [-1, H - 1, -1, -1]), tf.slice(flow, [0, 0, 0, 0], [-1, H - 1, -1, -1]));
    const dx = tf.sub(tf.slice(flow, [0, 0, 1, 0], [-1, -1, W - 1, -1]), tf.slice(flow, [0, 0, 0, 0], [-1, -1, W - 1, -1]));
    return tf.div(tf.add(tf.mean(tf.square(dy)), tf.mean(tf.square(dx))), 2) as tf.Scalar;
  });
}

export interface DiceCEOptions {
  /** Weight of the Dice term, default 1 (B.1). */
  diceWeight?: number;
  /** Weight of the cross-entropy term, default 0.001 (B.1). */
  ceWeight?: number;
  /** Include channel 0 (background) in the Dice mean, default false (foreground classes only). */
  includeBackground?: boolean;
  /** Smoothing added to the Dice numerator and denominator, default 1e-5 (MONAI DiceLoss). */
  smooth?: number;
  /** Added inside the log of the cross-entropy, default 1e-6 (probabilities can be exactly 0 after a warp). */
  logEps?: number;
}

/**
 * Segmentation loss L_seg (Eq. 2 and §3.3): diceWeight·DiceLoss + ceWeight·CE.
 * - Dice: per image and class, 1 − (2 Σ p t + s) / (Σ p + Σ t + s), averaged over images and foreground classes
 *   (channel 0 = background is skipped unless includeBackground). A class absent from both prediction and target
 *   scores 1 − s/s = 0 (perfect); absent from the target only, it costs ≈ 1. With no foreground channel (K = 1,
 *   background excluded) the Dice term is 0.
 * - CE: −mean over pixels of Σ_k t_k log(p_k + logEps) (all channels, background included).
 * @param predProbs [B,H,W,K] class probabilities (e.g. a warped one-hot mask, or a softmax)
 * @param target    [B,H,W,K] one-hot (or soft) target, same shape
 */
export function diceCELoss(predProbs: tf.Tensor4D, target: tf.Tensor4D, opts: DiceCEOptions = {}): tf.Scalar {
  checkSameShape(predProbs, target, 'diceCELoss');
  const diceWeight = opts.diceWeight ?? 1;
  const ceWeight = opts.ceWeight ?? 0.001;
  const smooth = opts.smooth ?? 1e-5;
  const logEps = opts.logEps ?? 1e-6;
  const K = predProbs.shape[3];
  const first = opts.includeBackground === true ? 0 : 1;
  return tf.tidy(() => {
    let dice: tf.Tensor = tf.scalar(0);
    if (K > first) {
      const p = first === 0 ? predProbs : tf.slice(predProbs, [0, 0, 0, first], [-1, -1, -1, K - first]);
      const t = first === 0 ? target : tf.slice(target, [0, 0, 0, first], [-1, -1, -1, K - first]);
      const inter = tf.sum(tf.mul(p, t), [1, 2]); // [B, K']
      const denom = tf.add(tf.sum(p, [1, 2]), tf.sum(t, [1, 2]));
      dice = tf.mean(tf.sub(1, tf.div(tf.add(tf.mul(inter, 2), smooth), tf.add(denom, smooth))));
    }
    const ce = tf.neg(tf.mean(tf.sum(tf.mul(target, tf.log(tf.add(predProbs, logEps))), 3)));
    return tf.add(tf.mul(dice, diceWeight), tf.mul(ce, ceWeight)) as tf.Scalar;
  });
}

/** Dice part alone (same definition and options as in diceCELoss), for reports and tests. */
export function diceLoss(predProbs: tf.Tensor4D, target: tf.Tensor4D, opts: DiceCEOptions = {}): tf.Scalar {
  return diceCELoss(predProbs, target, { ...opts, diceWeight: 1, ceWeight: 0 });
}
