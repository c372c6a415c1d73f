/**
 * `medpersam fit` (issue 22, phase 1 of 2): the reference + a deterministic sample of a folder → a run bundle
 * (bundle.ts) that `apply` (apply.ts) uses on any number of images and machines without training.
 *
 * The sample is fitted by the pipeline `segment` runs, in a scratch folder beside the bundle:
 *  - warp-only (no `sam`): the warp-only pipeline (warp-segment.ts → core.ts); its saved model goes into the bundle;
 *  - with SAM: the Med-PerSAM rounds (paper §3; medpersam.ts → core.ts): SAM prompted from the warped mask, refined,
 *    the warp model retrained on the pseudolabels, R times; the bundle keeps the warp model after every round
 *    (the final one is what apply uses), the SAM model's identity (sha256 of its files) and the final round's
 *    prompt and refinement settings (bundle-sam.ts).
 * A folder no larger than the sample is fitted on all of its images in the order `segment` reads them, so the
 * bundle's final model is the one `segment` trains on that folder (same seed, same threads) and its masks are the same.
 *
 * The sample of a larger folder: the images ordered by sha256(seed ":" content id) — a draw that depends on the
 * files' contents only (not on their names, paths or the listing order) — and the first N kept, then put back in
 * listing order.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { MedpersamUserError } from '../errors.js';
import { listImages } from '../io/dataset.js';
import { readWarpModelFile, WARP_MODEL_FILE } from '../io/warp-model-file.js';
import { serializeWarpModel, type SavedWarpModel } from '../warp/saved-model.js';
import type { SamLoadOptions } from '../sam/types.js';
import type { TfBackendChoice } from '../warp/backend.js';
import type { LabelWarpMode } from '../warp/model.js';
import { resolveWarpSettings, type WarpPresetName, type WarpSettingsOverrides } from '../warp/presets.js';
import type { LocalStageOptions } from '../warp/roi-stage.js';
import type { ProgressCallback } from '../progress.js';
import { refuseExistingBundleTarget, writeBundle, type BundleContents, type BundleManifest } from './bundle.js';
import { describeBundleSam } from './bundle-sam.js';
import { resolveOptions, type LoopOptions } from './core.js';
import { runMedPerSam } from './medpersam.js';
import { planLocalStage, resolveRoiOptions } from './roi-run.js';
import { fileImageSource, fileMaskSource } from './sources-node.js';
import { runWarpOnlySegmentation } from './warp-segment.js';

/** Default sample size: enough images for the warp model's test-time training on one kind of scan. */
export const DEFAULT_FIT_SAMPLE = 256;
/** Seed of the sample draw (a fixed constant: the draw is part of the bundle's provenance). */
export const FIT_SAMPLE_SEED = 22;

/** Med-PerSAM in `fit`: the SAM model and the loop's options (what `segment --sam` takes). */
export interface FitSamOptions {
  /** A model id in the model store or a folder, as `segment --sam` takes. */
  model: string;
  loop?: Pick<LoopOptions, 'retrainRounds' | 'refinements' | 'promptSet' | 'pointStrategy' | 'targetEmbedding' | 'prompts' | 'smoothing' | 'promptWorkingSize'>;
  /** Threads of SAM's sessions during the fit (the bundle does not record them: they do not change a mask). */
  load?: Omit<SamLoadOptions, 'targetEmbedding'>;
}

export interface FitOptions {
  refImagePath: string;
  refMaskPath: string;
  imagesDir: string;
  /** Bundle folder to create (must not exist). */
  outDir: string;
  sampleSize?: number;
  /** Absent: a warp-only bundle. */
  sam?: FitSamOptions;
  preset?: WarpPresetName;
  overrides?: WarpSettingsOverrides;
  labelWarp?: LabelWarpMode;
  roi?: LocalStageOptions;
  backend?: TfBackendChoice;
  threads?: number;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface FitResult {
  bundleDir: string;
  manifest: BundleManifest;
  trainS: number;
}

/** An image of the folder with its content id (sha256 of its bytes). */
export interface FolderImage {
  path: string;
  contentId: string;
}

/** The sample (see the module comment): all images when there are at most `size`, else a draw by content id. */
export function drawSample(images: readonly FolderImage[], size: number, seed: number): FolderImage[] {
  if (images.length <= size) return [...images];
  const rank = (img: FolderImage) => createHash('sha256').update(`${seed}:${img.contentId}`).digest('hex');
  const ranked = images.map((img, index) => ({ index, key: rank(img) })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.index - b.index));
  const kept = new Set(ranked.slice(0, size).map((r) => r.index));
  return images.filter((_, i) => kept.has(i));
}

async function folderImages(imagesDir: string, refImagePath: string): Promise<FolderImage[]> {
  const ref = resolve(refImagePath);
  const paths = (await listImages(imagesDir)).filter((p) => resolve(p) !== ref);
  if (paths.length === 0) throw new MedpersamUserError('NO_TEST_IMAGES', 'no images to fit on (besides the reference)', { file: imagesDir });
  const out: FolderImage[] = [];
  for (const path of paths) out.push({ path, contentId: createHash('sha256').update(await readFile(path)).digest('hex') });
  return out;
}

/**
 * Bundles do not carry the region-of-interest stage's crop models yet: apply would have to train them. A reference
 * whose objects trigger that stage is refused with the way out (`--roi off`) rather than silently segmented
 * differently from `segment`.
 */
