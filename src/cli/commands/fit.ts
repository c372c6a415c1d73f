/**
 * `medpersam fit`: reference + a sample of a folder → a run bundle (src/pipeline/fit.ts), applied later without
 * training by `segment --bundle` or the queue workers (`medpersam queue`).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { MedpersamUserError } from '../../errors.js';
import { DEFAULT_FIT_SAMPLE, fitBundle, type FitSamOptions } from '../../pipeline/fit.js';
import type { CliContext } from '../context.js';
import { runInterruptible } from './interrupt.js';
import {
  addSamOptions,
  addWarpOptions,
  isSamNone,
  rejectSamFlagsWithoutSam,
  resolveSamForCli,
  roiOptions,
  samLoopOptions,
  threadsOption,
  warpOverrides,
  type SamCliOptions,
  type WarpCliOptions,
} from './options.js';

interface FitCommandOptions extends WarpCliOptions, SamCliOptions {
  ref: string;
  refMask: string;
  images: string;
  out: string;
  sam: string;
  sample?: string;
  json?: boolean;
}

function sampleSizeOf(value: string | undefined): number {
  if (value === undefined) return DEFAULT_FIT_SAMPLE;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1) throw new MedpersamUserError('BAD_OPTION', `--sample must be an integer >= 1, got "${value}"`);
  return n;
}

/** `--sam none`: no SAM flags allowed; a model: the loop's flags (not the PerSAM baseline: it has no warp model). */
async function samFitOptions(opts: FitCommandOptions): Promise<FitSamOptions | undefined> {
  if (isSamNone(opts.sam)) {
    rejectSamFlagsWithoutSam(opts);
    return undefined;
  }
  if (opts.method === 'persam') throw new MedpersamUserError('BAD_OPTION', 'the PerSAM baseline has no warp model to put in a bundle: fit with --method med-persam');
  const { retrainRounds, refinements, promptSet, pointStrategy, targetEmbedding, samLoad } = samLoopOptions(opts);
  await resolveSamForCli(opts.sam); // a missing model is reported now, with how to get it, before the sample is read
  const loop = { retrainRounds, refinements, promptSet, pointStrategy, targetEmbedding };
  const given = Object.fromEntries(Object.entries(loop).filter(([, v]) => v !== undefined));
  return { model: opts.sam, loop: given, ...(samLoad ? { load: samLoad } : {}) };
}

export function registerFitCommand(program: Command, ctx: CliContext): void {
  const command = program
    .command('fit')
    .description('train the warp model on a sample of a folder and write a run bundle that `segment --bundle` and `queue worker` apply without training')
    .requiredOption('--ref <file>', 'reference image')
    .requiredOption('--ref-mask <file>', 'label mask of the reference image')
    .requiredOption('--images <dir>', 'folder the sample is drawn from (the reference file itself is skipped)')
    .requiredOption('--out <dir>', 'bundle folder to create (must not exist)')
    .requiredOption('--sam <id|dir|none>', 'SAM model id or folder (the Med-PerSAM rounds run on the sample; workers need the same model files), or "none" (warp model alone)')
    .option('--sample <n>', `images to fit on, drawn by file content (default: ${DEFAULT_FIT_SAMPLE}; all of them when the folder is smaller)`)
    .option('--json', 'print the bundle manifest as JSON');
  addWarpOptions(command);
  addSamOptions(command);
  command.action(async (opts: FitCommandOptions, cmd: Command) => {
    const sam = await samFitOptions(opts);
    const outDir = resolve(opts.out);
    const roi = roiOptions(opts);
    const threads = threadsOption(opts);
    const progress = ctx.progress(cmd);
    let result;
    try {
      result = await runInterruptible(outDir, (signal) =>
        fitBundle({
          refImagePath: resolve(opts.ref),
          refMaskPath: resolve(opts.refMask),
          imagesDir: resolve(opts.images),
          outDir,
          sampleSize: sampleSizeOf(opts.sample),
          ...(sam ? { sam } : {}),
          overrides: warpOverrides(opts),
          ...(opts.preset !== undefined ? { preset: opts.preset } : {}),
          ...(opts.labelWarp !== undefined ? { labelWarp: opts.labelWarp } : {}),
          ...(roi ? { roi } : {}),
          ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
          ...(threads !== undefined ? { threads } : {}),
          signal,
          onProgress: progress.onProgress,
        }),
      );
    } finally {
      progress.stop();
    }
    const m = result.manifest;
    if (opts.json) {
      ctx.io.stdout.write(JSON.stringify({ bundle: result.bundleDir, ...m }, null, 2) + '\n');
      return;
    }
    ctx.io.stdout.write(
      `bundle: ${result.bundleDir}\n` +
        `fitted on ${m.sample.size} of ${m.sample.folderImages} images in ${result.trainS.toFixed(1)} s (fingerprint ${m.fingerprint.slice(0, 12)})\n`,
    );
    ctx.note(cmd, `apply it: medpersam segment --bundle ${result.bundleDir} --images <folder> --out <folder>`);
  });
}
