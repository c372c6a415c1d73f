/**
 * The Med-PerSAM loop (paper §3.1–3.4, App. C.1; docs/architecture.md), one core for the CLI and the browser app.
 * Browser-safe: it reads through image sources (sources.ts), keeps its resumable state in a run store
 * (run-store.ts), writes through an output sink (output-sink.ts), and gets tfjs's backend, SAM and the runtime
 * facts from the environment (`CoreEnvironment`, `sam` loader). The Node adapters are medpersam.ts (Med-PerSAM)
 * and warp-segment.ts (warp only); the browser app builds the same input from files and IndexedDB.
 * Orchestration only: the pixel work lives in src/warp, src/sam, src/prompts, src/image.
 *
 *   read reference + tests ─► warp model: initial training (§3.1)
 *   for round r = 0..R (R = retraining rounds, default 5):
 *     for each test image (one at a time; memory stays flat in the number of images):
 *       mask prompt M_c = warped reference mask of class c (Eq. 4; optionally the flow scaled by α, Fig. 6)
 *       SAM embedding (encoder once per image per run: cached) ─► cosine similarity to the class prototype
 *       pass 0: prompts from M_c (points Eqs. 5–10, box, mask) ─► SAM decode, single-mask output (Eqs. 11–12)
 *       pass j = 1..refinements: smoothed output (opening + hole filling) becomes the next mask prompt, points and
 *               box recomputed, multimask output with the highest IoU score (end of §3.2, App. C.1)
 *       classes combined: per pixel the class with the highest logit, background where all logits ≤ 0 (§3.4)
 *     if r < R: the round's labels become pseudolabels, the warp model is retrained (§3.3)
 *   final label maps (original size) ─► sink masks, overlays with the final points and boxes ─► sink overlays,
 *   optional per-round masks, run record, HTML report with ground truth.
 *
 * Warp-only mode (no `sam`): the initial warp model alone; the warped reference label is the answer (Eq. 4).
 * Its finished images are the masks already in the sink; it keeps no per-round results.
 *
 * Resumable: the run store holds the fingerprint, the warp checkpoint (every 25 steps) and every (round, image) result; starting
 * again with the same store continues where an interruption stopped.
 *
 * Choices where the paper is silent (or its numbers did not survive in our copy), all options:
 *  - points (and the refinement smoothing) are computed in a 256 px working frame (`promptWorkingSize`, App. C.1),
 *    box and mask prompt from the original-size mask;
 *  - the target embedding passed to a patched decoder is the unnormalised class prototype (PerSAM's code);
 *  - the Fig. 6 flow scaling applies to round 0 only by default (`flowScaleRounds`);
 *  - a class whose warped mask is empty is not sent to SAM (it cannot win a pixel; noted in the run state).
 * Ablations: `promptSet` (Table 8), `pointStrategy` (Table 7), `refinements` (Table 9), `retrainRounds`,
 * `flowScale` (Fig. 6), `method: 'persam'` (the PerSAM baseline), warp overrides (Tables 10–11: augmentation
 * loss, affine stage); test perturbations of App. D in bench-sam.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { MedpersamUserError } from '../errors.js';
import type { ClassNames, LabelMap } from '../image/types.js';
import { checkReferencePair } from '../io/label-map.js';
import { buildSummary, toCsv, toJson, type EvaluationSummary } from '../eval/report.js';
import { diceIoUPerClass, type ClassScore } from '../eval/metrics.js';
import type { GreyPictureEncoder } from '../io/report-pictures.js';
import type { ProgressCallback } from '../progress.js';
import {
  type ClassPrototype,
  type GeneratePromptsOptions,
  type PointStrategy,
  type PromptSet,
  type SmoothMaskOptions,
} from '../prompts/index.js';
import { promptSetParts } from '../prompts/prompt-set.js';
import type { WarpModel, LabelWarpMode } from '../warp/model.js';
import { resolveWarpSettings, type WarpPresetName, type WarpSettings, type WarpSettingsOverrides } from '../warp/presets.js';
import type { CheckpointData } from '../warp/checkpoint.js';
import type { SavedWarpModel } from '../warp/saved-model.js';
import { roiReportLine, type LocalStageOptions, type LocalWarpStage } from '../warp/roi-stage.js';
import { buildLocalStage, planLocalStage, resolveRoiOptions } from './roi-run.js';
import { evaluateRun, type PointStats, type RoundMetrics } from './evaluate-run.js';
import type { OutputSink } from './output-sink.js';
import { scaleFlow } from './perturb.js';
import { buildRunRecord, StageTimer, type RunCounters, type RunRecord, type RuntimeInfo, type SamModelRecord } from './run-record.js';
import { encodeAhead, type EncodeAheadItem, type EncodeAheadModel } from '../sam/encode-ahead.js';
import type { ImageRoundRecord, RunStore } from './run-store.js';
import {
  knownTarget,
  loadedTarget,
  overlayMarks,
  referencePrototypes,
  samInputImage,
  segmentOneImage,
  type ImageOut,
  type ImageSegmentSettings,
  type KnownEmbedding,
  type SamModelLike,
} from './segment-image.js';
import type { ImageSource, LoadedImage, ReferenceSource } from './sources.js';
import { qualityContext } from './quality.js';
import { ReviewCollector, type QualityRecord } from './review.js';
import { describeBudget, describeSchedule, phaseBudget } from '../warp/schedule.js';
import { TrainingAborted } from '../warp/model.js';
import {
  openWarpStage,
  phaseRecord,
  toSavedModel,
  warpStageRecord,
  type PhaseRecord,
  type SavedModelInput,
  type WarpStage,
  type WarpStageRecord,
  type WarpThreadsEnvironment,
  describeSafetyNet,
  describeWarmStart,
} from './warp-stage.js';

// ---------------------------------------------------------------------------------------------------- options

export interface WarpStageSettings {
  /** Preset (default 'cpu'; 'paper' = App. B.4's schedule) and overrides (network, loss, schedule). */
  preset?: WarpPresetName;
  overrides?: WarpSettingsOverrides;
  /** How the reference label is warped (default 'nearest'). */
  labelMode?: LabelWarpMode;
  /**
   * Threads that train and apply the warp model: this one + workers from the environment (default: the
   * environment's, every core in Node). Data-parallel shards (src/warp/parallel): results are bit-identical for a
   * given seed and thread count and agree across thread counts to float rounding; a run resumes exactly with the
   * same count. Recorded in the run record, not in the fingerprint.
   */
  threads?: number;
  /**
   * The region-of-interest stage for small or thin objects (src/warp/roi-stage.ts, roi-run.ts): `trigger.mode`
   * 'auto' (default: small or thin objects, each kept where held-out images show a gain), 'force' or 'off';
   * `costRatio` (the crop models' training compute as a share of the global phase's, default 0.75); `imageLoss`
   * (the crop models' image loss, default 'ncc'). In the fingerprint.
   */
  roi?: LocalStageOptions;
  /**
   * The per-image safety net (src/warp/safety-net.ts; default on, false turns it off; see WarpStageInput.safetyNet):
   * an image whose warp its own evidence finds clearly less plausible than the aligned copy of the reference gets the
   * copy. The report's settings table counts the images that fell back; the run record lists them. In the
   * fingerprint when on.
   */
  safetyNet?: boolean;
}

