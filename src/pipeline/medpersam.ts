/**
 * The Med-PerSAM loop (paper §3.1–3.4, App. C.1; design.md "The flow"). Node-only (reads and writes files through
 * src/io and the run state). Orchestration only: the pixel work lives in src/warp, src/sam, src/prompts, src/image.
 *
 *   read reference + tests ─► warp model: initial training (§3.1)
 *   for round r = 0..R (R = retraining rounds, default 5):
 *     for each test image (one at a time; memory stays flat in the number of images):
 *       mask prompt M_c = warped reference mask of class c (Eq. 4; optionally the flow scaled by α, Fig. 6)
 *       SAM embedding (encoder once per image per run: on-disk cache) ─► cosine similarity to the class prototype
 *       pass 0: prompts from M_c (points Eqs. 5–10, box, mask) ─► SAM decode, single-mask output (Eqs. 11–12)
 *       pass j = 1..refinements: smoothed output (opening + hole filling) becomes the next mask prompt, points and
 *               box recomputed, multimask output with the highest IoU score (end of §3.2, App. C.1)
 *       classes combined: per pixel the class with the highest logit, background where all logits ≤ 0 (§3.4)
 *     if r < R: the round's labels become pseudolabels, the warp model is retrained (§3.3)
 *   final label maps (original size) ─► outDir/masks, overlays with the final points and boxes ─► outDir/overlays,
 *   optional per-round masks ─► outDir/rounds/<r>/, run record ─► outDir/run-record.json, HTML report with GT.
 *
 * Resumable: see run-state.ts. Rerunning with the same outDir continues where an interruption stopped.
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
import { basename, join, resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import { MedpersamUserError } from '../errors.js';
import { binaryOfClass } from '../image/labels.js';
import { normalizeIntensity, toGrey } from '../image/normalize.js';
import type { BinaryMask, Box, ClassNames, FloatImage, LabelMap, LabeledPoint } from '../image/types.js';
import { boundingBox } from '../image/components.js';
import { resizeBinaryNearest } from '../image/resize.js';
import { fileStem } from '../io/formats.js';
import { readImage, type ReadImageResult } from '../io/image.js';
import { listImages, MASK_SUFFIXES } from '../io/dataset.js';
import { readLabelMap, writeLabelPng } from '../io/mask.js';
import { renderOverlay, writeOverlayPng } from '../io/overlay.js';
import { readReferencePair } from '../io/reference.js';
import { loadCheckpointFile, saveCheckpointFile } from '../io/checkpoint-store.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { ProgressCallback } from '../progress.js';
import {
  binaryFromLogits,
  classPrototype,
  cosineSimilarityMap,
  featureMapFromEmbedding,
  generatePrompts,
  PERSAM_CASCADE,
  persamPrompts,
  samFrame as promptSamFrame,
  smoothMaskForNextPrompt,
  toSamPrompts,
  type ClassPrototype,
  type GeneratePromptsOptions,
  type PointStrategy,
  type PromptSet,
  type SmoothMaskOptions,
} from '../prompts/index.js';
import { promptSetParts } from '../prompts/prompt-set.js';
import { countOn } from '../prompts/candidates.js';
import type { SamDecodeOptions, SamDecodeResult, SamEmbedding, SamLoadOptions, SamModelInfo, SamModelStats, SamPrompts } from '../sam/types.js';
import { normalizedToSam255 } from '../sam/preprocess.js';
import { initTf, type TfBackendChoice } from '../warp/backend.js';
import { WarpModel, type LabelWarpMode, type PreprocessingReport } from '../warp/model.js';
import { resolveWarpSettings, type WarpPresetName, type WarpSettings, type WarpSettingsOverrides } from '../warp/presets.js';
import { diceIoUPerClass, meanScores, type ClassScore } from '../eval/metrics.js';
import { pointAccuracy, hopkinsStatistic } from '../eval/points.js';
import { buildSummary, renderHtmlReport, toCsv, toJson, type EvaluationSummary } from '../eval/report.js';
import { combineClassLogits, type ClassLogits } from './multiclass.js';
import { scaleFlow } from './perturb.js';
import { RunState, RUN_STATE_DIR, type ClassRoundRecord, type ImageRoundRecord } from './run-state.js';
import { buildRunRecord, StageTimer, type RunRecord, type SamModelRecord } from './run-record.js';

// ---------------------------------------------------------------------------------------------------- options

/** The part of a loaded SAM model the loop uses (src/sam SamModel satisfies it; tests may wrap it). */
export interface SamModelLike {
  readonly info: SamModelInfo;
  encode(image: FloatImage): Promise<SamEmbedding>;
  decode(embedding: SamEmbedding, prompts: SamPrompts, opts?: SamDecodeOptions): Promise<SamDecodeResult>;
  stats(): SamModelStats;
}

