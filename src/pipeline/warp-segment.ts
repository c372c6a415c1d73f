/**
 * `medpersam segment --sam none`: warp-only segmentation. The warping model is trained on the reference → every
 * image of a folder (test-time training, paper §3.1), then the reference label is warped onto each image at its
 * original size (Eq. 4) — the mask prompts themselves are the answer.
 *
 * Output folder:
 *   OUT/masks/<stem>.png      label map, original size (0 = background, class values of the reference mask)
 *   OUT/overlays/<stem>.png   the image with the label drawn over it
 *   OUT/run.json              settings, versions, backend, per-stage timings (atomic; status 'running' | 'complete')
 *   OUT/.state/warp.ckpt      training checkpoint (weights + AdamW + epoch + RNG; saved every epoch)
 *
 * Resumable: rerun with the same settings and the run continues from the checkpoint and skips masks already
 * written. Different settings in an existing medpersam folder → SETTINGS_MISMATCH; an existing non-empty folder
 * that is not a medpersam output → OUTPUT_NOT_MEDPERSAM (nothing is overwritten).
 */
import { basename, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readImage } from '../io/image.js';
import { readClassNames, writeLabelPng } from '../io/mask.js';
import { listImages } from '../io/dataset.js';
import { fileStem } from '../io/formats.js';
import { readReferencePair } from '../io/reference.js';
import { writeOverlayPng } from '../io/overlay.js';
import {
  fileExists,
  inspectOutputFolder,
  loadCheckpointFile,
  saveCheckpointFile,
  writeJsonAtomic,
} from '../io/checkpoint-store.js';
import { initTf, type TfBackendChoice } from '../warp/backend.js';
import { WarpModel, type LabelWarpMode } from '../warp/model.js';
import { resolveWarpSettings, type WarpPresetName, type WarpSettings, type WarpSettingsOverrides } from '../warp/presets.js';
import { MedpersamUserError } from '../errors.js';
import { noProgress, type ProgressCallback } from '../progress.js';
import type { ClassNames } from '../image/types.js';

export interface WarpSegmentOptions {
  refImagePath: string;
  refMaskPath: string;
  /** Folder of images to segment (the reference image is skipped if it lies in it). */
  imagesDir: string;
  outDir: string;
  /** classes.json (class index → name); optional. */
  classesPath?: string;
  /** Warp preset, default 'cpu'; overrides for any field (arch, resolution, epochs, ablations...). */
  preset?: WarpPresetName;
  overrides?: WarpSettingsOverrides;
  /** Full-resolution label warp, default 'nearest'. */
  labelWarp?: LabelWarpMode;
  /** tfjs backend, default 'auto'. */
  backend?: TfBackendChoice;
  /** Write overlays (default true). */
  overlays?: boolean;
  /** Longest side of overlay PNGs (default 1024). */
  overlayMaxSize?: number;
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
  timings: { readS: number; trainS: number; warpS: number; totalS: number };
  runJsonPath: string;
}

const RUN_KIND = 'medpersam-warp-segment';
const VERSION = '0.1.0';