/** The method's options: what changes the result (no paths, no environment). */
export interface LoopOptions {
  /** Class names (validate the masks, name the report's columns). */
  classes?: ClassNames;
  /** PerSAM target-semantic prompting (App. C.1) when the decoder can be patched (default true). */
  targetEmbedding?: boolean;
  warp?: WarpStageSettings;
  /** Retraining rounds R (§3.3; default 5 = §4.3). 0 = no retraining. */
  retrainRounds?: number;
  /** Prompt refinements per round (Table 9; default 1 = §4.3). */
  refinements?: number;
  /**
   * 'med-persam' (default): the method. 'persam': the PerSAM baseline (Table 1's PerSAM†) — no warp model; per class
   * the top-k most / least similar pixels as points and PerSAM's 3-step cascade (src/prompts persam.ts
   * PERSAM_CASCADE: points [+ target embedding] → + previous low-res logits, multimask → + box of that mask,
   * multimask). Rounds, refinements and the prompt set do not apply (retrainRounds is forced to 0).
   */
  method?: 'med-persam' | 'persam';
  /** Prompt set given to SAM (Table 8; default 'P+B+M'). */
  promptSet?: PromptSet;
  /** Point strategy (Table 7; default 'subregions'). */
  pointStrategy?: PointStrategy;
  /** Other prompt-generation options (kernel sizes, counts, bilateral rule; see src/prompts). */
  prompts?: Omit<GeneratePromptsOptions, 'strategy'>;
  /**
   * Longest side of the frame in which candidate regions, subregions and points are computed (default 256).
   * App. C.1: "The morphological operations and point prompt selection were performed on a [smaller] mask.
   * Subsequently, the results were adjusted to correspond to a [larger] scale for use in the SAM" (the sizes did not
   * survive in our copy). Points are mapped back to the original frame (pixel centres); the box and the mask prompt
   * are taken from the original-size mask. The refinement smoothing (opening + hole filling) also runs in this
   * frame and its result is brought back to the original size (nearest). 0 = work at the original size.
   */
  promptWorkingSize?: number;
  /** Smoothing of a SAM output before it becomes the next mask prompt (src/prompts refine.ts defaults). */
  smoothing?: SmoothMaskOptions;
  /**
   * Fig. 6 mask-prompt perturbation: the warp flow is multiplied by this α before the reference mask is warped
   * (default 1 = no perturbation). `flowScaleRounds` 'initial' (default) perturbs round 0 only (the paper impairs
   * "the initial mask prompt"), 'all' every round.
   */
  flowScale?: number;
  flowScaleRounds?: 'initial' | 'all';
  /** Keep every round's label maps in the sink (default false). */
  saveRounds?: boolean;
  /** Write overlays (default true). */
  overlays?: boolean;
  /** Longest side of overlays; default: the image's size with SAM, 1024 in warp-only mode. */
  overlayMaxSize?: number;
  /**
   * The review (default true): the quality score of every image (OUT/quality.csv, the run record) and the report
   * page (OUT/report.html), with Dice / IoU when ground truth is given (pipeline/review.ts).
   */
  report?: boolean;
  /**
   * Test-time perturbation signal of the quality score (default false): 4 more warp-model predictions per image
   * (eval/quality-tta.ts). Off by default: it costs about 3× the rest of the review (measured on JSRT: ~310 ms of
   * CPU per image against ~110 ms) for a small gain in ranking on JSRT and a small loss on rotated scans.
   */
  qualityPerturbations?: boolean;
  /** Images warped per tfjs call (default 8; the tests check the result equals WarpModel.warpLabel image by image). */
  warpApplyBatch?: number;
  /** Extra data written into the fingerprint (e.g. the bench's perturbation settings). */
  fingerprintExtra?: Record<string, unknown>;
  /**
   * A trained warp model to use instead of training one (saved by an earlier run: src/warp/saved-model.ts). Its
   * settings replace `warp.preset` / `warp.overrides` (giving those too is an error); with SAM there are no
   * retraining rounds (they would train it). Its reference must be this run's (checked by content).
   */
  warpModel?: SavedModelInput;
  /**
   * Warm start (issue 23): train the warp model from this model's weights (an earlier run's warp-model.mpwarp or a
   * bundle's) instead of random ones, with this run's schedule; same network and reference classes, else an error
   * naming the file. In the fingerprint; not with `warpModel` (a model applied without training).
   */
  initialWarpModel?: SavedModelInput;
  /**
   * Segment the images that can be read and skip the others (listed in the run record), instead of stopping with
   * one error that lists every unreadable image (the default; nothing is trained or written then).
   */
  skipUnreadable?: boolean;
  /** Stop at the next image / batch; the run resumes when started again. */
  signal?: AbortSignal;
}

/** A SAM model ready for the loop and what the run record says about it. */
export interface LoadedSam {
  model: SamModelLike;
  /** Identity of the model: its files' sha256 are part of the fingerprint. */
  record: SamModelRecord;
  /** Frees the model's sessions when the run ends (absent: the caller owns the model). */
  release?: () => Promise<void>;
}

/** What the core needs from the environment it runs in (the adapter at the edge decides). */
export interface CoreEnvironment extends WarpThreadsEnvironment {
  /** Initialise tfjs for the warp model (Node: wasm / tfjs-node; browser: WebGPU → WebGL → wasm); its name. */
  initWarpBackend(): Promise<string>;
  /** Versions and platform for the run record. */
  runtimeInfo(): Promise<RuntimeInfo>;
  /** Encoder of the report's grey pictures (Node: WebP with sharp; default: lossless PNG, png.ts). */
  encodeGreyPicture?: GreyPictureEncoder;
}

/** One finished image (final round), as the loop reports it: for a live gallery or later stages. */
export interface ImageDoneEvent {
  id: string;
  label: LabelMap;
  /** The image as loaded (the overlay's background); dropped by the loop after the call. */
  image: LoadedImage;
  /** Final-round prompts per class (original frame); empty in warp-only mode. */
  prompts: ClassPromptsOut[];
}

export interface CoreRunInput extends LoopOptions {
  reference: ReferenceSource;
  /** The images to segment (ids unique), or a function listing them (called after the reference is read). */
  tests: readonly ImageSource[] | (() => Promise<readonly ImageSource[]>);
  /** Loads SAM (timed as 'sam-load'); absent = warp-only mode. */
  sam?: () => Promise<LoadedSam>;
  store: RunStore;
  sink: OutputSink;
  environment: CoreEnvironment;
  /** Stage timer to add to (the adapter may have timed its own reading). */
  timer?: StageTimer;
  /** Called once per image when its final label is written. */
  onImage?: (event: ImageDoneEvent) => void | Promise<void>;
  /** Med-PerSAM: called with the warp model after each round's training (round 0 = the initial training, §3.3). */
  onWarpModel?: (round: number, model: SavedWarpModel) => Promise<void>;
}

// ---------------------------------------------------------------------------------------------------- results

export interface ClassPromptsOut {
  cls: number;
  points: import('../image/types.js').LabeledPoint[];
  box: import('../image/types.js').Box | null;
}

export interface CoreImageOutcome {
  id: string;
  /** Final-round prompts per class (original frame). */
  prompts: ClassPromptsOut[];
  /** Scores of the final masks (when ground truth was given). */
  scores?: ClassScore[];
}

