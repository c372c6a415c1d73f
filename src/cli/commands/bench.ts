/**
 * `medpersam bench`: the paper protocol on a dataset folder (reference = first image alphabetically, segment
 * the others, score them against their masks).
 *   --sam none       → src/pipeline/bench-warp.ts runWarpBenchmark (warp model alone); JSON to OUT/bench-warp.json
 *   --sam none --sizes 5,10,all → src/pipeline/bench-sizes.ts runSizesBenchmark (a fresh model per folder size,
 *                      next to elastix's per-image Dice on the same images); JSON to OUT/bench-sizes.json
 *   --sam <id|dir>   → src/pipeline/bench-sam.ts runSamBenchmark; run in OUT/run/, JSON in OUT/bench-sam.json
 */
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { MedpersamUserError } from '../../errors.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { formatSamBenchmark, runSamBenchmark, type SamBenchmarkOptions, type SamBenchmarkResult } from '../../pipeline/bench-sam.js';
import { formatWarpBenchTable, runWarpBenchmark, type BenchWarpResult } from '../../pipeline/bench-warp.js';
import { DEFAULT_BASELINE, formatSizesTable, parseSizes, runSizesBenchmark, type BenchSizesResult } from '../../pipeline/bench-sizes.js';
import type { CliContext } from '../context.js';
import { writeLine } from '../io.js';
import {
  addSamOptions,
  addWarpOptions,
  DEFAULT_SAM_MODEL,
  isSamNone,
  rejectSamFlagsWithoutSam,
  parseIntegerOption,
  resolveSamForCli,
  samLoopOptions,
  threadsOption,
  warpOverrides,
  roiOptions,
  type SamCliOptions,
  type WarpCliOptions,
} from './options.js';
import { runInterruptible } from './interrupt.js';
import { readInitialWarpModel } from '../../pipeline/init-model.js';

export interface BenchCommandOptions extends WarpCliOptions, SamCliOptions {
  /** Class values scored as background (comma-separated). */
  backgroundClasses?: string;
  /** Warm start (--sam none): a warp model file or bundle folder. */
  initModel?: string;
  safetyNet?: boolean;
  /** Dataset folder: images/, masks/, optional classes.json. */
  dataset: string;
  /** SAM model id, folder, or "none". */
  sam: string;
  /** Output folder for predictions and the report. */
  out: string;
  limit?: string;
  reference?: string;
  perturb?: boolean;
  compareLabelWarps?: boolean;
  /** commander's negation of --no-quality. */
  quality?: boolean;
  sizes?: string;
  baseline?: string;
  json?: boolean;
}

export const WARP_BENCH_JSON = 'bench-warp.json';
export const SIZES_BENCH_JSON = 'bench-sizes.json';

