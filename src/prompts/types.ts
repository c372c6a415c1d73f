/**
 * Types shared by the prompt generator (paper §3.2, Appendix C.1).
 *
 * Frames: every pixel coordinate here is in the MASK-PROMPT frame, i.e. the pixel grid of the BinaryMask given as
 * mask prompt (W x H). When that mask is at the image's original size — the normal case — these are xyOriginal
 * coordinates. See frames.ts for the SAM frames and prompt-set.ts for handing prompts to SAM.
 */
import type { KernelShape } from '../image/morphology.js';
import type { BinaryMask, Box, LabeledPoint } from '../image/types.js';

/** Table 7's point strategies. */
export type PointStrategy =
  /** Ours (Eqs. 5–10): candidate regions, cut into subregions, one point per subregion. */
  | 'subregions'
  /** Ablation "Candidate region": the k most similar pixels of the positive region, k least similar of the band. */
  | 'candidate-region'
  /** PerSAM baseline: global top-k most similar pixels as positives, global k least similar as negatives. */
  | 'persam-topk';

/** Whether the organ is bilateral (App. C.1: 10 + 10 points, equal per side) or single (5 + 5). */
export type BilateralMode = 'auto' | 'single' | 'bilateral';

/**
 * Which pixels form the negative candidate region R_neg (Eq. 7).
 *  - 'dilate-minus-erode' (default): Dilation(M) \ Erosion(M), the paper's wording "the difference area of the
 *    eroded and dilated masks" read literally: a band straddling the mask boundary (hard negatives, Eq. 7).
 *  - 'dilate-minus-mask': Dilation(M) \ M, only the outer ring (negatives never inside the mask prompt).
 */
export type NegativeBand = 'dilate-minus-erode' | 'dilate-minus-mask';

export interface PointCounts {
  /** n_p of Eq. 8. */
  positive: number;
  /** n_n of Eq. 9. */
  negative: number;
}

export interface CandidateRegionOptions {
  /** Structuring element shape for Eqs. 5–6 (default 'disk'). */
  kernelShape?: KernelShape;
  /**
   * Erosion kernel radius k_e (Eq. 5) in mask-frame pixels (kernel size 2r+1). When unset it is
   * max(1, round(erosionFraction * rho)) with rho the mask's characteristic radius (see characteristicRadius).
   * The paper's own kernel sizes (App. C.1) did not survive in our copy of the text, hence relative defaults.
   */
  erosionRadius?: number;
  /** Dilation kernel radius k_d (Eq. 6); default max(1, round(dilationFraction * rho)). */
  dilationRadius?: number;
  /** Default 0.2 (our choice): erode by a fifth of the object's characteristic radius. */
  erosionFraction?: number;
  /** Default 0.1 (our choice): dilate by a tenth of the object's characteristic radius. */
  dilationFraction?: number;
  /** Default 'dilate-minus-erode' (Eq. 7 as worded). */
  negativeBand?: NegativeBand;
}

export interface BilateralRuleOptions {
  /**
   * A split is bilateral when a vertical gap (a run of empty columns) separates the foreground into a left and a
   * right part each holding at least this share of the (significant) foreground. Default 0.2.
   */
  minSideFraction?: number;
  /** Components (8-connected) smaller than this share of the foreground are ignored for the decision. Default 0.02. */
  ignoreComponentFraction?: number;
}

export interface GeneratePromptsOptions extends CandidateRegionOptions, BilateralRuleOptions {
  /** Default 'subregions' (the paper's method). */
  strategy?: PointStrategy;
  /** Default 'auto' (decided from the mask prompt, see bilateral.ts). */
  bilateral?: BilateralMode;
  /** Counts for a single organ; default 5 + 5 (App. C.1). */
  singleCounts?: PointCounts;
  /** Counts for a bilateral organ, split equally between sides (left gets the extra one if odd); default 10 + 10. */
  bilateralCounts?: PointCounts;
  /** k for 'persam-topk' (per polarity; default 1, as in PerSAM's released code). */
  persamTopK?: number;
}

export interface BilateralDecision {
  /** The mode asked for. */
  mode: BilateralMode;
  /** Whether points are split by side. */
  bilateral: boolean;
  /** Left side = x < splitX, right side = x >= splitX (mask frame); null when not bilateral. */
  splitX: number | null;
  /** Significant-foreground pixels left / right of splitX (0 when not split). */
  leftPixels: number;
  rightPixels: number;
  /** One line on why. */
  reason: string;
}

export interface PromptDiagnostics {
  strategy: PointStrategy;
  maskPixels: number;
  /** rho = 2 * area / boundary pixels (≈ inscribed radius for compact shapes; 0 for an empty mask). */
  characteristicRadius: number;
  /** Radii asked for (absolute option or relative default) and actually used after fallbacks. */
  erosionRadiusRequested: number;
  erosionRadiusUsed: number;
  dilationRadiusUsed: number;
  negativeBand: NegativeBand;
  /** |R_pos| and |R_neg| (after fallbacks). */
  positiveRegionPixels: number;
  negativeRegionPixels: number;
  /** Sizes of the subregions actually used (per side, left then right, when bilateral). */
  positiveSubregionSizes: number[];
  negativeSubregionSizes: number[];
  bilateral: BilateralDecision;
  counts: PointCounts;
  /** Codes of the fallbacks that fired: 'empty-mask-prompt', 'erosion-shrunk', 'erosion-empty-used-mask',
   *  'band-empty-used-background', 'no-negative-region', 'side-without-positives', 'side-without-negatives'. */
  fallbacks: string[];
}

/** What generatePrompts returns: points/box/mask for SAM (mask-prompt frame) plus diagnostics. */
export interface PromptResult {
  width: number;
  height: number;
  /** Positives first (label 1), then negatives (label 0); mask-prompt frame (xyOriginal at original size). */
  points: LabeledPoint[];
  /** Tight inclusive box of the mask prompt's foreground; null when the mask prompt is empty. */
  box: Box | null;
  /** The mask prompt itself (same object, passed through as SAM's mask input). */
  mask: BinaryMask;
  /** R_pos (Eq. 5 after fallbacks) and R_neg (Eq. 7 after fallbacks); empty masks for 'persam-topk'. */
  positiveRegion: BinaryMask;
  negativeRegion: BinaryMask;
  diagnostics: PromptDiagnostics;
}
