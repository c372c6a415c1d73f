/**
 * Warp-only benchmark following the paper's protocol (reference = first image alphabetically, every other image
 * tested): train the warping model on the test set (test-time training), warp the reference label onto every test
 * image at its original size, score Dice / IoU per class against the ground truth. Reports wall time per stage,
 * seconds per image and peak resident memory. Library function: never prints; the script is bench/warp.ts.
 */
import { discoverDataset } from '../io/dataset.js';
import { readImage } from '../io/image.js';
import { readLabelMap } from '../io/mask.js';
import { readReferencePair } from '../io/reference.js';
import { diceIoUPerClass, meanScores, type ClassScore } from '../eval/metrics.js';
import { initTf, type TfBackendChoice } from '../warp/backend.js';
import { WarpModel, type LabelWarpMode } from '../warp/model.js';
import { resolveWarpSettings, type WarpPresetName, type WarpSettings, type WarpSettingsOverrides } from '../warp/presets.js';
import type { LossBreakdown } from '../warp/trainer.js';
import { noProgress, type ProgressCallback } from '../progress.js';
import { scoreQuality, type ImageSignalsInput } from '../eval/quality-score.js';
import { spearman, validateQuality, type QualityValidation } from '../eval/quality-validation.js';
import { imageQualitySignals, qualityContext } from './quality.js';
import { MedpersamUserError } from '../errors.js';

export interface BenchWarpOptions {
  /** Dataset folder with images/, masks/ (and classes.json). */
  datasetDir: string;
  /** Warp preset (default 'cpu') and overrides (arch, resolution, epochs, ablations...). */
  preset?: WarpPresetName;
  overrides?: WarpSettingsOverrides;
  /** Test only the first N test images (quick runs). */
  limit?: number;
  /** Full-resolution label warp: 'nearest' (default) or 'argmax' (bilinear class weights). */
  labelWarp?: LabelWarpMode;
  /** Also score the other label-warp mode from the same flows (reported as `altLabelWarp`). */
  compareLabelWarps?: boolean;
  backend?: TfBackendChoice;
  /**
   * Also validate the quality score (default true): every image's ground-truth-free signals (pipeline/quality.ts),
   * the score over the run, its Spearman correlation with the true Dice and how much of the worst decile the flag
   * catches. Timed apart (`timings.qualityS`), so the warp timings stay comparable.
   */
  quality?: boolean;
  /** The test-time perturbation signal of the quality score (default false, as `segment`). */
  qualityPerturbations?: boolean;
  onProgress?: ProgressCallback;
}

/** How well the ground-truth-free quality score found the bad results of the run (eval/quality-validation.ts). */
export interface BenchQualityResult {
  validation: QualityValidation;
  /** Spearman(class score, class Dice) per class, in `perClass` order. */
  perClassSpearman: number[];
}

export interface BenchClassResult {
  cls: number;
  name: string;
  dice: number;
  iou: number;
}

export interface BenchWarpResult {
  dataset: string;
  reference: string;
  nTest: number;
  backend: string;
  settings: WarpSettings;
  labelWarp: LabelWarpMode;
  parameters: number;
  perClass: BenchClassResult[];
  meanDice: number;
  meanIoU: number;
  /**
   * Wall seconds: read (decode + normalise + resize), train, warp (flow + full-res label warp + scoring), the quality
   * score's signals (re-reading each image, perturbation flows) and scoring; totalS includes all.
   */
  timings: { readS: number; trainS: number; warpS: number; qualityS: number; totalS: number; secondsPerImage: number; secondsPerEpoch: number };
  /** CPU seconds (user + system) of this process for the training stage: a load-independent cost measure. */
  trainCpuS: number;
  peakRssMB: number;
  /** The other label-warp mode on the same flows (when compareLabelWarps). */
  altLabelWarp?: { mode: LabelWarpMode; meanDice: number; perClassDice: number[] };
  epochs: number;
  lastEpochLoss: LossBreakdown | null;
  /** Per image: Dice per class, and the quality score and flag when validated. */
  perImage: { id: string; dice: number[]; quality?: number; flag?: string }[];
  quality?: BenchQualityResult;
}