async function refuseRoiStage(opts: FitOptions): Promise<void> {
  const settings = resolveWarpSettings(opts.preset, opts.overrides);
  const image = (await fileImageSource('reference', opts.refImagePath).load()).image;
  const label = (await fileMaskSource(opts.refMaskPath).load()).label;
  if (planLocalStage(settings, { image, label }, resolveRoiOptions(opts.roi)).active) {
    throw new MedpersamUserError(
      'ROI_NOT_IN_BUNDLE',
      'this reference has small or thin objects that need the region-of-interest stage, which run bundles do not carry yet; fit with --roi off, or use `segment` without a bundle',
      { file: opts.refMaskPath },
    );
  }
}

/** What fitting the sample hands to the bundle. */
type Fitted = Omit<BundleContents, 'referenceImagePath' | 'referenceMaskPath' | 'sample'>;

/** The warp-only fit: the warp-only pipeline on the sample folder; its saved model. */
async function fitWarpOnly(opts: FitOptions, sampleDir: string, runDir: string): Promise<Fitted> {
  await runWarpOnlySegmentation({
    refImagePath: opts.refImagePath,
    refMaskPath: opts.refMaskPath,
    imagesDir: sampleDir,
    outDir: runDir,
    overlays: false,
    // An unreadable file of the folder is no reason not to fit on the others (apply reports it per image).
    skipUnreadable: true,
    ...(opts.preset !== undefined ? { preset: opts.preset } : {}),
    ...(opts.overrides !== undefined ? { overrides: opts.overrides } : {}),
    ...(opts.labelWarp !== undefined ? { labelWarp: opts.labelWarp } : {}),
    ...(opts.roi !== undefined ? { roi: opts.roi } : {}),
    ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
  });
  const modelPath = join(runDir, WARP_MODEL_FILE);
  const model = await readWarpModelFile(modelPath);
  return { settings: model.settings, labelWarp: opts.labelWarp ?? 'nearest', warpModelBytes: await readFile(modelPath), classes: model.reference.classes };
}

/** The Med-PerSAM fit: the rounds on the sample folder (`segment --sam`'s run); every round's warp model. */
async function fitMedPerSam(opts: FitOptions, sam: FitSamOptions, sampleDir: string, runDir: string): Promise<Fitted> {
  const loop = sam.loop ?? {};
  const warp = {
    ...(opts.preset !== undefined ? { preset: opts.preset } : {}),
    ...(opts.overrides !== undefined ? { overrides: opts.overrides } : {}),
    ...(opts.labelWarp !== undefined ? { labelMode: opts.labelWarp } : {}),
    ...(opts.roi !== undefined ? { roi: opts.roi } : {}),
  };
  const resolved = resolveOptions({ ...loop, warp });
  const { resolveSamModel } = await import('../sam/manage.js');
  const samDir = await resolveSamModel(sam.model);
  const rounds: SavedWarpModel[] = [];
  await runMedPerSam(
    {
      ...loop,
      referenceImage: opts.refImagePath,
      referenceMask: opts.refMaskPath,
      images: sampleDir,
      outDir: runDir,
      sam: samDir,
      ...(sam.load ? { samLoad: sam.load } : {}),
      warp: { ...warp, ...(opts.backend !== undefined ? { backend: opts.backend } : {}), ...(opts.threads !== undefined ? { threads: opts.threads } : {}) },
      overlays: false,
      report: false,
      skipUnreadable: true,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onWarpModel: async (round, model) => {
        rounds[round] = model;
      },
    },
    opts.onProgress,
  );
  const final = rounds.pop()!;
  const { refinements, promptSet, promptOptions, smoothing, useTargetEmbedding, promptWorkingSize, method } = resolved;
  return {
    settings: final.settings,
    labelWarp: resolved.labelMode,
    warpModelBytes: serializeWarpModel(final),
    earlierRoundWarpModels: rounds.map(serializeWarpModel),
    classes: final.reference.classes,
    sam: await describeBundleSam(sam.model, samDir, { refinements, promptSet, promptOptions, smoothing, useTargetEmbedding, promptWorkingSize, method }, resolved.retrainRounds),
  };
}

/** Fit on the sample and write the bundle (see the module comment). */
export async function fitBundle(opts: FitOptions): Promise<FitResult> {
  const bundleDir = resolve(opts.outDir);
  const sampleSize = opts.sampleSize ?? DEFAULT_FIT_SAMPLE;
  if (!Number.isInteger(sampleSize) || sampleSize < 1) throw new MedpersamUserError('INVALID_OPTION', `--sample must be an integer >= 1, got ${sampleSize}`);
  await refuseExistingBundleTarget(bundleDir);
  await refuseRoiStage(opts);
  const all = await folderImages(opts.imagesDir, opts.refImagePath);
  const sample = drawSample(all, sampleSize, FIT_SAMPLE_SEED);
  await mkdir(dirname(bundleDir), { recursive: true });
  const scratch = await mkdtemp(join(dirname(bundleDir), `.${basename(bundleDir)}.fit-`));
  try {
    const sampleDir = join(scratch, 'sample');
    await mkdir(sampleDir);
    for (const img of sample) await symlink(resolve(img.path), join(sampleDir, basename(img.path)));
    const t0 = performance.now();
    const runDir = join(scratch, 'run');
    const fitted = opts.sam ? await fitMedPerSam(opts, opts.sam, sampleDir, runDir) : await fitWarpOnly(opts, sampleDir, runDir);
    const trainS = (performance.now() - t0) / 1000;
    const manifest = await writeBundle(bundleDir, {
      ...fitted,
      referenceImagePath: opts.refImagePath,
      referenceMaskPath: opts.refMaskPath,
      sample: { folderImages: all.length, size: sample.length, seed: FIT_SAMPLE_SEED, contentIds: sample.map((s) => s.contentId) },
    });
    return { bundleDir, manifest, trainS };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
