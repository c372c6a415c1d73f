/**
 * Dataset discovery.
 *
 * Layout: `DIR/images/*` (required, not empty), `DIR/masks/*` (optional), `DIR/classes.json` (optional).
 * Image files are picked by extension (.png .jpg .jpeg .tif .tiff .bmp .dcm .dicom .nii .nii.gz, any case);
 * files with any other or no extension are picked when their bytes say DICOM (preamble + "DICM"), as scanners
 * often write extension-less or UID-named files. Hidden files (".*") are skipped.
 *
 * Ids: an image's id is its file name without the image extension (`case01.nii.gz` → `case01`; an extension-less
 * or UID-named DICOM keeps its whole name). A mask matches the image with the same id, or with the id after
 * removing one of the suffixes `_mask`, `-mask`, `_label`, `-label`, `_seg`, `-seg` (any case); an exact stem
 * match wins over a suffix match. Images without a mask are kept (they can still be segmented); masks without an
 * image are listed in `unmatchedMasks` and otherwise ignored. Two images with one id, or two masks for one image,
 * are an error (ambiguous).
 *
 * Order and reference: items are sorted by id in plain code-point order (`'B' < 'a'`, `'img10' < 'img2'`; the
 * paper's "first image in alphabetical order", without locale rules so every machine agrees). The reference is
 * the first item that has a mask, unless `reference` names one (by id or file name); it must have a mask.
 * Images of different sizes in one set are allowed.
 */
import { open, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { MedpersamUserError } from '../errors.js';
import type { ClassNames } from '../image/types.js';
import { fileStem, imageExtension, isDicomPart10, SUPPORTED_IMAGE_EXTENSIONS } from './formats.js';
import { readClassNames } from './mask.js';

export interface DatasetItem {
  /** File stem (see the module comment). */
  id: string;
  imagePath: string;
  maskPath?: string;
}

export interface Dataset {
  root: string;
  /** All images, sorted by id (code-point order). */
  items: DatasetItem[];
  /** The one annotated example (paper: first image in alphabetical order). */
  reference: DatasetItem;
  /** `items` without the reference, same order. */
  tests: DatasetItem[];
  /** From DIR/classes.json when present. */
  classes?: ClassNames;
  /** Mask files whose stem matches no image (ignored). */
  unmatchedMasks: string[];
}

export interface DiscoverDatasetOptions {
  /** Reference image id or file name; default the first image id (code-point order) that has a mask. */
  reference?: string;
}

/** Suffixes removed from a mask's stem to find its image. */
export const MASK_SUFFIXES: readonly string[] = ['_mask', '-mask', '_label', '-label', '_seg', '-seg'];

/** Plain code-point comparison (no locale rules). */
export function compareCodePoints(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function looksLikeDicom(path: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'r');
    const head = new Uint8Array(132);
    const { bytesRead } = await handle.read(head, 0, 132, 0);
    return bytesRead === 132 && isDicomPart10(head);
  } catch {
    return false;
  } finally {
    await handle?.close();
  }
}

async function listFolder(dir: string, what: string): Promise<string[]> {
  let info;
  try {
    info = await stat(dir);
  } catch (err) {
    throw new MedpersamUserError('FILE_NOT_FOUND', `${what} not found`, { file: dir, cause: err });
  }
  if (!info.isDirectory()) throw new MedpersamUserError('NOT_A_FOLDER', `${what} is not a folder`, { file: dir });
  try {
    return await readdir(dir);
  } catch (err) {
    throw new MedpersamUserError('UNREADABLE_FOLDER', `cannot list ${what} (${(err as NodeJS.ErrnoException).code})`, {
      file: dir,
      cause: err,
    });
  }
}

interface ImageFile {
  id: string;
  path: string;
}

/** Image files of one folder with their ids, sorted by file name (code points). */
async function imageFilesIn(dir: string, what: string): Promise<ImageFile[]> {
  const names = (await listFolder(dir, what)).filter((n) => !n.startsWith('.')).sort(compareCodePoints);
  const files: ImageFile[] = [];
  for (const name of names) {
    const path = join(dir, name);
    let isFile = false;
    try {
      isFile = (await stat(path)).isFile();
    } catch {
      isFile = false;
    }
    if (!isFile) continue;
    const ext = imageExtension(name);
    if (SUPPORTED_IMAGE_EXTENSIONS.includes(ext)) files.push({ id: fileStem(name), path });
    else if (await looksLikeDicom(path)) files.push({ id: name, path });
  }
  return files;
}

/**
 * Image files in a plain folder (not recursive), full paths sorted by file name in code-point order.
 * An empty folder gives []; a missing one 'FILE_NOT_FOUND'.
 */
export async function listImages(dir: string): Promise<string[]> {
  return (await imageFilesIn(dir, 'image folder')).map((f) => f.path);
}

function stripMaskSuffix(stem: string): string | null {
  const lower = stem.toLowerCase();
  for (const suffix of MASK_SUFFIXES) {
    if (lower.endsWith(suffix) && stem.length > suffix.length) return stem.slice(0, stem.length - suffix.length);
  }
  return null;
}

