/**
 * Signals of a segmentation's quality that need no ground truth, computed from what a run already has (issue 10):
 *
 *  - registration similarity between the target image and the warped reference image: the image terms of the
 *    warping loss (paper Eq. 1: SSIM with a 7×7 window, local squared NCC with a 9×9 window), over the whole image
 *    (global) and over each class's region (local: the predicted class mask dilated by a band);
 *  - the flow: share of folded pixels (Jacobian determinant of x ↦ x + φ(x) ≤ 0), mean displacement, and the
 *    Eq. 1 regulariser L_reg = mean ‖∇φ‖²;
 *  - the predicted masks: area (share of the image), connected components, the largest component's share;
 *  - SAM (when it ran): its predicted IoU, the agreement between the mask prompt and SAM's mask, and the change of
 *    the mask between the last two rounds.
 *
 * Pure typed-array code (no tensors, no file system): runs in Node and in a browser. All planes are row-major
 * (index y·width + x); flows are interleaved (dx, dy) per pixel, in pixels of the same grid (xyWarp for the warping
 * model's working grid).
 */
import { connectedComponents } from '../image/components.js';
import { binaryOfClass } from '../image/labels.js';
import { dilate, erode } from '../image/morphology.js';
import type { BinaryMask, LabelMap } from '../image/types.js';

// ------------------------------------------------------------------------------------------- local statistics

/** Summed-area table (width+1)×(height+1) of a plane, in float64. */
function summedArea(plane: ArrayLike<number>, width: number, height: number): Float64Array {
  const W = width + 1;
  const sat = new Float64Array(W * (height + 1));
  for (let y = 0; y < height; y++) {
    let row = 0;
    for (let x = 0; x < width; x++) {
      row += plane[y * width + x]!;
      sat[(y + 1) * W + x + 1] = sat[y * W + x + 1]! + row;
    }
  }
  return sat;
}

/**
 * Mean of each window×window neighbourhood, centred on every pixel; windows are clipped at the image border (the
 * mean over the pixels inside the image), so the map has the plane's size.
 */
export function boxMeanMap(plane: ArrayLike<number>, width: number, height: number, window: number): Float32Array {
  if (!Number.isInteger(window) || window < 1 || window % 2 === 0) throw new RangeError(`boxMeanMap: window must be an odd integer >= 1, got ${window}`);
  const sat = summedArea(plane, width, height);
  const W = width + 1;
  const r = (window - 1) / 2;
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    const y0 = Math.max(0, y - r);
    const y1 = Math.min(height, y + r + 1);
    for (let x = 0; x < width; x++) {
      const x0 = Math.max(0, x - r);
      const x1 = Math.min(width, x + r + 1);
      const sum = sat[y1 * W + x1]! - sat[y0 * W + x1]! - sat[y1 * W + x0]! + sat[y0 * W + x0]!;
      out[y * width + x] = sum / ((y1 - y0) * (x1 - x0));
    }
  }
  return out;
}

export interface LocalSimilarityOptions {
  /** SSIM window side (default 7, the warping loss's, paper App. B.1). */
  ssimWindow?: number;
  /** NCC window side (default 9, as the warping loss's NCC variant). */
  nccWindow?: number;
  /** Intensity range L of the images (default 1): C1 = (0.01 L)², C2 = (0.03 L)². */
  dataRange?: number;
  /** Added to the NCC denominator (default 1e-5, as the loss). */
  nccEps?: number;
}

export interface LocalSimilarityMaps {
  /** Per-pixel SSIM of the window centred there (Wang et al. 2004; 1 = identical). */
  ssim: Float32Array;
  /** Per-pixel squared local correlation cross²/(var_a·var_b + eps) ∈ [0, 1] (VoxelMorph's NCC; flat windows → 0). */
  ncc: Float32Array;
}

