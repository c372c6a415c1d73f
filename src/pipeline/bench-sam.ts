/**
 * `medpersam bench --dataset DIR --sam <model>`: the paper's protocol with SAM (§4.3): the reference is the first
 * image in alphabetical order (src/io discoverDataset), every other image is a test image scored against its mask.
 * Reports Dice/IoU per class, point accuracy and Hopkins statistic of the final prompts (§4.5), per-round Dice of
 * the SAM labels and of the warped mask prompts, per-stage timings and encoder/decoder call counts.
 * Optional Appendix D test perturbations (perturb.ts): the perturbed test images and masks are written to
 * OUT/perturbed/ (8-bit grey only) and the run uses them. Node-only.
 *
 * Output: OUT/run/ (the segment run: masks, overlays, report.html, run-record.json) and OUT/bench-sam.json.
 */
import { join } from 'node:path';
import { MedpersamUserError } from '../errors.js';
import type { ClassNames } from '../image/types.js';
import { writeFileAtomic } from '../io/atomic.js';
import { discoverDataset } from '../io/dataset.js';
import { readImage } from '../io/image.js';
import { readLabelMap, writeLabelPng } from '../io/mask.js';
import type { ProgressCallback } from '../progress.js';
import { runMedPerSam, type MedPerSamOptions, type MedPerSamResult, type PointStats, type RoundMetrics, type TestImageInput } from './medpersam.js';
import { perturbTestSample, resolvePerturbation, type PerturbationParams, type TestPerturbationOptions } from './perturb.js';
import type { RunRecord } from './run-record.js';
import type { QualityValidation } from '../eval/quality-validation.js';

export interface SamBenchmarkOptions
  extends Omit<MedPerSamOptions, 'referenceImage' | 'referenceMask' | 'images' | 'gtMasks' | 'outDir' | 'classes'> {
  /** Dataset folder (images/, masks/, optional classes.json). */
  dataset: string;
  /** Output folder. */
  outDir: string;
  /** Reference id (default: the first image alphabetically, the paper's protocol). */
  reference?: string;
  /** Only the first N test images (alphabetical; default all). */
  limit?: number;
  /** Appendix D test-time perturbations (default none). */
  perturb?: TestPerturbationOptions | null;
}

export interface SamBenchmarkResult {
  dataset: string;
  reference: string;
  tests: number;
  classes: { cls: number; name: string; dice: number; iou: number }[];
  meanDice: number;
  meanIoU: number;
  perRound: RoundMetrics[];
  pointStats: PointStats;
  timingsMs: Record<string, number>;
  breakdown: RunRecord['breakdown'];
  counters: RunRecord['counters'];
  perturbation?: { settings: ReturnType<typeof resolvePerturbation>; params: Record<string, PerturbationParams> };
  run: Pick<MedPerSamResult, 'outDir' | 'masksDir' | 'reportPath' | 'recordPath'>;
  /** The quality score against the true Dice (the run's review, pipeline/review.ts). */
  quality?: QualityValidation;
  jsonPath: string;
}

function names(classes: ClassNames | undefined, cls: number): string {
  return classes?.get(cls) ?? `class ${cls}`;
}