export function registerBenchCommand(program: Command, ctx: CliContext): void {
  const command = program
    .command('bench')
    .description('run the paper protocol on a dataset (reference = first image alphabetically) and report Dice/IoU')
    .requiredOption('--dataset <dir>', 'dataset folder with images/, masks/ and optional classes.json')
    .option('--sam <id|dir|none>', 'SAM model id, model folder, or "none" for the warp model alone', DEFAULT_SAM_MODEL)
    .option('--out <dir>', 'output folder for the result JSON (and, with SAM, the run: masks, overlays, report)', 'medpersam-bench')
    .option('--limit <n>', 'score only the first N test images (alphabetical)')
    .option('--reference <id>', 'reference image id (default: the first image alphabetically; SAM only)')
    .option('--perturb', 'Appendix D test-time perturbations of the test images (SAM only)')
    .option('--compare-label-warps', 'also score the other label-warp mode on the same flows (--sam none only)')
    .option('--no-quality', 'skip the validation of the quality score against the true Dice (--sam none only)')
    .option('--sizes <list>', 'quality and wall time as the folder grows, e.g. 5,10,20,40,100,all: a fresh model per size (--sam none only)')
    .option('--baseline <file>', `per-image Dice of a classical method to compare with (default: <dataset>/${DEFAULT_BASELINE} when present)`)
    .option('--no-safety-net', 'turn off the per-image fallback to the aligned copy of the reference (the bench line gives the Dice with and without it)')
    .option('--init-model <file|bundle>', 'warm start: train from an earlier run\'s warp model file (or a fit bundle\'s) instead of random weights (--sam none only)')
    .option('--background-classes <list>', 'score these class values as background in the reference and ground truth, e.g. 2 (CAMUS paper protocol: LV + LA) (--sam none only)')
    .option('--json', 'print the result as JSON instead of the table');
  addWarpOptions(command);
  addSamOptions(command);
  command
    .addHelpText(
      'after',
      '\nExamples:\n  medpersam bench --dataset data/jsrt-scr --sam none --out bench-out/\n' +
        '  medpersam bench --dataset data/jsrt-scr --sam none --sizes 5,10,20,40,100,all --out bench-sizes/\n' +
        '  medpersam bench --dataset data/jsrt-scr --sam mobile-sam --limit 20 --out bench-sam/',
    )
    .action(async (opts: BenchCommandOptions, cmd: Command) => {
      const dataset = resolve(opts.dataset);
      const outDir = resolve(opts.out);
      const limit = opts.limit === undefined ? undefined : parseIntegerOption('--limit', opts.limit, 1, 1_000_000);
      const out = ctx.io.stdout;

      if (isSamNone(opts.sam)) {
        for (const [flag, given] of [['--reference', opts.reference !== undefined], ['--perturb', opts.perturb === true]] as const) {
          if (given) throw new MedpersamUserError('BAD_OPTION', `${flag} needs a SAM model (it is not supported with --sam none)`);
        }
        rejectSamFlagsWithoutSam(opts);
        const overrides = warpOverrides(opts);
        const threads = threadsOption(opts);
        if (opts.sizes !== undefined) {
          if (opts.backgroundClasses !== undefined) throw new MedpersamUserError('BAD_OPTION', '--background-classes does not go with --sizes');
          if (opts.initModel !== undefined) throw new MedpersamUserError('BAD_OPTION', '--init-model does not go with --sizes');
          if (limit !== undefined) throw new MedpersamUserError('BAD_OPTION', '--sizes and --limit cannot be combined (each size is a limit)');
          const sizes = parseSizes(opts.sizes);
          const progress = ctx.progress(cmd);
          let result: BenchSizesResult;
          try {
            result = await runSizesBenchmark({
              datasetDir: dataset,
              sizes,
              ...(opts.baseline !== undefined ? { baselineFile: resolve(opts.baseline) } : {}),
              ...(opts.preset !== undefined ? { preset: opts.preset } : {}),
              overrides,
              ...(opts.labelWarp !== undefined ? { labelWarp: opts.labelWarp } : {}),
              ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
              ...(threads !== undefined ? { threads } : {}),
              onProgress: progress.onProgress,
            });
          } finally {
            progress.stop();
          }
          const jsonPath = join(outDir, SIZES_BENCH_JSON);
          const json = JSON.stringify(result, null, 2) + '\n';
          await writeFileAtomic(jsonPath, json);
          if (opts.json) out.write(json);
          else writeLine(out, formatSizesTable(result));
          ctx.note(cmd, `wrote ${jsonPath}`);
          return;
        }
        if (opts.baseline !== undefined) throw new MedpersamUserError('BAD_OPTION', '--baseline goes with --sizes');
        const initModel = opts.initModel === undefined ? undefined : await readInitialWarpModel(resolve(opts.initModel));
        const progress = ctx.progress(cmd);
        let result: BenchWarpResult;
        try {
          result = await runWarpBenchmark({
            datasetDir: dataset,
            ...(opts.preset !== undefined ? { preset: opts.preset } : {}),
            overrides,
            ...(limit !== undefined ? { limit } : {}),
            ...(opts.labelWarp !== undefined ? { labelWarp: opts.labelWarp } : {}),
            ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
            ...(roiOptions(opts) ? { roi: roiOptions(opts) } : {}),
            compareLabelWarps: opts.compareLabelWarps === true,
            quality: opts.quality !== false,
            ...(opts.backgroundClasses !== undefined ? { backgroundClasses: parseClassList(opts.backgroundClasses) } : {}),
            ...(opts.safetyNet === false ? { safetyNet: false } : {}),
            ...(threads !== undefined ? { threads } : {}),
            ...(initModel ? { initModel } : {}),
            onProgress: progress.onProgress,
          });
        } finally {
          progress.stop();
        }
        const jsonPath = join(outDir, WARP_BENCH_JSON);
        const json = JSON.stringify(result, null, 2) + '\n';
        await writeFileAtomic(jsonPath, json);
        if (opts.json) out.write(json);
        else writeLine(out, formatWarpBenchTable(result));
        ctx.note(cmd, `wrote ${jsonPath}`);
        return;
      }

      for (const [flag, given] of [['--compare-label-warps', opts.compareLabelWarps === true], ['--sizes', opts.sizes !== undefined], ['--baseline', opts.baseline !== undefined], ['--background-classes', opts.backgroundClasses !== undefined], ['--init-model', opts.initModel !== undefined]] as const) {
        if (given) throw new MedpersamUserError('BAD_OPTION', `${flag} applies to --sam none only`);
      }
      // Option values first (a bad --encoder-threads is reported whether or not the SAM model is installed).
      const loopOptions = samLoopOptions(opts);
      const samDir = await resolveSamForCli(opts.sam);
      const options: SamBenchmarkOptions = {
        ...loopOptions,
        dataset,
        outDir,
        sam: samDir,
        ...(limit !== undefined ? { limit } : {}),
        ...(opts.reference !== undefined ? { reference: opts.reference } : {}),
        ...(opts.perturb ? { perturb: {} } : {}),
      };
      const progress = ctx.progress(cmd);
      let result: SamBenchmarkResult;
      try {
        result = await runInterruptible(outDir, (signal) => runSamBenchmark({ ...options, signal }, progress.onProgress));
      } finally {
        progress.stop();
      }
      if (opts.json) out.write(JSON.stringify(result, null, 2) + '\n');
      else writeLine(out, formatSamBenchmark(result));
      ctx.note(cmd, `wrote ${result.jsonPath}; the run (masks, overlays, report) is in ${result.run.outDir}`);
    });
}

/** `--background-classes 2,4` → [2, 4] (class values 1–255). */
export function parseClassList(text: string): number[] {
  const values = text.split(',').map((t) => t.trim());
  return values.map((v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < 1 || n > 255) throw new MedpersamUserError('BAD_OPTION', `--background-classes: "${v}" is not a class value (1–255) in "${text}"`);
    return n;
  });
}
