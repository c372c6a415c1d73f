/**
 * Warp-only benchmark following the paper's protocol (reference = first image alphabetically, every other image
 * tested): train the warping model on the test set (test-time training), warp the reference label onto every test
 * image at its original size, score Dice / IoU per class against the ground truth. Reports wall time per stage,
 * seconds per image and peak resident memory. When the reference has small or thin objects, the region-of-interest
 * stage (src/warp/roi-stage.ts; `roi` option, default automatic) refines them and the result holds both the global
 * warp's scores and the refined ones. Library function: never prints; the scripts are bench/warp.ts, bench/roi.ts.
 */
import { discoverDataset, type Dataset, type DatasetItem } from '../io/dataset.js';
import { readImage } from '../io/image.js';
import { readLabelMap } from '../io/mask.js';
import { readReferencePair } from '../io/reference.js';
import { diceIoUPerClass, meanScores, type ClassScore } from '../eval/metrics.js';
import { initTf, type TfBackendChoice } from '../warp/backend.js';
import { labelClasses, WarpModel, type LabelWarpMode, type PreprocessingReport, type SafetyNetReport } from '../warp/model.js';
import { resolveWarpSettings, type WarpPresetName, type WarpSettings, type WarpSettingsOverrides } from '../warp/presets.js';
import type { LossBreakdown } from '../warp/trainer.js';
import type { FloatImage, LabelMap } from '../image/types.js';
import { LocalWarpStage, evidenceLines, notTriggeredReason, type LocalStageOptions, type LocalStageSummary } from '../warp/roi-stage.js';
import { phaseBudget, type TrainBudget } from '../warp/schedule.js';
import { defaultWarpThreads, startNodeWarpWorkers } from '../warp/parallel/node-workers.js';
import type { WarpWorkerPeer } from '../warp/parallel/worker-peer.js';
import { noProgress, type ProgressCallback } from '../progress.js';
import { scoreQuality, type ImageSignalsInput } from '../eval/quality-score.js';
import { spearman, validateQuality, type QualityValidation } from '../eval/quality-validation.js';
import { imageQualitySignals, qualityContext } from './quality.js';
import { MedpersamUserError } from '../errors.js';
import { writeWarpModelFile } from '../io/warp-model-file.js';
import { referenceHashes, type SavedWarpModel } from '../warp/saved-model.js';

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
  /** The region-of-interest stage (default: automatic by object size; `{ trigger: { mode: 'off' } }` = never). */
  roi?: LocalStageOptions;
  backend?: TfBackendChoice;
  /**
   * Also validate the quality score (default true): every image's ground-truth-free signals (pipeline/quality.ts),
   * the score over the run, its Spearman correlation with the true Dice and how much of the worst decile the flag
   * catches. Timed apart (`timings.qualityS`), so the warp timings stay comparable.
   */
  quality?: boolean;
  /** The test-time perturbation signal of the quality score (default false, as `segment`). */
  qualityPerturbations?: boolean;
  /** Classes scored as background in the reference and the ground truth (a protocol's subset; default none). */
  backgroundClasses?: number[];
  /** The per-image safety net (default true, as `segment`; warp/safety-net.ts; the bench line gives Dice with and without it). */
  safetyNet?: boolean;
  /** Threads that train and apply the model (default: every core; 1 = no worker threads). */
  threads?: number;
  /**
   * Also score the test set every this many training steps (mean Dice over classes and images → `curve`); the
   * scoring time is left out of the training time. For choosing step budgets.
   */
  diceEvery?: number;
  /** Warm start: train from this model's weights (WarpModel.initialiseFrom); `path` names it in errors. */
  initModel?: { model: SavedWarpModel; path: string; sha256?: string };
  /** Write the trained warp model here (atomically) for a later warm start. */
  saveModelPath?: string;
  onProgress?: ProgressCallback;
}

