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
import { join, resolve, relative, isAbsolute } from 'node:path';
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
  if (!existing && existsSync(dir) && (await readdir(dir)).length > 0) {
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
  'MODEL_LAYOUT',
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
    const layout = locateModelFiles(tmp);
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
    const unusableArchive =
      err instanceof MedpersamUserError && (err.code.startsWith('ARCHIVE') || err.code === 'MODEL_LAYOUT');
    if (unusableArchive && source.kind === 'zip') await rm(join(staging, source.files[0]!.name), { force: true });
    throw err;
  }
}

// ------------------------------------------------------------------------------------------------- layout

export interface ModelLayout {
  /** Encoder ONNX, relative to the folder ('/'-separated). */
  encoder: string;
  /** Decoder ONNX, relative to the folder. */
  decoder: string;
}

/**
 * Find the encoder and decoder ONNX files in a model folder: `manifest.json` (pulled models), else a
 * samexporter/AnyLabeling `config.yaml` (`encoder_model_path:` / `decoder_model_path:`), else the one
 * `*encoder*.onnx` and the one `*decoder*.onnx` (searched two folder levels deep).
 * Throws 'MODEL_LAYOUT' naming what it found when that is ambiguous or incomplete.
 */
export function locateModelFiles(dir: string): ModelLayout {
  const manifest = readManifestSync(dir);
  if (manifest) return { encoder: manifest.encoder, decoder: manifest.decoder };

  const configPath = join(dir, 'config.yaml');
  if (existsSync(configPath)) {
    const text = readFileSync(configPath, 'utf8');
    const enc = yamlScalar(text, 'encoder_model_path');
    const dec = yamlScalar(text, 'decoder_model_path');
    if (enc && dec && isInside(dir, enc) && isInside(dir, dec) && isFile(join(dir, enc)) && isFile(join(dir, dec))) {
      return { encoder: enc.replace(/\\/g, '/'), decoder: dec.replace(/\\/g, '/') };
    }
  }
  const onnx = listOnnx(dir, 2);
  const encoders = onnx.filter((p) => /encoder/i.test(lastSegment(p)));
  const decoders = onnx.filter((p) => /decoder/i.test(lastSegment(p)));
  if (encoders.length === 1 && decoders.length === 1) return { encoder: encoders[0]!, decoder: decoders[0]! };
  const found = onnx.length > 0 ? onnx.join(', ') : 'no .onnx files';
  const problem =
    encoders.length === 0 || decoders.length === 0
      ? `needs one *encoder*.onnx and one *decoder*.onnx file`
      : `has several candidate encoder/decoder files; keep one of each (or add a config.yaml with encoder_model_path / decoder_model_path)`;
  throw new MedpersamUserError('MODEL_LAYOUT', `SAM model folder ${problem}; found: ${found}`, { file: dir });
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
    if (listOnnx(dir, 2).length > 0) return dir; // files placed there by hand: the loader checks them
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

function modelNotPresent(model: KnownModel, home: string): MedpersamUserError {
  const dir = modelDir(model.id, home);
  const partial = existsSync(stagingDir(model.id, home));
  const lines = [
    `SAM model "${model.id}" is not installed (looked in ${dir}).`,
    partial ? `An interrupted download exists: 'medpersam models pull ${model.id}' resumes it.` : '',
    `Get it in one of these ways:`,
    `  1. Download it (~${formatBytes(model.approxBytes)}):  medpersam models pull ${model.id}`,
    `  2. Export it yourself from the checkpoint ${model.checkpoint}:`,
    `     - decoder (official format, keeps mask_input): segment-anything's scripts/export_onnx_model.py ` +
      `--checkpoint <ckpt> --model-type ${model.exportModelType === 'mobile' ? 'vit_t (MobileSAM repo)' : model.exportModelType} --output decoder.onnx --opset 17`,
    `     - encoder: samexporter: python -m samexporter.export_encoder --checkpoint <ckpt> ` +
      `--model-type ${model.exportModelType} --output encoder.onnx --use-preprocess`,
    `     Put both .onnx files (and any external-data *.bin / *.data files next to them) in ${dir}/ ,`,
    `     or in any folder and pass --sam <that folder>.`,
    `Models live under ${modelsRoot(home)}; set ${MEDPERSAM_HOME_ENV} to keep them elsewhere.`,
  ].filter((l) => l !== '');
  return new MedpersamUserError('MODEL_NOT_PRESENT', lines.join('\n'));
}

// ------------------------------------------------------------------------------------------------- helpers

/** Read a complete pulled model's manifest: undefined when absent, unreadable, or a listed file is missing / has the wrong size. */
export function readManifestSync(dir: string): ModelManifest | undefined {
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8')) as ModelManifest;
  } catch {
    return undefined;
  }
  if (manifest?.format !== 'medpersam-model' || !Array.isArray(manifest.files)) return undefined;
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

function yamlScalar(text: string, key: string): string | undefined {
  const m = new RegExp(`^\\s*${key}\\s*:\\s*["']?([^"'#\\r\\n]+?)["']?\\s*(?:#.*)?$`, 'm').exec(text);
  return m?.[1]?.trim();
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

function lastSegment(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

/** Relative '/'-paths of *.onnx files under dir, up to `depth` folder levels below it. */
function listOnnx(dir: string, depth: number, prefix = ''): string[] {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(join(dir, ...prefix.split('/').filter(Boolean)), { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith('.')) continue;
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isFile() && e.name.toLowerCase().endsWith('.onnx')) out.push(rel);
    else if (e.isDirectory() && depth > 0) out.push(...listOnnx(dir, depth - 1, rel));
  }
  return out;
}