export interface CoreSamResult {
  mode: 'med-persam';
  classes: number[];
  images: CoreImageOutcome[];
  summary?: EvaluationSummary;
  perRound?: RoundMetrics[];
  pointStats?: PointStats;
  /** The quality review (absent with `report: false`). */
  quality?: QualityRecord;
  /** Whether the review (report.html, quality.csv, scores with ground truth) went to the sink. */
  reportWritten: boolean;
  record: RunRecord;
  /** Threads, phases trained, the saved model used, unreadable images skipped. */
  warp: WarpStageRecord;
}

export interface CoreWarpOnlyResult {
  mode: 'warp-only';
  backend: string;
  settings: WarpSettings;
  classes: number[];
  /** Masks written by this call and masks found already written (skipped). */
  written: string[];
  skipped: string[];
  /**
   * Wall seconds: read, global training, the region-of-interest stage (0 when it did not run), warp + write (+ the
   * review's per-image signals and pictures), the review's scoring and page.
   */
  timings: { readS: number; trainS: number; roiS: number; warpS: number; reviewS: number; totalS: number };
  /** With ground truth: scores of the final masks. */
  summary?: EvaluationSummary;
  /** The quality review (absent with `report: false`). */
  quality?: QualityRecord;
  /** Whether the review (report.html, quality.csv) went to the sink. */
  reportWritten: boolean;
  /** The record written to the sink (run.json in Node). */
  record: Record<string, unknown>;
  /** Threads, phases trained, the saved model used, unreadable images skipped. */
  warp: WarpStageRecord;
}

export type CoreResult = CoreSamResult | CoreWarpOnlyResult;

// ---------------------------------------------------------------------------------------------------- helpers

export const DEFAULTS = {
  retrainRounds: 5,
  refinements: 1,
  promptSet: 'P+B+M' as PromptSet,
  pointStrategy: 'subregions' as PointStrategy,
  flowScale: 1,
  flowScaleRounds: 'initial' as const,
  warpPreset: 'cpu' as WarpPresetName,
  labelMode: 'nearest' as LabelWarpMode,
  promptWorkingSize: 256,
};

/** Identifies warp-only records (run.json's `kind`). */
export const WARP_ONLY_KIND = 'medpersam-warp-segment';
const WARP_ONLY_VERSION = '0.1.0';

function checkCount(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new MedpersamUserError('INVALID_OPTION', `${name} must be an integer >= ${min}, got ${v}`);
}

/** Which round's mask prompts get the Fig. 6 flow scaling. */
function flowScaleFor(round: number, opts: { flowScale: number; flowScaleRounds: 'initial' | 'all' }): number {
  if (opts.flowScale === 1) return 1;
  return opts.flowScaleRounds === 'all' || round === 0 ? opts.flowScale : 1;
}

const phaseName = (round: number) => (round === 0 ? 'initial' : `retrain-${round}`);
const phaseRank = (phase: string) => (phase === 'initial' ? 0 : Number(phase.replace('retrain-', '')));

export interface Resolved extends ImageSegmentSettings {
  retrainRounds: number;
  pointStrategy: PointStrategy;
  flowScale: number;
  flowScaleRounds: 'initial' | 'all';
  labelMode: LabelWarpMode;
  warpSettings: WarpSettings;
  warpApplyBatch: number;
}

function warpSettingsOf(opts: LoopOptions): WarpSettings {
  if (opts.warpModel && opts.initialWarpModel) {
    throw new MedpersamUserError('INVALID_OPTION', 'a saved warp model is applied without training, so it cannot also start one from another model: give one of the two', {
      file: opts.initialWarpModel.name,
    });
  }
  if (opts.warpModel) {
    const given = Object.keys(opts.warp?.overrides ?? {}).filter((k) => Object.keys((opts.warp!.overrides as Record<string, object>)[k] ?? {}).length > 0);
    if (opts.warp?.preset !== undefined || given.length > 0) {
      throw new MedpersamUserError('INVALID_OPTION', 'the warp model\'s settings come from the saved model; leave out the warp preset and overrides', { file: opts.warpModel.name });
    }
    // A copy: the loop writes retrainRounds into it.
    return structuredClone(opts.warpModel.model.settings);
  }
  try {
    return resolveWarpSettings(opts.warp?.preset ?? DEFAULTS.warpPreset, opts.warp?.overrides ?? {});
  } catch (err) {
    throw new MedpersamUserError('INVALID_OPTION', (err as Error).message, { cause: err });
  }
}

/** The loop's options with their defaults, checked (also what a run bundle records of them, fit.ts). */
export function resolveOptions(opts: LoopOptions): Resolved {
  const method = opts.method ?? 'med-persam';
  if (method !== 'med-persam' && method !== 'persam') throw new MedpersamUserError('INVALID_OPTION', `unknown method "${String(method)}" (med-persam, persam)`);
  if (opts.warpModel && (opts.retrainRounds ?? 0) > 0) {
    throw new MedpersamUserError('INVALID_OPTION', 'retraining rounds would train the saved warp model; with a saved model the rounds are 0', { file: opts.warpModel.name });
  }
  const retrainRounds = method === 'persam' || opts.warpModel ? 0 : (opts.retrainRounds ?? DEFAULTS.retrainRounds);
  const refinements = opts.refinements ?? DEFAULTS.refinements;
  checkCount('retrainRounds', retrainRounds, 0);
  checkCount('refinements', refinements, 0);
  const promptSet = opts.promptSet ?? DEFAULTS.promptSet;
  promptSetParts(promptSet); // throws on an unknown set
  const pointStrategy = opts.pointStrategy ?? DEFAULTS.pointStrategy;
  if (!['subregions', 'candidate-region', 'persam-topk'].includes(pointStrategy)) {
    throw new MedpersamUserError('INVALID_OPTION', `unknown point strategy "${pointStrategy}" (subregions, candidate-region, persam-topk)`);
  }
  const flowScale = opts.flowScale ?? DEFAULTS.flowScale;
  if (!(Number.isFinite(flowScale) && flowScale >= 0)) throw new MedpersamUserError('INVALID_OPTION', `flowScale must be a number >= 0, got ${flowScale}`);
  const warpApplyBatch = opts.warpApplyBatch ?? 8;
  checkCount('warpApplyBatch', warpApplyBatch, 1);
  const promptWorkingSize = opts.promptWorkingSize ?? DEFAULTS.promptWorkingSize;
  checkCount('promptWorkingSize', promptWorkingSize, 0);
  const warpSettings = warpSettingsOf(opts);
  // One source of truth for the number of rounds: the pipeline option (recorded in the checkpoint settings too).
  warpSettings.schedule.retrainRounds = retrainRounds;
  return {
    retrainRounds,
    refinements,
    promptSet,
    pointStrategy,
    promptOptions: { ...(opts.prompts ?? {}), strategy: pointStrategy },
    smoothing: { ...(opts.smoothing ?? {}) },
    flowScale,
    flowScaleRounds: opts.flowScaleRounds ?? DEFAULTS.flowScaleRounds,
    labelMode: opts.warp?.labelMode ?? DEFAULTS.labelMode,
    warpSettings,
    useTargetEmbedding: opts.targetEmbedding ?? true,
    warpApplyBatch,
    promptWorkingSize,
    method,
  };
}

/** Test ids must be unique (they name the output files). */
function checkUniqueIds(tests: readonly ImageSource[]): void {
  const seen = new Set<string>();
  for (const t of tests) {
    if (seen.has(t.id)) throw new MedpersamUserError('DUPLICATE_IMAGE_ID', `two images share the id "${t.id}"; output files would collide`, { file: t.name });
    seen.add(t.id);
  }
}

