/**
 * Med-PerSAM prompt generation for one mask prompt (§3.2, Eqs. 5–10, App. C.1):
 *   candidate regions (Eqs. 5–7) → per side when bilateral → subregions by raster order (Eqs. 8–9) → the most
 *   similar pixel of each positive subregion and the least similar of each negative subregion (Eq. 10);
 *   box = tight box of the mask prompt; mask = the mask prompt.
 * Ablation strategies (Table 7): 'candidate-region' (top-k in the regions, no subregions) and 'persam-topk'
 * (global top-k / bottom-k of the whole similarity map, regions unused; see persam.ts for PerSAM's cascade).
 */
import { boundingBox } from '../image/components.js';
import { countForeground } from '../image/labels.js';
import type { BinaryMask, LabeledPoint } from '../image/types.js';
import { decideBilateral } from './bilateral.js';
import { candidateRegions } from './candidates.js';
import { argMaxIn, argMinIn, topKIndices } from './select.js';
import { cutSubregions, regionIndices } from './subregions.js';
import type { BilateralDecision, GeneratePromptsOptions, PointCounts, PromptResult } from './types.js';

export const DEFAULT_SINGLE_COUNTS: PointCounts = { positive: 5, negative: 5 };
export const DEFAULT_BILATERAL_COUNTS: PointCounts = { positive: 10, negative: 10 };

function checkCounts(name: string, c: PointCounts): void {
  for (const v of [c.positive, c.negative]) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`generatePrompts: ${name} counts must be integers >= 0`);
  }
}

function toPoint(index: number, width: number, label: 0 | 1): LabeledPoint {
  return { x: index % width, y: Math.floor(index / width), label };
}

/** Points of one polarity in one region (one side), by strategy. Returns raster indices and subregion sizes. */
function pickInRegion(
  region: BinaryMask,
  similarity: Float32Array,
  count: number,
  polarity: 'positive' | 'negative',
  strategy: 'subregions' | 'candidate-region',
  xFrom: number,
  xTo: number,
): { indices: number[]; subregionSizes: number[] } {
  const pixels = regionIndices(region, xFrom, xTo);
  if (strategy === 'candidate-region') {
    return { indices: topKIndices(similarity, count, polarity === 'positive' ? 'max' : 'min', pixels), subregionSizes: [] };
  }
  const parts = cutSubregions(pixels, count);
  const pick = polarity === 'positive' ? argMaxIn : argMinIn;
  return { indices: parts.map((p) => pick(similarity, p)), subregionSizes: parts.map((p) => p.length) };
}

/**
 * Prompts for one mask prompt. `similarity` holds one value per pixel of the mask-prompt frame (e.g.
 * cosineSimilarityMap(...).map at the mask's size). Points are in that frame (xyOriginal at original size).
 * An empty mask prompt gives no points (except for 'persam-topk', which ignores the mask) and box null.
 */