/**
 * The per-pixel terms of the warping loss's image similarity (Eq. 1): the mean of `ssim` over full windows is
 * 1 − L_sim(SSIM) of warp/losses.ts, the mean of `ncc` is −L_sim(NCC). Windows are clipped at the border here (so
 * every pixel has a value), which differs from the loss's 'valid' windows only within window/2 of the border.
 */
export function localSimilarityMaps(fixed: Float32Array, moving: Float32Array, width: number, height: number, opts: LocalSimilarityOptions = {}): LocalSimilarityMaps {
  const n = width * height;
  if (fixed.length !== n || moving.length !== n) throw new RangeError(`localSimilarityMaps: planes must be ${width}×${height}`);
  const L = opts.dataRange ?? 1;
  const c1 = (0.01 * L) ** 2;
  const c2 = (0.03 * L) ** 2;
  const eps = opts.nccEps ?? 1e-5;
  const aa = new Float32Array(n);
  const bb = new Float32Array(n);
  const ab = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const a = fixed[i]!;
    const b = moving[i]!;
    aa[i] = a * a;
    bb[i] = b * b;
    ab[i] = a * b;
  }
  const moments = (window: number) => ({
    ma: boxMeanMap(fixed, width, height, window),
    mb: boxMeanMap(moving, width, height, window),
    maa: boxMeanMap(aa, width, height, window),
    mbb: boxMeanMap(bb, width, height, window),
    mab: boxMeanMap(ab, width, height, window),
  });
  const ssimWindow = opts.ssimWindow ?? 7;
  const nccWindow = opts.nccWindow ?? 9;
  const s = moments(ssimWindow);
  const ssim = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const ma = s.ma[i]!;
    const mb = s.mb[i]!;
    const va = s.maa[i]! - ma * ma;
    const vb = s.mbb[i]! - mb * mb;
    const cov = s.mab[i]! - ma * mb;
    ssim[i] = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
  }
  const c = nccWindow === ssimWindow ? s : moments(nccWindow);
  const ncc = new Float32Array(n);
  const nWin = nccWindow * nccWindow;
  for (let i = 0; i < n; i++) {
    const ma = c.ma[i]!;
    const mb = c.mb[i]!;
    // Window sums through the means (as the loss): cross = n (E[ab] − μa μb), var = n (E[a²] − μ²).
    const cross = nWin * (c.mab[i]! - ma * mb);
    const va = nWin * Math.max(0, c.maa[i]! - ma * ma);
    const vb = nWin * Math.max(0, c.mbb[i]! - mb * mb);
    ncc[i] = Math.min(1, (cross * cross) / (va * vb + eps));
  }
  return { ssim, ncc };
}

// ------------------------------------------------------------------------------------------- the flow

/**
 * Jacobian determinant of the map p ↦ p + φ(p) at every pixel (central differences inside, one-sided at the
 * border): det = (1 + ∂φx/∂x)(1 + ∂φy/∂y) − (∂φx/∂y)(∂φy/∂x). det ≤ 0 where the warp folds (the mapping is not
 * one-to-one there); det = 1 for a translation.
 */
export function jacobianDeterminantMap(flowXy: Float32Array, width: number, height: number): Float32Array {
  if (flowXy.length !== width * height * 2) throw new RangeError(`jacobianDeterminantMap: flow must be ${width}×${height}×2`);
  const out = new Float32Array(width * height);
  const at = (x: number, y: number, k: number) => flowXy[(y * width + x) * 2 + k]!;
  for (let y = 0; y < height; y++) {
    const ym = Math.max(0, y - 1);
    const yp = Math.min(height - 1, y + 1);
    const dyn = Math.max(1, yp - ym);
    for (let x = 0; x < width; x++) {
      const xm = Math.max(0, x - 1);
      const xp = Math.min(width - 1, x + 1);
      const dxn = Math.max(1, xp - xm);
      const dux = (at(xp, y, 0) - at(xm, y, 0)) / dxn;
      const duy = (at(x, yp, 0) - at(x, ym, 0)) / dyn;
      const dvx = (at(xp, y, 1) - at(xm, y, 1)) / dxn;
      const dvy = (at(x, yp, 1) - at(x, ym, 1)) / dyn;
      out[y * width + x] = (1 + dux) * (1 + dvy) - duy * dvx;
    }
  }
  return out;
}

