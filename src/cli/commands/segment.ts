/**
 * `medpersam segment`: one annotated reference + a folder of images → a label mask per image.
 *   --sam none        → the warping model alone (src/pipeline/warp-segment.ts runWarpOnlySegmentation)
 *   --sam <id|dir>    → Med-PerSAM (src/sam resolveSamModel, then src/pipeline/medpersam.ts runMedPerSam);
 *                       default DEFAULT_SAM_MODEL: when it is not installed, the error says how to get it.
 *   --bundle <dir>    → a run bundle of `medpersam fit` applied to every image of the folder, no training
 *                       (src/pipeline/apply-run.ts applyBundleToFolder)
 * Flags not given keep the library defaults.
 */
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { readClassNames } from '../../io/mask.js';
import { runMedPerSam, type MedPerSamOptions, type MedPerSamResult } from '../../pipeline/medpersam.js';
import { runWarpOnlySegmentation, type WarpSegmentResult } from '../../pipeline/warp-segment.js';
import type { EvaluationResult } from '../../pipeline/evaluate.js';
import type { CliContext } from '../context.js';
import { WARP_MODEL_FILE } from '../../io/warp-model-file.js';
import { printEvaluationTable } from './eval.js';
import {
  addSamOptions,
  addWarpOptions,
  DEFAULT_SAM_MODEL,
  isSamNone,
  rejectSamFlagsWithoutSam,
  resolveSamForCli,
  rejectTrainingFlagsWithSavedModel,
  samLoopOptions,
  threadsOption,
  warpOverrides,
  roiOptions,
  type SamCliOptions,
  type WarpCliOptions,
} from './options.js';
import { runInterruptible } from './interrupt.js';
import { MedpersamUserError } from '../../errors.js';
import { applyBundleToFolder } from '../../pipeline/apply-run.js';
import { evaluateTestsOnly, printMedPerSamSummary, printWarpSegmentSummary, scoreLine } from './summaries.js';

export interface SegmentCommandOptions extends WarpCliOptions, SamCliOptions {
  /** Reference image file (required unless --bundle). */
  ref?: string;
  /** Label mask of the reference image (0 background, 1..K classes; required unless --bundle). */
  refMask?: string;
  /** A run bundle (`medpersam fit`): apply it, no training. */
  bundle?: string;
  /** Folder of images to segment. */
  images: string;
  /** Output folder (masks/, overlays/, run state). */
  out: string;
  /** SAM model: a registry id, a folder with encoder/decoder ONNX files, or "none" (warp model only). */
  sam: string;
  /** classes.json naming the classes of the reference mask. */
  classes?: string;
  /** Ground-truth masks of the images: score the result. */
  gt?: string;
  /** false for --no-overlays. */
  overlays?: boolean;
  /** A saved warp model (warp-model.mpwarp of an earlier run): segment without training. */
  warpModel?: string;
  /** Warm start: train from this warp model file or bundle folder instead of random weights. */
  initModel?: string;
  /** Segment the readable images, skip (and record) the unreadable ones. */
  skipUnreadable?: boolean;
  json?: boolean;
}