export interface TestImageInput {
  /** Output file stem (unique). */
  id: string;
  imagePath: string;
  /** Ground-truth mask (optional: scores, point accuracy and the HTML report). */
  gtMaskPath?: string;
}

export interface WarpStageOptions {
  /** Preset (default 'cpu'; 'paper' = App. B.4's schedule) and overrides (network, loss, schedule). */
  preset?: WarpPresetName;
  overrides?: WarpSettingsOverrides;
  /** tfjs backend (default 'auto': tfjs-node when installed, else wasm). */
  backend?: TfBackendChoice;
  /** How the reference label is warped (default 'nearest'). */
  labelMode?: LabelWarpMode;
}

export interface MedPerSamOptions {
  referenceImage: string;
  referenceMask: string;
  /** A folder of images (all images in it, sorted; the reference file itself is skipped) or an explicit list. */
  images: string | readonly TestImageInput[];
  /** Folder of ground-truth masks matched by file stem (`_mask`-like suffixes tolerated); for folder input. */
  gtMasks?: string;
  /** Class names (validate the masks, name the report's columns). */
  classes?: ClassNames;
  outDir: string;
  /** SAM: a model id or folder (resolved with src/sam `resolveSamModel`) or a loaded model. */
  sam: string | SamModelLike;
  /**
   * Options for loading SAM from an id/folder (threads, execution provider, embedding cache folder: default the
   * shared `<MEDPERSAM_HOME>/embeddings`; `false` = a cache inside the run folder, still one encoder run per image).
   */
  samLoad?: Omit<SamLoadOptions, 'targetEmbedding'>;
  /** PerSAM target-semantic prompting (App. C.1) when the decoder can be patched (default true). */
  targetEmbedding?: boolean;
  warp?: WarpStageOptions;
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
  /** Write outDir/rounds/<r>/<id>.png for every round (default false). */
  saveRounds?: boolean;
  /** Write overlays (default true). */
  overlays?: boolean;
  /** HTML report when ground truth is given (default true). */
  report?: boolean;
  /** Images warped per tfjs call (default 8; the tests check the result equals WarpModel.warpLabel image by image). */
  warpApplyBatch?: number;
  /** Extra data written into the fingerprint (e.g. the bench's perturbation settings). */
  fingerprintExtra?: Record<string, unknown>;
  /** Stop at the next image / batch; the run resumes when started again. */
  signal?: AbortSignal;
}

// ---------------------------------------------------------------------------------------------------- results

export interface ClassPromptsOut {
  cls: number;
  points: LabeledPoint[];
  box: Box | null;
}

export interface ImageOutcome {
  id: string;
  maskPath: string;
  overlayPath?: string;
  /** Final-round prompts per class (original frame). */
  prompts: ClassPromptsOut[];
  /** Scores of the final masks (when ground truth was given). */
  scores?: ClassScore[];
}

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
  /** Mean Hopkins statistic of positive and of negative points (Table 4); see medpersam.ts pointStatistics. */
  hopkinsPositive: number;
  hopkinsNegative: number;
}

export interface MedPerSamResult {
  outDir: string;
  masksDir: string;
  overlaysDir?: string;
  reportPath?: string;
  recordPath: string;
  classes: number[];
  images: ImageOutcome[];
  summary?: EvaluationSummary;
  perRound?: RoundMetrics[];
  pointStats?: PointStats;
  record: RunRecord;
}

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

/** What SAM's encoder gets: 8-bit images as they are (0..255), deeper ones normalised then mapped to 0..255. */
export function samInputImage(read: ReadImageResult): FloatImage {
  if (read.bitDepth <= 8 && (read.format === 'png' || read.format === 'jpeg' || read.format === 'bmp' || read.format === 'tiff')) {
    return read.image;
  }
  const grey = read.image.channels === 1 ? read.image : toGrey(read.image);
  return normalizedToSam255(normalizeIntensity(grey));
}

function checkCount(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new MedpersamUserError('INVALID_OPTION', `${name} must be an integer >= ${min}, got ${v}`);
}