export async function runWarpBenchmark(opts: BenchWarpOptions): Promise<BenchWarpResult> {
  const onProgress = opts.onProgress ?? noProgress;
  const t0 = performance.now();
  const backend = await initTf({ backend: opts.backend ?? 'auto' });
  const settings = resolveWarpSettings(opts.preset ?? 'cpu', opts.overrides);
  const labelWarp = opts.labelWarp ?? 'nearest';
  const ds = await discoverDataset(opts.datasetDir);
  const tests = ds.tests.filter((t) => t.maskPath).slice(0, opts.limit ?? ds.tests.length);
  if (tests.length === 0) throw new MedpersamUserError('NO_TEST_IMAGES', 'no test images with masks', { file: opts.datasetDir });
  const ref = await readReferencePair(ds.reference.imagePath, ds.reference.maskPath!, ds.classes);
  const model = new WarpModel(settings, { image: ref.image.image, label: ref.label });
  for (let i = 0; i < tests.length; i++) {
    const t = tests[i]!;
    model.addTest(t.id, (await readImage(t.imagePath)).image);
    onProgress({ stage: 'read', done: i + 1, total: tests.length, message: t.id });
  }
  const t1 = performance.now();
  const cpu1 = process.cpuUsage();
  const train = await model.train('initial', settings.schedule.initialEpochs, { onProgress });
  const t2 = performance.now();
  const cpuTrain = process.cpuUsage(cpu1);
  const classes = model.classes;
  const sums = new Map<number, { dice: number; iou: number }>(classes.map((c) => [c, { dice: 0, iou: 0 }]));
  const altMode: LabelWarpMode = labelWarp === 'nearest' ? 'argmax' : 'nearest';
  const altSums = new Map<number, number>(classes.map((c) => [c, 0]));
  const perImage: BenchWarpResult['perImage'] = [];
  const byId = new Map(tests.map((t) => [t.id, t]));
  let done = 0;
  const ids = tests.map((t) => t.id);
  const BATCH = 16;
  const withQuality = opts.quality !== false;
  const qctx = withQuality
    ? qualityContext(
        { image: ref.image.image, label: ref.label },
        classes,
        model.resolution,
        opts.qualityPerturbations === true ? (works) => model.predictFlowsWork(works) : undefined,
      )
    : null;
  const signals: ImageSignalsInput[] = [];
  let qualityMs = 0;
  for (let s = 0; s < ids.length; s += BATCH) {
    for (const f of model.testFlows(ids.slice(s, s + BATCH), BATCH)) {
      const id = f.id;
      const label = model.labelFromFlow(f.flowXyWarp, f.width, f.height, labelWarp);
      if (qctx) {
        const tq = performance.now();
        const image = (await readImage(byId.get(id)!.imagePath)).image;
        signals.push(imageQualitySignals(qctx, { id, image, flowXyWarp: f.flowXyWarp, label, fixedWork: model.testWorkingImage(id) }));
        qualityMs += performance.now() - tq;
      }
      const gt = await readLabelMap(byId.get(id)!.maskPath!, { classes: ds.classes });
      if (opts.compareLabelWarps) {
        const alt = diceIoUPerClass(model.labelFromFlow(f.flowXyWarp, f.width, f.height, altMode), gt, classes);
        for (const sc of alt) altSums.set(sc.cls, altSums.get(sc.cls)! + sc.dice);
      }
      const scores: ClassScore[] = diceIoUPerClass(label, gt, classes);
      for (const sc of scores) {
        const acc = sums.get(sc.cls)!;
        acc.dice += sc.dice;
        acc.iou += sc.iou;
      }
      perImage.push({ id, dice: scores.map((sc) => sc.dice) });
      onProgress({ stage: 'warp-apply', done: ++done, total: ids.length, message: id });
    }
  }
  const t3 = performance.now();
  let quality: BenchQualityResult | undefined;
  if (qctx) {
    const scored = scoreQuality(signals);
    scored.forEach((q, i) => Object.assign(perImage[i]!, { quality: q.score, flag: q.flag }));
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    quality = {
      validation: validateQuality(scored.map((q, i) => ({ score: q.score, check: q.flag === 'check', dice: mean(perImage[i]!.dice) }))),
      perClassSpearman: classes.map((_, k) =>
        spearman(
          scored.map((q) => q.perClass[k]!.score),
          perImage.map((p) => p.dice[k]!),
        ),
      ),
    };
  }
  const t4 = performance.now();
  const qualityS = (qualityMs + (t4 - t3)) / 1000;
  const perClass: BenchClassResult[] = classes.map((c) => ({
    cls: c,
    name: ds.classes?.get(c) ?? `class ${c}`,
    dice: sums.get(c)!.dice / tests.length,
    iou: sums.get(c)!.iou / tests.length,
  }));
  const mean = meanScores(perClass.map((p) => ({ cls: p.cls, dice: p.dice, iou: p.iou, predPixels: 0, gtPixels: 0 })));
  const result: BenchWarpResult = {
    dataset: opts.datasetDir,
    reference: ds.reference.id,
    nTest: tests.length,
    backend,
    settings,
    labelWarp,
    parameters: model.network.params.count(),
    perClass,
    meanDice: mean.dice,
    meanIoU: mean.iou,
    timings: {
      readS: (t1 - t0) / 1000,
      trainS: (t2 - t1) / 1000,
      warpS: (t3 - t2 - qualityMs) / 1000,
      qualityS,
      totalS: (t4 - t0) / 1000,
      secondsPerImage: (t3 - t0 - qualityMs) / 1000 / tests.length,
      secondsPerEpoch: train.epochsRun > 0 ? train.seconds / train.epochsRun : 0,
    },
    trainCpuS: (cpuTrain.user + cpuTrain.system) / 1e6,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    altLabelWarp: opts.compareLabelWarps
      ? {
          mode: altMode,
          perClassDice: classes.map((c) => altSums.get(c)! / tests.length),
          meanDice: classes.reduce((a, c) => a + altSums.get(c)! / tests.length, 0) / classes.length,
        }
      : undefined,
    epochs: train.epochsRun,
    lastEpochLoss: train.lastEpochLoss,
    perImage,
    quality,
  };
  model.dispose();
  return result;
}