/**
 * The Eq. 1 regulariser of a flow, as warp/losses.ts flowGradL2: (mean((φ[y+1]−φ[y])²) + mean((φ[x+1]−φ[x])²)) / 2,
 * each mean over positions and both channels (forward differences).
 */
export function flowGradientL2(flowXy: Float32Array, width: number, height: number): number {
  if (flowXy.length !== width * height * 2) throw new RangeError(`flowGradientL2: flow must be ${width}×${height}×2`);
  let sy = 0;
  let sx = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 2;
      for (let k = 0; k < 2; k++) {
        if (y + 1 < height) sy += (flowXy[i + width * 2 + k]! - flowXy[i + k]!) ** 2;
        if (x + 1 < width) sx += (flowXy[i + 2 + k]! - flowXy[i + k]!) ** 2;
      }
    }
  }
  const ny = (height - 1) * width * 2;
  const nx = height * (width - 1) * 2;
  return ((ny > 0 ? sy / ny : 0) + (nx > 0 ? sx / nx : 0)) / 2;
}

// ------------------------------------------------------------------------------------------- regions

/** Mean of a map over the pixels where `region` is 1 (NaN for an empty region); over all pixels without one. */
export function regionMean(map: ArrayLike<number>, region?: BinaryMask): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < map.length; i++) {
    if (region && !region.data[i]) continue;
    s += map[i]!;
    n++;
  }
  return n > 0 ? s / n : Number.NaN;
}

/** Share of the region's pixels where `map` ≤ threshold (NaN for an empty region). */
export function regionShareAtMost(map: ArrayLike<number>, threshold: number, region?: BinaryMask): number {
  let k = 0;
  let n = 0;
  for (let i = 0; i < map.length; i++) {
    if (region && !region.data[i]) continue;
    if (map[i]! <= threshold) k++;
    n++;
  }
  return n > 0 ? k / n : Number.NaN;
}

/**
 * Least-squares affine fit of a flow over the whole grid: φ(x, y) ≈ linear·(x − cx, y − cy) + offset per channel,
 * (cx, cy) the grid centre. `linear` is row-major [∂φx/∂x, ∂φx/∂y, ∂φy/∂x, ∂φy/∂y] of the fitted part, so the map
 * x ↦ x + φ(x) has the linear part I + linear.
 */
export interface FlowAffineFit {
  linear: [number, number, number, number];
  offset: [number, number];
  centre: [number, number];
}

export function flowAffineFit(flowXy: Float32Array, width: number, height: number): FlowAffineFit {
  // Normal equations of [u v 1]·w = φk, shared by both channels; coordinates centred for conditioning.
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  let sxx = 0, sxy = 0, syy = 0, n = 0;
  const rhs = [new Float64Array(3), new Float64Array(3)];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x - cx;
      const v = y - cy;
      sxx += u * u;
      sxy += u * v;
      syy += v * v;
      n++;
      for (let k = 0; k < 2; k++) {
        const f = flowXy[(y * width + x) * 2 + k]!;
        rhs[k]![0] += u * f;
        rhs[k]![1] += v * f;
        rhs[k]![2] += f;
      }
    }
  }
  // With centred coordinates Σu = Σv = 0: the constant decouples, the 2×2 block gives the linear part.
  const det = sxx * syy - sxy * sxy;
  const [cxk, cyk] = rhs.map((r) => {
    const a = det !== 0 ? (r[0]! * syy - r[1]! * sxy) / det : 0;
    const b = det !== 0 ? (r[1]! * sxx - r[0]! * sxy) / det : 0;
    return [a, b, r[2]! / n] as const;
  }) as [readonly [number, number, number], readonly [number, number, number]];
  return { linear: [cxk[0], cxk[1], cyk[0], cyk[1]], offset: [cxk[2], cyk[2]], centre: [cx, cy] };
}