async function listTests(input: CoreRunInput): Promise<readonly ImageSource[]> {
  const tests = typeof input.tests === 'function' ? await input.tests() : input.tests;
  if (tests.length === 0) throw new MedpersamUserError('NO_TEST_IMAGES', 'no images to segment');
  checkUniqueIds(tests);
  return tests;
}

interface LoadedReference {
  image: LoadedImage;
  label: LabelMap;
  maskContentId: string;
  classesPresent: number[];
}

async function loadReference(ref: ReferenceSource, classes: ClassNames | undefined): Promise<LoadedReference> {
  const image = await ref.image.load();
  const mask = await ref.mask.load({ classes });
  const classesPresent = checkReferencePair(image.image, mask.label, { image: ref.image.name, mask: ref.mask.name });
  return { image, label: mask.label, maskContentId: mask.contentId, classesPresent };
}

function loadCheckpointInto(warp: WarpModel, ckpt: CheckpointData | null, code: 'BAD_RUN_STATE' | 'SETTINGS_MISMATCH', file: string): void {
  if (!ckpt) return;
  try {
    warp.loadCheckpoint(ckpt);
  } catch (err) {
    const message =
      code === 'BAD_RUN_STATE'
        ? `warp checkpoint does not fit this run (${(err as Error).message})`
        : `checkpoint does not match this run (${(err as Error).message})`;
    throw new MedpersamUserError(code, message, { file, cause: err });
  }
}

/**
 * The review collector of a run (pipeline/review.ts), its signals from the run's reference and warp model (the
 * reference's working copy as the model preprocessed it).
 */
function newReview(input: CoreRunInput, reference: LoadedReference, model: WarpModel): ReviewCollector {
  const predictFlows = input.qualityPerturbations === true ? (works: Float32Array[]) => model.predictFlowsWork(works) : undefined;
  const ctx = qualityContext(
    { image: reference.image.image, label: reference.label, work: model.preprocessor.referenceWork },
    reference.classesPresent,
    model.resolution,
    predictFlows,
  );
  return new ReviewCollector(ctx, { classNames: input.classes, pictures: { encode: input.environment.encodeGreyPicture } });
}

/**
 * The working flow the review's registration signals see for a mask prompt warped with Fig. 6's α: the flow scaled
 * by α. Exact for a plain-resize frame; for an aligned frame α also scales the alignment (WarpModel.labelForTest),
 * which lies outside the working grid, so the signals then describe the scaled flow within the aligned frame.
 */
function reviewFlow(flowXyWarp: Float32Array, alpha: number): Float32Array {
  return alpha === 1 ? flowXyWarp : scaleFlow(flowXyWarp, alpha);
}

/** A ground-truth mask, checked to have the size of the prediction it scores. */
function checkedGroundTruth(gt: LabelMap, pred: LabelMap, name: string): LabelMap {
  if (gt.width !== pred.width || gt.height !== pred.height) {
    throw new MedpersamUserError('SIZE_MISMATCH', `ground truth is ${gt.width}x${gt.height}, the image ${pred.width}x${pred.height}`, { file: name });
  }
  return gt;
}

// ---------------------------------------------------------------------------------------------------- the loop

/** Run Med-PerSAM (with `sam`) or the warp model alone (without) over a set of images (see the module comment). */
export async function runCore(input: CoreRunInput, onProgress?: ProgressCallback): Promise<CoreResult> {
  return input.sam ? runMedPerSamCore(input, input.sam, onProgress ?? (() => {})) : runWarpOnlyCore(input, onProgress ?? (() => {}));
}