export function registerSegmentCommand(program: Command, ctx: CliContext): void {
  const command = program
    .command('segment')
    .description('segment a folder of images from one annotated reference image (Med-PerSAM)')
    .option('--ref <file>', 'reference image (required unless --bundle)')
    .option('--ref-mask <file>', 'label mask of the reference image (required unless --bundle)')
    .option('--bundle <dir>', 'apply a run bundle written by `medpersam fit` to every image of --images (its reference and warp model; no training)')
    .requiredOption('--images <dir>', 'folder of images to segment (the reference file itself is skipped)')
    .requiredOption('--out <dir>', 'output folder (masks/, overlays/, run record); rerun with the same folder to resume')
    .option('--sam <id|dir|none>', 'SAM model id, model folder, or "none" for the warp model alone', DEFAULT_SAM_MODEL)
    .option('--classes <file>', 'classes.json naming the classes of the reference mask')
    .option('--gt <dir>', 'ground-truth masks of the images: print Dice / IoU of the result')
    .option('--no-overlays', 'do not write overlay PNGs')
    .option('--warp-model <file>', `apply a trained warp model (the ${WARP_MODEL_FILE} an earlier segment run wrote) instead of training one`)
    .option('--init-model <file|bundle>', `start the warp model's training from an earlier run's ${WARP_MODEL_FILE} (or a fit bundle's) of the same anatomy instead of random weights; pair it with a small --steps`)
    .option('--skip-unreadable', 'segment the images that can be read and list the others in the run record (default: stop and list them all)')
    .option('--no-safety-net', 'keep every warp: no per-image fallback to the aligned copy of the reference where the warp is clearly less plausible by the run\'s own evidence (on by default; counted in the report)')
    .option('--json', 'print the result as JSON instead of the summary');
  addWarpOptions(command);
  addSamOptions(command);
  command
    .addHelpText(
      'after',
      '\nWarp options apply to both modes; SAM options only with a SAM model.\n' +
        'Examples:\n' +
        '  medpersam segment --ref ref.png --ref-mask ref_mask.png --images scans/ --out results/\n' +
        '  medpersam segment --ref ref.png --ref-mask ref_mask.png --images scans/ --out results/ --sam none --steps 300\n' +
        `  medpersam segment --ref ref.png --ref-mask ref_mask.png --images new-scans/ --out results2/ --sam none --warp-model results/${WARP_MODEL_FILE}\n` +
        `  medpersam segment --ref ref.png --ref-mask ref_mask.png --images more-scans/ --out results3/ --sam none --init-model results/${WARP_MODEL_FILE} --steps 100\n` +
        '  medpersam segment --ref ref.png --ref-mask ref_mask.png --images scans/ --out results/ --sam ./my-sam-onnx/ --rounds 2',
    )
    .action(async (opts: SegmentCommandOptions, cmd: Command) => {
      const outDir = resolve(opts.out);
      if (opts.bundle !== undefined) {
        await segmentWithBundle(ctx, cmd, opts);
        return;
      }
      if (opts.ref === undefined || opts.refMask === undefined) {
        throw new MedpersamUserError('BAD_OPTION', `required option '${opts.ref === undefined ? '--ref <file>' : '--ref-mask <file>'}' not specified (or pass --bundle)`);
      }
      const refImage = resolve(opts.ref);
      const refMask = resolve(opts.refMask);
      const imagesDir = resolve(opts.images);
      const classesPath = opts.classes === undefined ? undefined : resolve(opts.classes);
      const gtDir = opts.gt === undefined ? undefined : resolve(opts.gt);
      const withOverlays = opts.overlays !== false;
      const out = ctx.io.stdout;

      const warpModel = opts.warpModel === undefined ? undefined : resolve(opts.warpModel);
      if (warpModel) rejectTrainingFlagsWithSavedModel(opts);
      if (warpModel && opts.initModel !== undefined) {
        throw new MedpersamUserError('BAD_OPTION', '--warp-model applies a model without training; --init-model starts a training from one: give one of the two');
      }
      const initModel = opts.initModel === undefined ? undefined : resolve(opts.initModel);
      const threads = threadsOption(opts);

      if (isSamNone(opts.sam)) {
        rejectSamFlagsWithoutSam(opts);
        const overrides = warpOverrides(opts);
        const progress = ctx.progress(cmd);
        let result: WarpSegmentResult;
        let scores: EvaluationResult | undefined;
        try {
          result = await runInterruptible(outDir, (signal) => runWarpOnlySegmentation(
            {
              signal,
              refImagePath: refImage,
              refMaskPath: refMask,
              imagesDir,
              outDir,
              classesPath,
              ...(gtDir ? { gtMasksDir: gtDir } : {}),
              ...(opts.preset !== undefined ? { preset: opts.preset } : {}),
              overrides,
              ...(opts.labelWarp !== undefined ? { labelWarp: opts.labelWarp } : {}),
              ...(roiOptions(opts) ? { roi: roiOptions(opts) } : {}),
              ...(opts.safetyNet === false ? { safetyNet: false } : {}),
              ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
              ...(threads !== undefined ? { threads } : {}),
              ...(warpModel ? { warpModelPath: warpModel } : {}),
              ...(initModel ? { initModelPath: initModel } : {}),
              skipUnreadable: opts.skipUnreadable === true,
              overlays: withOverlays,
            },
            progress.onProgress,
          ));
          if (gtDir) {
            scores = await evaluateTestsOnly(join(outDir, 'masks'), gtDir, refImage, { classes: classesPath, onProgress: progress.onProgress });
          }
        } finally {
          progress.stop();
        }
        if (opts.json) {
          out.write(JSON.stringify({ mode: 'warp-only', ...result, ...(scores ? { evaluation: scores.summary } : {}) }, null, 2) + '\n');
          return;
        }
        printWarpSegmentSummary(out, result, join(outDir, 'masks'), withOverlays);
        if (scores) {
          out.write('\n');
          printEvaluationTable(out, scores);
        } else {
          ctx.note(cmd, `score it: medpersam eval --pred ${join(outDir, 'masks')} --gt <ground-truth folder>`);
        }
        return;
      }

      // Option values first (a bad --encoder-threads is reported whether or not the SAM model is installed).
      const loopOptions = samLoopOptions(opts);
      const samDir = await resolveSamForCli(opts.sam);
      const options: MedPerSamOptions = {
        ...loopOptions,
        referenceImage: refImage,
        referenceMask: refMask,
        images: imagesDir,
        outDir,
        sam: samDir,
        overlays: withOverlays,
        ...(warpModel ? { warpModelPath: warpModel } : {}),
        ...(initModel ? { initModelPath: initModel } : {}),
        skipUnreadable: opts.skipUnreadable === true,
      };
      if (gtDir) options.gtMasks = gtDir;
      if (classesPath) options.classes = await readClassNames(classesPath);
      const progress = ctx.progress(cmd);
      let result: MedPerSamResult;
      try {
        result = await runInterruptible(outDir, (signal) => runMedPerSam({ ...options, signal }, progress.onProgress));
      } finally {
        progress.stop();
      }
      if (opts.json) {
        out.write(JSON.stringify({ mode: 'med-persam', ...result }, null, 2) + '\n');
        return;
      }
      printMedPerSamSummary(out, result);
      if (result.summary) writeLineScores(out, result);
      else ctx.note(cmd, `score it: medpersam eval --pred ${result.masksDir} --gt <ground-truth folder>`);
    });
}

