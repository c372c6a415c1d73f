/**
 * Model management behind `medpersam models list | pull | verify` and `--sam <id|dir>` (Node-only; the
 * model folders under <home>/models are an on-disk cache).
 *
 * A pulled model folder `<home>/models/<id>/` holds the encoder + decoder ONNX files (plus external-data
 * files, plus whatever else the archive held) and `manifest.json`:
 *   { format: 'medpersam-model', version: 1, id, source, urls, pulledAt, encoder, decoder,
 *     checksumPolicy: 'pinned' | 'trust-on-first-use', archive?, files: [{ path, bytes, sha256, pinned }] }
 * `encoder` / `decoder` are paths relative to the folder. The folder appears atomically (assembled in a
 * temporary sibling, then renamed), so a folder with a manifest is always complete.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, join, resolve, relative, isAbsolute } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MedpersamUserError } from '../errors.js';
import type { ProgressCallback } from '../progress.js';
import { writeFileAtomic } from '../io/atomic.js';
import { medpersamHome, modelDir, modelsRoot, stagingDir, MEDPERSAM_HOME_ENV } from './home.js';
import {
  KNOWN_MODELS,
  MODEL_BASE_URL_ENV,
  SOURCE_URLS_VERIFIED,
  fileUrl,
  findKnownModel,
  hasPinnedChecksums,
  knownModelIds,
  type KnownModel,
  type ModelSource,
} from './registry.js';
import { downloadFile, sha256File } from './download.js';
import { extractZip } from './zip.js';
import { findSamModelFiles, type OnnxFileInfo, type OnnxValueInfo } from './model-files.js';
import { loadSamModel } from './model.js';
import type { EncoderVariant, ExecutionProviderName } from './types.js';
import type { FloatImage, BinaryMask } from '../image/types.js';

export const MANIFEST_FILE = 'manifest.json';

export interface ManifestFile {
  /** Path relative to the model folder, '/'-separated. */
  path: string;
  bytes: number;
  sha256: string;
  /** True when the sha256 was checked against a pinned value from the registry. */
  pinned: boolean;
}

export interface ModelManifest {
  format: 'medpersam-model';
  version: 1;
  id: string;
  /** Registry source label the files came from (e.g. 'huggingface'). */
  source: string;
  urls: string[];
  pulledAt: string;
  encoder: string;
  decoder: string;
  checksumPolicy: 'pinned' | 'trust-on-first-use';
  archive?: ManifestFile;
  files: ManifestFile[];
}

export interface ModelListing {
  id: string;
  description: string;
  approxBytes: number;
  /** e.g. "~37 MB". */
  sizeText: string;
  sources: { label: string; kind: 'zip' | 'files'; urls: string[] }[];
  /** Every file has a sha256 pinned in the registry (none yet: see registry.ts). */
  checksumsPinned: boolean;
  /** The URLs were checked from a machine with internet access (false for this build). */
  urlsVerified: boolean;
  /** Folder of the pulled model, when it is installed and complete. */
  installed?: string;
  /** A download was started and can be resumed (`models pull <id>`). */
  partialDownload?: boolean;
}

export interface ModelManagementOptions {
  /** Medpersam home folder (default: medpersamHome()). */
  home?: string;
  /** Replaces every source's base URL (default: $MEDPERSAM_MODEL_BASE_URL, else the registry URLs). */
  baseUrl?: string;
}

export interface PullOptions extends ModelManagementOptions {
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /** Network retries per file (default 3). */
  retries?: number;
  /** First retry delay in ms (default 1000). */
  retryDelayMs?: number;
  /** Re-download even when the model is already installed (default false). */
  force?: boolean;
}

export interface PullResult {
  id: string;
  dir: string;
  /** False when the model was already installed and nothing was fetched. */
  downloaded: boolean;
  manifest: ModelManifest;
  /** Things the user should be told (trust-on-first-use checksums, mirror used, ...). */
  notes: string[];
}

// ------------------------------------------------------------------------------------------------- list

