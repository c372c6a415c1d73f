/**
 * Warp-only benchmark following the paper's protocol (reference = first image alphabetically, every other image
 * tested): train the warping model on the test set (test-time training), warp the reference label onto every test
 * image at its original size, score Dice / IoU per class against the ground truth. Reports wall time per stage,
 * seconds per image and peak resident memory. Library function: never prints; the script is bench/warp.ts.
 */
import { discoverDataset, type Dataset, type DatasetItem } from '../io/dataset.js';
import { readImage } from '../io/image.js';
import { readLabelMap } from '../io/mask.js';
import { readReferencePair } from '../io/reference.js';
import { diceIoUPerClass, meanScores, type ClassScore } from '../eval/metrics.js';
import { initTf, type TfBackendChoice } from '../warp/backend.js';
import { WarpModel, type LabelWarpMode } from '../warp/model.js';
import { resolveWarpSettings, type WarpPresetName, type WarpSettings, type WarpSettingsOverrides } from '../warp/presets.js';
import type { LossBreakdown } from '../warp/trainer.js';
import type { LabelMap } from '../image/types.js';
import { phaseBudget, type TrainBudget } from '../warp/schedule.js';
import { defaultWarpThreads, startNodeWarpWorkers } from '../warp/parallel/node-workers.js';
import type { WarpWorkerPeer } from '../warp/parallel/worker-peer.js';
import { noProgress, type ProgressCallback } from '../progress.js';
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
  /** Threads that train and apply the model (default: every core; 1 = no worker threads). */
  threads?: number;
  /**
   * Also score the test set every this many training steps (mean Dice over classes and images → `curve`); the
   * scoring time is left out of the training time. For choosing step budgets.
   */
  diceEvery?: number;
  onProgress?: ProgressCallback;
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
  /** Wall seconds: read (decode + normalise + resize), train, warp (flow + full-res label warp + scoring). */
  timings: { readS: number; trainS: number; warpS: number; totalS: number; secondsPerImage: number; secondsPerStep: number };
  /** Threads that trained and applied the model (this one + workers). */
  threads: number;
  /** CPU seconds (user + system) of this process for the training stage: a load-independent cost measure. */
  trainCpuS: number;
  peakRssMB: number;
  /** The other label-warp mode on the same flows (when compareLabelWarps). */
  altLabelWarp?: { mode: LabelWarpMode; meanDice: number; perClassDice: number[] };
  /** Optimiser steps of the initial phase, and its budget as set (steps, or epochs). */
  steps: number;
  budget: TrainBudget;
  /** Mean loss over the last steps (TrainPhaseResult.recentLoss). */
  recentLoss: LossBreakdown | null;
  perImage: { id: string; dice: number[] }[];
  /** Mean Dice of the reference mask copied unchanged onto every test image (identity warp): the floor. */
  referenceCopyDice: number;
  /** Mean Dice during training (diceEvery), and the seconds spent scoring it (not in timings.trainS). */
  curve?: { step: number; meanDice: number }[];
  curveS?: number;
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
  const threads = opts.threads ?? defaultWarpThreads();
  const workers = startNodeWarpWorkers(threads - 1);
  const model = new WarpModel(settings, { image: ref.image.image, label: ref.label });
  try {
    return await benchWithModel(model, workers, settings, labelWarp, tests, ds, t0, backend, onProgress, opts);
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
): Promise<BenchWarpResult> {
  const startWorkers = model.useWorkers(workers);
  for (let i = 0; i < tests.length; i++) {
    const t = tests[i]!;
    model.addTest(t.id, (await readImage(t.imagePath)).image);
    onProgress({ stage: 'read', done: i + 1, total: tests.length, message: t.id });
  }
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
    const gt = await readLabelMap(t.maskPath!, { classes: ds.classes });
    if (opts.diceEvery) gtCache.set(t.id, gt);
    return gt;
  };
  const scoreNow = async (): Promise<number> => {
    let sum = 0;
    for (const f of await model.testFlowsParallel(tests.map((t) => t.id), 16)) {
      const scores = diceIoUPerClass(model.labelFromFlow(f.flowXyWarp, f.width, f.height, labelWarp), await gtOf(tests.find((t) => t.id === f.id)!), model.classes);
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
  const cpuTrain = process.cpuUsage(cpu1);
  const classes = model.classes;
  const sums = new Map<number, { dice: number; iou: number }>(classes.map((c) => [c, { dice: 0, iou: 0 }]));
  const altMode: LabelWarpMode = labelWarp === 'nearest' ? 'argmax' : 'nearest';
  const altSums = new Map<number, number>(classes.map((c) => [c, 0]));
  const perImage: BenchWarpResult['perImage'] = [];
  let copySum = 0;
  const byId = new Map(tests.map((t) => [t.id, t]));
  let done = 0;
  const ids = tests.map((t) => t.id);
  const BATCH = 16;
  for (let s = 0; s < ids.length; s += BATCH) {
    for (const f of await model.testFlowsParallel(ids.slice(s, s + BATCH), BATCH)) {
      const id = f.id;
      const label = model.labelFromFlow(f.flowXyWarp, f.width, f.height, labelWarp);
      const gt = await gtOf(byId.get(id)!);
      const copy = diceIoUPerClass(model.labelFromFlow(new Float32Array(f.flowXyWarp.length), f.width, f.height, labelWarp), gt, classes);
      copySum += copy.reduce((a, sc) => a + sc.dice, 0) / copy.length;
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
  const t3 = performance.now() - curveMs;
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
      warpS: (t3 - t2) / 1000,
      totalS: (t3 - t0) / 1000,
      secondsPerImage: (t3 - t0) / 1000 / tests.length,
      secondsPerStep: train.stepsRun > 0 ? train.seconds / train.stepsRun : 0,
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
    budget,
    recentLoss: train.recentLoss,
    perImage,
    referenceCopyDice: copySum / tests.length,
    ...(opts.diceEvery ? { curve, curveS: curveMs / 1000 } : {}),
  };
  return result;
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
      `train CPU ${r.trainCpuS.toFixed(1)} s, warp+score ${r.timings.warpS.toFixed(1)} s, total ${r.timings.totalS.toFixed(1)} s (${r.timings.secondsPerImage.toFixed(2)} s/image); ` +
      `peak RSS ${r.peakRssMB.toFixed(0)} MB`,
  ];
  if (r.altLabelWarp) {
    lines.push(
      `label warp ${r.altLabelWarp.mode} on the same flows: mean Dice ${pct(r.altLabelWarp.meanDice)} ` +
        `(${r.altLabelWarp.perClassDice.map(pct).join(' / ')})`,
    );
  }
  return lines.join('\n');
}