/** One line on the quality score against the true Dice. */
export function qualityLine(q: BenchQualityResult, classNames: readonly string[]): string {
  const v = q.validation;
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
  return (
    `quality score: Spearman(score, Dice) ${f(v.spearman)} over ${v.n} images (per class ${q.perClassSpearman.map((x, k) => `${classNames[k]} ${f(x)}`).join(', ')}); ` +
    `"check" flags ${v.flagged} (${(v.flaggedShare * 100).toFixed(1)}%) and catches ${v.worstDecile.flagged} of the ${v.worstDecile.count} worst by Dice (Dice ≤ ${(v.worstDecile.maxDice * 100).toFixed(1)}%)`
  );
}

/** A readable table of a benchmark result (Dice / IoU in %). */
export function formatWarpBenchTable(r: BenchWarpResult): string {
  const pct = (v: number) => (v * 100).toFixed(1);
  const n = r.settings.network;
  const lines = [
    `warp-only benchmark: ${r.dataset} (reference ${r.reference}, ${r.nTest} test images), backend ${r.backend}`,
    `arch ${n.arch}, ${n.resolution}px, affine ${n.affine ? 'on' : 'off'}, aug loss ${r.settings.loss.augmentation ? 'on' : 'off'}, ` +
      `${r.epochs} epochs, batch ${r.settings.schedule.batchSize}+${r.settings.schedule.augPerBatch} aug, lr ${r.settings.schedule.learningRate} ${r.settings.schedule.lrSchedule ?? 'constant'}, finest width ${n.finestDecoderWidth ?? n.decoderWidth}, ` +
      `loss ${r.settings.loss.imageLoss}, label warp ${r.labelWarp}, ${r.parameters} parameters`,
    '',
    '| class | Dice % | IoU % |',
    '|---|---|---|',
    ...r.perClass.map((c) => `| ${c.name} | ${pct(c.dice)} | ${pct(c.iou)} |`),
    `| **mean** | **${pct(r.meanDice)}** | **${pct(r.meanIoU)}** |`,
    '',
    `time: read ${r.timings.readS.toFixed(1)} s, train ${r.timings.trainS.toFixed(1)} s (${r.timings.secondsPerEpoch.toFixed(1)} s/epoch), ` +
      `train CPU ${r.trainCpuS.toFixed(1)} s, warp+score ${r.timings.warpS.toFixed(1)} s, quality ${r.timings.qualityS.toFixed(1)} s, total ${r.timings.totalS.toFixed(1)} s ` +
      `(${r.timings.secondsPerImage.toFixed(2)} s/image without the quality score); peak RSS ${r.peakRssMB.toFixed(0)} MB`,
  ];
  if (r.quality) lines.push(qualityLine(r.quality, r.perClass.map((c) => c.name)));
  if (r.altLabelWarp) {
    lines.push(
      `label warp ${r.altLabelWarp.mode} on the same flows: mean Dice ${pct(r.altLabelWarp.meanDice)} ` +
        `(${r.altLabelWarp.perClassDice.map(pct).join(' / ')})`,
    );
  }
  return lines.join('\n');
}