/**
 * Mask files of a folder by the image stem they belong to: each file under its own stem and under its stem without
 * a `_mask`-like suffix (the first file in name order wins a stem).
 */
export async function masksByStem(dir: string): Promise<Map<string, string>> {
  const byStem = new Map<string, string>();
  for (const f of await listImages(dir)) {
    const stem = fileStem(basename(f));
    if (!byStem.has(stem)) byStem.set(stem, f);
    const stripped = stripMaskSuffix(stem);
    if (stripped !== null && !byStem.has(stripped)) byStem.set(stripped, f);
  }
  return byStem;
}

export async function discoverDataset(dir: string, opts: DiscoverDatasetOptions = {}): Promise<Dataset> {
  await listFolder(dir, 'dataset folder');
  const imagesDir = join(dir, 'images');
  const masksDir = join(dir, 'masks');
  let imagesInfo;
  try {
    imagesInfo = await stat(imagesDir);
  } catch {
    imagesInfo = null;
  }
  if (!imagesInfo?.isDirectory()) {
    throw new MedpersamUserError(
      'DATASET_LAYOUT',
      'no images/ folder: a dataset folder holds images/ (and masks/ with label maps of the same names)',
      { file: dir },
    );
  }
  const images = await imageFilesIn(imagesDir, 'images folder');
  if (images.length === 0) {
    throw new MedpersamUserError(
      'EMPTY_DATASET',
      `no images found (supported: ${SUPPORTED_IMAGE_EXTENSIONS.join(' ')} or DICOM files without extension)`,
      { file: imagesDir },
    );
  }

  const byId = new Map<string, DatasetItem>();
  for (const img of images) {
    const existing = byId.get(img.id);
    if (existing) {
      throw new MedpersamUserError(
        'DUPLICATE_ID',
        `two images have the id "${img.id}": ${basename(existing.imagePath)} and ${basename(img.path)}; rename one`,
        { file: imagesDir },
      );
    }
    byId.set(img.id, { id: img.id, imagePath: img.path });
  }

  const unmatchedMasks: string[] = [];
  let hasMasksDir = false;
  try {
    hasMasksDir = (await stat(masksDir)).isDirectory();
  } catch {
    hasMasksDir = false;
  }
  if (hasMasksDir) {
    const masks = await imageFilesIn(masksDir, 'masks folder');
    // Exact stem matches first, then suffix matches, so `a.png` beats `a_mask.png` deterministically.
    const exact = masks.filter((m) => byId.has(m.id));
    const rest = masks.filter((m) => !byId.has(m.id));
    const claim = (item: DatasetItem, maskPath: string) => {
      if (item.maskPath) {
        throw new MedpersamUserError(
          'DUPLICATE_MASK',
          `image "${item.id}" has two masks: ${basename(item.maskPath)} and ${basename(maskPath)}; remove one`,
          { file: masksDir },
        );
      }
      item.maskPath = maskPath;
    };
    for (const m of exact) claim(byId.get(m.id)!, m.path);
    for (const m of rest) {
      const stripped = stripMaskSuffix(m.id);
      const item = stripped !== null ? byId.get(stripped) : undefined;
      if (item && item.maskPath === undefined) item.maskPath = m.path;
      else unmatchedMasks.push(m.path);
    }
  }

  const items = [...byId.values()].sort((a, b) => compareCodePoints(a.id, b.id));
  let reference: DatasetItem | undefined;
  if (opts.reference !== undefined) {
    const wanted = opts.reference;
    reference = items.find((it) => it.id === wanted || basename(it.imagePath) === wanted || it.imagePath === wanted);
    if (!reference) {
      const some = items.slice(0, 5).map((it) => it.id).join(', ');
      throw new MedpersamUserError(
        'REFERENCE_NOT_FOUND',
        `reference "${wanted}" is not an image id in this dataset (ids: ${some}${items.length > 5 ? ', …' : ''})`,
        { file: imagesDir },
      );
    }
    if (!reference.maskPath) {
      throw new MedpersamUserError(
        'REFERENCE_WITHOUT_MASK',
        `reference "${reference.id}" has no mask in masks/ (expected ${reference.id}.png or ${reference.id}_mask.png)`,
        { file: reference.imagePath },
      );
    }
  } else {
    reference = items.find((it) => it.maskPath !== undefined);
    if (!reference) {
      throw new MedpersamUserError(
        'NO_REFERENCE_MASK',
        'no image has a mask, so there is no reference: put at least one label map in masks/ with the image\'s name',
        { file: dir },
      );
    }
  }
  const ref = reference;

  const classesPath = join(dir, 'classes.json');
  let classes: ClassNames | undefined;
  let hasClasses = false;
  try {
    hasClasses = (await stat(classesPath)).isFile();
  } catch {
    hasClasses = false;
  }
  if (hasClasses) classes = await readClassNames(classesPath);

  return {
    root: dir,
    items,
    reference: ref,
    tests: items.filter((it) => it !== ref),
    ...(classes ? { classes } : {}),
    unmatchedMasks: unmatchedMasks.sort(compareCodePoints),
  };
}