async function runWarpOnlyCore(input: CoreRunInput, progress: ProgressCallback): Promise<CoreWarpOnlyResult> {
  const t0 = performance.now();
  const settings = warpSettingsOf(input);
  const labelWarp = input.warp?.labelMode ?? DEFAULTS.labelMode;
  const roiOptions = resolveRoiOptions(input.warp?.roi);
  const { store, sink } = input;
  const saved = input.warpModel;

  // Inputs first: bad input fails before anything is written; every test image is read (all unreadable ones
  // are listed together) before the run's identity is fixed.
  const reference = await loadReference(input.reference, input.classes);
  const tests = await listTests(input);
  const backend = await input.environment.initWarpBackend();
  const stage = await openWarpStage({
    settings,
    reference,
    tests,
    saved,
    initial: input.initialWarpModel,
    threads: input.warp?.threads,
    environment: input.environment,
    skipUnreadable: input.skipUnreadable,
    progress,
    safetyNet: input.warp?.safetyNet,
  });
  const model = stage.model;
  let roi: LocalWarpStage | null = null;
  try {
    const ids = stage.readable.map((t) => t.id);
    // The run identity: anything that changes the trained model or the masks (the inputs by content).
    const runKey = {
      settings,
      labelWarp,
      reference: { image: reference.image.contentId, mask: reference.maskContentId },
      images: ids,
      ...(stage.unreadable.length > 0 ? { unreadable: stage.unreadable.map((u) => u.id) } : {}),
      ...(saved ? { warpModel: saved.id } : {}),
      ...(input.initialWarpModel ? { initialWarpModel: input.initialWarpModel.id } : {}),
      roi: roiOptions,
      ...(input.warp?.safetyNet !== false ? { safetyNet: true } : {}),
      ...(input.fingerprintExtra ? { extra: input.fingerprintExtra } : {}),
    };
    await store.open(runKey);
    const runInfo = (status: string, extra: Record<string, unknown> = {}) => ({
      kind: WARP_ONLY_KIND,
      status,
      medpersamVersion: WARP_ONLY_VERSION,
      tfjsVersion: tf.version.tfjs,
      node: typeof process !== 'undefined' ? process.version : undefined,
      backend,
      runKey,
      ...extra,
    });
    await sink.writeRunRecord(runInfo('running', { startedAt: new Date().toISOString(), threads: stage.threads }));
    const t1 = performance.now();

    // Train (resumable), then keep the trained model for reuse.
    const phases: PhaseRecord[] = [];
    if (!saved) {
      loadCheckpointInto(model, await store.loadCheckpoint(), 'SETTINGS_MISMATCH', store.checkpointLocation);
      const budget = phaseBudget(settings.schedule, 'initial');
      let train;
      try {
        train = await model.train('initial', budget, {
          onProgress: progress,
          signal: input.signal,
          onCheckpoint: (c) => store.saveCheckpoint(c),
        });
      } catch (err) {
        if (err instanceof TrainingAborted) {
          throw new MedpersamUserError('ABORTED', 'run interrupted; start it again with the same output folder to resume', { file: sink.location, cause: err });
        }
        throw err;
      }
      phases.push(phaseRecord(train, budget));
      await sink.writeWarpModel?.(await toSavedModel(model, { ...reference, name: input.reference.image.name }, WARP_ONLY_VERSION));
    }
    const t2 = performance.now();

    // The review (every run): each image's quality signals and card pictures are taken while it is loaded.
    const review = input.report !== false ? newReview(input, reference, model) : null;
    const scores = new Map<string, ClassScore[]>();
    const reviewImage = async (i: number, image: LoadedImage, label: LabelMap, flowXyWarp: Float32Array) => {
      const id = ids[i]!;
      await review!.add({ id, image: image.image, label, flowXyWarp, fixedWork: model.testWorkingImage(id), frame: model.testFrame(id) });
      const gt = stage.readable[i]!.groundTruth;
      if (gt) scores.set(id, diceIoUPerClass(label, checkedGroundTruth((await gt.load({ classes: input.classes })).label, label, gt.name), model.classes));
    };
    const written: string[] = [];
    const skipped: string[] = [];
    const todo: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (await sink.hasMask(ids[i]!)) skipped.push(ids[i]!);
      else todo.push(i);
    }
    // The region-of-interest stage: only when the reference has small or thin objects (and masks are left to write,
    // or the review must recompute masks an earlier session wrote: the crop models then resume from their final
    // checkpoints and do not train). With a saved global model its crop models still train (their budget follows the
    // global phase's).
    const roiPlan = planLocalStage(settings, { image: reference.image.image, label: reference.label }, roiOptions);
    if (roiPlan.active && (todo.length > 0 || (review !== null && skipped.length > 0))) {
      roi = await buildLocalStage({
        settings,
        reference: { image: reference.image.image, label: reference.label },
        options: roiOptions,
        plan: roiPlan.plan,
        global: model,
        tests: stage.readable,
        store,
        round: 0,
        globalSteps: model.phaseSteps(phaseBudget(settings.schedule, 'initial')),
        progress,
        signal: input.signal,
      });
    }
    const t2b = performance.now();

    // Warp + write (+ the review's per-image work).
    const batch = input.warpApplyBatch ?? 8;
    let done = skipped.length;
    for (let s = 0; s < todo.length; s += batch) {
      const chunk = todo.slice(s, s + batch);
      const chunkIds = chunk.map((i) => ids[i]!);
      // Eq. 4: the global flows of the chunk, then each label at its image's size through its working frame (as
      // WarpModel.warpTestsParallel); with the region-of-interest stage, global ∘ local. The review's registration
      // signals use the global flow (computed once more for them when the stage made the label).
      const flows = roi && !review ? [] : await model.testFlowsParallel(chunkIds, batch);
      const flowOf = new Map(flows.map((f) => [f.id, f.flowXyWarp] as const));
      const labels: { i: number; label: LabelMap }[] = [];
      if (roi) roi.warpTests(chunkIds, (id, label) => labels.push({ i: ids.indexOf(id), label }), labelWarp, batch);
      else for (const f of flows) labels.push({ i: ids.indexOf(f.id), label: model.labelForTest(f.id, f.flowXyWarp, labelWarp) });
      for (const { i, label } of labels) {
        const id = ids[i]!;
        const image = input.overlays !== false || input.onImage || review ? await stage.readable[i]!.load() : null;
        if (input.overlays !== false) await sink.writeOverlay(id, image!.image, label, { maxSize: input.overlayMaxSize ?? 1024 });
        if (review) await reviewImage(i, image!, label, flowOf.get(id)!);
        // The mask last: its presence marks the image as done on a rerun.
        await sink.writeMask(id, label);
        written.push(id);
        if (input.onImage) await input.onImage({ id, label, image: image!, prompts: [] });
        progress({ stage: 'warp-apply', done: ++done, total: ids.length, message: id });
      }
    }
    // Images finished by an earlier session: the review recomputes their labels from the same model(s), as above.
    if (review && skipped.length > 0) {
      const skippedIds = new Set(skipped);
      const again = ids.filter((id) => skippedIds.has(id));
      let reviewed = 0;
      for (let s = 0; s < again.length; s += batch) {
        const chunkIds = again.slice(s, s + batch);
        const local = new Map<string, LabelMap>();
        if (roi) roi.warpTests(chunkIds, (id, label) => local.set(id, label), labelWarp, batch);
        for (const f of await model.testFlowsParallel(chunkIds, batch)) {
          const i = ids.indexOf(f.id);
          const label = local.get(f.id) ?? model.labelForTest(f.id, f.flowXyWarp, labelWarp);
          await reviewImage(i, await stage.readable[i]!.load(), label, f.flowXyWarp);
          progress({ stage: 'review', done: ++reviewed, total: again.length, message: f.id });
        }
      }
    }
    const t3 = performance.now();
    const summary = scores.size > 0 ? buildSummary(ids.filter((id) => scores.has(id)).map((id) => ({ id, scores: scores.get(id)! })), { classes: model.classes, classNames: input.classes }) : undefined;
    const warp = warpStageRecord(stage, phases, saved);
    let quality: QualityRecord | undefined;
    if (review) {
      const n = settings.network;
      const training = saved
        ? `saved model ${saved.name}`
        : `${describeBudget(phaseBudget(settings.schedule, 'initial'))}, lr ${settings.schedule.learningRate}${describeWarmStart(warp.initialisedFrom)}`;
      const done = review.finish({
        title: 'medpersam segment (warping model alone)',
        details: [`reference: ${input.reference.image.name}`],
        settings: [
          ['mode', 'warp only (no SAM)'],
          ['warping model', `${n.arch}, ${n.resolution} px, ${training}, ${warp.threads} thread${warp.threads === 1 ? '' : 's'}`],
          ['label warp', labelWarp],
          ['region of interest', roi ? roiReportLine(roi.summary(), true) : roiReportLine(roiPlan.summary, false)],
          ['safety net', describeSafetyNet(warp.safetyNet)],
          ['backend', backend],
        ],
        timingsS: [
          ['read', (t1 - t0) / 1000],
          ['train', (t2 - t1) / 1000],
          ...(roi ? ([['region-of-interest stage', (t2b - t2) / 1000]] as [string, number][]) : []),
          ['warp, write, review signals', (t3 - t2b) / 1000],
        ],
        scores,
      });
      await sink.writeReport({ html: done.html, qualityCsv: done.qualityCsv, ...(summary ? { csv: toCsv(summary), json: toJson(summary) } : {}) });
      quality = done.record;
    }
    const t4 = performance.now();
    const timings = {
      readS: (t1 - t0) / 1000,
      trainS: (t2 - t1) / 1000,
      roiS: roi ? (t2b - t2) / 1000 : 0,
      warpS: (t3 - t2b) / 1000,
      reviewS: (t4 - t3) / 1000,
      totalS: (t4 - t0) / 1000,
    };
    const record = runInfo('complete', {
      finishedAt: new Date().toISOString(),
      timings,
      training: warp,
      masksWritten: written.length,
      masksSkipped: skipped.length,
      classes: model.classes,
      ...(summary ? { results: { meanDice: summary.meanDice, meanIoU: summary.meanIoU } } : {}),
      ...(quality ? { quality } : {}),
      roi: roi ? roi.summary() : roiPlan.summary,
    });
    await sink.writeRunRecord(record);
    return { mode: 'warp-only', backend, settings, classes: reference.classesPresent, written, skipped, timings, summary, quality, reportWritten: review !== null, record, warp };
  } finally {
    roi?.dispose();
    await stage.close();
  }
}

