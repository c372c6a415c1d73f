/**
 * A run bundle (issue 22): everything `apply` needs to segment new images without training, as one folder that
 * `fit` writes and any number of machines read.
 *
 *   BUNDLE/bundle.json           kind, format version, the fingerprint, the resolved warp settings (preprocessing
 *                                choices included), the label-warp mode, the reference files by content (sha256),
 *                                the warp model's sha256, the sample the model was fitted on, the SAM model (its
 *                                id or folder, the sha256 of its files, the final round's prompt settings:
 *                                bundle-sam.ts; null for a warp-only bundle), every round's warp model
 *   BUNDLE/warp-model.mpwarp     the final trained warp model, the one apply uses (src/warp/saved-model.ts format)
 *   BUNDLE/warp-model-round-<r>.mpwarp  with SAM: the warp model after round r's training, r < R (§3.3)
 *   BUNDLE/reference<ext>        the reference image, byte for byte as given
 *   BUNDLE/reference-mask<ext>   its label mask, byte for byte
 *
 * Written atomically: the folder is built under a temporary name beside the target and renamed into place; an
 * existing target is never replaced. Read back with every file checked against its recorded sha256.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { MedpersamUserError } from '../errors.js';
import { pathExists } from '../io/exists.js';
import { WARP_MODEL_FILE } from '../io/warp-model-file.js';
import type { LabelWarpMode } from '../warp/model.js';
import type { WarpSettings } from '../warp/presets.js';
import type { BundleSam } from './bundle-sam.js';

export const BUNDLE_KIND = 'medpersam-run-bundle';
/** 2: SAM bundles (`sam`, `roundWarpModels`). Version 1 (warp-only, no `roundWarpModels`) is still read. */
export const BUNDLE_FORMAT_VERSION = 2;
const READABLE_VERSIONS = [1, 2];
export const BUNDLE_FILE = 'bundle.json';

/** The images the warp model was fitted on. */
export interface BundleSample {
  /** Images in the folder (reference excluded) and how many were drawn. */
  folderImages: number;
  size: number;
  /** The seed of the draw (a content-id ordering, see fit.ts). */
  seed: number;
  /** Content ids (sha256 of the files' bytes) of the sample, in fitting order. */
  contentIds: string[];
}

/** bundle.json. */
export interface BundleManifest {
  kind: typeof BUNDLE_KIND;
  formatVersion: number;
  createdAt: string;
  /** sha256 of everything below that changes a mask (settings, label warp, reference, model, SAM). */
  fingerprint: string;
  settings: WarpSettings;
  labelWarp: LabelWarpMode;
  reference: { imageFile: string; imageSha256: string; maskFile: string; maskSha256: string; name: string };
  warpModel: { file: string; sha256: string };
  /** Foreground classes of the reference mask. */
  classes: number[];
  sample: BundleSample;
  /** The SAM model's identity and the final round's settings; null for a warp-only bundle. */
  sam: BundleSam | null;
  /** The warp model after each round's training, round 0 first (the last is `warpModel`); [] for warp-only. */
  roundWarpModels?: RoundWarpModel[];
}

/** One round's warp model in the bundle. */
export interface RoundWarpModel {
  round: number;
  file: string;
  sha256: string;
}

/** What fit hands over to be written. */
export interface BundleContents {
  settings: WarpSettings;
  labelWarp: LabelWarpMode;
  referenceImagePath: string;
  referenceMaskPath: string;
  warpModelBytes: Uint8Array;
  classes: number[];
  sample: BundleSample;
  /** With SAM: its identity, and the warp models of rounds 0..R-1 (round R's is `warpModelBytes`). */
  sam?: BundleSam;
  earlierRoundWarpModels?: Uint8Array[];
}

