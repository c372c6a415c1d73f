/**
 * The SAM model of a run bundle (issue 22): what `fit` records of it — how it was named (a model-store id or a
 * folder), the sha256 of each file the loader opens, and the final round's prompting and refinement settings — and
 * how a machine that applies the bundle finds that model in its own model store and refuses any other.
 *
 * The files are hashed with the model store's streaming checksum (src/sam/download.ts `sha256File`). A model whose
 * files differ would give other masks under the same bundle fingerprint, so it is refused (SAM_MODEL_MISMATCH, naming
 * the file and both hashes), never loaded.
 */
import { dirname, join, relative, resolve } from 'node:path';
import { MedpersamUserError } from '../errors.js';
import type { SamLoadOptions } from '../sam/types.js';
import type { ImageSegmentSettings } from './segment-image.js';

/** One file of the SAM model, relative to its folder. */
export interface BundleSamFile {
  name: string;
  sha256: string;
}

/** bundle.json's `sam` (null for a warp-only bundle). */
export interface BundleSam {
  /** A model-store id (found under each machine's MEDPERSAM_HOME) or an absolute folder (the same path everywhere). */
  model: { kind: 'id' | 'folder'; ref: string };
  /** Encoder (+ its external data files), then decoder (+ its external data files). */
  files: BundleSamFile[];
  /** The last round's prompting and refinement (core.ts resolveOptions), which apply runs per image. */
  loop: ImageSegmentSettings;
  /** Retraining rounds of the fit (R): the final warp model is round R's, and apply runs round R. */
  retrainRounds: number;
}

/** The files the SAM loader opens in a model folder, relative to it (src/sam findSamModelFiles). */
async function samModelFileNames(dir: string): Promise<string[]> {
  const { findSamModelFiles } = await import('../sam/model-files.js');
  const files = await findSamModelFiles(dir);
  const withData = (path: string, data: readonly string[]) => [path, ...data.map((d) => join(dirname(path), d))];
  return [...withData(files.encoder.path, files.encoder.externalDataFiles), ...withData(files.decoder.path, files.decoder.externalDataFiles)].map((p) =>
    relative(dir, p),
  );
}

async function sha256Of(path: string): Promise<string | null> {
  const { sha256File } = await import('../sam/download.js');
  return sha256File(path).catch(() => null);
}

/**
 * The bundle's record of the model `fit --sam requested` resolved to `dir`: by id when `dir` is that id's folder in
 * the model store, else by its folder (an absolute path).
 */
export async function describeBundleSam(requested: string, dir: string, loop: ImageSegmentSettings, retrainRounds: number): Promise<BundleSam> {
  const { modelDir } = await import('../sam/home.js');
  const model = resolve(modelDir(requested)) === resolve(dir) ? { kind: 'id' as const, ref: requested } : { kind: 'folder' as const, ref: resolve(dir) };
  const files: BundleSamFile[] = [];
  for (const name of await samModelFileNames(dir)) {
    const sha256 = await sha256Of(join(dir, name));
    if (sha256 === null) throw new MedpersamUserError('FILE_NOT_FOUND', 'cannot read this SAM model file', { file: join(dir, name) });
    files.push({ name, sha256 });
  }
  return { model, files, loop, retrainRounds };
}

/**
 * This machine's copy of the bundle's SAM model: its folder, found by id in the local model store or at the recorded
 * path, with every recorded file present and of the recorded sha256 (else SAM_MODEL_MISMATCH).
 */
export async function findBundleSamModel(sam: BundleSam): Promise<string> {
  const { resolveSamModel } = await import('../sam/manage.js');
  const dir = await resolveSamModel(sam.model.ref);
  for (const f of sam.files) {
    const path = join(dir, f.name);
    const actual = await sha256Of(path);
    if (actual !== f.sha256) {
      const found = actual === null ? 'is missing or unreadable' : `has sha256 ${actual}`;
      throw new MedpersamUserError(
        'SAM_MODEL_MISMATCH',
        `this SAM model file ${found}, but the run bundle was fitted with sha256 ${f.sha256}: install the model the bundle names ` +
          `(${sam.model.kind} ${sam.model.ref}) on this machine, or fit a new bundle with this one`,
        { file: path },
      );
    }
  }
  return dir;
}

/** Load the bundle's SAM model on this machine (checked by `findBundleSamModel`); no embedding cache on disk. */
export async function loadBundleSamModel(sam: BundleSam, load: Omit<SamLoadOptions, 'targetEmbedding' | 'cacheDir'> = {}) {
  const dir = await findBundleSamModel(sam);
  const { loadSamModel } = await import('../sam/model.js');
  // Each image is encoded once: neither a disk cache nor a memory cache of embeddings (apply keeps no per-image state).
  const model = await loadSamModel(dir, { memoryCacheEntries: 0, ...load, cacheDir: false, targetEmbedding: sam.loop.useTargetEmbedding });
  const loaded = [model.info.encoderPath, model.info.decoderPath].map((p) => relative(dir, p));
  if (!loaded.every((name) => sam.files.some((f) => f.name === name))) {
    await model.release();
    throw new MedpersamUserError('SAM_MODEL_MISMATCH', `the loader picked ${loaded.join(' and ')}, not the files the bundle records (${sam.files.map((f) => f.name).join(', ')})`, { file: dir });
  }
  return model;
}