async function runMedPerSamCore(input: CoreRunInput, loadSam: () => Promise<LoadedSam>, progress: ProgressCallback): Promise<CoreSamResult> {
  const startedAt = new Date();
  const timer = input.timer ?? new StageTimer();
  const r = resolveOptions(input);
  const { store, sink } = input;
  const writeOverlays = input.overlays ?? true;
  const overlayOpts = input.overlayMaxSize !== undefined ? { maxSize: input.overlayMaxSize } : {};
  const abortCheck = () => {
    if (input.signal?.aborted) throw new MedpersamUserError('ABORTED', 'run interrupted; start it again with the same output folder to resume', { file: sink.location });
  };

  // ---- inputs
  const allTests = await timer.time('read', () => listTests(input));
  const reference = await timer.time('read', () => loadReference(input.reference, input.classes));
  const classes = reference.classesPresent;

  // ---- SAM (loaded before the run state: its file checksums are part of the fingerprint)
  const sam = await timer.time('sam-load', loadSam);
  const statsAtStart = sam.model.stats();
  const roiOptions = resolveRoiOptions(input.warp?.roi);
  const roiRef = { image: reference.image.image, label: reference.label };
  const roiPlan = planLocalStage(r.warpSettings, roiRef, roiOptions);
  let roiSummary = roiPlan.summary;
  let roi: LocalWarpStage | null = null;
  const counters = { decoderCalls: 0, imagesProcessed: 0, imagesReused: 0 };
  let encodeAheadStats: RunCounters['encodeAhead'];

  const saved = input.warpModel;
  // ---- warp model: reference + every test image (kept as R×R working copies only); all unreadable images are
  // listed together (or skipped when asked) before the run state is touched.
  let stage: WarpStage | null = null;
  try {
    const backend = await timer.time('warp-init', () => input.environment.initWarpBackend());
    stage = await openWarpStage({
      settings: r.warpSettings,
      reference,
      tests: allTests,
      saved,
      initial: input.initialWarpModel,
      threads: input.warp?.threads,
      environment: input.environment,
      skipUnreadable: input.skipUnreadable,
      progress,
      timeRead: (fn) => timer.timeAsync('read', fn),
      safetyNet: input.warp?.safetyNet,
    });
    const warp = stage.model;
    const tests = stage.readable;

    // ---- run state
    const fingerprint = {
      reference: { image: reference.image.contentId, mask: reference.maskContentId },
      tests: tests.map((t) => t.id),
      ...(stage.unreadable.length > 0 ? { unreadable: stage.unreadable.map((u) => u.id) } : {}),
      ...(saved ? { warpModel: saved.id } : {}),
      ...(input.initialWarpModel ? { initialWarpModel: input.initialWarpModel.id } : {}),
      classes,
      sam: { encoder: sam.record.encoderSha256, decoder: sam.record.decoderSha256, targetEmbedding: sam.model.info.targetEmbedding },
      method: r.method,
      retrainRounds: r.retrainRounds,
      refinements: r.refinements,
      promptSet: r.promptSet,
      pointStrategy: r.pointStrategy,
      prompts: r.promptOptions,
      smoothing: r.smoothing,
      flowScale: r.flowScale,
      flowScaleRounds: r.flowScaleRounds,
      labelMode: r.labelMode,
      promptWorkingSize: r.promptWorkingSize,
      warp: r.warpSettings,
      roi: roiOptions,
      ...(input.warp?.safetyNet !== false ? { safetyNet: true } : {}),
      extra: input.fingerprintExtra ?? null,
    };
    const { resumed } = await store.open(fingerprint);
    if (!saved) loadCheckpointInto(warp, await store.loadCheckpoint(), 'BAD_RUN_STATE', store.checkpointLocation);
    const phases: PhaseRecord[] = [];
    let review: ReviewCollector | null = null;
    {
      // ---- prototypes (reference encoded once per run; cached)
      let prototypes: Map<number, ClassPrototype> | null = null;
      const getPrototypes = async () => {
        if (prototypes) return prototypes;
        prototypes = await referencePrototypes(sam.model, reference.image, reference.label, classes, timer);
        return prototypes;
      };

      const saveCkpt = async (c: CheckpointData) => {
        await timer.time('checkpoint', () => store.saveCheckpoint(c));
      };

      // The review collects each final image as it is segmented (the final warp model made its mask prompt).
      if (input.report !== false) review = newReview(input, reference, warp);
      const reviewSam = async (t: ImageSource, read: LoadedImage, label: LabelMap, warpedLabel: LabelMap, record: ImageRoundRecord, flowXyWarp: Float32Array | undefined) => {
        const final = r.retrainRounds;
        const prev = final > 0 ? await timer.time('state-io', () => store.readRoundResult(final - 1, t.id)) : null;
        await timer.timeAsync('review', () =>
          review!.add({
            id: t.id,
            image: read.image,
            label,
            flowXyWarp,
            // The model's working copy and frame (the PerSAM baseline's model is untrained but preprocessed the same).
            fixedWork: warp.testWorkingImage(t.id),
            frame: warp.testFrame(t.id),
            sam: { warped: warpedLabel, classes: record.classes, previous: prev?.label },
            marks: record.classes.map((c) => ({ cls: c.cls, points: c.points, box: c.box })),
          }),
        );
      };

      // The SAM embedding key and size of every test image this session has encoded (ahead of need or in a round).
      const knownEmbeddings = new Map<string, KnownEmbedding>();
      for (let round = 0; round <= r.retrainRounds; round++) {
        abortCheck();
        const phase = phaseName(round);
        const budget = phaseBudget(r.warpSettings.schedule, round === 0 ? 'initial' : 'retrain');
        // Is every image of this round already done?
        const pending: ImageSource[] = [];
        for (const t of tests) if (!(await store.hasRoundResult(round, t.id))) pending.push(t);
        const modelPhase = warp.progress.phase;
        if (!saved && pending.length > 0 && phaseRank(modelPhase) > round) {
          throw new MedpersamUserError(
            'BAD_RUN_STATE',
            `round ${round} lacks results for ${pending.length} image(s) but the warp checkpoint is already at phase ${modelPhase}; use a new output folder`,
            { file: store.location },
          );
        }
        // ---- (re)train to this round's phase
        const needsTraining = r.method === 'med-persam' && !saved && warp.needsTraining(phase, budget);
        // SAM's encoder (its own ONNX Runtime threads) encodes every image while round 0's training runs, so the
        // round finds them cached; then the encoder session is freed (src/sam/encode-ahead.ts).
        const encoding =
          round === 0 && needsTraining && pending.length > 0 && sam.model.releaseEncoder
            ? encodeAhead(sam.model as EncodeAheadModel, encodeAheadItems(reference.image, pending), { signal: input.signal })
            : null;
        if (needsTraining) {
          if (round > 0) {
            // Pseudolabels = the previous round's labels (§3.3): read from the run state, then brought to the
            // model's working grid (timed as warp work).
            for (const t of tests) {
              const prev = await timer.time('state-io', () => store.readRoundResult(round - 1, t.id));
              if (!prev) throw new MedpersamUserError('BAD_RUN_STATE', `round ${round - 1} result of ${t.id} is missing`, { file: store.location });
              timer.time('warp-pseudolabels', () => warp.setPseudolabel(t.id, prev.label));
            }
          }
          try {
            const trained = await timer.timeAsync('warp-train', () =>
              warp.train(phase, budget, {
                onProgress: (e) => progress({ ...e, stage: 'warp-train', message: `round ${round}: ${e.message ?? ''}` }),
                onCheckpoint: saveCkpt,
                signal: input.signal,
              }),
            );
            phases.push(phaseRecord(trained, budget));
          } catch (err) {
            abortCheck(); // an abort inside training surfaces as ABORTED (the checkpoint of its last step is kept)
            throw err;
          }
          warp.clearPseudolabels();
          // The final model (after the last round's training) is kept for reuse on new images; every round's for a
          // caller that asks (a run bundle, fit.ts).
          if (round === r.retrainRounds || input.onWarpModel) {
            await timer.time('outputs', async () => {
              const model = await toSavedModel(warp, { ...reference, name: input.reference.image.name }, (await input.environment.runtimeInfo()).toolVersion);
              if (round === r.retrainRounds) await sink.writeWarpModel?.(model);
              await input.onWarpModel?.(round, model);
            });
          }
        }
        if (encoding) {
          const ahead = await timer.timeAsync('sam-encode-wait', () => encoding.done);
          encodeAheadStats = { images: ahead.encoded, encoderRunMs: ahead.encoderRunMs, wallMs: ahead.wallMs, waitMs: timer.totals()['sam-encode-wait'] ?? 0 };
          // Item 0 is the reference, item i the pending test i - 1 (encodeAheadItems).
          for (const e of ahead.embeddings) if (e.index > 0) knownEmbeddings.set(pending[e.index - 1]!.id, e);
        }
        if (pending.length === 0) {
          counters.imagesReused += tests.length;
          continue;
        }
        // ---- the region-of-interest stage for this round's global model (small or thin objects only)
        if (roiPlan.active && r.method === 'med-persam') {
          roi?.dispose();
          roi = null;
          try {
            roi = await buildLocalStage({
              settings: r.warpSettings,
              reference: roiRef,
              options: roiOptions,
              plan: roiPlan.plan,
              global: warp,
              tests,
              store,
              round,
              globalSteps: warp.phaseSteps(budget),
              pseudolabel: async (id) => {
                const prev = await timer.time('state-io', () => store.readRoundResult(round - 1, id));
                if (!prev) throw new MedpersamUserError('BAD_RUN_STATE', `round ${round - 1} result of ${id} is missing`, { file: store.location });
                return prev.label;
              },
              timer,
              progress: (e) => progress({ ...e, message: `round ${round}: ${e.message ?? ''}` }),
              signal: input.signal,
            });
          } catch (err) {
            abortCheck();
            throw err;
          }
          roiSummary = roi.summary();
        }
        counters.imagesReused += tests.length - pending.length;
        const protos = await getPrototypes();
        const isFinal = round === r.retrainRounds;
        const alpha = flowScaleFor(round, r);
        let done = tests.length - pending.length;
        for (let s = 0; s < pending.length; s += r.warpApplyBatch) {
          abortCheck();
          const chunk = pending.slice(s, s + r.warpApplyBatch);
          // Every image is read in the final round (overlays, the review); before it only an image whose embedding
          // key this session does not know yet: SAM serves the others' embeddings by key (knownTarget).
          const reads: (LoadedImage | null)[] = [];
          for (const t of chunk) {
            const skip = !isFinal && sam.model.cachedEmbedding !== undefined && knownEmbeddings.has(t.id);
            reads.push(skip ? null : await timer.time('read', () => t.load()));
          }
          // Eq. 4 (+ Fig. 6 flow scaling): mask prompts for the chunk; in the final round also the global flows that
          // made them, for the review's registration signals.
          const wantFlows = isFinal && review !== null && r.method !== 'persam';
          let promptFlows: Float32Array[] | null = null;
          const warped = await timer.timeAsync('warp-apply', async () => {
            // (The PerSAM baseline has no retraining rounds: its only round is the final one, every image read.)
            if (r.method === 'persam') return reads.map((rd) => ({ width: rd!.image.width, height: rd!.image.height, data: new Uint8Array(rd!.image.width * rd!.image.height) }));
            if (roi) {
              // Global ∘ local for the small or thin objects (the Fig. 6 α scales the composed displacement).
              const labels: LabelMap[] = [];
              roi.warpTests(chunk.map((t) => t.id), (_id, label) => labels.push(label), r.labelMode, r.warpApplyBatch, alpha);
              return labels;
            }
            if (alpha === 1 && !wantFlows) {
              // The model's own working copies (no second normalisation of the image).
              const labels: LabelMap[] = [];
              await warp.warpTestsParallel(chunk.map((t) => t.id), (_id, label) => labels.push(label), r.labelMode, r.warpApplyBatch);
              return labels;
            }
            const flows = await warp.testFlowsParallel(chunk.map((t) => t.id), r.warpApplyBatch);
            if (wantFlows) promptFlows = flows.map((f) => reviewFlow(f.flowXyWarp, alpha));
            // Fig. 6: α scales the whole displacement (the initial alignment too), so α = 0 is the reference copied.
            // (α = 1: exactly warpTestsParallel's labels.)
            return flows.map((f) => warp.labelForTest(f.id, f.flowXyWarp, r.labelMode, alpha));
          });
          if (wantFlows && roi) {
            const flows = await timer.timeAsync('review', () => warp.testFlowsParallel(chunk.map((t) => t.id), r.warpApplyBatch));
            promptFlows = flows.map((f) => reviewFlow(f.flowXyWarp, alpha));
          }
          // Images in segmentation at once: with D decoder calls running at the same time (SAM's decoder workers),
          // D + 1 images, so the main thread has an image's prompt work to do while the decoders run (measured on 10
          // JSRT images with MobileSAM, 2 workers: 3 images 5% faster than 2 per image-round). Each image's results
          // are written in order, as they would be one at a time.
          const decoders = sam.model.decodeConcurrency ?? 1;
          const inFlight = Math.min(decoders > 1 ? decoders + 1 : 1, chunk.length);
          const segmenting: Promise<ImageOut>[] = [];
          const startSegmenting = (j: number) => {
            const t = chunk[j]!;
            const read = reads[j];
            const target = read
              ? loadedTarget(read, sam.model)
              : knownTarget(knownEmbeddings.get(t.id)!, sam.model, () => timer.time('read', () => t.load()));
            const p = segmentOneImage(t.id, round, target, warped[j]!, classes, protos, sam.model, r, timer, counters);
            p.catch(() => {}); // awaited below in order; a failure is reported there, not as an unhandled rejection
            segmenting.push(p);
          };
          for (let j = 0; j < chunk.length; j++) {
            abortCheck();
            while (segmenting.length < Math.min(chunk.length, j + inFlight)) startSegmenting(segmenting.length);
            const t = chunk[j]!;
            const read = reads[j]; // every image is read in the final round
            const out = await segmenting[j]!;
            knownEmbeddings.set(t.id, out.embedding);
            if (isFinal) {
              await timer.time('outputs', async () => {
                await sink.writeMask(t.id, out.label);
                if (writeOverlays) await sink.writeOverlay(t.id, read!.image, out.label, { ...overlayMarks(out.record.classes), ...overlayOpts });
              });
            }
            if (input.saveRounds) await timer.time('outputs', () => sink.writeRoundMask(round, t.id, out.label));
            await timer.time('state-io', () => store.writeRoundResult(out.record, out.label, warped[j]!));
            if (isFinal && review) await reviewSam(t, read!, out.label, warped[j]!, out.record, (promptFlows as Float32Array[] | null)?.[j]);
            if (isFinal && input.onImage) {
              await input.onImage({ id: t.id, label: out.label, image: read!, prompts: out.record.classes.map((c) => ({ cls: c.cls, points: c.points, box: c.box })) });
            }
            counters.imagesProcessed++;
            done++;
            progress({ stage: 'sam', done, total: tests.length, message: `round ${round}/${r.retrainRounds} ${t.id}` });
          }
        }
        // Every image of the run is encoded and cached now: later rounds only decode.
        await sam.model.releaseEncoder?.();
      }

      // ---- the review of final images segmented by an earlier session (the same final warp model, from the
      // checkpoint; their mask prompts are in the run state; the PerSAM baseline has no warp model, so no
      // registration signals)
      if (review) {
        const final = r.retrainRounds;
        const alpha = flowScaleFor(final, r);
        const left = tests.filter((t) => !review!.has(t.id));
        for (let s = 0; s < left.length; s += r.warpApplyBatch) {
          abortCheck();
          const chunk = left.slice(s, s + r.warpApplyBatch);
          const flows = r.method === 'persam' ? null : await timer.timeAsync('review', () => warp.testFlowsParallel(chunk.map((t) => t.id), r.warpApplyBatch));
          for (let j = 0; j < chunk.length; j++) {
            const t = chunk[j]!;
            const res = await timer.time('state-io', () => store.readRoundResult(final, t.id));
            if (!res) throw new MedpersamUserError('BAD_RUN_STATE', `final result of ${t.id} is missing`, { file: store.location });
            const read = await timer.time('read', () => t.load());
            const flow = flows?.[j]!.flowXyWarp;
            await reviewSam(t, read, res.label, res.warped, res.record, flow ? reviewFlow(flow, alpha) : undefined);
            progress({ stage: 'review', done: s + j + 1, total: left.length, message: t.id });
          }
        }
      }
    }
    // The warp model's work is done: free it and its workers before the evaluation.
    const warpRecord = warpStageRecord(stage, phases, saved);
    roi?.dispose();
    roi = null;
    await stage.close();
    stage = null;

    // ---- final outputs that an earlier session may have missed
    const finalRound = r.retrainRounds;
    const images: CoreImageOutcome[] = [];
    for (const t of tests) {
      const res = await store.readRoundResult(finalRound, t.id);
      if (!res) throw new MedpersamUserError('BAD_RUN_STATE', `final result of ${t.id} is missing`, { file: store.location });
      if (!(await sink.hasMask(t.id))) await timer.time('outputs', () => sink.writeMask(t.id, res.label));
      if (writeOverlays && !(await sink.hasOverlay(t.id))) {
        const read = await timer.time('read', () => t.load());
        await timer.time('outputs', () => sink.writeOverlay(t.id, read.image, res.label, { ...overlayMarks(res.record.classes), ...overlayOpts }));
      }
      images.push({ id: t.id, prompts: res.record.classes.map((c) => ({ cls: c.cls, points: c.points, box: c.box })) });
    }

    // ---- evaluation (with ground truth) and the review (every run)
    let summary: EvaluationSummary | undefined;
    let perRound: RoundMetrics[] | undefined;
    let pointStats: PointStats | undefined;
    if (tests.some((t) => t.groundTruth)) {
      const ev = await timer.timeAsync('eval', () =>
        evaluateRun(tests, images, store, classes, { retrainRounds: r.retrainRounds, promptWorkingSize: r.promptWorkingSize, classNames: input.classes }, progress),
      );
      summary = ev.summary;
      perRound = ev.perRound;
      pointStats = ev.pointStats;
    }
    let quality: QualityRecord | undefined;
    if (review) {
      const scores = new Map(images.filter((i) => i.scores).map((i) => [i.id, i.scores!] as const));
      const totals = timer.totals();
      const done = timer.time('review', () =>
        review!.finish({
          title: r.method === 'persam' ? 'medpersam segment (PerSAM baseline)' : 'medpersam segment (Med-PerSAM)',
          details: [`reference: ${input.reference.image.name}`],
          settings: [
            ['SAM', sam.record.requested ?? sam.record.decoderPath],
            ['method', r.method],
            ['rounds, refinements', `${r.retrainRounds}, ${r.refinements}`],
            ['prompts, points', `${r.promptSet}, ${r.pointStrategy}`],
            ['warping model', `${r.warpSettings.network.arch}, ${r.warpSettings.network.resolution} px, ${describeSchedule(r.warpSettings.schedule)}${describeWarmStart(warpRecord.initialisedFrom)}`],
            // (roiSummary is replaced by the built stage's summary when the stage ran)
            ['region of interest', roiReportLine(roiSummary, roiSummary !== roiPlan.summary)],
            ['backend', backend],
            ['safety net', describeSafetyNet(warpRecord.safetyNet)],
            ...(pointStats ? ([['point accuracy', `+${(pointStats.positive * 100).toFixed(1)}% / -${(pointStats.negative * 100).toFixed(1)}%`]] as [string, string][]) : []),
          ],
          timingsS: Object.entries(totals).map(([k, ms]) => [k, ms / 1000] as const),
          scores,
        }),
      );
      await timer.time('outputs', () =>
        sink.writeReport({ html: done.html, qualityCsv: done.qualityCsv, ...(summary ? { csv: toCsv(summary), json: toJson(summary) } : {}) }),
      );
      quality = done.record;
    }
    const reportWritten = review !== null;

    const statsNow = sam.model.stats();
    const record = buildRunRecord({
      startedAt,
      finishedAt: new Date(),
      settings: fingerprint,
      inputs: { referenceImage: input.reference.image.name, referenceMask: input.reference.mask.name, tests: tests.length, classes },
      sam: sam.record,
      tfBackend: backend,
      resumed,
      timingsMs: timer.totals(),
      counters: {
        decoderCalls: counters.decoderCalls,
        encodeCalls: statsNow.encodeCalls - statsAtStart.encodeCalls,
        encoderRuns: statsNow.encoderRuns - statsAtStart.encoderRuns,
        embeddingCacheHits: statsNow.diskCacheHits - statsAtStart.diskCacheHits + statsNow.memoryCacheHits - statsAtStart.memoryCacheHits,
        encoderRunMs: statsNow.encoderRunMs - statsAtStart.encoderRunMs,
        decoderRunMs: statsNow.decoderRunMs - statsAtStart.decoderRunMs,
        decodeTotalMs: statsNow.decodeTotalMs - statsAtStart.decodeTotalMs,
        imagesProcessed: counters.imagesProcessed,
        imageRoundsReused: counters.imagesReused,
        ...(encodeAheadStats ? { encodeAhead: encodeAheadStats } : {}),
      },
      warp: warpRecord,
      results: summary ? { meanDice: summary.meanDice, meanIoU: summary.meanIoU, perRound, pointStats } : undefined,
      quality,
      roi: roiSummary,
      runtime: await input.environment.runtimeInfo(),
    });
    await sink.writeRunRecord(record);
    return { mode: 'med-persam', classes, images, summary, perRound, pointStats, quality, reportWritten, record, warp: warpRecord };
  } finally {
    roi?.dispose();
    await stage?.close();
    await sam.release?.();
  }
}

/** The reference and the test images, loaded when the background encoder reaches them. */
function encodeAheadItems(reference: LoadedImage, tests: readonly ImageSource[]): EncodeAheadItem[] {
  return [
    { id: 'reference', load: async () => samInputImage(reference) },
    ...tests.map((t) => ({ id: t.id, load: async () => samInputImage(await t.load()) })),
  ];
}