/** Known models with size, sources and whether each is installed under `<home>/models/<id>`. */
export function listModels(opts: ModelManagementOptions = {}): ModelListing[] {
  const home = opts.home ?? medpersamHome();
  const baseUrl = effectiveBaseUrl(opts.baseUrl);
  return KNOWN_MODELS.map((model) => {
    const listing: ModelListing = {
      id: model.id,
      description: model.description,
      approxBytes: model.approxBytes,
      sizeText: `~${formatBytes(model.approxBytes)}`,
      sources: sourcesFor(model, baseUrl).map(({ source, urls }) => ({ label: source.label, kind: source.kind, urls })),
      checksumsPinned: hasPinnedChecksums(model),
      urlsVerified: SOURCE_URLS_VERIFIED,
    };
    const dir = modelDir(model.id, home);
    if (readManifestSync(dir)) listing.installed = dir;
    else if (existsSync(stagingDir(model.id, home))) listing.partialDownload = true;
    return listing;
  });
}

// ------------------------------------------------------------------------------------------------- pull

/**
 * Download a known model into `<home>/models/<id>/`. Idempotent: an installed, complete model is not
 * downloaded again (unless `force`). Resumes interrupted downloads; tries mirrors in order.
 */
export async function pullModel(id: string, opts: PullOptions = {}): Promise<PullResult> {
  const model = requireKnownModel(id);
  const home = opts.home ?? medpersamHome();
  const dir = modelDir(id, home);

  const existing = readManifestSync(dir);
  if (existing && !opts.force) {
    return { id, dir, downloaded: false, manifest: existing, notes: [`${id} is already installed in ${dir}`] };
  }
  // A folder with our (incomplete) manifest may be replaced; anything else there belongs to the user.
  if (!existing && existsSync(dir) && !existsSync(join(dir, MANIFEST_FILE)) && (await readdir(dir)).length > 0) {
    throw new MedpersamUserError(
      'MODEL_DIR_OCCUPIED',
      `this folder already holds files that medpersam did not download; not touching them. ` +
        `Use them directly with --sam ${dir}, or move them away and pull again`,
      { file: dir },
    );
  }

  const baseUrl = effectiveBaseUrl(opts.baseUrl);
  const failures: { label: string; error: MedpersamUserError }[] = [];
  for (const { source, urls } of sourcesFor(model, baseUrl)) {
    try {
      const { manifest, notes } = await pullFromSource(model, source, urls, home, dir, opts);
      if (failures.length > 0) {
        notes.unshift(`used the mirror "${source.label}" because ${failures.map((f) => f.label).join(', ')} failed`);
      }
      return { id, dir, downloaded: true, manifest, notes };
    } catch (err) {
      if (!(err instanceof MedpersamUserError) || !FALL_THROUGH_CODES.has(err.code)) throw err;
      failures.push({ label: source.label, error: err });
    }
  }
  if (failures.length === 1) throw failures[0]!.error;
  throw new MedpersamUserError(
    failures[0]!.error.code,
    `could not pull ${id} from any source:\n` + failures.map((f) => `  - ${f.label}: ${f.error.message}`).join('\n'),
    { cause: failures[0]!.error },
  );
}

/** Errors after which the next source (mirror) is tried. */
const FALL_THROUGH_CODES = new Set([
  'DOWNLOAD_NOT_FOUND',
  'DOWNLOAD_FAILED',
  'DOWNLOAD_SIZE_MISMATCH',
  'CHECKSUM_MISMATCH',
  'ARCHIVE_CORRUPT',
  'ARCHIVE_UNSAFE_PATH',
  'ARCHIVE_UNREADABLE',
  // The downloaded files are not a usable pair (model-files.ts codes).
  'INCOMPLETE_MODEL_FOLDER',
  'AMBIGUOUS_MODEL_FOLDER',
  'NOT_AN_ONNX_MODEL',
  'DECODER_WITHOUT_MASK_INPUT',
  'DECODER_INPUTS_MISMATCH',
  'UNSUPPORTED_ENCODER',
  'MODEL_PAIR_MISMATCH',
  'MODEL_KIND_MISMATCH',
  'UNSUPPORTED_SAM2_VARIANT',
  'MISSING_EXTERNAL_DATA',
]);

