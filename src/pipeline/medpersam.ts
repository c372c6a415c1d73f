/**
 * `runMedPerSam`: the Med-PerSAM loop over files (Node adapter of core.ts, where the method lives; see its comment).
 *
 * This file only binds the core to the file system and Node's runtimes:
 *   - inputs: a folder (sorted, the reference file skipped, ground truth matched by stem) or an explicit list →
 *     file image sources (sources-node.ts: sharp, sha256 content ids);
 *   - SAM: a model id / folder → src/sam `resolveSamModel` + `loadSamModel` (onnxruntime-node, on-disk embedding
 *     cache), decoder file sha256 for the fingerprint; or a loaded `SamModelLike`;
 *   - state: `FileRunStore` (<outDir>/.medpersam-run/), outputs: `FileOutputSink` (masks/, overlays/, report.html,
 *     scores, run-record.json), tfjs backend: src/warp `initTf` (tfjs-node when installed, else wasm).
 * Resumable: see run-state.ts. Rerunning with the same outDir continues where an interruption stopped.
 */
import { basename, join, resolve } from 'node:path';
import { MedpersamUserError } from '../errors.js';
import { fileStem } from '../io/formats.js';
import { sharpWebpGreyEncoder } from '../io/report-pictures-node.js';
import { listImages, masksByStem } from '../io/dataset.js';
import type { ProgressCallback } from '../progress.js';
import type { EvaluationSummary } from '../eval/report.js';
import type { ClassScore } from '../eval/metrics.js';
import type { SamLoadOptions, SamModelInfo } from '../sam/types.js';
import { initTf, type TfBackendChoice } from '../warp/backend.js';
import { runCore, type ClassPromptsOut, type CoreRunInput, type CoreSamResult, type LoadedSam, type LoopOptions, type WarpStageSettings } from './core.js';
import type { PointStats, RoundMetrics } from './evaluate-run.js';
import type { QualityRecord } from './review.js';
import { FileOutputSink } from './output-sink-node.js';
import { StageTimer, type RunRecord, type SamModelRecord } from './run-record.js';
import { nodeRuntimeInfo } from './run-record-node.js';
import { FileRunStore, RUN_STATE_DIR } from './run-state.js';
import type { SamModelLike } from './segment-image.js';
import { fileImageSource, fileMaskSource } from './sources-node.js';
import { sha256Hex, type ImageSource } from './sources.js';
import { initialModelFromPath, nodeWarpThreads, savedModelFromFile } from './warp-stage-node.js';
import type { WarpStageRecord } from './warp-stage.js';

export { DEFAULTS, type ClassPromptsOut } from './core.js';
export { promptsFor, samInputImage, workingFrame, type SamModelLike } from './segment-image.js';
export type { PointStats, RoundMetrics } from './evaluate-run.js';

// ---------------------------------------------------------------------------------------------------- options

export interface TestImageInput {
  /** Output file stem (unique). */
  id: string;
  imagePath: string;
  /** Ground-truth mask (optional: scores, point accuracy and the HTML report). */
  gtMaskPath?: string;
}

export interface WarpStageOptions extends WarpStageSettings {
  /** tfjs backend (default 'auto': tfjs-node when installed, else wasm). */
  backend?: TfBackendChoice;
}

export interface MedPerSamOptions extends Omit<LoopOptions, 'warp' | 'overlayMaxSize' | 'warpModel' | 'initialWarpModel'> {
  /** A saved warp model file (warp-model.mpwarp of an earlier run): no warp training, no retraining rounds. */
  warpModelPath?: string;
  /** Warm start: train from this warp model file or bundle folder's model instead of random weights. */
  initModelPath?: string;
  referenceImage: string;
  referenceMask: string;
  /** A folder of images (all images in it, sorted; the reference file itself is skipped) or an explicit list. */
  images: string | readonly TestImageInput[];
  /** Folder of ground-truth masks matched by file stem (`_mask`-like suffixes tolerated); for folder input. */
  gtMasks?: string;
  outDir: string;
  /** SAM: a model id or folder (resolved with src/sam `resolveSamModel`) or a loaded model. */
  sam: string | SamModelLike;
  /**
   * Options for loading SAM from an id/folder (threads, execution provider, embedding cache folder: default the
   * shared `<MEDPERSAM_HOME>/embeddings`; `false` = a cache inside the run folder, still one encoder run per image).
   */
  samLoad?: Omit<SamLoadOptions, 'targetEmbedding'>;
  warp?: WarpStageOptions;
  /** Called with the warp model after each round's training (core.ts `onWarpModel`; a run bundle keeps them all). */
  onWarpModel?: CoreRunInput['onWarpModel'];
}

// ---------------------------------------------------------------------------------------------------- results

export interface ImageOutcome {
  id: string;
  maskPath: string;
  overlayPath?: string;
  /** Final-round prompts per class (original frame). */
  prompts: ClassPromptsOut[];
  /** Scores of the final masks (when ground truth was given). */
  scores?: ClassScore[];
}