async function fileExists(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

function stripMaskSuffix(stem: string): string {
  const lower = stem.toLowerCase();
  for (const s of MASK_SUFFIXES) if (lower.endsWith(s) && stem.length > s.length) return stem.slice(0, stem.length - s.length);
  return stem;
}

/** Test list from the options (folder → sorted files, reference file skipped, GT matched by stem). */
export async function resolveTestInputs(opts: Pick<MedPerSamOptions, 'images' | 'gtMasks' | 'referenceImage'>): Promise<TestImageInput[]> {
  let tests: TestImageInput[];
  if (typeof opts.images === 'string') {
    const refAbs = resolve(opts.referenceImage);
    const files = (await listImages(opts.images)).filter((f) => resolve(f) !== refAbs);
    tests = files.map((f) => ({ id: fileStem(basename(f)), imagePath: f }));
    if (opts.gtMasks) {
      const gt = new Map<string, string>();
      for (const f of await listImages(opts.gtMasks)) {
        const stem = fileStem(basename(f));
        if (!gt.has(stem)) gt.set(stem, f);
        const stripped = stripMaskSuffix(stem);
        if (!gt.has(stripped)) gt.set(stripped, f);
      }
      for (const t of tests) t.gtMaskPath = gt.get(t.id);
    }
  } else {
    tests = opts.images.map((t) => ({ ...t }));
  }
  if (tests.length === 0) throw new MedpersamUserError('NO_TEST_IMAGES', 'no images to segment', { file: typeof opts.images === 'string' ? opts.images : undefined });
  const seen = new Set<string>();
  for (const t of tests) {
    if (seen.has(t.id)) throw new MedpersamUserError('DUPLICATE_IMAGE_ID', `two images share the id "${t.id}"; output files would collide`, { file: t.imagePath });
    seen.add(t.id);
  }
  return tests;
}

/** Which round's mask prompts get the Fig. 6 flow scaling. */
function flowScaleFor(round: number, opts: { flowScale: number; flowScaleRounds: 'initial' | 'all' }): number {
  if (opts.flowScale === 1) return 1;
  return opts.flowScaleRounds === 'all' || round === 0 ? opts.flowScale : 1;
}

function argMax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

const phaseName = (round: number) => (round === 0 ? 'initial' : `retrain-${round}`);
const phaseRank = (phase: string) => (phase === 'initial' ? 0 : Number(phase.replace('retrain-', '')));

// ---------------------------------------------------------------------------------------------------- the loop

interface Resolved {
  retrainRounds: number;
  refinements: number;
  promptSet: PromptSet;
  pointStrategy: PointStrategy;
  promptOptions: GeneratePromptsOptions;
  smoothing: SmoothMaskOptions;
  flowScale: number;
  flowScaleRounds: 'initial' | 'all';
  labelMode: LabelWarpMode;
  warpSettings: WarpSettings;
  useTargetEmbedding: boolean;
  warpApplyBatch: number;
  promptWorkingSize: number;
  method: 'med-persam' | 'persam';
}

function resolveOptions(opts: MedPerSamOptions): Resolved {
  const method = opts.method ?? 'med-persam';
  if (method !== 'med-persam' && method !== 'persam') throw new MedpersamUserError('INVALID_OPTION', `unknown method "${String(method)}" (med-persam, persam)`);
  const retrainRounds = method === 'persam' ? 0 : (opts.retrainRounds ?? DEFAULTS.retrainRounds);
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
  let warpSettings: WarpSettings;
  try {
    warpSettings = resolveWarpSettings(opts.warp?.preset ?? DEFAULTS.warpPreset, opts.warp?.overrides ?? {});
  } catch (err) {
    throw new MedpersamUserError('INVALID_OPTION', (err as Error).message, { cause: err });
  }
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

async function openSam(opts: MedPerSamOptions, useTargetEmbedding: boolean): Promise<{ model: SamModelLike; record: SamModelRecord; release?: () => Promise<void> }> {
  if (typeof opts.sam !== 'string') {
    return { model: opts.sam, record: await samModelRecord(opts.sam.info, undefined) };
  }
  if (opts.sam === 'none') {
    throw new MedpersamUserError('INVALID_OPTION', 'runMedPerSam needs a SAM model; "none" is the warp-only mode (src/pipeline/warp-segment.ts)');
  }
  const { resolveSamModel } = await import('../sam/manage.js');
  const { loadSamModel } = await import('../sam/model.js');
  const dir = await resolveSamModel(opts.sam);
  // The encoder must run once per image per run whatever the rounds: without the shared disk cache
  // (cacheDir: false) the embeddings are cached in the run folder instead of being recomputed every round.
  const cacheDir = opts.samLoad?.cacheDir === false ? join(opts.outDir, RUN_STATE_DIR, 'embeddings') : opts.samLoad?.cacheDir;
  const model = await loadSamModel(dir, { ...(opts.samLoad ?? {}), cacheDir, targetEmbedding: useTargetEmbedding });
  return { model, record: await samModelRecord(model.info, opts.sam), release: () => model.release() };
}

async function samModelRecord(info: SamModelInfo, requested: string | undefined): Promise<SamModelRecord> {
  const { sha256File } = await import('../sam/download.js');
  return {
    requested,
    encoderPath: info.encoderPath,
    decoderPath: info.decoderPath,
    encoderSha256: info.encoderId,
    decoderSha256: await sha256File(info.decoderPath),
    encoderVariant: info.encoderVariant,
    decoderOutputs: info.decoderOutputs,
    targetEmbedding: info.targetEmbedding,
    executionProvider: info.executionProvider,
    warnings: [...info.warnings],
  };
}

/** Run Med-PerSAM over a set of images (see the module comment). */
export async function runMedPerSam(opts: MedPerSamOptions, onProgress?: ProgressCallback): Promise<MedPerSamResult> {
  const progress: ProgressCallback = onProgress ?? (() => {});
  const startedAt = new Date();
  const timer = new StageTimer();
  const r = resolveOptions(opts);
  const outDir = opts.outDir;
  const masksDir = join(outDir, 'masks');
  const overlaysDir = join(outDir, 'overlays');
  const writeOverlays = opts.overlays ?? true;
  const abortCheck = () => {
    if (opts.signal?.aborted) throw new MedpersamUserError('ABORTED', 'run interrupted; start it again with the same output folder to resume', { file: outDir });
  };

  // ---- inputs
  const tests = await timer.time('read', () => resolveTestInputs(opts));
  const reference = await timer.time('read', () => readReferencePair(opts.referenceImage, opts.referenceMask, opts.classes));
  const classes = reference.classesPresent;

  // ---- SAM (loaded before the run state: its file checksums are part of the fingerprint)
  const sam = await timer.time('sam-load', () => openSam(opts, r.useTargetEmbedding));
  const statsAtStart = sam.model.stats();
  const counters = { decoderCalls: 0, imagesProcessed: 0, imagesReused: 0 };

  try {
    // ---- run state
    const refImageSha = await sha256Of(opts.referenceImage);
    const refMaskSha = await sha256Of(opts.referenceMask);
    const fingerprint = {
      reference: { image: refImageSha, mask: refMaskSha },
      tests: tests.map((t) => t.id),
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
      extra: opts.fingerprintExtra ?? null,
    };
    const state = await RunState.open(outDir, fingerprint, { outputFolders: ['masks', 'overlays'] });

    // ---- warp model: reference + every test image (kept as R×R working copies only)
    const backend = await timer.time('warp-init', () => initTf({ backend: opts.warp?.backend ?? 'auto' }));
    const warp = new WarpModel(r.warpSettings, { image: reference.image.image, label: reference.label });
    let warpPreprocessing: PreprocessingReport | undefined;
    try {
      for (let i = 0; i < tests.length; i++) {
        const t = tests[i]!;
        const read = await timer.time('read', () => readImage(t.imagePath));
        timer.time('warp-prepare', () => warp.addTest(t.id, read.image));
        progress({ stage: 'read', done: i + 1, total: tests.length, message: t.id });
      }
      warpPreprocessing = warp.preprocessingReport();
      const ckpt = await loadCheckpointFile(state.checkpointPath);
      if (ckpt) {
        try {
          warp.loadCheckpoint(ckpt);
        } catch (err) {
          throw new MedpersamUserError('BAD_RUN_STATE', `warp checkpoint does not fit this run (${(err as Error).message})`, { file: state.checkpointPath, cause: err });
        }
      }

      // ---- prototypes (reference encoded once per run; cached on disk)
      let prototypes: Map<number, ClassPrototype> | null = null;
      const getPrototypes = async () => {
        if (prototypes) return prototypes;
        const emb = await timer.time('sam-encode', () => sam.model.encode(samInputImage(reference.image)));
        prototypes = timer.time('prompts', () => {
          const features = featureMapFromEmbedding(emb);
          const frame = promptSamFrame(emb.originalWidth, emb.originalHeight, { gridSize: emb.dims[3] });
          const m = new Map<number, ClassPrototype>();
          for (const c of classes) m.set(c, classPrototype(features, frame, binaryOfClass(reference.label, c)));
          return m;
        });
        return prototypes;
      };

      const saveCkpt = async (c: Parameters<typeof saveCheckpointFile>[1]) => {
        await timer.time('checkpoint', () => saveCheckpointFile(state.checkpointPath, c));
      };

      for (let round = 0; round <= r.retrainRounds; round++) {
        abortCheck();
        const phase = phaseName(round);
        const epochs = round === 0 ? r.warpSettings.schedule.initialEpochs : r.warpSettings.schedule.retrainEpochs;
        // Is every image of this round already done?
        const pending: TestImageInput[] = [];
        for (const t of tests) if (!(await state.hasRoundResult(round, t.id))) pending.push(t);
        const modelPhase = warp.progress.phase;
        if (pending.length > 0 && phaseRank(modelPhase) > round) {
          throw new MedpersamUserError(
            'BAD_RUN_STATE',
            `round ${round} lacks results for ${pending.length} image(s) but the warp checkpoint is already at phase ${modelPhase}; use a new output folder`,
            { file: state.dir },
          );
        }
        // ---- (re)train to this round's phase
        const needsTraining =
          r.method === 'med-persam' && (phaseRank(modelPhase) < round || (modelPhase === phase && warp.progress.epochInPhase < epochs));
        if (needsTraining) {
          if (round > 0) {
            // Pseudolabels = the previous round's labels (§3.3).
            await timer.time('state-io', async () => {
              for (const t of tests) {
                const prev = await state.readRoundResult(round - 1, t.id);
                if (!prev) throw new MedpersamUserError('BAD_RUN_STATE', `round ${round - 1} result of ${t.id} is missing`, { file: state.dir });
                warp.setPseudolabel(t.id, prev.label);
              }
            });
          }
          try {
            await timer.timeAsync('warp-train', () =>
              warp.train(phase, epochs, {
                onProgress: (e) => progress({ ...e, stage: 'warp-train', message: `round ${round}: ${e.message ?? ''}` }),
                onEpochEnd: saveCkpt,
                signal: opts.signal,
              }),
            );
          } catch (err) {
            abortCheck(); // an abort inside training surfaces as ABORTED (the last epoch checkpoint is kept)
            throw err;
          }
          warp.clearPseudolabels();
        }
        if (pending.length === 0) {
          counters.imagesReused += tests.length;
          continue;
        }
        counters.imagesReused += tests.length - pending.length;
        const protos = await getPrototypes();
        const isFinal = round === r.retrainRounds;
        const alpha = flowScaleFor(round, r);
        let done = tests.length - pending.length;
        for (let s = 0; s < pending.length; s += r.warpApplyBatch) {
          abortCheck();
          const chunk = pending.slice(s, s + r.warpApplyBatch);
          const reads: ReadImageResult[] = [];
          for (const t of chunk) reads.push(await timer.time('read', () => readImage(t.imagePath)));
          // Eq. 4 (+ Fig. 6 flow scaling): mask prompts for the chunk.
          const warped = timer.time('warp-apply', () => {
            if (r.method === 'persam') return reads.map((rd) => ({ width: rd.image.width, height: rd.image.height, data: new Uint8Array(rd.image.width * rd.image.height) }));
            if (alpha === 1) {
              // The model's own working copies (no second normalisation of the image).
              const labels: LabelMap[] = [];
              warp.warpTests(chunk.map((t) => t.id), (_id, label) => labels.push(label), r.labelMode, r.warpApplyBatch);
              return labels;
            }
            const flows = warp.testFlows(chunk.map((t) => t.id), r.warpApplyBatch);
            return flows.map((f) => warp.labelForTest(f.id, scaleFlow(f.flowXyWarp, alpha), r.labelMode));
          });
          for (let j = 0; j < chunk.length; j++) {
            abortCheck();
            const t = chunk[j]!;
            const read = reads[j]!;
            const out = await segmentOneImage(t.id, round, read, warped[j]!, classes, protos, sam.model, r, timer, counters);
            if (isFinal) {
              await timer.time('outputs', async () => {
                await writeLabelPng(join(masksDir, `${t.id}.png`), out.label);
                if (writeOverlays) await writeOverlayPng(join(overlaysDir, `${t.id}.png`), read.image, out.label, overlayMarks(out.record.classes));
              });
            }
            if (opts.saveRounds) await timer.time('outputs', () => writeLabelPng(join(outDir, 'rounds', String(round), `${t.id}.png`), out.label));
            await timer.time('state-io', () => state.writeRoundResult(out.record, out.label, warped[j]!));
            counters.imagesProcessed++;
            done++;
            progress({ stage: 'sam', done, total: tests.length, message: `round ${round}/${r.retrainRounds} ${t.id}` });
          }
        }
      }
    } finally {
      warp.dispose();
    }

    // ---- final outputs that an earlier session may have missed, then evaluation
    const finalRound = r.retrainRounds;
    const images: ImageOutcome[] = [];
    for (const t of tests) {
      const res = await state.readRoundResult(finalRound, t.id);
      if (!res) throw new MedpersamUserError('BAD_RUN_STATE', `final result of ${t.id} is missing`, { file: state.dir });
      const maskPath = join(masksDir, `${t.id}.png`);
      const overlayPath = writeOverlays ? join(overlaysDir, `${t.id}.png`) : undefined;
      if (!(await fileExists(maskPath))) await timer.time('outputs', () => writeLabelPng(maskPath, res.label));
      if (overlayPath && !(await fileExists(overlayPath))) {
        const read = await timer.time('read', () => readImage(t.imagePath));
        await timer.time('outputs', () => writeOverlayPng(overlayPath, read.image, res.label, overlayMarks(res.record.classes)));
      }
      images.push({ id: t.id, maskPath, overlayPath, prompts: res.record.classes.map((c) => ({ cls: c.cls, points: c.points, box: c.box })) });
    }

    let summary: EvaluationSummary | undefined;
    let perRound: RoundMetrics[] | undefined;
    let pointStats: PointStats | undefined;
    let reportPath: string | undefined;
    const withGt = tests.filter((t) => t.gtMaskPath);
    if (withGt.length > 0) {
      const ev = await timer.timeAsync('eval', () => evaluateRun(tests, images, state, classes, opts, r, progress, writeOverlays));
      summary = ev.summary;
      perRound = ev.perRound;
      pointStats = ev.pointStats;
      if (opts.report ?? true) {
        reportPath = join(outDir, 'report.html');
        const html = renderHtmlReport(summary, {
          title: 'medpersam segment (Med-PerSAM)',
          thumbnails: ev.thumbnails,
          details: [
            `reference: ${opts.referenceImage}`,
            `SAM: ${sam.record.requested ?? sam.record.decoderPath}`,
            `rounds ${r.retrainRounds}, refinements ${r.refinements}, prompts ${r.promptSet}, points ${r.pointStrategy}`,
            ...(pointStats ? [`point accuracy +${(pointStats.positive * 100).toFixed(1)}% / -${(pointStats.negative * 100).toFixed(1)}%`] : []),
          ],
        });
        await timer.time('outputs', async () => {
          await writeFileAtomic(reportPath!, html);
          await writeFileAtomic(join(outDir, 'scores.csv'), toCsv(summary!));
          await writeFileAtomic(join(outDir, 'scores.json'), toJson(summary!));
        });
      }
    }

    const statsNow = sam.model.stats();
    const record = await buildRunRecord({
      startedAt,
      finishedAt: new Date(),
      // The warp preprocessing's choices (colour, image loss, per-image alignment) beside the settings.
      settings: { ...fingerprint, warpPreprocessing },
      inputs: { referenceImage: opts.referenceImage, referenceMask: opts.referenceMask, tests: tests.length, classes },
      sam: sam.record,
      tfBackend: backend,
      resumed: state.resumed,
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
      },
      results: summary ? { meanDice: summary.meanDice, meanIoU: summary.meanIoU, perRound, pointStats } : undefined,
    });
    const recordPath = join(outDir, 'run-record.json');
    await writeFileAtomic(recordPath, JSON.stringify(record, null, 2));
    return {
      outDir,
      masksDir,
      overlaysDir: writeOverlays ? overlaysDir : undefined,
      reportPath,
      recordPath,
      classes,
      images,
      summary,
      perRound,
      pointStats,
      record,
    };
  } finally {
    await sam.release?.();
  }
}

async function sha256Of(path: string): Promise<string> {
  const { sha256File } = await import('../sam/download.js');
  return sha256File(path);
}

function overlayMarks(classesOut: readonly ClassRoundRecord[]): { points: LabeledPoint[]; box: Box[] } {
  const points: LabeledPoint[] = [];
  const box: Box[] = [];
  for (const c of classesOut) {
    points.push(...c.points);
    if (c.box) box.push(c.box);
  }
  return { points, box };
}

// ---------------------------------------------------------------------------------------------------- one image

interface ImageOut {
  label: LabelMap;
  record: ImageRoundRecord;
}

/**
 * §3.2 + §3.4 for one image in one round: per class, prompts from the warped mask → SAM → refinement passes;
 * then the classes are combined.
 */
async function segmentOneImage(
  id: string,
  round: number,
  read: ReadImageResult,
  warped: LabelMap,
  classes: readonly number[],
  prototypes: Map<number, ClassPrototype>,
  sam: SamModelLike,
  r: Resolved,
  timer: StageTimer,
  counters: { decoderCalls: number },
): Promise<ImageOut> {
  const { width, height } = read.image;
  const t0 = performance.now();
  const before = timer.totals();
  const emb = await timer.time('sam-encode', () => sam.encode(samInputImage(read)));
  const features = featureMapFromEmbedding(emb);
  const frame = promptSamFrame(width, height, { gridSize: emb.dims[3] });
  const work = workingFrame(width, height, r.promptWorkingSize);
  const classLogits: ClassLogits[] = [];
  const records: ClassRoundRecord[] = [];
  for (const cls of classes) {
    const proto = prototypes.get(cls)!;
    const rec: ClassRoundRecord = { cls, points: [], box: null, maskPromptPixels: 0, iouScores: [], decoderCalls: 0, notes: [] };
    records.push(rec);
    if (r.method === 'persam') {
      classLogits.push({ cls, logits: await persamClass(rec, emb, features, frame, proto, sam, r, timer, counters, width, height) });
      continue;
    }
    const maskPrompt = binaryOfClass(warped, cls);
    rec.maskPromptPixels = countOn(maskPrompt);
    if (rec.maskPromptPixels === 0) {
      rec.notes.push('empty mask prompt: class not predicted');
      classLogits.push({ cls, logits: null });
      continue;
    }
    // Points are chosen in the working frame (workW × workH); box and mask come from the original-size mask.
    const similarity = timer.time('prompts-similarity', () => cosineSimilarityMap(features, proto.prototypeUnit, frame, work.width, work.height).map);
    let mask = maskPrompt;
    let logits: Float32Array | null = null;
    for (let pass = 0; pass <= r.refinements; pass++) {
      if (pass > 0) {
        // Smoothing is a morphological operation too: done in the working frame (App. C.1), then brought back to
        // the original size (nearest) for the box and the mask prompt.
        const smoothed = timer.time('prompts-smooth', () => {
          const out = binaryFromLogits(logits!, width, height);
          if (work.width === width && work.height === height) return smoothMaskForNextPrompt(out, r.smoothing);
          const sm = smoothMaskForNextPrompt(resizeBinaryNearest(out, work.width, work.height), r.smoothing);
          return { ...sm, mask: resizeBinaryNearest(sm.mask, width, height) };
        });
        if (smoothed.pixelsAfter === 0) {
          rec.notes.push(`refinement ${pass}: SAM output empty, refinement stopped`);
          break;
        }
        mask = smoothed.mask;
      }
      const prompts = timer.time('prompts-points', () => promptsFor(mask, similarity, work, r));
      if (!prompts) {
        rec.notes.push(`pass ${pass}: no prompt of set ${r.promptSet} could be made`);
        break;
      }
      if (r.useTargetEmbedding && sam.info.targetEmbedding) prompts.targetEmbedding = proto.prototype;
      // First pass: single-mask output; later passes: multimask, highest predicted IoU (App. C.1).
      const result = await timer.time('sam-decode', () => sam.decode(emb, prompts, { multimask: pass > 0 }));
      counters.decoderCalls++;
      rec.decoderCalls++;
      const k = argMax(result.iouScores);
      logits = result.logitsOriginal[k]!;
      rec.iouScores.push(result.iouScores[k]!);
      rec.points = prompts.pointsOriginal ?? [];
      rec.box = prompts.boxOriginal ?? null;
    }
    classLogits.push({ cls, logits });
  }
  const label = timer.time('combine', () => combineClassLogits(classLogits, width, height));
  const after = timer.totals();
  const timingsMs: Record<string, number> = {};
  for (const k of Object.keys(after)) {
    const d = after[k]! - (before[k] ?? 0);
    if (d > 0) timingsMs[k] = d;
  }
  timingsMs.total = performance.now() - t0;
  return { label, record: { id, round, width, height, classes: records, timingsMs } };
}

/**
 * PerSAM baseline for one class (src/prompts persam.ts): top-k / bottom-k similarity points, then the cascade
 * PERSAM_CASCADE (each step: points; + previous low-res logits as mask input; + box of the previous mask).
 */
async function persamClass(
  rec: ClassRoundRecord,
  emb: SamEmbedding,
  features: ReturnType<typeof featureMapFromEmbedding>,
  frame: ReturnType<typeof promptSamFrame>,
  proto: ClassPrototype,
  sam: SamModelLike,
  r: Resolved,
  timer: StageTimer,
  counters: { decoderCalls: number },
  width: number,
  height: number,
): Promise<Float32Array | null> {
  const points = timer.time('prompts', () => {
    const sim = cosineSimilarityMap(features, proto.prototypeUnit, frame, width, height).map;
    return persamPrompts(sim, width, height, { topK: r.promptOptions.persamTopK ?? 1 }).points;
  });
  let logits: Float32Array | null = null;
  let lowRes: Float32Array | null = null;
  for (const step of PERSAM_CASCADE) {
    const prompts: SamPrompts = { pointsOriginal: points };
    if (step.maskInputFromPrevious && lowRes) prompts.maskPrompt = { kind: 'logits256', logits: lowRes };
    if (step.boxFromPrevious && logits) {
      const box = boundingBox(binaryFromLogits(logits, width, height));
      if (box) prompts.boxOriginal = box;
    }
    if (step.targetEmbedding && r.useTargetEmbedding && sam.info.targetEmbedding) prompts.targetEmbedding = proto.prototype;
    const result = await timer.time('sam-decode', () => sam.decode(emb, prompts, { multimask: step.multimask }));
    counters.decoderCalls++;
    rec.decoderCalls++;
    const k = argMax(result.iouScores);
    logits = result.logitsOriginal[k]!;
    lowRes = result.lowResLogits[k]!;
    rec.iouScores.push(result.iouScores[k]!);
    rec.points = points;
    rec.box = prompts.boxOriginal ?? null;
  }
  return logits;
}

/** The frame in which points are chosen: longest side `size` (never enlarged; 0 = original). */
export function workingFrame(width: number, height: number, size: number): { width: number; height: number } {
  const longest = Math.max(width, height);
  if (size === 0 || longest <= size) return { width, height };
  const scale = size / longest;
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * SAM prompts of the prompt set from one original-size mask prompt: points from generatePrompts in the working
 * frame (mapped back to pixel centres of the original frame), the tight box and the mask at the original size.
 * Null when the set yields nothing (e.g. 'P' on a mask with no candidate pixel).
 */
export function promptsFor(
  maskOriginal: BinaryMask,
  similarityWork: Float32Array,
  work: { width: number; height: number },
  r: Pick<Resolved, 'promptSet' | 'promptOptions'>,
): SamPrompts | null {
  const { width, height } = maskOriginal;
  const same = work.width === width && work.height === height;
  const maskWork = same ? maskOriginal : resizeBinaryNearest(maskOriginal, work.width, work.height);
  const parts = promptSetParts(r.promptSet);
  const prompts: SamPrompts = {};
  if (parts.points) {
    const generated = generatePrompts(maskWork, similarityWork, r.promptOptions);
    // toSamPrompts with set 'P' maps the points from the working frame to pixel centres of the original frame.
    const mapped = toSamPrompts(generated, 'P', width, height);
    if (mapped.pointsOriginal) prompts.pointsOriginal = mapped.pointsOriginal;
  }
  if (parts.box) {
    const box = boundingBox(maskOriginal);
    if (box) prompts.boxOriginal = box;
  }
  if (parts.mask) prompts.maskPrompt = { kind: 'binary', mask: maskOriginal };
  if (!prompts.pointsOriginal && !prompts.boxOriginal && !prompts.maskPrompt) return null;
  return prompts;
}

// ---------------------------------------------------------------------------------------------------- evaluation

/**
 * Scores of the final masks, per-round Dice of the SAM labels and of the warped mask prompts, point accuracy and
 * Hopkins statistic of the final prompts, and report thumbnails. Reads one image's state at a time.
 *
 * Point statistics (§4.5): per image and class, positives are scored against the GT class mask and negatives
 * against its complement (eval/points pointAccuracy). Hopkins: positives within the GT class region, negatives within
 * its complement (the region the points could be drawn from), 20 trials of m = max(1, round(0.1·n)) samples,
 * seed 1, computed in the prompt working frame (points and regions scaled; the statistic is scale-free);
 * images × classes averaged (NaN values, e.g. < 2 points, are skipped).
 */
async function evaluateRun(
  tests: readonly TestImageInput[],
  images: ImageOutcome[],
  state: RunState,
  classes: number[],
  opts: MedPerSamOptions,
  r: Resolved,
  progress: ProgressCallback,
  thumbnails: boolean,
) {
  const perImage: { id: string; scores: ClassScore[] }[] = [];
  const roundSums = Array.from({ length: r.retrainRounds + 1 }, () => ({ sam: [] as ClassScore[][], warp: [] as ClassScore[][] }));
  const acc = { pos: [] as number[], neg: [] as number[], tot: [] as number[], hPos: [] as number[], hNeg: [] as number[] };
  const thumbs = new Map<string, Uint8Array>();
  let done = 0;
  for (const t of tests) {
    done++;
    if (!t.gtMaskPath) continue;
    const gt = await readLabelMap(t.gtMaskPath, { classes: opts.classes });
    const outcome = images.find((i) => i.id === t.id)!;
    for (let round = 0; round <= r.retrainRounds; round++) {
      const res = await state.readRoundResult(round, t.id);
      if (!res) continue;
      if (gt.width !== res.label.width || gt.height !== res.label.height) {
        throw new MedpersamUserError('SIZE_MISMATCH', `ground truth is ${gt.width}x${gt.height}, the image ${res.label.width}x${res.label.height}`, { file: t.gtMaskPath });
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
        if (thumbnails && opts.report !== false) {
          const read = await readImage(t.imagePath);
          thumbs.set(t.id, await renderOverlay(read.image, res.label, { ...overlayMarks(res.record.classes), maxSize: 192 }));
        }
      }
    }
    progress({ stage: 'eval', done, total: tests.length, message: t.id });
  }
  const mean = (v: number[]) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN);
  const summary = buildSummary(perImage, { classes, classNames: opts.classes });
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
  return { summary, perRound, pointStats, thumbnails: thumbs };
}

function summaryMeans(perImage: ClassScore[][], classes: number[]): { dice: number; iou: number } {
  if (perImage.length === 0) return { dice: Number.NaN, iou: Number.NaN };
  const s = buildSummary(perImage.map((scores, i) => ({ id: String(i), scores })), { classes });
  return { dice: s.meanDice, iou: s.meanIoU };
}

// Re-exported for callers that want the per-class mean helper alongside the loop.
export { meanScores };
