/**
 * `medpersam segment --sam none`: warp-only segmentation over files (Node adapter of core.ts's warp-only mode). The warping model is trained on the reference → every
 * image of a folder (test-time training, paper §3.1), then the reference label is warped onto each image at its
 * original size (Eq. 4) — the mask prompts themselves are the answer.
 *
 * Output folder:
 *   OUT/masks/<stem>.png      label map, original size (0 = background, class values of the reference mask)
 *   OUT/overlays/<stem>.png   the image with the label drawn over it
 *   OUT/report.html           the review: one card per image, worst quality first (pipeline/review.ts)
 *   OUT/quality.csv           the quality score and flag per image and class
 *   OUT/scores.csv, .json     with --gt: Dice / IoU per image and class
 *   OUT/run.json              settings, versions, backend, per-stage timings, quality summary (atomic; status 'running' | 'complete')
 *   OUT/warp-model.mpwarp     the trained warp model: `warpModelPath` (segment --warp-model) applies it to new images
 *   OUT/.state/warp.ckpt      training checkpoint (weights + AdamW + step + batch sampler + RNG; every 25 steps)
 *
 * Resumable: rerun with the same settings and the run continues from the checkpoint and skips masks already
 * written. The run's identity (run.json `runKey`) holds the settings, the label-warp mode, the reference image and
 * mask by content (sha256) and the image ids. Different settings in an existing medpersam folder → SETTINGS_MISMATCH; an existing non-empty folder
 * that is not a medpersam output → OUTPUT_NOT_MEDPERSAM (nothing is overwritten).
 */
import { basename, join, resolve } from 'node:path';
import { readClassNames } from '../io/mask.js';
import { listImages, masksByStem } from '../io/dataset.js';
import { fileStem } from '../io/formats.js';
import { initTf, type TfBackendChoice } from '../warp/backend.js';
import type { LabelWarpMode } from '../warp/model.js';
import type { WarpPresetName, WarpSettings, WarpSettingsOverrides } from '../warp/presets.js';
import { MedpersamUserError } from '../errors.js';
import { noProgress, type ProgressCallback } from '../progress.js';
import type { ClassNames } from '../image/types.js';
import { runCore, type CoreWarpOnlyResult } from './core.js';
import type { QualityRecord } from './review.js';
import { FileOutputSink } from './output-sink-node.js';
import { nodeRuntimeInfo } from './run-record-node.js';
import { sharpWebpGreyEncoder } from '../io/report-pictures-node.js';
import type { LocalStageOptions } from '../warp/roi-stage.js';
import { WarpOnlyFolderStore } from './run-state.js';
import { fileImageSource, fileMaskSource } from './sources-node.js';
import { initialModelFromPath, nodeWarpThreads, savedModelFromFile } from './warp-stage-node.js';
import type { WarpStageRecord } from './warp-stage.js';
import { WARP_MODEL_FILE } from '../io/warp-model-file.js';

