/**
 * Where a quality score without ground truth plugs into the app (issue 10's review score, src/eval). When it
 * exists, set `qualityScorer` to a function of a finished image (the core loop's `onImage` event: final label,
 * the image as loaded, the final prompts); the worker calls it once per image and the gallery shows the score and
 * the flags under the thumbnail (flagged images in red). Null: no score is shown.
 */
import type { ImageDoneEvent } from '../pipeline/core.js';

export interface QualityBadge {
  /** 0..1, higher is better. */
  score: number;
  /** Short reasons to look at the image (empty when none). */
  flags: string[];
}

export type QualityScorer = (event: ImageDoneEvent) => Promise<QualityBadge | null> | QualityBadge | null;

export const qualityScorer: QualityScorer | null = null;