/** A bundle read back and checked. */
export interface LoadedBundle {
  dir: string;
  manifest: BundleManifest;
  referenceImagePath: string;
  referenceMaskPath: string;
  warpModelPath: string;
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** The mask-changing part of a manifest, hashed in a fixed key order. */
function fingerprintOf(m: Omit<BundleManifest, 'fingerprint' | 'kind' | 'formatVersion' | 'createdAt' | 'sample'>): string {
  const identity = {
    settings: m.settings,
    labelWarp: m.labelWarp,
    reference: { image: m.reference.imageSha256, mask: m.reference.maskSha256 },
    warpModel: m.warpModel.sha256,
    classes: m.classes,
    sam: m.sam,
  };
  return sha256(new TextEncoder().encode(JSON.stringify(identity)));
}

/** A bundle is never written over an existing path (checked before fitting, and again before the rename). */
export async function refuseExistingBundleTarget(target: string): Promise<void> {
  if (await pathExists(target)) {
    throw new MedpersamUserError('OUTPUT_EXISTS', 'the bundle folder already exists; choose a new --out (a bundle is never overwritten)', { file: target });
  }
}

/** Write a bundle folder at `outDir` atomically (temporary folder, then rename); never over an existing path. */
export async function writeBundle(outDir: string, contents: BundleContents): Promise<BundleManifest> {
  const target = resolve(outDir);
  await refuseExistingBundleTarget(target);
  const [imageBytes, maskBytes] = await Promise.all([readFile(contents.referenceImagePath), readFile(contents.referenceMaskPath)]);
  const imageFile = `reference${extname(contents.referenceImagePath).toLowerCase()}`;
  const maskFile = `reference-mask${extname(contents.referenceMaskPath).toLowerCase()}`;
  const partial = {
    settings: contents.settings,
    labelWarp: contents.labelWarp,
    reference: { imageFile, imageSha256: sha256(imageBytes), maskFile, maskSha256: sha256(maskBytes), name: basename(contents.referenceImagePath) },
    warpModel: { file: WARP_MODEL_FILE, sha256: sha256(contents.warpModelBytes) },
    classes: contents.classes,
    sam: contents.sam ?? null,
  };
  const earlier = contents.earlierRoundWarpModels ?? [];
  const roundFile = (round: number) => (round === earlier.length ? WARP_MODEL_FILE : `warp-model-round-${round}.mpwarp`);
  const rounds = contents.sam ? [...earlier, contents.warpModelBytes].map((bytes, round) => ({ round, file: roundFile(round), sha256: sha256(bytes) })) : [];
  const manifest: BundleManifest = {
    kind: BUNDLE_KIND,
    formatVersion: BUNDLE_FORMAT_VERSION,
    createdAt: new Date().toISOString(),
    fingerprint: fingerprintOf(partial),
    ...partial,
    sample: contents.sample,
    roundWarpModels: rounds,
  };
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(tmp, { recursive: true });
    await writeFile(join(tmp, imageFile), imageBytes);
    await writeFile(join(tmp, maskFile), maskBytes);
    await writeFile(join(tmp, WARP_MODEL_FILE), contents.warpModelBytes);
    for (const [round, bytes] of earlier.entries()) await writeFile(join(tmp, roundFile(round)), bytes);
    await writeFile(join(tmp, BUNDLE_FILE), JSON.stringify(manifest, null, 2) + '\n');
    await rename(tmp, target);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    if (err instanceof MedpersamUserError) throw err;
    throw new MedpersamUserError('UNWRITABLE_OUTPUT', `cannot write the bundle (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { file: target, cause: err });
  }
  return manifest;
}

function badBundle(dir: string, problem: string, cause?: unknown): MedpersamUserError {
  return new MedpersamUserError('BUNDLE_INVALID', `not a usable medpersam run bundle (${problem}); write it again with \`medpersam fit\``, { file: dir, cause });
}

async function checkedFile(dir: string, file: string, expectedSha256: string): Promise<string> {
  const path = join(dir, file);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw badBundle(dir, `${file} is missing or unreadable`, err);
  }
  if (sha256(bytes) !== expectedSha256) throw badBundle(dir, `${file} does not match the sha256 recorded in ${BUNDLE_FILE}`);
  return path;
}

/** Read a bundle folder; every file is checked against bundle.json, and bundle.json against its fingerprint. */
export async function readBundle(bundleDir: string): Promise<LoadedBundle> {
  const dir = resolve(bundleDir);
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, BUNDLE_FILE), 'utf8')) as BundleManifest;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new MedpersamUserError('FILE_NOT_FOUND', `no ${BUNDLE_FILE} here: pass the folder \`medpersam fit --out\` wrote`, { file: dir, cause: err });
    throw badBundle(dir, `${BUNDLE_FILE} is not readable JSON`, err);
  }
  if (manifest?.kind !== BUNDLE_KIND) throw badBundle(dir, `${BUNDLE_FILE} is not a bundle manifest`);
  if (!READABLE_VERSIONS.includes(manifest.formatVersion)) {
    throw new MedpersamUserError('BUNDLE_VERSION', `bundle format version ${String(manifest.formatVersion)}; this medpersam reads versions ${READABLE_VERSIONS.join(', ')}`, { file: dir });
  }
  if (fingerprintOf(manifest) !== manifest.fingerprint) throw badBundle(dir, `${BUNDLE_FILE} was edited (its fingerprint does not match its contents)`);
  const [referenceImagePath, referenceMaskPath, warpModelPath] = await Promise.all([
    checkedFile(dir, manifest.reference.imageFile, manifest.reference.imageSha256),
    checkedFile(dir, manifest.reference.maskFile, manifest.reference.maskSha256),
    checkedFile(dir, manifest.warpModel.file, manifest.warpModel.sha256),
    ...(manifest.roundWarpModels ?? []).map((m) => checkedFile(dir, m.file, m.sha256)),
  ]);
  return { dir, manifest, referenceImagePath, referenceMaskPath, warpModelPath };
}
