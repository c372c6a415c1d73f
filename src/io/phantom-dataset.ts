/**
 * Write a seeded phantom dataset (see image/phantom.ts) in the dataset layout that discoverDataset reads:
 *   DIR/images/<id>.png   8-bit grey chest-like images
 *   DIR/masks/<id>.png    8-bit label maps (0 background, 1 right lung, 2 left lung, 3 heart)
 *   DIR/classes.json      index → name
 * Used by the tests and by `medpersam demo`. All writes are atomic; existing files are never overwritten
 * unless `overwrite` is set.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MedpersamUserError } from '../errors.js';
import { generatePhantom, PHANTOM_CLASSES } from '../image/phantom.js';
import type { ProgressCallback } from '../progress.js';
import { writeFileAtomic } from './atomic.js';
import { encodeLabelPng, writeClassNames, writeLabelPng } from './mask.js';

export interface PhantomDatasetOptions {
  /** Number of patients (images) to write (default 8). */
  count?: number;
  /** Image width (default 256). */
  width?: number;
  /** Image height (default = width). */
  height?: number;
  /** Dataset seed (default 1). */
  seed?: number;
  /** Noise standard deviation in grey levels (default 6, see generatePhantom). */
  noise?: number;
  /**
   * Optional list of sizes, used in turn (patient i gets sizes[i % sizes.length]); exercises datasets whose
   * images differ in size. Overrides width/height when given.
   */
  sizes?: ReadonlyArray<{ width: number; height: number }>;
  /** Image id prefix (default "phantom_"); ids are prefix + zero-padded index, so alphabetical = index order. */
  prefix?: string;
  /** Allow writing into a folder that already holds images or masks (default false: refuse). */
  overwrite?: boolean;
  onProgress?: ProgressCallback;
}

export interface PhantomDatasetItem {
  id: string;
  imagePath: string;
  maskPath: string;
  width: number;
  height: number;
}

export interface PhantomDatasetResult {
  root: string;
  imagesDir: string;
  masksDir: string;
  classesPath: string;
  items: PhantomDatasetItem[];
}

async function folderHasFiles(dir: string): Promise<boolean> {
  try {
    const entries = await readdir(dir);
    return entries.some((name) => !name.startsWith('.'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new MedpersamUserError('UNREADABLE_FOLDER', `cannot read folder (${(err as NodeJS.ErrnoException).code})`, {
      file: dir,
      cause: err,
    });
  }
}

/**
 * Encode a grey FloatImage (0..255) as an 8-bit single-channel PNG. The bytes are rounded intensities; io's label
 * encoder stores any 8-bit plane unchanged as a grey PNG, so it serves for images too.
 */
async function encodeGreyPng(data: Float32Array, width: number, height: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(width * height);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round(Math.min(255, Math.max(0, data[i]!)));
  return encodeLabelPng({ width, height, data: bytes });
}

/** Write `count` phantoms to `dir` in the dataset layout. */
export async function writePhantomDataset(dir: string, opts: PhantomDatasetOptions = {}): Promise<PhantomDatasetResult> {
  const count = opts.count ?? 8;
  const width = opts.width ?? 256;
  const height = opts.height ?? width;
  const seed = opts.seed ?? 1;
  const prefix = opts.prefix ?? 'phantom_';
  const sizes = opts.sizes && opts.sizes.length > 0 ? opts.sizes : [{ width, height }];
  if (!Number.isInteger(count) || count < 1) {
    throw new MedpersamUserError('BAD_OPTION', `phantom count must be a positive integer, got ${count}`);
  }
  const imagesDir = join(dir, 'images');
  const masksDir = join(dir, 'masks');
  const classesPath = join(dir, 'classes.json');
  if (!opts.overwrite) {
    for (const folder of [imagesDir, masksDir]) {
      if (await folderHasFiles(folder)) {
        throw new MedpersamUserError(
          'OUTPUT_EXISTS',
          'folder already holds files; choose an empty output folder (or allow overwriting)',
          { file: folder },
        );
      }
    }
  }
  const digits = Math.max(3, String(count - 1).length);
  const items: PhantomDatasetItem[] = [];
  opts.onProgress?.({ stage: 'phantom', done: 0, total: count });
  for (let patient = 0; patient < count; patient++) {
    const size = sizes[patient % sizes.length]!;
    const { image, label } = generatePhantom({
      seed,
      patient,
      width: size.width,
      height: size.height,
      noise: opts.noise,
    });
    const id = `${prefix}${String(patient).padStart(digits, '0')}`;
    const imagePath = join(imagesDir, `${id}.png`);
    const maskPath = join(masksDir, `${id}.png`);
    await writeFileAtomic(imagePath, await encodeGreyPng(image.data, image.width, image.height));
    await writeLabelPng(maskPath, label);
    items.push({ id, imagePath, maskPath, width: image.width, height: image.height });
    opts.onProgress?.({ stage: 'phantom', done: patient + 1, total: count, message: id });
  }
  await writeClassNames(classesPath, PHANTOM_CLASSES);
  return { root: dir, imagesDir, masksDir, classesPath, items };
}