export async function runSamBenchmark(opts: SamBenchmarkOptions, onProgress?: ProgressCallback): Promise<SamBenchmarkResult> {
  const ds = await discoverDataset(opts.dataset, { reference: opts.reference });
  if (!ds.reference.maskPath) throw new MedpersamUserError('NO_REFERENCE_MASK', 'the reference image has no mask', { file: ds.reference.imagePath });
  let tests: TestImageInput[] = ds.tests
    .filter((t) => t.maskPath)
    .map((t) => ({ id: t.id, imagePath: t.imagePath, gtMaskPath: t.maskPath }));
  if (opts.limit !== undefined) {
    if (!Number.isInteger(opts.limit) || opts.limit < 1) throw new MedpersamUserError('INVALID_OPTION', `limit must be a positive integer, got ${opts.limit}`);
    tests = tests.slice(0, opts.limit);
  }
  if (tests.length === 0) throw new MedpersamUserError('NO_TEST_IMAGES', 'no test image with a mask in the dataset', { file: opts.dataset });

  let perturbation: SamBenchmarkResult['perturbation'];
  if (opts.perturb) {
    const settings = resolvePerturbation(opts.perturb);
    const params: Record<string, PerturbationParams> = {};
    const dir = join(opts.outDir, 'perturbed');
    const out: TestImageInput[] = [];
    for (let i = 0; i < tests.length; i++) {
      const t = tests[i]!;
      const read = await readImage(t.imagePath);
      if (read.bitDepth > 8 || read.image.channels !== 1) {
        throw new MedpersamUserError('UNSUPPORTED_FOR_PERTURBATION', 'test perturbations are written as 8-bit grey PNG: use 8-bit grey images', { file: t.imagePath });
      }
      const gt = await readLabelMap(t.gtMaskPath!, { classes: ds.classes });
      const p = perturbTestSample(t.id, read.image, gt, opts.perturb);
      params[t.id] = p.params;
      const imagePath = join(dir, 'images', `${t.id}.png`);
      const gtMaskPath = join(dir, 'masks', `${t.id}.png`);
      // 8-bit grey PNG: the label writer stores bytes unchanged, which is exactly an 8-bit grey image.
      const bytes = new Uint8Array(p.image.data.length);
      for (let k = 0; k < bytes.length; k++) bytes[k] = Math.round(Math.min(255, Math.max(0, p.image.data[k]!)));
      await writeLabelPng(imagePath, { width: p.image.width, height: p.image.height, data: bytes });
      await writeLabelPng(gtMaskPath, p.mask!);
      out.push({ id: t.id, imagePath, gtMaskPath });
      onProgress?.({ stage: 'perturb', done: i + 1, total: tests.length, message: t.id });
    }
    tests = out;
    perturbation = { settings, params };
  }

  const { dataset: _d, reference: _r, limit: _l, perturb: _p, outDir, ...rest } = opts;
  const run = await runMedPerSam(
    {
      ...rest,
      referenceImage: ds.reference.imagePath,
      referenceMask: ds.reference.maskPath,
      images: tests,
      classes: ds.classes,
      outDir: join(outDir, 'run'),
      fingerprintExtra: { ...(opts.fingerprintExtra ?? {}), perturb: perturbation?.settings ?? null },
    },
    onProgress,
  );
  const summary = run.summary!;
  const result: SamBenchmarkResult = {
    dataset: opts.dataset,
    reference: ds.reference.id,
    tests: tests.length,
    classes: summary.classes.map((c) => ({ cls: c.cls, name: names(ds.classes, c.cls), dice: c.dice, iou: c.iou })),
    meanDice: summary.meanDice,
    meanIoU: summary.meanIoU,
    perRound: run.perRound!,
    pointStats: run.pointStats!,
    timingsMs: run.record.timingsMs,
    breakdown: run.record.breakdown,
    counters: run.record.counters,
    perturbation,
    run: { outDir: run.outDir, masksDir: run.masksDir, reportPath: run.reportPath, recordPath: run.recordPath },
    quality: run.quality?.validation,
    jsonPath: join(outDir, 'bench-sam.json'),
  };
  await writeFileAtomic(result.jsonPath, JSON.stringify(result, null, 2));
  return result;
}

/** A plain-text table of a benchmark result (for the CLI / bench script). */
export function formatSamBenchmark(r: SamBenchmarkResult): string {
  const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–');
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const lines = [
    `dataset ${r.dataset}: reference ${r.reference}, ${r.tests} test images`,
    ...r.classes.map((c) => `  ${c.name.padEnd(16)} Dice ${pct(c.dice).padStart(6)}  IoU ${pct(c.iou).padStart(6)}`),
    `  ${'mean'.padEnd(16)} Dice ${pct(r.meanDice).padStart(6)}  IoU ${pct(r.meanIoU).padStart(6)}`,
    `per round (SAM / warp mask prompts, mean Dice): ${r.perRound.map((p) => `${p.round}: ${pct(p.sam.dice)} / ${pct(p.warp.dice)}`).join(', ')}`,
    `points: positive ${pct(r.pointStats.positive)}, negative ${pct(r.pointStats.negative)}, total ${pct(r.pointStats.total)}; ` +
      `Hopkins +${r.pointStats.hopkinsPositive.toFixed(3)} / -${r.pointStats.hopkinsNegative.toFixed(3)}`,
    `calls: encoder runs ${r.counters.encoderRuns} (encode() ${r.counters.encodeCalls}), decoder ${r.counters.decoderCalls}`,
    `time: total ${s(r.breakdown.totalMs)} = warp ${s(r.breakdown.warpMs)} + ONNX Runtime ${s(r.breakdown.onnxRuntimeMs)} + other ${s(r.breakdown.otherMs)}`,
    ...(r.quality
      ? [
          `quality score: Spearman(score, Dice) ${Number.isFinite(r.quality.spearman) ? r.quality.spearman.toFixed(3) : 'n/a'} over ${r.quality.n} images; ` +
            `"check" flags ${r.quality.flagged} (${pct(r.quality.flaggedShare)}) and catches ${r.quality.worstDecile.flagged} of the ${r.quality.worstDecile.count} worst by Dice`,
        ]
      : []),
    `stages: ${Object.entries(r.timingsMs)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${s(v)}`)
      .join(', ')}`,
  ];
  const a = r.counters.encodeAhead;
  if (a) {
    lines.push(
      `encoder during warp training: ${a.images} images, encoder ${s(a.encoderRunMs)} in ${s(a.wallMs)}; waited ${s(a.waitMs)} after training ` +
        `(${pct(a.wallMs > 0 ? Math.max(0, a.wallMs - a.waitMs) / a.wallMs : 0)} hidden)`,
    );
  }
  return lines.join('\n');
}
