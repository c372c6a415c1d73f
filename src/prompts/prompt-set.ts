/**
 * Prompt sets of Table 8: P (points), B (box), P+B, P+B+M (mask), and the hand-over to SAM in the original frame.
 */
import { resizeBinaryNearest } from '../image/resize.js';
import type { BinaryMask, Box, LabeledPoint } from '../image/types.js';
import { rescalePixelPoint } from './frames.js';

export type PromptSet = 'P' | 'B' | 'P+B' | 'P+B+M';

export const PROMPT_SETS: readonly PromptSet[] = ['P', 'B', 'P+B', 'P+B+M'];

/** The paper's default (§4.3 + Table 8): all three. */
export const DEFAULT_PROMPT_SET: PromptSet = 'P+B+M';

/** A generated prompt bundle in a mask-prompt frame (width x height). PromptResult satisfies it. */
export interface PromptBundle {
  width: number;
  height: number;
  points: LabeledPoint[];
  box: Box | null;
  mask: BinaryMask;
}

/** What each set keeps. */
export function promptSetParts(set: PromptSet): { points: boolean; box: boolean; mask: boolean } {
  switch (set) {
    case 'P':
      return { points: true, box: false, mask: false };
    case 'B':
      return { points: false, box: true, mask: false };
    case 'P+B':
      return { points: true, box: true, mask: false };
    case 'P+B+M':
      return { points: true, box: true, mask: true };
    default:
      throw new RangeError(`unknown prompt set ${String(set)} (expected one of ${PROMPT_SETS.join(', ')})`);
  }
}

/** SAM prompts in the original image frame, shaped like src/sam's SamPrompts. */
export interface SamPromptsOriginal {
  pointsOriginal?: LabeledPoint[];
  boxOriginal?: Box;
  maskPrompt?: { kind: 'binary'; mask: BinaryMask };
}

/** Box in a from-frame → the box covering the same pixels in a to-frame (edges scaled, inclusive corners). */
export function rescaleBox(box: Box, fromWidth: number, fromHeight: number, toWidth: number, toHeight: number): Box {
  const sx = toWidth / fromWidth;
  const sy = toHeight / fromHeight;
  const clamp = (v: number, hi: number) => Math.min(hi, Math.max(0, v));
  return {
    x0: clamp(Math.floor(box.x0 * sx), toWidth - 1),
    y0: clamp(Math.floor(box.y0 * sy), toHeight - 1),
    x1: clamp(Math.ceil((box.x1 + 1) * sx) - 1, toWidth - 1),
    y1: clamp(Math.ceil((box.y1 + 1) * sy) - 1, toHeight - 1),
  };
}

/**
 * Keeps the parts of `bundle` that `set` names and brings them to the original frame (originalWidth x
 * originalHeight; identity when the bundle is already at that size). Parts that are missing (no points, box null)
 * are left out. The mask is resized nearest-neighbour when the frames differ.
 */
export function toSamPrompts(bundle: PromptBundle, set: PromptSet, originalWidth: number, originalHeight: number): SamPromptsOriginal {
  const parts = promptSetParts(set);
  const same = bundle.width === originalWidth && bundle.height === originalHeight;
  const out: SamPromptsOriginal = {};
  if (parts.points && bundle.points.length > 0) {
    out.pointsOriginal = same
      ? bundle.points.map((p) => ({ ...p }))
      : bundle.points.map((p) => ({ ...rescalePixelPoint(p, bundle.width, bundle.height, originalWidth, originalHeight), label: p.label }));
  }
  if (parts.box && bundle.box) {
    out.boxOriginal = same ? { ...bundle.box } : rescaleBox(bundle.box, bundle.width, bundle.height, originalWidth, originalHeight);
  }
  if (parts.mask) {
    out.maskPrompt = { kind: 'binary', mask: same ? bundle.mask : resizeBinaryNearest(bundle.mask, originalWidth, originalHeight) };
  }
  return out;
}