async function pullFromSource(
  model: KnownModel,
  source: ModelSource,
  urls: string[],
  home: string,
  dir: string,
  opts: PullOptions,
): Promise<{ manifest: ModelManifest; notes: string[] }> {
  const staging = stagingDir(model.id, home);
  await mkdir(staging, { recursive: true });

  // 1. Download every file of this source into the staging folder (resumable, verified when pinned).
  const downloaded: ManifestFile[] = [];
  for (let i = 0; i < source.files.length; i++) {
    const file = source.files[i]!;
    const dest = join(staging, file.name);
    let sha256: string;
    let bytes: number;
    if (existsSync(dest)) {
      // Completed in an earlier, interrupted pull (files only reach this name once complete).
      sha256 = await sha256File(dest, opts.onProgress, file.name);
      bytes = (await stat(dest)).size;
      if (file.sha256 && sha256 !== file.sha256.toLowerCase()) {
        await rm(dest, { force: true });
        ({ sha256, bytes } = await fetchFile());
      }
    } else {
      ({ sha256, bytes } = await fetchFile());
    }
    downloaded.push({ path: file.name, bytes, sha256, pinned: file.sha256 !== undefined });

    async function fetchFile(): Promise<{ sha256: string; bytes: number }> {
      const r = await downloadFile(urls[i]!, dest, {
        expectedSha256: file.sha256,
        expectedSize: file.bytes,
        onProgress: opts.onProgress,
        signal: opts.signal,
        retries: opts.retries,
        retryDelayMs: opts.retryDelayMs,
      });
      return { sha256: r.sha256, bytes: r.bytes };
    }
  }

  // 2. Assemble the model folder in a temporary sibling.
  const root = modelsRoot(home);
  const tmp = join(root, `.tmp-${model.id}-${randomBytes(4).toString('hex')}`);
  const notes: string[] = [];
  try {
    let files: ManifestFile[];
    let archive: ManifestFile | undefined;
    if (source.kind === 'zip') {
      archive = downloaded[0]!;
      const extracted = await extractZip(join(staging, archive.path), tmp, { onProgress: opts.onProgress });
      files = extracted.files.map((f) => ({ ...f, pinned: false }));
    } else {
      await mkdir(tmp, { recursive: true });
      for (const f of downloaded) await rename(join(staging, f.path), join(tmp, f.path));
      files = downloaded;
    }
    // Classify and validate the pair by its graph interfaces (sam-runtime's loader logic): a download that
    // cannot serve Med-PerSAM (e.g. a decoder without mask_input) fails here, not at the first segmentation.
    const pair = await findSamModelFiles(tmp);
    const layout = { encoder: basename(pair.encoder.path), decoder: basename(pair.decoder.path) };
    const pinned = source.kind === 'zip' ? archive!.pinned : files.every((f) => f.pinned);
    const manifest: ModelManifest = {
      format: 'medpersam-model',
      version: 1,
      id: model.id,
      source: source.label,
      urls,
      pulledAt: new Date().toISOString(),
      encoder: layout.encoder,
      decoder: layout.decoder,
      checksumPolicy: pinned ? 'pinned' : 'trust-on-first-use',
      ...(archive ? { archive } : {}),
      files,
    };
    for (const f of archive ? [archive] : files) {
      if (!f.pinned) {
        notes.push(
          `no pinned checksum for ${f.path}: recorded sha256 ${f.sha256} in ${join(dir, MANIFEST_FILE)} ` +
            `(trust on first use; 'medpersam models verify' re-checks the files against it)`,
        );
      }
    }
    await writeFileAtomic(join(tmp, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');

    // 3. Swap it into place (a stale, incomplete or forced-over folder is moved aside first).
    let old: string | undefined;
    if (existsSync(dir)) {
      old = join(root, `.old-${model.id}-${randomBytes(4).toString('hex')}`);
      await rename(dir, old);
    }
    await rename(tmp, dir);
    if (old) await rm(old, { recursive: true, force: true });
    await rm(staging, { recursive: true, force: true });
    await rmdir(join(root, '.staging')).catch(() => {}); // only when no other pull is staged
    return { manifest, notes };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    // A corrupt / unusable archive must not be reused on the next try.
    // Unusable content must not be reused by the next pull: drop it from staging (it is re-downloaded).
    if (err instanceof MedpersamUserError && FALL_THROUGH_CODES.has(err.code) && !err.code.startsWith('DOWNLOAD')) {
      await rm(staging, { recursive: true, force: true });
    }
    throw err;
  }
}

// ------------------------------------------------------------------------------------------------- resolve

/**
 * Turn `--sam <id|dir>` into a model folder.
 *  - an existing folder (or anything that looks like a path) → that folder (absolute);
 *  - a known id → `<home>/models/<id>` when pulled (or when the user put files there);
 *  - a known id not present → 'MODEL_NOT_PRESENT' explaining how to get it;
 *  - anything else → 'UNKNOWN_MODEL' listing the known ids.
 */
export async function resolveSamModel(idOrDir: string, opts: ModelManagementOptions = {}): Promise<string> {
  const home = opts.home ?? medpersamHome();
  const looksLikePath = /[\\/]/.test(idOrDir) || idOrDir.startsWith('.') || idOrDir.startsWith('~') || isAbsolute(idOrDir);
  const asPath = resolve(idOrDir);
  const st = await stat(asPath).catch(() => undefined);
  if (st?.isDirectory()) return asPath;
  if (st && !st.isDirectory()) {
    throw new MedpersamUserError(
      'MODEL_NOT_A_FOLDER',
      `--sam expects a folder holding the encoder and decoder .onnx files (or a model id), not a file`,
      { file: asPath },
    );
  }
  const model = looksLikePath ? undefined : findKnownModel(idOrDir);
  if (model) {
    const dir = modelDir(model.id, home);
    if (readManifestSync(dir)) return dir;
    if (listOnnx(dir).length > 0) return dir; // files placed there by hand: the loader checks them
    throw modelNotPresent(model, home);
  }
  if (looksLikePath) {
    throw new MedpersamUserError('MODEL_DIR_NOT_FOUND', `SAM model folder not found`, { file: asPath });
  }
  throw new MedpersamUserError(
    'UNKNOWN_MODEL',
    `"${idOrDir}" is neither a known SAM model id nor an existing folder. Known ids: ${knownModelIds().join(', ')} ` +
      `(see 'medpersam models list'), or pass a folder with an encoder and a decoder .onnx file.`,
  );
}

/** How to export a known model's pair yourself (SAM 1: two scripts; SAM 2: samexporter's export_sam2). */
function exportSteps(model: KnownModel): string[] {
  if (model.family === 'sam2') {
    return [
      `     samexporter: python -m samexporter.export_sam2 --checkpoint <ckpt> --model_type ${model.exportModelType} ` +
        '--output_encoder encoder.onnx --output_decoder decoder.onnx',
    ];
  }
  return [
    `     - decoder (official format, keeps mask_input): segment-anything's scripts/export_onnx_model.py ` +
      `--checkpoint <ckpt> --model-type ${model.exportModelType === 'mobile' ? 'vit_t (MobileSAM repo)' : model.exportModelType} --output decoder.onnx --opset 17`,
    `     - encoder: samexporter: python -m samexporter.export_encoder --checkpoint <ckpt> ` +
      `--model-type ${model.exportModelType} --output encoder.onnx --use-preprocess`,
  ];
}

function modelNotPresent(model: KnownModel, home: string): MedpersamUserError {
  const dir = modelDir(model.id, home);
  const partial = existsSync(stagingDir(model.id, home));
  const lines = [
    `SAM model "${model.id}" is not installed (looked in ${dir}).`,
    partial ? `An interrupted download exists: 'medpersam models pull ${model.id}' resumes it.` : '',
    `Get it in one of these ways:`,
    `  1. Download it (~${formatBytes(model.approxBytes)}):  medpersam models pull ${model.id}`,
    `  2. Export it yourself from the checkpoint ${model.checkpoint}:`,
    ...exportSteps(model),
    `     Put both .onnx files (and any external-data *.bin / *.data files next to them) in ${dir}/ ,`,
    `     or in any folder and pass --sam <that folder>.`,
    `Models live under ${modelsRoot(home)}; set ${MEDPERSAM_HOME_ENV} to keep them elsewhere.`,
  ].filter((l) => l !== '');
  return new MedpersamUserError('MODEL_NOT_PRESENT', lines.join('\n'));
}

// ------------------------------------------------------------------------------------------------- verify

export interface VerifiedValue {
  name: string;
  /** Element type, e.g. 'float32'. */
  type: string;
  /** Dimensions (numbers, symbolic names, null = unknown); null when the rank is unknown. */
  dims: (number | string | null)[] | null;
  /** e.g. "[1,256,64,64]", "[1,N,2]". */
  shape: string;
}

export interface VerifiedGraph {
  file: string;
  opset: number | null;
  inputs: VerifiedValue[];
  outputs: VerifiedValue[];
  externalData: string[];
}

export interface VerifyOptions {
  /** ONNX Runtime threads for the check (default: runtime default). */
  threads?: number;
  executionProvider?: ExecutionProviderName;
  /** Re-hash the files listed in manifest.json (pulled models) and compare (default true). */
  checkFiles?: boolean;
  /** Also run the encoder on a small synthetic image and the decoder on point + box + mask prompts (default false). */
  smokeTest?: boolean;
  onProgress?: ProgressCallback;
}

export interface VerifyReport {
  dir: string;
  /** False when a checksum differs from the manifest or the smoke test failed. */
  ok: boolean;
  problems: string[];
  encoder: VerifiedGraph & { variant: EncoderVariant };
  /**
   * K = number of decoder outputs read from the graph (1 or 4; null when dynamic). `targetEmbedding`: whether
   * PerSAM target-semantic prompting can be enabled — the patch was actually applied and the patched decoder
   * loaded (and, with the smoke test, ran); `targetEmbeddingDetail` says how, or why not.
   */
  decoder: VerifiedGraph & { k: number | null; targetEmbedding: boolean; targetEmbeddingDetail: string };
  /** Embedding shape; null when neither graph declares it and no encoder run fixed it (no smoke test). */
  embeddingDims: readonly [number, number, number, number] | null;
  /** Where the embedding shape came from: the encoder's declared output, the decoder's input, or an encoder run. */
  embeddingDimsSource: 'encoder' | 'decoder' | 'first-run';
  executionProvider: ExecutionProviderName;
  warnings: string[];
  checksums: {
    status: 'ok' | 'mismatch' | 'no-manifest' | 'skipped';
    checked: number;
    mismatched: { path: string; expected: string; actual: string }[];
    policy?: ModelManifest['checksumPolicy'];
  };
  smokeTest?: {
    ok: boolean;
    encodeMs: number;
    decodeMs: number;
    outputs: number;
    detail: string;
    /** With a target-embedding decoder: the decode with a target embedding gave finite outputs that differ from without. */
    targetEmbeddingOk?: boolean;
  };
}

function targetEmbeddingDetail(
  exported: boolean,
  info: { targetEmbedding: boolean; warnings: string[]; encoderVariant: EncoderVariant },
  smoke: VerifyReport['smokeTest'],
): string {
  if (!info.targetEmbedding) {
    const why = info.warnings.find((w) => w.startsWith('target-semantic prompting is off'));
    return why ? why.replace(/^target-semantic prompting is off: /, '').replace(/; SAM runs without the target embedding$/, '') : 'not available';
  }
  const patched = exported ? 'the decoder has a target_embedding input' : 'the decoder graph was patched (PerSAM target embedding added per transformer layer)';
  // SAM 2's two-way transformer is SAM 1's (the high-resolution maps join only in the upscaling after it); the patch
  // matched PerSAM's rule run in SAM 2's PyTorch transformer within 1e-4 (test/sam/sam2-golden.test.ts).
  const how = info.encoderVariant === 'sam2' ? `${patched}; SAM 2: same two-way transformer as SAM 1, checked against PerSAM in PyTorch` : patched;
  if (!smoke) return `${how}; not run (add --smoke to run it)`;
  return smoke.targetEmbeddingOk ? `${how}; the smoke test ran it` : `${how}, but the smoke test's decode with a target embedding failed`;
}

/**
 * `models verify <dir>`: load the pair with the real loader (`loadSamModel`: interface checks, both ONNX
 * Runtime sessions created) and report every input and output, the encoder variant and K; for pulled models
 * re-check the files against manifest.json. Loading problems throw the loader's MedpersamUserError.
 */
export async function verifyModelDir(dir: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const absDir = resolve(dir);
  const problems: string[] = [];

  // 1. Files against the manifest first: a damaged file is then reported as such, not as a broken model.
  const checksums: VerifyReport['checksums'] = { status: 'skipped', checked: 0, mismatched: [] };
  if (opts.checkFiles ?? true) {
    const manifest = readManifestRaw(absDir);
    if (!manifest) {
      checksums.status = 'no-manifest';
    } else {
      checksums.policy = manifest.checksumPolicy;
      for (const f of manifest.files) {
        const path = join(absDir, f.path);
        const actual = existsSync(path) ? await sha256File(path, opts.onProgress, f.path) : 'missing';
        checksums.checked++;
        if (actual !== f.sha256) checksums.mismatched.push({ path: f.path, expected: f.sha256, actual });
      }
      checksums.status = checksums.mismatched.length > 0 ? 'mismatch' : 'ok';
      for (const m of checksums.mismatched) {
        problems.push(
          m.actual === 'missing'
            ? `${m.path} is missing (it was pulled with sha256 ${m.expected}); pull the model again with --force`
            : `${m.path} changed since it was pulled (sha256 ${m.actual}, manifest says ${m.expected}); pull the model again with --force`,
        );
      }
    }
  }

  // 2. Load with the real loader (interface checks + ONNX Runtime sessions).
  let files: Awaited<ReturnType<typeof findSamModelFiles>>;
  let model: Awaited<ReturnType<typeof loadSamModel>>;
  try {
    files = await findSamModelFiles(absDir);
    // Ask for the target-embedding patch: the report then says whether it really applies to this decoder.
    model = await loadSamModel(absDir, {
      threads: opts.threads,
      executionProvider: opts.executionProvider,
      cacheDir: false,
      memoryCacheEntries: 1,
      targetEmbedding: true,
    });
  } catch (err) {
    if (checksums.status === 'mismatch' && err instanceof MedpersamUserError) {
      throw new MedpersamUserError(
        'CHECKSUM_MISMATCH',
        `the model does not load (${err.message}), and its files differ from what was pulled:\n  - ${problems.join('\n  - ')}`,
        { file: absDir, cause: err },
      );
    }
    throw err;
  }
  let smokeTest: VerifyReport['smokeTest'];
  try {
    if (opts.smokeTest) {
      smokeTest = await runSmokeTest(model);
      if (!smokeTest.ok) problems.push(`smoke test failed: ${smokeTest.detail}`);
    }
  } finally {
    await model.release();
  }
  return {
    dir: absDir,
    ok: problems.length === 0,
    problems,
    encoder: { ...graphOf(files.encoder, absDir), variant: files.encoderVariant },
    decoder: {
      ...graphOf(files.decoder, absDir),
      k: files.decoderOutputs,
      targetEmbedding: model.info.targetEmbedding && (smokeTest?.targetEmbeddingOk ?? true),
      targetEmbeddingDetail: targetEmbeddingDetail(files.decoderHasTargetEmbedding, model.info, smokeTest),
    },
    embeddingDims: model.info.embeddingDims,
    embeddingDimsSource: files.embeddingDims ? files.embeddingDimsSource : 'first-run',
    executionProvider: model.info.executionProvider,
    warnings: model.info.warnings,
    checksums,
    ...(smokeTest ? { smokeTest } : {}),
  };
}

const ONNX_TYPES: Record<number, string> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 5: 'int16', 6: 'int32', 7: 'int64', 9: 'bool', 10: 'float16', 11: 'float64',
};

function valueOf(v: OnnxValueInfo): VerifiedValue {
  const shape = v.shape ? `[${v.shape.map((d) => (d === null ? '?' : String(d))).join(',')}]` : '[unknown]';
  return { name: v.name, type: ONNX_TYPES[v.elemType] ?? `onnx-type-${v.elemType}`, dims: v.shape, shape };
}

function graphOf(info: OnnxFileInfo, dir: string): VerifiedGraph {
  return {
    file: relative(dir, info.path).split(/[\\/]/).join('/'),
    opset: info.opset,
    inputs: info.inputs.map(valueOf),
    outputs: info.outputs.map(valueOf),
    externalData: info.externalDataFiles,
  };
}

/** Encode a small synthetic RGB image, decode point + box + mask prompts, check shapes and finiteness. */
async function runSmokeTest(model: Awaited<ReturnType<typeof loadSamModel>>): Promise<NonNullable<VerifyReport['smokeTest']>> {
  const width = 96;
  const height = 64;
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const inside = x >= 30 && x < 66 && y >= 16 && y < 48;
      data[i] = inside ? 200 : (x * 255) / width;
      data[i + 1] = inside ? 180 : (y * 255) / height;
      data[i + 2] = inside ? 160 : 40;
    }
  }
  const image: FloatImage = { width, height, channels: 3, data };
  const maskData = new Uint8Array(width * height);
  for (let y = 16; y < 48; y++) for (let x = 30; x < 66; x++) maskData[y * width + x] = 1;
  const mask: BinaryMask = { width, height, data: maskData };
  const t0 = performance.now();
  const embedding = await model.encode(image);
  const t1 = performance.now();
  const result = await model.decode(embedding, {
    pointsOriginal: [{ x: 48, y: 32, label: 1 }],
    boxOriginal: { x0: 30, y0: 16, x1: 65, y1: 47 },
    maskPrompt: { kind: 'binary', mask },
  });
  const t2 = performance.now();
  const issues: string[] = [];
  const embLen = (model.info.embeddingDims ?? embedding.dims).reduce((a, b) => a * b, 1);
  // A patched decoder: decode again with a target embedding (the mean embedding channel vector, as the pipeline's
  // prototype is a mean feature); its outputs must be finite and must differ from the decode without one.
  let targetEmbeddingOk: boolean | undefined;
  if (model.info.targetEmbedding) {
    const [, c, h, w] = embedding.dims;
    const target = new Float32Array(c);
    for (let ch = 0; ch < c; ch++) {
      let sum = 0;
      for (let i = 0; i < h * w; i++) sum += embedding.data[ch * h * w + i]!;
      target[ch] = sum / (h * w);
    }
    const withTarget = await model.decode(embedding, {
      pointsOriginal: [{ x: 48, y: 32, label: 1 }],
      boxOriginal: { x0: 30, y0: 16, x1: 65, y1: 47 },
      maskPrompt: { kind: 'binary', mask },
      targetEmbedding: target,
    });
    const finite = withTarget.logitsOriginal.every((l) => l.every(Number.isFinite)) && withTarget.iouScores.every(Number.isFinite);
    const moved = withTarget.iouScores.some((v, i) => v !== result.iouScores[i]) || withTarget.lowResLogits.some((l, i) => l.some((v, j) => v !== result.lowResLogits[i]![j]));
    targetEmbeddingOk = finite && moved;
    if (!finite) issues.push('decoding with a target embedding gave non-finite values');
  }
  if (embedding.data.length !== embLen) issues.push(`embedding has ${embedding.data.length} values, expected ${embLen}`);
  if (!embedding.data.every(Number.isFinite)) issues.push('embedding has non-finite values');
  if (result.logitsOriginal.length === 0) issues.push('decoder returned no masks');
  for (const l of result.logitsOriginal) {
    if (l.length !== width * height) issues.push(`mask has ${l.length} values, expected ${width * height}`);
    else if (!l.every(Number.isFinite)) issues.push('mask logits have non-finite values');
  }
  for (const l of result.lowResLogits) if (l.length !== 256 * 256) issues.push(`low-res mask has ${l.length} values, expected 65536`);
  if (!result.iouScores.every(Number.isFinite)) issues.push('IoU scores are not finite');
  return {
    ok: issues.length === 0,
    encodeMs: t1 - t0,
    decodeMs: t2 - t1,
    outputs: result.logitsOriginal.length,
    detail: issues.length === 0 ? `encoded ${width}x${height}, decoded ${result.logitsOriginal.length} mask(s)` : issues.join('; '),
    ...(targetEmbeddingOk === undefined ? {} : { targetEmbeddingOk }),
  };
}