export function generatePrompts(
  maskPrompt: BinaryMask,
  similarity: Float32Array,
  opts: GeneratePromptsOptions = {},
): PromptResult {
  const { width, height } = maskPrompt;
  if (maskPrompt.data.length !== width * height) {
    throw new RangeError(`generatePrompts: mask data length ${maskPrompt.data.length} != ${width}x${height}`);
  }
  if (similarity.length !== width * height) {
    throw new RangeError(`generatePrompts: similarity length ${similarity.length} != mask ${width}x${height}`);
  }
  const strategy = opts.strategy ?? 'subregions';
  const singleCounts = opts.singleCounts ?? DEFAULT_SINGLE_COUNTS;
  const bilateralCounts = opts.bilateralCounts ?? DEFAULT_BILATERAL_COUNTS;
  checkCounts('singleCounts', singleCounts);
  checkCounts('bilateralCounts', bilateralCounts);
  const box = boundingBox(maskPrompt);
  const empty = (): BinaryMask => ({ width, height, data: new Uint8Array(width * height) });

  if (strategy === 'persam-topk') {
    const k = opts.persamTopK ?? 1;
    const positives = topKIndices(similarity, k, 'max').map((i) => toPoint(i, width, 1));
    const negatives = topKIndices(similarity, k, 'min').map((i) => toPoint(i, width, 0));
    const maskPixels = countForeground(maskPrompt);
    const bilateral: BilateralDecision = { mode: 'single', bilateral: false, splitX: null, leftPixels: 0, rightPixels: 0, reason: 'persam-topk ignores sides' };
    return {
      width,
      height,
      points: [...positives, ...negatives],
      box,
      mask: maskPrompt,
      positiveRegion: empty(),
      negativeRegion: empty(),
      diagnostics: {
        strategy,
        maskPixels,
        characteristicRadius: 0,
        erosionRadiusRequested: 0,
        erosionRadiusUsed: 0,
        dilationRadiusUsed: 0,
        negativeBand: opts.negativeBand ?? 'dilate-minus-erode',
        positiveRegionPixels: 0,
        negativeRegionPixels: 0,
        positiveSubregionSizes: [],
        negativeSubregionSizes: [],
        bilateral,
        counts: { positive: k, negative: k },
        fallbacks: maskPixels === 0 ? ['empty-mask-prompt'] : [],
      },
    };
  }

  const regions = candidateRegions(maskPrompt, opts);
  const fallbacks = [...regions.fallbacks];
  if (regions.maskPixels === 0) fallbacks.unshift('empty-mask-prompt');
  const bilateral = decideBilateral(maskPrompt, opts.bilateral ?? 'auto', opts);
  const counts = bilateral.bilateral ? bilateralCounts : singleCounts;

  // Sides: [xFrom, xTo) column ranges with their share of each count (left gets the extra one when odd).
  const sides =
    bilateral.bilateral && bilateral.splitX !== null
      ? [
          { xFrom: 0, xTo: bilateral.splitX, pos: Math.ceil(counts.positive / 2), neg: Math.ceil(counts.negative / 2) },
          { xFrom: bilateral.splitX, xTo: width, pos: Math.floor(counts.positive / 2), neg: Math.floor(counts.negative / 2) },
        ]
      : [{ xFrom: 0, xTo: width, pos: counts.positive, neg: counts.negative }];

  const positives: LabeledPoint[] = [];
  const negatives: LabeledPoint[] = [];
  const positiveSubregionSizes: number[] = [];
  const negativeSubregionSizes: number[] = [];
  if (regions.maskPixels > 0) {
    for (const side of sides) {
      const p = pickInRegion(regions.positiveRegion, similarity, side.pos, 'positive', strategy, side.xFrom, side.xTo);
      const n = pickInRegion(regions.negativeRegion, similarity, side.neg, 'negative', strategy, side.xFrom, side.xTo);
      if (sides.length > 1 && side.pos > 0 && p.indices.length === 0) fallbacks.push('side-without-positives');
      if (sides.length > 1 && side.neg > 0 && n.indices.length === 0) fallbacks.push('side-without-negatives');
      for (const i of p.indices) positives.push(toPoint(i, width, 1));
      for (const i of n.indices) negatives.push(toPoint(i, width, 0));
      positiveSubregionSizes.push(...p.subregionSizes);
      negativeSubregionSizes.push(...n.subregionSizes);
    }
  }
  return {
    width,
    height,
    points: [...positives, ...negatives],
    box,
    mask: maskPrompt,
    positiveRegion: regions.positiveRegion,
    negativeRegion: regions.negativeRegion,
    diagnostics: {
      strategy,
      maskPixels: regions.maskPixels,
      characteristicRadius: regions.characteristicRadius,
      erosionRadiusRequested: regions.erosionRadiusRequested,
      erosionRadiusUsed: regions.erosionRadiusUsed,
      dilationRadiusUsed: regions.dilationRadiusUsed,
      negativeBand: regions.negativeBand,
      positiveRegionPixels: regions.positivePixels,
      negativeRegionPixels: regions.negativePixels,
      positiveSubregionSizes,
      negativeSubregionSizes,
      bilateral,
      counts,
      fallbacks,
    },
  };
}