/** The length, at every pixel, of the flow minus its affine fit: the non-affine (deformable) part, in pixels. */
export function nonAffineResidual(flowXy: Float32Array, width: number, height: number): Float32Array {
  const { linear: [a, b, c, d], offset: [ox, oy], centre: [cx, cy] } = flowAffineFit(flowXy, width, height);
  const out = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x - cx;
      const v = y - cy;
      const i = y * width + x;
      const rx = flowXy[2 * i]! - (a * u + b * v + ox);
      const ry = flowXy[2 * i + 1]! - (c * u + d * v + oy);
      out[i] = Math.hypot(rx, ry);
    }
  }
  return out;
}

/** Standard deviation of log(max(det, 1e-3)) over a region: how unevenly the warp stretches and shrinks. */
function logJacobianStd(det: Float32Array, region?: BinaryMask): number {
  let s = 0;
  let ss = 0;
  let n = 0;
  for (let i = 0; i < det.length; i++) {
    if (region && !region.data[i]) continue;
    const l = Math.log(Math.max(det[i]!, 1e-3));
    s += l;
    ss += l * l;
    n++;
  }
  return n > 1 ? Math.sqrt(Math.max(0, ss / n - (s / n) ** 2)) : Number.NaN;
}

/** Mean displacement length (pixels) over a region (all pixels without one). */
function meanDisplacement(flowXy: Float32Array, region?: BinaryMask): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < flowXy.length / 2; i++) {
    if (region && !region.data[i]) continue;
    s += Math.hypot(flowXy[2 * i]!, flowXy[2 * i + 1]!);
    n++;
  }
  return n > 0 ? s / n : Number.NaN;
}

// ------------------------------------------------------------------------------------------- warp signals

/** Registration signals over one region (the whole image, or one class's band). */
export interface RegistrationSignals {
  /** Mean local SSIM between the target and the warped reference (1 = identical). */
  ssim: number;
  /** Mean local squared NCC (0..1). */
  ncc: number;
  /** Share of pixels where the warp folds (Jacobian determinant ≤ 0). */
  folding: number;
  /** Mean displacement as a share of the grid's side (0.1 = a tenth of the image). */
  displacement: number;
  /** Mean non-affine part of the displacement (after a least-squares affine fit of the whole flow), share of the side. */
  nonAffine: number;
  /** Standard deviation of the log Jacobian determinant (0 for an affine warp). */
  logJacobianStd: number;
  /** Mean local squared NCC on the class boundary only (dilate minus erode by the band radius; NaN for the whole image). */
  nccEdge: number;
  /**
   * For a class of several pieces by anatomy (WarpSignalsInput.piecesPerClass ≥ 2: both lungs as one class): the
   * lowest boundary NCC among its that many largest predicted pieces, each piece's boundary apart. Each piece is
   * registered on its own; over the whole class, one misplaced piece is diluted by the others' good edges.
   */
  nccEdgeWorstPiece?: number;
}

export interface WarpSignals {
  /** Over the whole working grid; `flowGradL2` is the Eq. 1 regulariser of the whole flow. */
  global: RegistrationSignals & { flowGradL2: number };
  /** Per foreground class, over the class's predicted mask dilated by `bandRadius` (missing when the mask is empty). */
  perClass: Map<number, RegistrationSignals>;
}