// ------------------------------------------------------------------------------------------------- helpers

/** manifest.json as written by pull, without checking the files (undefined when absent or not ours). */
function readManifestRaw(dir: string): ModelManifest | undefined {
  try {
    const m = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as ModelManifest;
    return m?.format === 'medpersam-model' && Array.isArray(m.files) ? m : undefined;
  } catch {
    return undefined;
  }
}

/** Read a complete pulled model's manifest: undefined when absent, unreadable, or a listed file is missing / has the wrong size. */
export function readManifestSync(dir: string): ModelManifest | undefined {
  const manifest = readManifestRaw(dir);
  if (!manifest) return undefined;
  for (const f of manifest.files) {
    if (!isInside(dir, f.path)) return undefined;
    try {
      if (statSync(join(dir, f.path)).size !== f.bytes) return undefined;
    } catch {
      return undefined;
    }
  }
  if (!isFile(join(dir, manifest.encoder)) || !isFile(join(dir, manifest.decoder))) return undefined;
  return manifest;
}

function requireKnownModel(id: string): KnownModel {
  const model = findKnownModel(id);
  if (!model) {
    throw new MedpersamUserError('UNKNOWN_MODEL', `unknown SAM model id "${id}". Known ids: ${knownModelIds().join(', ')}`);
  }
  return model;
}