export async function runWarpOnlySegmentation(opts: WarpSegmentOptions, onProgressArg?: ProgressCallback): Promise<WarpSegmentResult> {
  const onProgress = onProgressArg ?? opts.onProgress ?? noProgress;
  const t0 = performance.now();
  const outDir = resolve(opts.outDir);
  const settings = resolveWarpSettings(opts.preset ?? 'cpu', opts.overrides);
  const labelWarp = opts.labelWarp ?? 'nearest';

  // Inputs first: bad input fails before anything is written.
  const classes: ClassNames | undefined = opts.classesPath ? await readClassNames(opts.classesPath) : undefined;
  const ref = await readReferencePair(opts.refImagePath, opts.refMaskPath, classes);
  const refResolved = resolve(opts.refImagePath);
  const imagePaths = (await listImages(opts.imagesDir)).filter((p) => resolve(p) !== refResolved);
  if (imagePaths.length === 0) {
    throw new MedpersamUserError('NO_TEST_IMAGES', 'no images to segment (besides the reference)', { file: opts.imagesDir });
  }
  const ids = imagePaths.map((p) => fileStem(basename(p)));
  const seen = new Map<string, string>();
  ids.forEach((id, i) => {
    const other = seen.get(id);
    if (other) {
      throw new MedpersamUserError('DUPLICATE_IMAGE_NAME', `two images share the name "${id}" (${other}, ${imagePaths[i]}); masks would collide`, {
        file: opts.imagesDir,
      });
    }
    seen.set(id, imagePaths[i]!);
  });

  // The run identity: anything that changes the trained model or the masks.
  const runKey = {
    settings,
    labelWarp,
    reference: { image: refResolved, mask: resolve(opts.refMaskPath) },
    images: ids,
  };
  const state = await inspectOutputFolder(outDir);
  if (state.exists && !state.empty) {
    if (!state.runJson || state.runJson['kind'] !== RUN_KIND) {
      throw new MedpersamUserError(
        'OUTPUT_NOT_MEDPERSAM',
        'output folder exists, is not empty and is not a medpersam warp-only run; choose another --out (nothing was written)',
        { file: outDir },
      );
    }
    if (JSON.stringify(state.runJson['runKey']) !== JSON.stringify(runKey)) {
      throw new MedpersamUserError(
        'SETTINGS_MISMATCH',
        'output folder holds a run with different settings, reference or images; use another --out or delete the folder',
        { file: outDir },
      );
    }
  }
  const backend = await initTf({ backend: opts.backend ?? 'auto' });
  const runJsonPath = join(outDir, 'run.json');
  const runInfo = (status: string, extra: Record<string, unknown> = {}) => ({
    kind: RUN_KIND,
    status,
    medpersamVersion: VERSION,
    tfjsVersion: tf.version.tfjs,
    node: typeof process !== 'undefined' ? process.version : undefined,
    backend,
    runKey,
    ...extra,
  });
  await writeJsonAtomic(runJsonPath, runInfo('running', { startedAt: new Date().toISOString() }));

  // Read: keep only working-resolution copies.
  const model = new WarpModel(settings, { image: ref.image.image, label: ref.label });
  try {
    for (let i = 0; i < imagePaths.length; i++) {
      model.addTest(ids[i]!, (await readImage(imagePaths[i]!)).image);
      onProgress({ stage: 'read', done: i + 1, total: imagePaths.length, message: ids[i] });
    }
    const t1 = performance.now();

    // Train (resumable).
    const ckptPath = join(outDir, '.state', 'warp.ckpt');
    const ckpt = await loadCheckpointFile(ckptPath);
    if (ckpt) {
      try {
        model.loadCheckpoint(ckpt);
      } catch (err) {
        throw new MedpersamUserError('SETTINGS_MISMATCH', `checkpoint does not match this run (${(err as Error).message})`, { file: ckptPath });
      }
    }
    const train = await model.train('initial', settings.schedule.initialEpochs, {
      onProgress,
      signal: opts.signal,
      onEpochEnd: (c) => saveCheckpointFile(ckptPath, c),
    });
    const t2 = performance.now();

    // Warp + write.
    const written: string[] = [];
    const skipped: string[] = [];
    const todo: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      if (await fileExists(join(outDir, 'masks', `${ids[i]}.png`))) skipped.push(ids[i]!);
      else todo.push(i);
    }
    const BATCH = 8;
    let done = skipped.length;
    for (let s = 0; s < todo.length; s += BATCH) {
      const chunk = todo.slice(s, s + BATCH);
      const labels: { i: number; label: import('../image/types.js').LabelMap }[] = [];
      model.warpTests(chunk.map((i) => ids[i]!), (id, label) => labels.push({ i: ids.indexOf(id), label }), labelWarp);
      for (const { i, label } of labels) {
        const id = ids[i]!;
        if (opts.overlays !== false) {
          const img = (await readImage(imagePaths[i]!)).image;
          await writeOverlayPng(join(outDir, 'overlays', `${id}.png`), img, label, { maxSize: opts.overlayMaxSize ?? 1024 });
        }
        // The mask last: its presence marks the image as done on a rerun.
        await writeLabelPng(join(outDir, 'masks', `${id}.png`), label);
        written.push(id);
        onProgress({ stage: 'warp-apply', done: ++done, total: ids.length, message: id });
      }
    }
    const t3 = performance.now();
    const timings = { readS: (t1 - t0) / 1000, trainS: (t2 - t1) / 1000, warpS: (t3 - t2) / 1000, totalS: (t3 - t0) / 1000 };
    await writeJsonAtomic(
      runJsonPath,
      runInfo('complete', {
        finishedAt: new Date().toISOString(),
        timings,
        epochsRunThisCall: train.epochsRun,
        lastEpochLoss: train.lastEpochLoss,
        masksWritten: written.length,
        masksSkipped: skipped.length,
        classes: model.classes,
        preprocessing: model.preprocessingReport(),
      }),
    );
    return { outDir, backend, settings, written, skipped, timings, runJsonPath };
  } finally {
    model.dispose();
  }
}