export interface WarpSegmentOptions {
  refImagePath: string;
  refMaskPath: string;
  /** Folder of images to segment (the reference image is skipped if it lies in it). */
  imagesDir: string;
  outDir: string;
  /** classes.json (class index → name); optional. */
  classesPath?: string;
  /** Folder of ground-truth masks matched by file stem (`_mask`-like suffixes tolerated): Dice / IoU in the report. */
  gtMasksDir?: string;
  /** Warp preset, default 'cpu'; overrides for any field (arch, resolution, epochs, ablations...). */
  preset?: WarpPresetName;
  overrides?: WarpSettingsOverrides;
  /** Full-resolution label warp, default 'nearest'. */
  labelWarp?: LabelWarpMode;
  /** The region-of-interest stage for small or thin objects (default: automatic by object size; core.ts). */
  roi?: LocalStageOptions;
  /** The per-image fallback to the aligned copy of the reference (default on; core.ts WarpStageSettings.safetyNet). */
  safetyNet?: boolean;
  /** tfjs backend, default 'auto'. */
  backend?: TfBackendChoice;
  /** Write overlays (default true). */
  overlays?: boolean;
  /** Longest side of overlay PNGs (default 1024). */
  overlayMaxSize?: number;
  /** Threads for the warp model (default: every core; see core.ts WarpStageSettings.threads). */
  threads?: number;
  /** A saved warp model file (OUT/warp-model.mpwarp of an earlier run): segment without training. */
  warpModelPath?: string;
  /** Warm start: train from this warp model file or bundle folder's model instead of random weights (core.ts initialWarpModel). */
  initModelPath?: string;
  /** Segment the readable images and skip (and record) the unreadable ones instead of stopping. */
  skipUnreadable?: boolean;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface WarpSegmentResult {
  outDir: string;
  backend: string;
  settings: WarpSettings;
  /** Masks written by this call and masks found already written (skipped). */
  written: string[];
  skipped: string[];
  timings: { readS: number; trainS: number; roiS: number; warpS: number; reviewS: number; totalS: number };
  runJsonPath: string;
  /** OUT/report.html and OUT/quality.csv (absent when the review was turned off). */
  reportPath?: string;
  qualityCsvPath?: string;
  /** The quality review summary (also in run.json). */
  quality?: QualityRecord;
  /** The trained model (absent when a saved model was applied). */
  warpModelPath?: string;
  /** Threads, phases trained (budget, steps), the saved model used, unreadable images skipped. */
  warp: WarpStageRecord;
}

/** Segment a folder with the warping model alone (see the module comment). */
export async function runWarpOnlySegmentation(opts: WarpSegmentOptions, onProgressArg?: ProgressCallback): Promise<WarpSegmentResult> {
  const onProgress = onProgressArg ?? opts.onProgress ?? noProgress;
  const outDir = resolve(opts.outDir);
  // Inputs first: bad input fails before anything is written.
  const classes: ClassNames | undefined = opts.classesPath ? await readClassNames(opts.classesPath) : undefined;
  const listTests = async () => {
    const refResolved = resolve(opts.refImagePath);
    const imagePaths = (await listImages(opts.imagesDir)).filter((p) => resolve(p) !== refResolved);
    if (imagePaths.length === 0) {
      throw new MedpersamUserError('NO_TEST_IMAGES', 'no images to segment (besides the reference)', { file: opts.imagesDir });
    }
    const seen = new Map<string, string>();
    const gt = opts.gtMasksDir ? await masksByStem(opts.gtMasksDir) : null;
    return imagePaths.map((path) => {
      const id = fileStem(basename(path));
      const other = seen.get(id);
      if (other) {
        throw new MedpersamUserError('DUPLICATE_IMAGE_NAME', `two images share the name "${id}" (${other}, ${path}); masks would collide`, {
          file: opts.imagesDir,
        });
      }
      seen.set(id, path);
      const gtPath = gt?.get(id);
      return fileImageSource(id, path, gtPath ? { groundTruth: fileMaskSource(gtPath) } : {});
    });
  };
  const warpModel = opts.warpModelPath !== undefined ? await savedModelFromFile(opts.warpModelPath) : undefined;
  const initialWarpModel = opts.initModelPath !== undefined ? await initialModelFromPath(opts.initModelPath) : undefined;
  const result = (await runCore(
    {
      classes,
      warp: {
        ...(opts.preset !== undefined ? { preset: opts.preset } : {}),
        ...(opts.overrides !== undefined ? { overrides: opts.overrides } : {}),
        labelMode: opts.labelWarp ?? 'nearest',
        ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
        ...(opts.roi ? { roi: opts.roi } : {}),
        ...(opts.safetyNet === false ? { safetyNet: false } : {}),
      },
      ...(warpModel ? { warpModel } : {}),
      ...(initialWarpModel ? { initialWarpModel } : {}),
      skipUnreadable: opts.skipUnreadable,
      overlays: opts.overlays,
      overlayMaxSize: opts.overlayMaxSize ?? 1024,
      signal: opts.signal,
      reference: { image: fileImageSource('reference', opts.refImagePath), mask: fileMaskSource(opts.refMaskPath) },
      tests: listTests,
      store: new WarpOnlyFolderStore(outDir),
      sink: new FileOutputSink(outDir, { recordFile: 'run.json', recordTrailingNewline: true }),
      environment: {
        initWarpBackend: () => initTf({ backend: opts.backend ?? 'auto' }),
        runtimeInfo: nodeRuntimeInfo,
        encodeGreyPicture: sharpWebpGreyEncoder,
        ...nodeWarpThreads,
      },
    },
    onProgress,
  )) as CoreWarpOnlyResult;
  const { backend, settings, written, skipped, timings, quality, warp } = result;
  return {
    outDir,
    backend,
    settings,
    written,
    skipped,
    timings,
    runJsonPath: join(outDir, 'run.json'),
    ...(result.reportWritten ? { reportPath: join(outDir, 'report.html'), qualityCsvPath: join(outDir, 'quality.csv'), quality } : {}),
    ...(warpModel ? {} : { warpModelPath: join(outDir, WARP_MODEL_FILE) }),
    warp,
  };
}