function effectiveBaseUrl(explicit: string | undefined): string | undefined {
  const v = explicit ?? process.env[MODEL_BASE_URL_ENV];
  return v && v.trim() !== '' ? v.trim() : undefined;
}

/** Sources with their URLs; with a base-URL override, sources that map to the same URLs collapse into one. */
function sourcesFor(model: KnownModel, baseUrl: string | undefined): { source: ModelSource; urls: string[] }[] {
  const out: { source: ModelSource; urls: string[] }[] = [];
  const seen = new Set<string>();
  for (const source of model.sources) {
    const urls = source.files.map((f) => fileUrl(source, f, baseUrl));
    const key = urls.join('\n');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ source, urls });
  }
  return out;
}

export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${Math.round(n / 1e6)} MB`;
  if (n >= 1e3) return `${Math.round(n / 1e3)} kB`;
  return `${n} B`;
}

function isInside(dir: string, rel: string): boolean {
  if (typeof rel !== 'string' || rel === '' || isAbsolute(rel)) return false;
  const r = relative(resolve(dir), resolve(dir, rel));
  return r !== '' && !r.startsWith('..') && !isAbsolute(r);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** Names of the *.onnx files directly in dir (the loader looks only there). */
function listOnnx(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile() && e.name.toLowerCase().endsWith('.onnx'))
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}