/** How well the ground-truth-free quality score found the bad results of the run (eval/quality-validation.ts). */
export interface BenchQualityResult {
  validation: QualityValidation;
  /** Spearman(class score, class Dice) per class, in `perClass` order. */
  perClassSpearman: number[];
  /**
   * Every image's raw signals, in `perImage` order: with `perImage[i].dice` they let bench/quality.ts rescore the
   * run offline (calibration studies) without training again.
   */
  signals: ImageSignalsInput[];
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
   * score's signals (re-reading each image, perturbation flows) and scoring. The region-of-interest stage's time is
   * in `roi.timings`; totalS includes all. secondsPerImage leaves the quality score out.
   */
  timings: {
    readS: number;
    trainS: number;
    warpS: number;
    qualityS: number;
    totalS: number;
    secondsPerImage: number;
    secondsPerStep: number;
    /** Coarse to fine: seconds per coarse-grid step and per working-grid step (null: none of that kind ran). */
    secondsPerCoarseStep: number | null;
    secondsPerFineStep: number | null;
  };
  /** Threads that trained and applied the model (this one + workers). */
  threads: number;
  /** CPU seconds (user + system) of this process for the training stage: a load-independent cost measure. */
  trainCpuS: number;
  peakRssMB: number;
  /** The other label-warp mode on the same flows (when compareLabelWarps; global warp only). */
  altLabelWarp?: { mode: LabelWarpMode; meanDice: number; perClassDice: number[] };
  /**
   * The region-of-interest stage: its plan, and when it ran, its wall seconds (prepare = re-read the images and
   * resample the crops, train, warp = composed label warps) and the global warp's own scores for comparison
   * (`perClass` / `meanDice` / `perImage` are then the refined ones).
   */
  roi: LocalStageSummary & {
    ran: boolean;
    timings?: { prepareS: number; trainS: number; warpS: number; totalS: number };
    globalOnly?: { perClassDice: number[]; meanDice: number; perImage: { id: string; dice: number[] }[] };
  };
  /** Optimiser steps of the initial phase, and its budget as set (steps, or epochs). */
  steps: number;
  /** Why training ended: the whole budget, or the stopping rule (warp/stop-rule.ts). */
  stoppedBy: 'budget' | 'plateau';
  budget: TrainBudget;
  /** Mean loss over the last steps (TrainPhaseResult.recentLoss). */
  recentLoss: LossBreakdown | null;
  /**
   * Per image: Dice per class, the quality score and flag when validated, whether the safety net fell back, the mean
   * Dice of the network's own warp (what the net chose against: the same as `dice` unless it fell back) and of the
   * aligned copy (zero network flow through the image's working frame: what the net falls back to).
   */
  perImage: { id: string; dice: number[]; quality?: number; flag?: string; fellBack?: boolean; warpDice: number; alignedCopyDice: number }[];
  /** The safety net (warp/safety-net.ts): images that fell back to the aligned copy; mean Dice had it been off. */
  safetyNet: SafetyNetReport & { meanDiceWithoutNet: number };
  quality?: BenchQualityResult;
  /** Mean Dice of the reference mask copied unchanged onto every test image (identity warp): the floor. */
  referenceCopyDice: number;
  /** Warm start: the model the training began from (absent: random initialisation). */
  initialisedFrom?: { path: string; sha256: string | null; trainedSteps: number };
  /** Mean Dice during training (diceEvery), and the seconds spent scoring it (not in timings.trainS). */
  curve?: { step: number; meanDice: number }[];
  /** The total training loss of every step (for choosing the stopping rule, warp/stop-rule.ts). */
  lossPerStep: number[];
  curveS?: number;
  /** Colour projection, image loss and per-image alignment chosen by the preprocessing (settings hold 'auto'). */
  preprocessing: PreprocessingReport;
}

/**
 * The label map with `classes` set to background (0): a protocol that scores some structures only (CAMUS: LV and
 * LA, myocardium as background) trains and scores without them. The same map when there is nothing to merge.
 */
export function asBackground(label: LabelMap, classes: readonly number[] | undefined): LabelMap {
  if (!classes || classes.length === 0) return label;
  const drop = new Set(classes);
  return { ...label, data: label.data.map((v) => (drop.has(v) ? 0 : v)) };
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
  const refRead = await readReferencePair(ds.reference.imagePath, ds.reference.maskPath!, ds.classes);
  const ref = { ...refRead, label: asBackground(refRead.label, opts.backgroundClasses) };
  if (labelClasses(ref.label).length === 0) {
    throw new MedpersamUserError('NO_CLASSES', `the reference mask has no class left besides the background classes ${opts.backgroundClasses?.join(', ')}`, { file: ds.reference.maskPath! });
  }
  const threads = opts.threads ?? defaultWarpThreads();
  const workers = startNodeWarpWorkers(threads - 1);
  const model = new WarpModel(settings, { image: ref.image.image, label: ref.label });
  model.safetyNet = opts.safetyNet !== false;
  try {
    if (opts.initModel) model.initialiseFrom(opts.initModel.model, opts.initModel.path);
    return await benchWithModel(model, workers, settings, labelWarp, tests, ds, t0, backend, onProgress, opts, { image: ref.image.image, label: ref.label });
  } finally {
    model.dispose();
    await Promise.all(workers.map((w) => w.close()));
  }
}