export interface WarpSignalsInput {
  /** The target (test) image at the working resolution, normalised to [0, 1] (warp/model toWorkingImage). */
  fixedWork: Float32Array;
  /** The reference working image warped onto the target's working grid with the flow. */
  warpedReferenceWork: Float32Array;
  /** The flow, xyWarp pixels, target grid → reference grid (size × size × 2). */
  flowXyWarp: Float32Array;
  /** Side of the square working grid. */
  size: number;
  /** The predicted label map at the working resolution (size × size), e.g. nearest-resized from the final mask. */
  labelWork: LabelMap;
  /** Foreground classes to report. */
  classes: readonly number[];
  /** Radius of the band around each class mask (default max(2, round(size/32)): 4 px at 128). */
  bandRadius?: number;
  /** Pieces the reference's class has (significantPieces; 1 where absent): classes of ≥ 2 get nccEdgeWorstPiece. */
  piecesPerClass?: ReadonlyMap<number, number>;
}

/** The pixels of `band` (a dilated mask) outside `inner` (the same mask eroded). */
function bandMinusInner(band: BinaryMask, inner: BinaryMask): BinaryMask {
  return { width: band.width, height: band.height, data: band.data.map((v, i) => (v && !inner.data[i] ? 1 : 0)) };
}

/** The boundary band of a mask: dilated minus eroded by `radius`. */
function edgeBand(mask: BinaryMask, radius: number): BinaryMask {
  return bandMinusInner(dilate(mask, { shape: 'disk', radius }), erode(mask, { shape: 'disk', radius }));
}

/** The lowest mean of `map` over the boundary bands of the `pieces` largest 8-connected pieces of `mask`. */
function worstPieceEdgeMean(map: Float32Array, mask: BinaryMask, pieces: number, radius: number): number {
  const cc = connectedComponents(mask, 8);
  const largest = cc.sizes
    .map((size, k) => ({ size, label: k + 1 }))
    .sort((a, b) => b.size - a.size)
    .slice(0, pieces);
  let worst = Number.NaN;
  for (const { label } of largest) {
    const piece = { width: mask.width, height: mask.height, data: Uint8Array.from(cc.labels, (l) => (l === label ? 1 : 0)) };
    const m = regionMean(map, edgeBand(piece, radius));
    if (!(m >= worst)) worst = m;
  }
  return worst;
}

/** Registration signals of one image, globally and per class (see the module comment). */
export function warpSignals(input: WarpSignalsInput): WarpSignals {
  const { size, fixedWork, warpedReferenceWork, flowXyWarp, labelWork, classes } = input;
  if (labelWork.width !== size || labelWork.height !== size) throw new RangeError(`warpSignals: labelWork must be ${size}×${size}`);
  const sim = localSimilarityMaps(fixedWork, warpedReferenceWork, size, size);
  const det = jacobianDeterminantMap(flowXyWarp, size, size);
  const residual = nonAffineResidual(flowXyWarp, size, size);
  const bandRadius = input.bandRadius ?? Math.max(2, Math.round(size / 32));
  const over = (region?: BinaryMask, edge?: BinaryMask): RegistrationSignals => ({
    ssim: regionMean(sim.ssim, region),
    ncc: regionMean(sim.ncc, region),
    folding: regionShareAtMost(det, 0, region),
    displacement: meanDisplacement(flowXyWarp, region) / size,
    nonAffine: regionMean(residual, region) / size,
    logJacobianStd: logJacobianStd(det, region),
    nccEdge: edge ? regionMean(sim.ncc, edge) : Number.NaN,
  });
  const perClass = new Map<number, RegistrationSignals>();
  for (const cls of classes) {
    const mask = binaryOfClass(labelWork, cls);
    if (!mask.data.some((v) => v !== 0)) continue;
    const band = dilate(mask, { shape: 'disk', radius: bandRadius });
    const signals = over(band, bandMinusInner(band, erode(mask, { shape: 'disk', radius: bandRadius })));
    const pieces = input.piecesPerClass?.get(cls) ?? 1;
    if (pieces >= 2) signals.nccEdgeWorstPiece = worstPieceEdgeMean(sim.ncc, mask, pieces, bandRadius);
    perClass.set(cls, signals);
  }
  return { global: { ...over(), flowGradL2: flowGradientL2(flowXyWarp, size, size) }, perClass };
}

