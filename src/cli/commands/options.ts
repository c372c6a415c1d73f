/**
 * Option parsing shared by the commands: numbers checked with a message naming the option (exit 1), and the
 * mapping of the warp / SAM flags onto the library's option objects. Only flags the user gave are set, so an
 * omitted flag means the library's own default (nothing is duplicated here).
 */
import { MedpersamUserError } from '../../errors.js';
import { DEFAULTS, type MedPerSamOptions, type WarpStageOptions } from '../../pipeline/medpersam.js';
import type { PointStrategy } from '../../prompts/types.js';
import { PROMPT_SETS, type PromptSet } from '../../prompts/prompt-set.js';
import type { TfBackendChoice } from '../../warp/backend.js';
import type { LabelWarpMode } from '../../warp/model.js';
import type { WarpNetworkConfig } from '../../warp/network.js';
import type { WarpPresetName, WarpSettingsOverrides } from '../../warp/presets.js';
import type { LocalStageOptions } from '../../warp/roi-stage.js';
import type { RoiMode } from '../../warp/roi-trigger.js';
import type { Command } from 'commander';
import { Option } from 'commander';
import { addPreprocessOptions, preprocessOverrides, type PreprocessCliOptions } from './preprocess-options.js';

export function parseIntegerOption(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new MedpersamUserError('BAD_OPTION', `${name} must be an integer from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

function optionalInt(name: string, value: string | undefined, min: number, max: number): number | undefined {
  return value === undefined ? undefined : parseIntegerOption(name, value, min, max);
}

/** Warp-model flags as commander parses them (strings; `aug` / `affine` are false only for --no-aug / --no-affine). */
export interface WarpCliOptions extends PreprocessCliOptions {
  preset?: WarpPresetName;
  steps?: string;
  coarseSteps?: string;
  epochs?: string;
  res?: string;
  arch?: WarpNetworkConfig['arch'];
  aug?: boolean;
  affine?: boolean;
  seed?: string;
  lr?: string;
  lrSchedule?: 'constant' | 'cosine';
  backend?: TfBackendChoice;
  labelWarp?: LabelWarpMode;
  roi?: RoiMode;
  roiCost?: string;
  threads?: string;
  /** --no-safety-net (segment, bench): false turns off the per-image fallback to the aligned copy. */
  safetyNet?: boolean;
}

/** SAM flags as commander parses them. */
export interface SamCliOptions {
  rounds?: string;
  retrainSteps?: string;
  retrainEpochs?: string;
  refinements?: string;
  prompts?: PromptSet;
  points?: PointStrategy;
  method?: 'med-persam' | 'persam';
  encoderThreads?: string;
  decoderWorkers?: string;
  targetEmbedding?: boolean;
}

/** Add the warp-model flags (shared by segment, bench). */
export function addWarpOptions(command: Command): Command {
  command
    .addOption(new Option('--preset <name>', `warp-model settings preset (default: ${DEFAULTS.warpPreset})`).choices(['cpu', 'paper']))
    .option('--steps <n>', 'initial warp-model training in optimiser steps, whatever the folder size (default: from the preset)')
    .option('--epochs <n>', 'initial warp-model training in epochs instead of steps (the paper\'s protocol; --preset paper uses epochs)')
    .option('--coarse-steps <n>', 'coarse to fine: run the first n initial steps at half the working resolution (default: from the preset, 0)')
    .option('--res <px>', 'warp-model working resolution, a multiple of 16 (default: from the preset)')
    .addOption(new Option('--arch <name>', 'warp-model architecture (default: from the preset)').choices(['conv', 'nice-trans']))
    .option('--no-aug', 'train without the augmentation loss (Eq. 2)')
    .option('--no-affine', 'warp model without the affine stage')
    .option('--seed <n>', 'seed for the warp model (initialisation, shuffling, augmentation)')
    .option('--lr <rate>', 'warp-model AdamW learning rate (default: from the preset)')
    .addOption(new Option('--lr-schedule <name>', 'learning rate over each training phase (default: from the preset)').choices(['constant', 'cosine']))
    .addOption(new Option('--backend <name>', 'tfjs backend (default: auto)').choices(['auto', 'wasm', 'tensorflow', 'cpu']))
    .addOption(new Option('--label-warp <mode>', `how the reference label is warped (default: ${DEFAULTS.labelMode})`).choices(['nearest', 'argmax']))
    .addOption(
      new Option('--roi <mode>', 'region-of-interest warp stage for small or thin objects: auto (candidates by size and thickness, each kept where held-out images show a gain), force, off (default: auto)').choices([
        'auto',
        'force',
        'off',
      ]),
    )
    .option('--roi-cost <ratio>', 'training compute of the region-of-interest models as a share of the global warp training (default: 0.75)')
    .option('--threads <n>', 'CPU threads for the warp model and SAM (default: every core)');
  return addPreprocessOptions(command);
}

/** The region-of-interest stage options from the flags the user gave (undefined: the library's defaults). */
export function roiOptions(o: WarpCliOptions): LocalStageOptions | undefined {
  const out: LocalStageOptions = {};
  if (o.roi !== undefined) out.trigger = { mode: o.roi };
  if (o.roiCost !== undefined) {
    const ratio = Number(o.roiCost);
    if (o.roiCost.trim() === '' || !Number.isFinite(ratio) || ratio <= 0 || ratio > 100) {
      throw new MedpersamUserError('BAD_OPTION', `--roi-cost must be a number in (0, 100], got "${o.roiCost}"`);
    }
    out.costRatio = ratio;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Add the SAM flags (shared by segment, bench). */
export function addSamOptions(command: Command): Command {
  return command
    .option('--rounds <n>', `warp-model retraining rounds with SAM pseudolabels (default: ${DEFAULTS.retrainRounds})`)
    .option('--retrain-steps <n>', 'optimiser steps per retraining round (default: from the preset)')
    .option('--retrain-epochs <n>', 'epochs per retraining round instead of steps')
    .option('--refinements <n>', `prompt refinement passes per round (default: ${DEFAULTS.refinements})`)
    .addOption(new Option('--prompts <set>', `prompts given to SAM (default: ${DEFAULTS.promptSet})`).choices([...PROMPT_SETS]))
    .addOption(
      new Option('--points <strategy>', `point prompt strategy (default: ${DEFAULTS.pointStrategy})`).choices(['subregions', 'candidate-region', 'persam-topk']),
    )
    .addOption(new Option('--method <name>', 'med-persam (default) or the PerSAM baseline').choices(['med-persam', 'persam']))
    .option('--no-target-embedding', 'do not patch the decoder for PerSAM target-semantic prompting')
    .option('--encoder-threads <n>', "ONNX Runtime threads of SAM's encoder, which runs during warp training (default: --threads)")
    .option('--decoder-workers <n>', "worker threads running SAM's decoder, so that two images are decoded at once; 0 = on the main thread (default: 2 with 2+ threads)");
}

/** Overrides of the warp settings from the flags the user gave (undefined fields = preset values). */
export function warpOverrides(o: WarpCliOptions & { retrainEpochs?: string; retrainSteps?: string }): WarpSettingsOverrides {
  const network: Partial<WarpNetworkConfig> = {};
  const res = optionalInt('--res', o.res, 16, 4096);
  if (res !== undefined) {
    if (res % 16 !== 0) throw new MedpersamUserError('BAD_OPTION', `--res must be a multiple of 16, got "${o.res}"`);
    network.resolution = res;
  }
  if (o.arch !== undefined) network.arch = o.arch;
  if (o.affine === false) network.affine = false;
  const loss: NonNullable<WarpSettingsOverrides['loss']> = {};
  if (o.aug === false) loss.augmentation = false;
  const schedule: NonNullable<WarpSettingsOverrides['schedule']> = {};
  for (const [a, b, both] of [[o.steps, o.epochs, '--steps and --epochs'], [o.retrainSteps, o.retrainEpochs, '--retrain-steps and --retrain-epochs']] as const) {
    if (a !== undefined && b !== undefined) throw new MedpersamUserError('BAD_OPTION', `give ${both.replace(' and ', ' or ')}, not both`);
  }
  const steps = optionalInt('--steps', o.steps, 0, 10_000_000);
  if (steps !== undefined) schedule.initialSteps = steps;
  const coarseSteps = optionalInt('--coarse-steps', o.coarseSteps, 0, 10_000_000);
  if (coarseSteps !== undefined) schedule.coarseSteps = coarseSteps;
  const epochs = optionalInt('--epochs', o.epochs, 0, 100000);
  if (epochs !== undefined) schedule.initialEpochs = epochs;
  const retrainSteps = optionalInt('--retrain-steps', o.retrainSteps, 0, 10_000_000);
  if (retrainSteps !== undefined) schedule.retrainSteps = retrainSteps;
  const retrainEpochs = optionalInt('--retrain-epochs', o.retrainEpochs, 0, 100000);
  if (retrainEpochs !== undefined) schedule.retrainEpochs = retrainEpochs;
  const seed = optionalInt('--seed', o.seed, 0, 2 ** 32 - 1);
  if (seed !== undefined) schedule.seed = seed;
  if (o.lr !== undefined) {
    const lr = Number(o.lr);
    if (o.lr.trim() === '' || !Number.isFinite(lr) || lr <= 0 || lr > 1) {
      throw new MedpersamUserError('BAD_OPTION', `--lr must be a number in (0, 1], got "${o.lr}"`);
    }
    schedule.learningRate = lr;
  }
  if (o.lrSchedule !== undefined) schedule.lrSchedule = o.lrSchedule;
  const pre = preprocessOverrides(o);
  if (pre.imageLoss !== undefined) loss.imageLoss = pre.imageLoss;
  const out: WarpSettingsOverrides = {};
  if (pre.preprocess) out.preprocess = pre.preprocess;
  if (Object.keys(network).length > 0) out.network = network;
  if (Object.keys(loss).length > 0) out.loss = loss;
  if (Object.keys(schedule).length > 0) out.schedule = schedule;
  return out;
}

/** The warp stage of runMedPerSam from the flags. */
export function warpStageOptions(o: WarpCliOptions & { retrainEpochs?: string; retrainSteps?: string }): WarpStageOptions {
  const w: WarpStageOptions = { overrides: warpOverrides(o) };
  if (o.preset !== undefined) w.preset = o.preset;
  if (o.backend !== undefined) w.backend = o.backend;
  if (o.labelWarp !== undefined) w.labelMode = o.labelWarp;
  const roi = roiOptions(o);
  if (roi) w.roi = roi;
  if (o.safetyNet === false) w.safetyNet = false;
  return w;
}

/** The SAM-loop options of runMedPerSam from the flags (only those given). */
/** --threads (undefined: the library default, every core). */
export function threadsOption(o: WarpCliOptions): number | undefined {
  return optionalInt('--threads', o.threads, 1, 1024);
}

export function samLoopOptions(o: SamCliOptions & WarpCliOptions): Partial<MedPerSamOptions> {
  const out: Partial<MedPerSamOptions> = { warp: warpStageOptions(o) };
  const warpThreads = threadsOption(o);
  if (warpThreads !== undefined) out.warp = { ...out.warp, threads: warpThreads };
  const rounds = optionalInt('--rounds', o.rounds, 0, 1000);
  if (rounds !== undefined) out.retrainRounds = rounds;
  const refinements = optionalInt('--refinements', o.refinements, 0, 1000);
  if (refinements !== undefined) out.refinements = refinements;
  if (o.prompts !== undefined) out.promptSet = o.prompts;
  if (o.points !== undefined) out.pointStrategy = o.points;
  if (o.method !== undefined) out.method = o.method;
  if (o.targetEmbedding === false) out.targetEmbedding = false;
  const threads = threadsOption(o);
  const encoderThreads = optionalInt('--encoder-threads', o.encoderThreads, 1, 1024);
  const decoderWorkers = optionalInt('--decoder-workers', o.decoderWorkers, 0, 64);
  if (threads !== undefined || encoderThreads !== undefined || decoderWorkers !== undefined) {
    out.samLoad = {
      ...(threads !== undefined ? { threads } : {}),
      ...(encoderThreads !== undefined ? { encoderThreads } : {}),
      ...(decoderWorkers !== undefined ? { decoderWorkers } : {}),
    };
  }
  return out;
}

/** Flags that train or define the warp model make no sense with --warp-model (its settings are in the file). */
export function rejectTrainingFlagsWithSavedModel(o: WarpCliOptions & SamCliOptions): void {
  const given: [string, boolean][] = [
    ['--preset', o.preset !== undefined],
    ['--steps', o.steps !== undefined],
    ['--epochs', o.epochs !== undefined],
    ['--coarse-steps', o.coarseSteps !== undefined],
    ['--res', o.res !== undefined],
    ['--arch', o.arch !== undefined],
    ['--no-aug', o.aug === false],
    ['--no-affine', o.affine === false],
    ['--seed', o.seed !== undefined],
    ['--lr', o.lr !== undefined],
    ['--lr-schedule', o.lrSchedule !== undefined],
    ['--rounds', o.rounds !== undefined],
    ['--retrain-steps', o.retrainSteps !== undefined],
    ['--retrain-epochs', o.retrainEpochs !== undefined],
  ];
  const flags = given.filter(([, g]) => g).map(([f]) => f);
  if (flags.length > 0) {
    throw new MedpersamUserError(
      'BAD_OPTION',
      `${flags.join(', ')} ${flags.length === 1 ? 'trains or defines' : 'train or define'} the warp model; with --warp-model it is used as saved (leave ${flags.length === 1 ? 'it' : 'them'} out)`,
    );
  }
}

/** True when the user asked for the warp model alone. */
export function isSamNone(sam: string): boolean {
  return sam.trim().toLowerCase() === 'none';
}

/** The SAM model used when --sam is not given (small and fast on CPU; see README "SAM models"). */
export const DEFAULT_SAM_MODEL = 'mobile-sam';

/**
 * `--sam <id|dir>` → model folder (src/sam resolveSamModel). A known model that is not installed fails with the
 * library's "how to get it" message, plus the way to run without SAM.
 */
export async function resolveSamForCli(sam: string): Promise<string> {
  const { resolveSamModel } = await import('../../sam/manage.js');
  try {
    return await resolveSamModel(sam);
  } catch (err) {
    if (err instanceof MedpersamUserError && (err.code === 'MODEL_NOT_PRESENT' || err.code === 'UNKNOWN_MODEL')) {
      throw new MedpersamUserError(
        err.code,
        `${err.message}\nOr segment without SAM (the warping model alone, lower accuracy): --sam none`,
        { cause: err },
      );
    }
    throw err;
  }
}

/** SAM-only flags given together with --sam none are an error (they would be silently ignored). */
export function rejectSamFlagsWithoutSam(o: SamCliOptions): void {
  const given: [string, boolean][] = [
    ['--rounds', o.rounds !== undefined],
    ['--retrain-steps', o.retrainSteps !== undefined],
    ['--retrain-epochs', o.retrainEpochs !== undefined],
    ['--refinements', o.refinements !== undefined],
    ['--prompts', o.prompts !== undefined],
    ['--points', o.points !== undefined],
    ['--method', o.method !== undefined],
    ['--encoder-threads', o.encoderThreads !== undefined],
    ['--decoder-workers', o.decoderWorkers !== undefined],
    ['--no-target-embedding', o.targetEmbedding === false],
  ];
  const flags = given.filter(([, g]) => g).map(([f]) => f);
  if (flags.length > 0) {
    throw new MedpersamUserError('BAD_OPTION', `${flags.join(', ')} ${flags.length === 1 ? 'needs' : 'need'} a SAM model (not used with --sam none)`);
  }
}
