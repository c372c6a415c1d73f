/**
 * Evaluation of a finished Med-PerSAM run against ground truth (browser-safe): scores of the final masks, per-round
 * Dice of SAM's labels and of the warped mask prompts, point accuracy and Hopkins statistic of the final prompts
 * (§4.5). Reads one image's state at a time from the run store. (The report's pictures are the review's:
 * pipeline/review.ts.)
 */
import { MedpersamUserError } from '../errors.js';
import { binaryOfClass } from '../image/labels.js';
import type { ClassNames, LabeledPoint } from '../image/types.js';
import { resizeBinaryNearest } from '../image/resize.js';
import { countOn } from '../prompts/candidates.js';
import { diceIoUPerClass, type ClassScore } from '../eval/metrics.js';
import { pointAccuracy, hopkinsStatistic } from '../eval/points.js';
import { buildSummary } from '../eval/report.js';
import type { ProgressCallback } from '../progress.js';
import type { ImageSource } from './sources.js';
import type { RunStore } from './run-store.js';
import { workingFrame } from './segment-image.js';

export interface RoundMetrics {
  round: number;
  /** Mean Dice / IoU (mean of per-class means) of the round's SAM labels and of its warped mask prompts. */
  sam: { dice: number; iou: number };
  warp: { dice: number; iou: number };
}

export interface PointStats {
  /** Mean over images × classes of the shares of correct positive / negative / all points (§4.5, Table 3). */
  positive: number;
  negative: number;
  total: number;
  /** Mean Hopkins statistic of positive and of negative points (Table 4); see evaluateRun. */
  hopkinsPositive: number;
  hopkinsNegative: number;
}


/** Per-image final scores, filled in as the images are evaluated. */
export interface ScoredImage {
  id: string;
  scores?: ClassScore[];
}

/**
 * Scores of the final masks, per-round Dice of the SAM labels and of the warped mask prompts, point accuracy and
 * Hopkins statistic of the final prompts. Reads one image's state at a time.
 *
 * Point statistics (§4.5): per image and class, positives are scored against the GT class mask and negatives
 * against its complement (eval/points pointAccuracy). Hopkins: positives within the GT class region, negatives within
 * its complement (the region the points could be drawn from), 20 trials of m = max(1, round(0.1·n)) samples,
 * seed 1, computed in the prompt working frame (points and regions scaled; the statistic is scale-free);
 * images × classes averaged (NaN values, e.g. < 2 points, are skipped).
 */
export interface EvaluateRunOptions {
  /** Rounds of the run (0..retrainRounds) and the prompt working size (for Hopkins' frame). */
  retrainRounds: number;
  promptWorkingSize: number;
  classNames?: ClassNames;
}

export async function evaluateRun(
  tests: readonly ImageSource[],
  images: ScoredImage[],
  store: RunStore,
  classes: number[],
  r: EvaluateRunOptions,
  progress: ProgressCallback,
) {
  const perImage: { id: string; scores: ClassScore[] }[] = [];
  const roundSums = Array.from({ length: r.retrainRounds + 1 }, () => ({ sam: [] as ClassScore[][], warp: [] as ClassScore[][] }));
  const acc = { pos: [] as number[], neg: [] as number[], tot: [] as number[], hPos: [] as number[], hNeg: [] as number[] };
  let done = 0;
  for (const t of tests) {
    done++;
    if (!t.groundTruth) continue;
    const gt = (await t.groundTruth.load({ classes: r.classNames })).label;
    const outcome = images.find((i) => i.id === t.id)!;
    for (let round = 0; round <= r.retrainRounds; round++) {
      const res = await store.readRoundResult(round, t.id);
      if (!res) continue;
      if (gt.width !== res.label.width || gt.height !== res.label.height) {
        throw new MedpersamUserError('SIZE_MISMATCH', `ground truth is ${gt.width}x${gt.height}, the image ${res.label.width}x${res.label.height}`, { file: t.groundTruth.name });
      }
      const samScores = diceIoUPerClass(res.label, gt, classes);
      roundSums[round]!.sam.push(samScores);
      roundSums[round]!.warp.push(diceIoUPerClass(res.warped, gt, classes));
      if (round === r.retrainRounds) {
        perImage.push({ id: t.id, scores: samScores });
        outcome.scores = samScores;
        for (const c of res.record.classes) {
          const fg = binaryOfClass(gt, c.cls);
          const pa = pointAccuracy(c.points, fg);
          if (!Number.isNaN(pa.positive)) acc.pos.push(pa.positive);
          if (!Number.isNaN(pa.negative)) acc.neg.push(pa.negative);
          if (!Number.isNaN(pa.total)) acc.tot.push(pa.total);
          // Hopkins in the prompt working frame: the statistic is a ratio of distances (scale-free), and the
          // region's pixel list is 16x smaller at 256 px than at 1024 px.
          const work = workingFrame(fg.width, fg.height, r.promptWorkingSize);
          const sx = work.width / fg.width;
          const sy = work.height / fg.height;
          const toWork = (p: LabeledPoint) => ({ x: (p.x + 0.5) * sx - 0.5, y: (p.y + 0.5) * sy - 0.5 });
          const fgWork = work.width === fg.width && work.height === fg.height ? fg : resizeBinaryNearest(fg, work.width, work.height);
          const bgWork = { width: fgWork.width, height: fgWork.height, data: fgWork.data.map((v) => (v ? 0 : 1)) };
          const pos = c.points.filter((p) => p.label === 1).map(toWork);
          const neg = c.points.filter((p) => p.label === 0).map(toWork);
          if (countOn(fgWork) > 0) {
            const h = hopkinsStatistic(pos, fgWork, { seed: 1, trials: 20 });
            if (!Number.isNaN(h)) acc.hPos.push(h);
          }
          if (countOn(bgWork) > 0) {
            const h = hopkinsStatistic(neg, bgWork, { seed: 1, trials: 20 });
            if (!Number.isNaN(h)) acc.hNeg.push(h);
          }
        }
      }
    }
    progress({ stage: 'eval', done, total: tests.length, message: t.id });
  }
  const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN);
  const summary = buildSummary(perImage, { classes, classNames: r.classNames });
  const perRound: RoundMetrics[] = roundSums.map((s, round) => ({
    round,
    sam: summaryMeans(s.sam, classes),
    warp: summaryMeans(s.warp, classes),
  }));
  const pointStats: PointStats = {
    positive: mean(acc.pos),
    negative: mean(acc.neg),
    total: mean(acc.tot),
    hopkinsPositive: mean(acc.hPos),
    hopkinsNegative: mean(acc.hNeg),
  };
  return { summary, perRound, pointStats };
}

function summaryMeans(perImage: ClassScore[][], classes: number[]): { dice: number; iou: number } {
  if (perImage.length === 0) return { dice: Number.NaN, iou: Number.NaN };
  const s = buildSummary(perImage.map((scores, i) => ({ id: String(i), scores })), { classes });
  return { dice: s.meanDice, iou: s.meanIoU };
}