// ------------------------------------------------------------------------------------------- appearance

/** Mean of the image inside the mask minus its mean in the ring dilate(mask, r) \ mask (NaN if either is empty). */
export function boundaryContrast(image: Float32Array, mask: BinaryMask, ringRadius: number): number {
  const ring = dilate(mask, { shape: 'disk', radius: ringRadius });
  let sIn = 0;
  let nIn = 0;
  let sRing = 0;
  let nRing = 0;
  for (let i = 0; i < mask.data.length; i++) {
    if (mask.data[i]) {
      sIn += image[i]!;
      nIn++;
    } else if (ring.data[i]) {
      sRing += image[i]!;
      nRing++;
    }
  }
  return nIn > 0 && nRing > 0 ? sIn / nIn - sRing / nRing : Number.NaN;
}

export interface AppearanceSignals {
  /** boundaryContrast of the target image under the predicted class mask. */
  contrast: number;
  /** The same on the reference image under the reference mask (the annotated example: what a right mask looks like). */
  referenceContrast: number;
  /**
   * contrast / referenceContrast: ≈ 1 when the predicted boundary separates the same kind of intensities as in the
   * reference; ≈ 0 when it crosses no edge; < 0 when the contrast is reversed (e.g. an inverted image).
   */
  contrastRatio: number;
}

export interface AppearanceSignalsInput {
  /** Target and reference images at one working resolution (size × size), normalised to [0, 1]. */
  targetWork: Float32Array;
  referenceWork: Float32Array;
  size: number;
  /** Predicted label of the target and the reference label, at the working resolution. */
  labelWork: LabelMap;
  referenceLabelWork: LabelMap;
  classes: readonly number[];
  /** Ring width (default max(2, round(size/32))). */
  ringRadius?: number;
}

/** Per class: does the predicted mask sit on the same intensity edge as the reference mask does? */
export function appearanceSignals(input: AppearanceSignalsInput): Map<number, AppearanceSignals> {
  const ring = input.ringRadius ?? Math.max(2, Math.round(input.size / 32));
  const out = new Map<number, AppearanceSignals>();
  for (const cls of input.classes) {
    const contrast = boundaryContrast(input.targetWork, binaryOfClass(input.labelWork, cls), ring);
    const referenceContrast = boundaryContrast(input.referenceWork, binaryOfClass(input.referenceLabelWork, cls), ring);
    const ratio = Number.isFinite(contrast) && Math.abs(referenceContrast) > 1e-6 ? contrast / referenceContrast : Number.NaN;
    out.set(cls, { contrast, referenceContrast, contrastRatio: ratio });
  }
  return out;
}

// ------------------------------------------------------------------------------------------- mask signals

export interface MaskShapeSignals {
  /** Class pixels / image pixels. */
  area: number;
  /** 8-connected components of the class mask. */
  components: number;
  /** Largest component's share of the class pixels (1 = one piece; NaN when empty). */
  largestShare: number;
}

/** Shape of one class of a label map (any frame; area is a share, so the frame's size does not matter). */
export function maskShapeSignals(label: LabelMap, cls: number): MaskShapeSignals {
  return maskShapeAndPieces(label, cls).shape;
}

/** maskShapeSignals and pieceShares from one connected-components pass (the review reads both per class). */
export function maskShapeAndPieces(label: LabelMap, cls: number): { shape: MaskShapeSignals; shares: number[] } {
  const cc = connectedComponents(binaryOfClass(label, cls), 8);
  let total = 0;
  let largest = 0;
  for (const s of cc.sizes) {
    total += s;
    if (s > largest) largest = s;
  }
  const shape = { area: total / (label.width * label.height), components: cc.count, largestShare: total > 0 ? largest / total : Number.NaN };
  const shares = total > 0 ? [...cc.sizes].sort((a, b) => b - a).map((s) => s / total) : [];
  return { shape, shares };
}