export interface MedPerSamResult {
  outDir: string;
  masksDir: string;
  overlaysDir?: string;
  /** OUT/report.html and OUT/quality.csv (the review; absent with `report: false`). */
  reportPath?: string;
  qualityCsvPath?: string;
  recordPath: string;
  classes: number[];
  images: ImageOutcome[];
  summary?: EvaluationSummary;
  perRound?: RoundMetrics[];
  pointStats?: PointStats;
  /** The quality review summary (also in the run record). */
  quality?: QualityRecord;
  record: RunRecord;
  /** The final warp model, kept for reuse (absent when a saved model was applied, or for the PerSAM baseline). */
  warpModelPath?: string;
  /** Threads, phases trained (budget, steps), the saved model used, unreadable images skipped. */
  warp: WarpStageRecord;
}

// ---------------------------------------------------------------------------------------------------- inputs

/** Test list from the options (folder → sorted files, reference file skipped, GT matched by stem). */
export async function resolveTestInputs(opts: Pick<MedPerSamOptions, 'images' | 'gtMasks' | 'referenceImage'>): Promise<TestImageInput[]> {
  let tests: TestImageInput[];
  if (typeof opts.images === 'string') {
    const refAbs = resolve(opts.referenceImage);
    const files = (await listImages(opts.images)).filter((f) => resolve(f) !== refAbs);
    tests = files.map((f) => ({ id: fileStem(basename(f)), imagePath: f }));
    if (opts.gtMasks) {
      const gt = await masksByStem(opts.gtMasks);
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

/** File sources of the test list. */
export function testSources(tests: readonly TestImageInput[]): ImageSource[] {
  return tests.map((t) => fileImageSource(t.id, t.imagePath, t.gtMaskPath ? { groundTruth: fileMaskSource(t.gtMaskPath) } : {}));
}

// ---------------------------------------------------------------------------------------------------- SAM

async function sha256File(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return sha256Hex(new Uint8Array(await readFile(path)));
}

/** The run record's description of a SAM model (file paths and sha256: encoder from its id, decoder hashed here). */
export async function samModelRecord(info: SamModelInfo, requested: string | undefined): Promise<SamModelRecord> {
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

/** SAM for the loop: a loaded model as is, or an id / folder loaded with onnxruntime-node. */
async function openSam(opts: MedPerSamOptions, useTargetEmbedding: boolean): Promise<LoadedSam> {
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

// ---------------------------------------------------------------------------------------------------- the run

/** Run Med-PerSAM over a set of image files (see core.ts for the loop). */
export async function runMedPerSam(opts: MedPerSamOptions, onProgress?: ProgressCallback): Promise<MedPerSamResult> {
  const timer = new StageTimer();
  const outDir = opts.outDir;
  const tests = await timer.time('read', () => resolveTestInputs(opts));
  const sink = new FileOutputSink(outDir);
  const { backend: tfBackend, ...warp } = opts.warp ?? {};
  const { images: _i, gtMasks: _g, outDir: _o, sam: _s, samLoad: _l, warpModelPath, initModelPath, referenceImage, referenceMask, ...loop } = opts;
  const warpModel = warpModelPath !== undefined ? await savedModelFromFile(warpModelPath) : undefined;
  const initialWarpModel = initModelPath !== undefined ? await initialModelFromPath(initModelPath) : undefined;
  const result = (await runCore(
    {
      ...loop,
      ...(warpModel ? { warpModel } : {}),
      ...(initialWarpModel ? { initialWarpModel } : {}),
      warp,
      reference: { image: fileImageSource('reference', referenceImage), mask: fileMaskSource(referenceMask) },
      tests: testSources(tests),
      sam: () => openSam(opts, opts.targetEmbedding ?? true),
      store: new FileRunStore(outDir, { outputFolders: ['masks', 'overlays'] }),
      sink,
      timer,
      environment: {
        initWarpBackend: () => initTf({ backend: tfBackend ?? 'auto' }),
        runtimeInfo: nodeRuntimeInfo,
        encodeGreyPicture: sharpWebpGreyEncoder,
        ...nodeWarpThreads,
      },
    },
    onProgress,
  )) as CoreSamResult;
  const writeOverlays = opts.overlays ?? true;
  return {
    outDir,
    masksDir: sink.masksDir,
    overlaysDir: writeOverlays ? sink.overlaysDir : undefined,
    reportPath: result.reportWritten ? sink.reportPath : undefined,
    qualityCsvPath: result.reportWritten ? sink.qualityCsvPath : undefined,
    recordPath: sink.recordPath,
    classes: result.classes,
    images: result.images.map((i) => ({
      id: i.id,
      maskPath: sink.maskPath(i.id),
      overlayPath: writeOverlays ? sink.overlayPath(i.id) : undefined,
      prompts: i.prompts,
      ...(i.scores ? { scores: i.scores } : {}),
    })),
    summary: result.summary,
    perRound: result.perRound,
    pointStats: result.pointStats,
    quality: result.quality,
    record: result.record,
    ...(warpModel || (opts.method ?? 'med-persam') === 'persam' ? {} : { warpModelPath: sink.warpModelPath }),
    warp: result.warp,
  };
}