/** `segment --bundle`: apply a run bundle to a folder in this process (src/pipeline/apply-run.ts). */
async function segmentWithBundle(ctx: CliContext, cmd: Command, opts: SegmentCommandOptions): Promise<void> {
  const otherSam = opts.sam !== DEFAULT_SAM_MODEL && !isSamNone(opts.sam);
  if (opts.ref !== undefined || opts.refMask !== undefined || opts.warpModel !== undefined || opts.initModel !== undefined || otherSam) {
    throw new MedpersamUserError('BAD_OPTION', '--bundle brings its own reference, warp model and SAM choice: leave out --ref, --ref-mask, --warp-model, --init-model and --sam');
  }
  const threads = threadsOption(opts);
  const progress = ctx.progress(cmd);
  let result;
  try {
    result = await applyBundleToFolder(resolve(opts.bundle!), resolve(opts.images), resolve(opts.out), {
      ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
      ...(threads !== undefined ? { samLoad: { threads } } : {}),
      overlays: opts.overlays !== false,
      onProgress: progress.onProgress,
    });
  } finally {
    progress.stop();
  }
  if (opts.json) {
    ctx.io.stdout.write(JSON.stringify({ mode: 'bundle', ...result }, null, 2) + '\n');
    return;
  }
  ctx.io.stdout.write(`${result.written.length} masks in ${join(result.outDir, 'masks')}; report: ${result.reportPath}\n`);
  for (const f of result.failed) ctx.io.stdout.write(`not segmented: ${f.message}\n`);
}

function writeLineScores(out: { write(s: string): unknown }, r: MedPerSamResult): void {
  out.write(`${scoreLine(r.summary!)}\n`);
  if (r.perRound && r.perRound.length > 1) {
    const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
    out.write(`per round (SAM / warped mask prompts, mean Dice): ${r.perRound.map((p) => `${p.round}: ${pct(p.sam.dice)} / ${pct(p.warp.dice)}`).join(', ')}\n`);
  }
}