/**
 * The class's 8-connected pieces, each as its share of the class pixels, largest first (empty for an empty class).
 * A class may be more than one piece by anatomy (both lungs annotated as one class): the reference mask says how
 * many pieces to expect (significantPieces), so a two-piece class is only fragmented beyond its second piece.
 */
export function pieceShares(label: LabelMap, cls: number): number[] {
  return maskShapeAndPieces(label, cls).shares;
}

/** Pieces holding at least `minShare` of the class (default 0.1, the level at which a stray piece is suspicious); at least 1. */
export function significantPieces(shares: readonly number[], minShare = 0.1): number {
  return Math.max(1, shares.filter((s) => s >= minShare).length);
}

/** Share of the class pixels in its `pieces` largest pieces (NaN for an empty class). */
export function mainPiecesShare(shares: readonly number[], pieces: number): number {
  return shares.length ? shares.slice(0, pieces).reduce((a, b) => a + b, 0) : Number.NaN;
}

// ------------------------------------------------------------------------------------------- SAM signals

/** Dice of two binary masks of one size; 1 when both are empty. */
export function maskDice(a: BinaryMask, b: BinaryMask): number {
  if (a.width !== b.width || a.height !== b.height) throw new RangeError(`maskDice: masks differ in size (${a.width}×${a.height}, ${b.width}×${b.height})`);
  let na = 0;
  let nb = 0;
  let both = 0;
  for (let i = 0; i < a.data.length; i++) {
    const x = a.data[i] !== 0;
    const y = b.data[i] !== 0;
    if (x) na++;
    if (y) nb++;
    if (x && y) both++;
  }
  return na + nb === 0 ? 1 : (2 * both) / (na + nb);
}

/** `maskDice(binaryOfClass(a, cls), binaryOfClass(b, cls))`, counted on the label maps (no masks built). */
export function classDice(a: LabelMap, b: LabelMap, cls: number): number {
  if (a.width !== b.width || a.height !== b.height) throw new RangeError(`classDice: label maps differ in size (${a.width}×${a.height}, ${b.width}×${b.height})`);
  let na = 0;
  let nb = 0;
  let both = 0;
  const da = a.data;
  const db = b.data;
  for (let i = 0; i < da.length; i++) {
    const x = da[i] === cls;
    const y = db[i] === cls;
    if (x) {
      na++;
      if (y) both++;
    }
    if (y) nb++;
  }
  return na + nb === 0 ? 1 : (2 * both) / (na + nb);
}

export interface SamSignals {
  /** SAM's predicted IoU of the chosen output in the final pass (NaN when SAM was not called). */
  predictedIoU: number;
  /** Dice between the round's mask prompt (the warped reference mask) and SAM's final mask of the class. */
  promptAgreement: number;
  /** Dice between the class mask of the previous round and the final one (NaN when there was one round). */
  roundAgreement: number;
}

export interface SamSignalsInput {
  cls: number;
  /** Predicted IoU per decoder pass (the run record's iouScores). */
  iouScores: readonly number[];
  /** The final round's mask prompt (the warped label map) and final label map, same size. */
  warped: LabelMap;
  final: LabelMap;
  /** The previous round's final label map (same size), when there was one. */
  previous?: LabelMap;
}

export function samSignals(input: SamSignalsInput): SamSignals {
  const last = input.iouScores.length > 0 ? input.iouScores[input.iouScores.length - 1]! : Number.NaN;
  return {
    predictedIoU: last,
    promptAgreement: classDice(input.warped, input.final, input.cls),
    roundAgreement: input.previous ? classDice(input.previous, input.final, input.cls) : Number.NaN,
  };
}