async function benchWithModel(
  model: WarpModel,
  workers: WarpWorkerPeer[],
  settings: WarpSettings,
  labelWarp: LabelWarpMode,
  tests: DatasetItem[],
  ds: Dataset,
  t0: number,
  backend: string,
  onProgress: ProgressCallback,
  opts: BenchWarpOptions,
  reference: { image: FloatImage; label: LabelMap },
): Promise<BenchWarpResult> {
  // The workers load tfjs while this thread reads the images; the images are prepared on every thread.
  const startWorkers = model.useWorkers(workers);
  startWorkers.catch(() => {}); // awaited below (a failed read or preparation ends the run first)
  for (let i = 0; i < tests.length; i++) {
    const t = tests[i]!;
    await model.addTestAsync(t.id, (await readImage(t.imagePath)).image);
    onProgress({ stage: 'read', done: i + 1, total: tests.length, message: t.id });
  }
  await model.testsReady();
  await startWorkers;
  const t1 = performance.now();
  const cpu1 = process.cpuUsage();
  const budget = phaseBudget(settings.schedule, 'initial');
  const curve: { step: number; meanDice: number }[] = [];
  let curveMs = 0;
  const gtCache = new Map<string, LabelMap>();
  const gtOf = async (t: DatasetItem): Promise<LabelMap> => {
    const hit = gtCache.get(t.id);
    if (hit) return hit;
    const gt = asBackground(await readLabelMap(t.maskPath!, { classes: ds.classes }), opts.backgroundClasses);
    if (opts.diceEvery) gtCache.set(t.id, gt);
    return gt;
  };
  const scoreNow = async (): Promise<number> => {
    let sum = 0;
    for (const f of await model.testFlowsParallel(tests.map((t) => t.id), 16)) {
      const scores = diceIoUPerClass(model.labelForTest(f.id, f.flowXyWarp, labelWarp), await gtOf(tests.find((t) => t.id === f.id)!), model.classes);
      sum += scores.reduce((a, sc) => a + sc.dice, 0) / scores.length;
    }
    return sum / tests.length;
  };
  const train = await model.train('initial', budget, {
    onProgress,
    ...(opts.diceEvery
      ? {
          checkpointEvery: opts.diceEvery,
          onCheckpoint: async (c: { progress: { stepInPhase: number } }) => {
            const c0 = performance.now();
            curve.push({ step: c.progress.stepInPhase, meanDice: await scoreNow() });
            curveMs += performance.now() - c0;
          },
        }
      : {}),
  });
  const t2 = performance.now() - curveMs;
  if (opts.saveModelPath) {
    const saved = model.toSavedModel({ reference: { ...(await referenceHashes(reference.image, reference.label)), width: reference.label.width, height: reference.label.height }, medpersamVersion: 'bench' });
    await writeWarpModelFile(opts.saveModelPath, saved);
  }
  const cpuTrain = process.cpuUsage(cpu1);
  const classes = model.classes;
  // The region-of-interest stage (only when the reference has small or thin objects), on the same global flows.
  const stage = new LocalWarpStage(settings, reference, opts.roi ?? {});
  let roiTimings: BenchWarpResult['roi']['timings'];
  if (stage.active) {
    const tr0 = performance.now();
    stage.holdOutFrom(tests.map((t) => t.id));
    for (let s = 0; s < tests.length; s += 8) {
      const chunk = tests.slice(s, s + 8);
      const flows = await model.testFlowsParallel(chunk.map((t) => t.id), 8);
      for (let j = 0; j < chunk.length; j++) {
        stage.addTest(chunk[j]!.id, (await readImage(chunk[j]!.imagePath)).image, flows[j]!.flowXyWarp, model.testFrame(chunk[j]!.id));
        onProgress({ stage: 'roi-prepare', done: s + j + 1, total: tests.length, message: chunk[j]!.id });
      }
    }
    const tr1 = performance.now();
    await stage.train('initial', model.phaseSteps(budget), { onProgress, lendWorkersFrom: model });
    roiTimings = { prepareS: (tr1 - tr0) / 1000, trainS: (performance.now() - tr1) / 1000, warpS: 0, totalS: 0 };
  }
  const t2b = performance.now() - curveMs;
  let roiWarpMs = 0;
  const globalSums = new Map<number, number>(classes.map((c) => [c, 0]));
  const globalPerImage: { id: string; dice: number[] }[] = [];
  const sums = new Map<number, { dice: number; iou: number }>(classes.map((c) => [c, { dice: 0, iou: 0 }]));
  const altMode: LabelWarpMode = labelWarp === 'nearest' ? 'argmax' : 'nearest';
  const altSums = new Map<number, number>(classes.map((c) => [c, 0]));
  const perImage: BenchWarpResult['perImage'] = [];
  let copySum = 0;
  let withoutNetSum = 0;
  const byId = new Map(tests.map((t) => [t.id, t]));
  let done = 0;
  const ids = tests.map((t) => t.id);
  const BATCH = 16;
  const withQuality = opts.quality !== false;
  const qctx = withQuality
    ? qualityContext(
        { image: reference.image, label: reference.label, work: model.preprocessor.referenceWork },
        classes,
        model.resolution,
        opts.qualityPerturbations === true ? (works) => model.predictFlowsWork(works) : undefined,
      )
    : null;
  const signals: ImageSignalsInput[] = [];
  let qualityMs = 0;
  for (let s = 0; s < ids.length; s += BATCH) {
    const chunkIds = ids.slice(s, s + BATCH);
    const refined = new Map<string, LabelMap>();
    if (stage.active) {
      const tw = performance.now();
      stage.warpTests(chunkIds, (id, l) => refined.set(id, l), labelWarp, BATCH);
      roiWarpMs += performance.now() - tw;
    }
    for (const f of await model.testFlowsParallel(chunkIds, BATCH)) {
      const id = f.id;
      const globalLabel = model.labelForTest(id, f.flowXyWarp, labelWarp);
      const label = refined.get(id) ?? globalLabel;
      if (qctx) {
        // The signals of the mask scored (global ∘ local when the stage refined it), on the model's working copy
        // and frame; the registration signals use the global flow.
        const tq = performance.now();
        const image = (await readImage(byId.get(id)!.imagePath)).image;
        signals.push(imageQualitySignals(qctx, { id, image, flowXyWarp: f.flowXyWarp, label, fixedWork: model.testWorkingImage(id), frame: model.testFrame(id) }));
        qualityMs += performance.now() - tq;
      }
      const gt = await gtOf(byId.get(id)!);
      if (stage.active) {
        const g = diceIoUPerClass(globalLabel, gt, classes);
        for (const sc of g) globalSums.set(sc.cls, globalSums.get(sc.cls)! + sc.dice);
        globalPerImage.push({ id, dice: g.map((sc) => sc.dice) });
      }
      // The floor: the reference mask resized to the image (plain resize, zero flow), whatever the alignment.
      const copy = diceIoUPerClass(model.labelFromFlow(new Float32Array(f.flowXyWarp.length), f.width, f.height, labelWarp), gt, classes);
      copySum += copy.reduce((a, sc) => a + sc.dice, 0) / copy.length;
      if (opts.compareLabelWarps) {
        const alt = diceIoUPerClass(model.labelForTest(id, f.flowXyWarp, altMode), gt, classes);
        for (const sc of alt) altSums.set(sc.cls, altSums.get(sc.cls)! + sc.dice);
      }
      const scores: ClassScore[] = diceIoUPerClass(label, gt, classes);
      for (const sc of scores) {
        const acc = sums.get(sc.cls)!;
        acc.dice += sc.dice;
        acc.iou += sc.iou;
      }
      // Without the safety net: the network's own flow where the image fell back (what the net changed).
      const rawFlow = model.fellBack(id) ? model.predictFlowsWork([model.testWorkingImage(id)])[0]! : f.flowXyWarp;
      const raw = rawFlow === f.flowXyWarp ? scores : diceIoUPerClass(model.labelForTest(id, rawFlow, labelWarp), gt, classes);
      const meanOf = (s: ClassScore[]) => s.reduce((a, sc) => a + sc.dice, 0) / s.length;
      withoutNetSum += meanOf(raw);
      const alignedCopy = diceIoUPerClass(model.labelForTest(id, new Float32Array(f.flowXyWarp.length), labelWarp), gt, classes);
      perImage.push({
        id,
        dice: scores.map((sc) => sc.dice),
        ...(model.fellBack(id) ? { fellBack: true } : {}),
        warpDice: meanOf(raw),
        alignedCopyDice: meanOf(alignedCopy),
      });
      onProgress({ stage: 'warp-apply', done: ++done, total: ids.length, message: id });
    }
  }
  const t3 = performance.now() - curveMs;
  if (roiTimings) {
    roiTimings.warpS = roiWarpMs / 1000;
    roiTimings.totalS = roiTimings.prepareS + roiTimings.trainS + roiTimings.warpS;
  }
  const globalPerClassDice = classes.map((c) => globalSums.get(c)! / tests.length);
  const roi: BenchWarpResult['roi'] = {
    ...stage.summary(),
    ran: stage.active,
    ...(roiTimings
      ? {
          timings: roiTimings,
          globalOnly: { perClassDice: globalPerClassDice, meanDice: globalPerClassDice.reduce((a, b) => a + b, 0) / classes.length, perImage: globalPerImage },
        }
      : {}),
  };
  stage.dispose();
  // The quality score over the run, against the true Dice (timed apart from the warp).
  const tq0 = performance.now();
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
      signals,
    };
  }
  const tq1 = performance.now();
  const qualityS = (qualityMs + (tq1 - tq0)) / 1000;
  const t4 = tq1 - curveMs;
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
    settings: model.settings,
    labelWarp,
    parameters: model.network.params.count(),
    perClass,
    meanDice: mean.dice,
    meanIoU: mean.iou,
    timings: {
      readS: (t1 - t0) / 1000,
      trainS: (t2 - t1) / 1000,
      warpS: (t3 - t2b - roiWarpMs - qualityMs) / 1000,
      qualityS,
      totalS: (t4 - t0) / 1000,
      secondsPerImage: (t3 - t0 - qualityMs) / 1000 / tests.length,
      secondsPerStep: train.stepsRun > 0 ? train.seconds / train.stepsRun : 0,
      // Coarse to fine: the coarse-grid and working-grid steps apart (their ratio is the coarse grid's saving).
      secondsPerCoarseStep: train.coarseStepsRun > 0 ? train.coarseSeconds / train.coarseStepsRun : null,
      secondsPerFineStep: train.stepsRun > train.coarseStepsRun ? (train.seconds - train.coarseSeconds) / (train.stepsRun - train.coarseStepsRun) : null,
    },
    threads: model.threads,
    trainCpuS: (cpuTrain.user + cpuTrain.system) / 1e6,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    altLabelWarp: opts.compareLabelWarps
      ? {
          mode: altMode,
          perClassDice: classes.map((c) => altSums.get(c)! / tests.length),
          meanDice: classes.reduce((a, c) => a + altSums.get(c)! / tests.length, 0) / classes.length,
        }
      : undefined,
    steps: train.stepsRun,
    stoppedBy: train.stoppedBy,
    lossPerStep: train.lossPerStep,
    budget,
    recentLoss: train.recentLoss,
    perImage,
    quality,
    preprocessing: model.preprocessingReport(),
    referenceCopyDice: copySum / tests.length,
    safetyNet: { ...model.safetyNetReport(), meanDiceWithoutNet: withoutNetSum / tests.length },
    roi,
    ...(opts.diceEvery ? { curve, curveS: curveMs / 1000 } : {}),
    ...(opts.initModel ? { initialisedFrom: { path: opts.initModel.path, sha256: opts.initModel.sha256 ?? null, trainedSteps: opts.initModel.model.training.totalSteps } } : {}),
  };
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

