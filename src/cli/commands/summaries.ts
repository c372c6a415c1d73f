/**
 * Rendering of pipeline results for segment / bench / demo, and scoring a warp-only output folder against
 * ground truth (the reference image is not a test image: its ground truth is left out of the scores).
 */
import { basename, join } from 'node:path';
import { buildSummary } from '../../eval/report.js';
import type { EvaluationSummary } from '../../eval/report.js';
import { evaluateFolders, maskMatchKey, type EvaluationResult } from '../../pipeline/evaluate.js';
import type { MedPerSamResult } from '../../pipeline/medpersam.js';
import type { WarpSegmentResult } from '../../pipeline/warp-segment.js';
import type { QualityRecord } from '../../pipeline/review.js';
import type { ProgressCallback } from '../../progress.js';
import { writeLine, type CliWritable } from '../io.js';
import { formatDuration, formatPercent } from '../table.js';
import { describeBudget, phaseBudget } from '../../warp/schedule.js';
import { describeSafetyNet, type WarpStageRecord } from '../../pipeline/warp-stage.js';

/**
 * Score `predDir` against `gtDir` (src/pipeline evaluateFolders) leaving out the reference image's ground truth
 * when it has no prediction (the reference is not segmented, so it is not part of the result).
 */
export async function evaluateTestsOnly(
  predDir: string,
  gtDir: string,
  referenceImage: string,
  opts: { classes?: string; onProgress?: ProgressCallback } = {},
): Promise<EvaluationResult> {
  const all = await evaluateFolders(predDir, gtDir, { classes: opts.classes, onProgress: opts.onProgress });
  const refKey = maskMatchKey(basename(referenceImage));
  // Only when it has no prediction: an image of the folder may share the reference's name (and is then scored).
  const images = all.images.filter((img) => !(img.id === refKey && img.missing));
  if (images.length === all.images.length) return all;
  const summary = buildSummary(images, { classes: all.classes, classNames: all.classNames });
  return { ...all, images, summary, meanDice: summary.meanDice, meanIoU: summary.meanIoU, missing: summary.missing };
}

/** One line: mean Dice (per class) and mean IoU. */
export function scoreLine(summary: EvaluationSummary): string {
  const perClass = summary.classes.map((c) => `${c.name} ${formatPercent(c.dice)}`).join(', ');
  return `${summary.count} images: mean Dice ${formatPercent(summary.meanDice)} (${perClass}), mean IoU ${formatPercent(summary.meanIoU)}`;
}

const seconds = (ms: number) => formatDuration(ms / 1000);

/** The review's line: how many images the quality score asks to check, and where to look. */
function printQuality(out: CliWritable, quality: QualityRecord | undefined, reportPath: string | undefined, qualityCsvPath: string | undefined): void {
  if (reportPath) writeLine(out, `  report:   ${reportPath}`);
  if (qualityCsvPath) writeLine(out, `  quality:  ${qualityCsvPath}`);
  if (!quality) return;
  const v = quality.validation;
  const check = `quality: ${quality.flagged} of ${quality.images} images flagged "check" (review them first in the report)`;
  const rho = v && Number.isFinite(v.spearman) ? v.spearman.toFixed(2) : 'n/a';
  writeLine(out, v ? `${check}; against the ground truth: Spearman(score, Dice) ${rho}, ${v.worstDecile.flagged} of the ${v.worstDecile.count} worst by Dice flagged` : check);
}

export function printWarpSegmentSummary(out: CliWritable, r: WarpSegmentResult, masksDir: string, overlays: boolean): void {
  const n = r.written.length + r.skipped.length;
  const skipped = r.skipped.length > 0 ? `, ${r.skipped.length} already done (kept)` : '';
  writeLine(out, `segmented ${n} images with the warp model alone (backend ${r.backend}): ${r.written.length} masks written${skipped}`);
  writeLine(out, `  masks:    ${masksDir}`);
  if (overlays) writeLine(out, `  overlays: ${join(r.outDir, 'overlays')}`);
  printQuality(out, r.quality, r.reportPath, r.qualityCsvPath);
  writeLine(out, `  run:      ${r.runJsonPath}`);
  if (r.warpModelPath) writeLine(out, `  model:    ${r.warpModelPath} (segment new images with it: --warp-model ${r.warpModelPath})`);
  printWarpStage(out, r.warp);
  const t = r.timings;
  const training = r.warp.usedModel
    ? 'no training (saved model)'
    : `train ${formatDuration(t.trainS)} (${describeBudget(phaseBudget(r.settings.schedule, 'initial'))} at ${r.settings.network.resolution} px, ${r.warp.threads} thread${r.warp.threads === 1 ? '' : 's'})`;
  const roi = t.roiS > 0 ? `region-of-interest stage ${formatDuration(t.roiS)}, ` : '';
  writeLine(out, `time: read ${formatDuration(t.readS)}, ${training}, ${roi}warp ${formatDuration(t.warpS)}, review ${formatDuration(t.reviewS)}, total ${formatDuration(t.totalS)}`);
}

/** The safety net, the saved model used or the warm start's model, and the unreadable images skipped, when there are. */
function printWarpStage(out: CliWritable, w: WarpStageRecord): void {
  if (w.safetyNet.enabled) writeLine(out, `safety net: ${describeSafetyNet(w.safetyNet)}`);
  if (w.usedModel) writeLine(out, `warp model: ${w.usedModel.name} (trained ${w.usedModel.trainedSteps} steps, ${w.usedModel.createdAt}), applied without training`);
  if (w.initialisedFrom) writeLine(out, `warm start: training began from ${w.initialisedFrom.name} (${w.initialisedFrom.trainedSteps} steps already trained there)`);
  if (w.unreadable.length > 0) {
    writeLine(out, `skipped ${w.unreadable.length} unreadable image${w.unreadable.length === 1 ? '' : 's'} (--skip-unreadable; listed in the run record):`);
    for (const u of w.unreadable) writeLine(out, `  ${u.message}`);
  }
}

export function printMedPerSamSummary(out: CliWritable, r: MedPerSamResult): void {
  const c = r.record.counters;
  const reused = c.imageRoundsReused > 0 ? ` (${c.imageRoundsReused} image-rounds reused from an earlier run)` : '';
  writeLine(out, `segmented ${r.images.length} images with SAM (${r.record.sam.encoderPath} + ${r.record.sam.decoderPath})${reused}`);
  writeLine(out, `  masks:    ${r.masksDir}`);
  if (r.overlaysDir) writeLine(out, `  overlays: ${r.overlaysDir}`);
  printQuality(out, r.quality, r.reportPath, r.qualityCsvPath);
  writeLine(out, `  record:   ${r.recordPath}`);
  if (r.warpModelPath) writeLine(out, `  model:    ${r.warpModelPath} (segment new images with it: --warp-model ${r.warpModelPath})`);
  printWarpStage(out, r.warp);
  const b = r.record.breakdown;
  writeLine(
    out,
    `time: total ${seconds(b.totalMs)} = warp model ${seconds(b.warpMs)} + SAM (ONNX Runtime) ${seconds(b.onnxRuntimeMs)} + other ${seconds(b.otherMs)}; ` +
      `encoder runs ${c.encoderRuns} (cache hits ${c.embeddingCacheHits}), decoder calls ${c.decoderCalls}`,
  );
  for (const w of r.record.sam.warnings) writeLine(out, `warning: ${w}`);
}