/** One line on the safety net: the images that fell back, and the mean Dice without it (and of the plain copy). */
export function safetyNetLine(n: BenchWarpResult['safetyNet'], copyDice: number): string {
  if (!n.enabled) return 'safety net: off';
  return (
    `safety net: ${n.fellBack.length} of ${n.checked} images fell back to the aligned copy` +
    `${n.fellBack.length > 0 ? ` (${n.fellBack.slice(0, 5).join(', ')}${n.fellBack.length > 5 ? ', …' : ''})` : ''}; ` +
    `mean Dice without it ${(100 * n.meanDiceWithoutNet).toFixed(1)} %, reference copy ${(100 * copyDice).toFixed(1)} %`
  );
}

/** One line on what the preprocessing chose (colour, loss, alignment). */
export function preprocessingLine(p: PreprocessingReport): string {
  const a = p.prealign;
  return (
    `preprocessing: colour ${p.colour.name} (${p.colour.reason}); loss ${p.imageLoss.kind} (${p.imageLoss.reason}); ` +
    `prealign ${p.options.prealign}, polarity ${p.options.polarity}: ${a.aligned} aligned, ${a.keptResize} plain resize, ${a.inverted} inverted`
  );
}

/** A readable table of a benchmark result (Dice / IoU in %). */
export function formatWarpBenchTable(r: BenchWarpResult): string {
  const pct = (v: number) => (v * 100).toFixed(1);
  const n = r.settings.network;
  const lines = [
    `warp-only benchmark: ${r.dataset} (reference ${r.reference}, ${r.nTest} test images), backend ${r.backend}`,
    `arch ${n.arch}, ${n.resolution}px, affine ${n.affine ? 'on' : 'off'}, aug loss ${r.settings.loss.augmentation ? 'on' : 'off'}, ` +
      `${r.steps} steps${r.budget.unit === 'epochs' ? ` (${r.budget.epochs} epochs)` : ''}, ${r.threads} thread${r.threads === 1 ? '' : 's'}, batch ${r.settings.schedule.batchSize}+${r.settings.schedule.augPerBatch} aug, lr ${r.settings.schedule.learningRate} ${r.settings.schedule.lrSchedule ?? 'constant'}, finest width ${n.finestDecoderWidth ?? n.decoderWidth}, ` +
      `loss ${r.settings.loss.imageLoss}, label warp ${r.labelWarp}, ${r.parameters} parameters`,
    '',
    '| class | Dice % | IoU % |',
    '|---|---|---|',
    ...r.perClass.map((c) => `| ${c.name} | ${pct(c.dice)} | ${pct(c.iou)} |`),
    `| **mean** | **${pct(r.meanDice)}** | **${pct(r.meanIoU)}** |`,
    '',
    `time: read ${r.timings.readS.toFixed(1)} s, train ${r.timings.trainS.toFixed(1)} s (${r.timings.secondsPerStep.toFixed(3)} s/step), ` +
      `train CPU ${r.trainCpuS.toFixed(1)} s, warp+score ${r.timings.warpS.toFixed(1)} s, quality ${r.timings.qualityS.toFixed(1)} s, total ${r.timings.totalS.toFixed(1)} s ` +
      `(${r.timings.secondsPerImage.toFixed(2)} s/image without the quality score); peak RSS ${r.peakRssMB.toFixed(0)} MB`,
  ];
  if (r.roi.ran && r.roi.globalOnly && r.roi.timings) {
    const triggered = new Set(r.roi.objects.filter((o) => o.triggered).map((o) => o.cls));
    lines.push(
      '',
      `region-of-interest stage: ${r.roi.crops.length} crop(s) (${r.roi.crops.map((c) => `${c.frame.width}x${c.frame.height} px, classes ${c.classes.join('+')}, ${c.resolution} px grid${c.kept ? '' : ', not used'}`).join('; ')}), ${r.roi.heldOut} test image(s) held out to decide`,
      ...evidenceLines(r.roi, (cls) => r.perClass.find((c) => c.cls === cls)?.name ?? `class ${cls}`).map((l) => `- ${l}`),
      '',
      '| class | global warp Dice % | + region of interest Dice % |',
      '|---|---|---|',
      ...r.perClass.map((c, i) => `| ${c.name}${triggered.has(c.cls) ? ' (local)' : ''} | ${pct(r.roi.globalOnly!.perClassDice[i]!)} | ${pct(c.dice)} |`),
      `time of the stage: prepare ${r.roi.timings.prepareS.toFixed(1)} s, train ${r.roi.timings.trainS.toFixed(1)} s, warp ${r.roi.timings.warpS.toFixed(1)} s`,
    );
  } else {
    lines.push(`region-of-interest stage: not triggered (${notTriggeredReason(r.roi)})`);
  }
  if (r.quality) lines.push(qualityLine(r.quality, r.perClass.map((c) => c.name)));
  lines.push(safetyNetLine(r.safetyNet, r.referenceCopyDice));
  if (r.altLabelWarp) {
    lines.push(
      `label warp ${r.altLabelWarp.mode} on the same flows: mean Dice ${pct(r.altLabelWarp.meanDice)} ` +
        `(${r.altLabelWarp.perClassDice.map(pct).join(' / ')})`,
    );
  }
  return lines.join('\n');
}
