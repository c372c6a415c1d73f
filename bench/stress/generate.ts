/**
 * Write a stress dataset folder: a source dataset (a folder in the images/ + masks/ layout, or generated chest
 * phantoms) with one synthetic transform applied to its test images and their ground-truth masks, and every drawn
 * parameter recorded in `transforms.json`. Reusable by any bench script:
 *
 *   import { writeStressDataset } from './stress/generate.js';
 *   await writeStressDataset({ source: { dir: '../shared/data/jsrt-scr' }, transform: 'rotate', out: 'bench/results/stress/jsrt-rotate', limit: 40 });
 *   await writeStressDataset({ source: { phantom: { count: 41, size: 256 } }, transform: 'speckle', out: '...' });
 *
 * Output: OUT/images/<id>.png (8-bit grey, or RGB for 'rgb'), OUT/masks/<id>.png (label maps), OUT/classes.json
 * (copied), OUT/transforms.json (see StressManifest). Ids are the source ids, so the reference (the source's
 * first image with a mask) stays the first id. Never write data derived from ../shared into the repository: put
 * outputs under bench/results/ (git-ignored) or outside the checkout.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../../src/io/atomic.js';
import { discoverDataset } from '../../src/io/dataset.js';
import { readImage } from '../../src/io/image.js';
import { encodeLabelPng, readLabelMap, writeClassNames, writeLabelPng } from '../../src/io/mask.js';
import { generatePhantom, PHANTOM_CLASSES } from '../../src/image/phantom.js';
import type { ClassNames, FloatImage, LabelMap } from '../../src/image/types.js';
import { generateRepeated, STACK_CLASSES, TEETH_CLASSES, type RepeatedKind } from './repeated.js';
import { DEFAULT_STRESS_RANGES, StressRng, stressImage, type StressRanges, type StressRecord, type StressTransformName } from './transforms.js';

export type StressSource =
  | { dir: string; reference?: string }
  | { phantom: { count?: number; size?: number; seed?: number; noise?: number } }
  /** Repeated-structure phantoms (repeated.ts): a bent column of similar blocks, or two arches of teeth. */
  | { repeated: { kind: RepeatedKind; count?: number; size?: number; seed?: number } };

export interface StressDatasetOptions {
  source: StressSource;
  transform: StressTransformName;
  out: string;
  /** Only the first N test images (default all). */
  limit?: number;
  /** Seed of the transform draws (default 1). */
  seed?: number;
  ranges?: Partial<StressRanges>;
  /** Replace files in an existing output folder (default false: refuse a folder that holds images). */
  overwrite?: boolean;
  onProgress?: (done: number, total: number, id: string) => void;
}

export interface StressManifest {
  kind: 'medpersam-stress-set';
  version: 1;
  transform: StressTransformName;
  seed: number;
  ranges: StressRanges;
  source: string;
  reference: string;
  /** id → what was done (the reference included; its geometry is always the identity). */
  images: Record<string, StressRecord & { isReference: boolean }>;
}

export interface StressDatasetResult {
  out: string;
  manifestPath: string;
  manifest: StressManifest;
}

interface SourceItem {
  id: string;
  load: () => Promise<{ image: FloatImage; label: LabelMap }>;
}

/** 0..255 scale: 8-bit sources as they are; wider ones divided by their maximum. */
function to8BitScale(image: FloatImage): FloatImage {
  let max = 0;
  for (let i = 0; i < image.data.length; i++) if (image.data[i]! > max) max = image.data[i]!;
  if (max <= 255) return image;
  const data = new Float32Array(image.data.length);
  for (let i = 0; i < data.length; i++) data[i] = (255 * image.data[i]!) / max;
  return { ...image, data };
}

async function sourceItems(source: StressSource, limit: number | undefined): Promise<{ items: SourceItem[]; classes: ClassNames | undefined; label: string }> {
  if ('dir' in source) {
    const ds = await discoverDataset(source.dir, source.reference ? { reference: source.reference } : {});
    const tests = ds.tests.filter((t) => t.maskPath).slice(0, limit ?? ds.tests.length);
    const items = [ds.reference, ...tests].map((t) => ({
      id: t.id,
      load: async () => ({
        image: to8BitScale((await readImage(t.imagePath)).image),
        label: await readLabelMap(t.maskPath!, ds.classes ? { classes: ds.classes } : {}),
      }),
    }));
    return { items, classes: ds.classes, label: resolve(source.dir) };
  }
  if ('repeated' in source) {
    const r = source.repeated;
    const count = Math.min(r.count ?? 41, limit !== undefined ? limit + 1 : Infinity);
    const seed = r.seed ?? 1;
    const digits = Math.max(3, String(count - 1).length);
    const items = Array.from({ length: count }, (_, patient) => ({
      id: `${r.kind}_${String(patient).padStart(digits, '0')}`,
      load: async () => generateRepeated(r.kind, seed, patient, r.size ?? 256),
    }));
    return { items, classes: r.kind === 'stack' ? STACK_CLASSES : TEETH_CLASSES, label: `${r.kind}(seed ${seed}, ${r.size ?? 256}px)` };
  }
  const p = source.phantom;
  const count = Math.min(p.count ?? 41, limit !== undefined ? limit + 1 : Infinity);
  const size = p.size ?? 256;
  const seed = p.seed ?? 1;
  const digits = Math.max(3, String(count - 1).length);
  const items = Array.from({ length: count }, (_, patient) => ({
    id: `phantom_${String(patient).padStart(digits, '0')}`,
    load: async () => generatePhantom({ seed, patient, width: size, height: size, noise: p.noise }),
  }));
  return { items, classes: PHANTOM_CLASSES, label: `phantom(seed ${seed}, ${size}px, noise ${p.noise ?? 6})` };
}

async function encodeImagePng(image: FloatImage): Promise<Uint8Array> {
  const bytes = new Uint8Array(image.data.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round(Math.min(255, Math.max(0, image.data[i]!)));
  if (image.channels === 1) return encodeLabelPng({ width: image.width, height: image.height, data: bytes });
  const png = await sharp(bytes, { raw: { width: image.width, height: image.height, channels: 3 } }).png().toBuffer();
  return new Uint8Array(png.buffer, png.byteOffset, png.byteLength);
}

async function holdsFiles(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).some((n) => !n.startsWith('.'));
  } catch {
    return false;
  }
}

/** Write the stress dataset; returns its manifest (also written to OUT/transforms.json). */
export async function writeStressDataset(opts: StressDatasetOptions): Promise<StressDatasetResult> {
  const out = resolve(opts.out);
  const seed = opts.seed ?? 1;
  const ranges: StressRanges = { ...DEFAULT_STRESS_RANGES, ...opts.ranges };
  if (!opts.overwrite && ((await holdsFiles(join(out, 'images'))) || (await holdsFiles(join(out, 'masks'))))) {
    throw new Error(`${out}: already holds a dataset; pass overwrite to replace it`);
  }
  const { items, classes, label } = await sourceItems(opts.source, opts.limit);
  if (items.length < 2) throw new Error(`${label}: needs a reference and at least one test image with a mask`);
  await mkdir(join(out, 'images'), { recursive: true });
  await mkdir(join(out, 'masks'), { recursive: true });
  const manifest: StressManifest = {
    kind: 'medpersam-stress-set',
    version: 1,
    transform: opts.transform,
    seed,
    ranges,
    source: label,
    reference: items[0]!.id,
    images: {},
  };
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    const { image, label: gt } = await item.load();
    const isReference = i === 0;
    const r = stressImage(opts.transform, image, gt, new StressRng(seed, i), ranges, isReference);
    await writeFileAtomic(join(out, 'images', `${item.id}.png`), await encodeImagePng(r.image));
    await writeLabelPng(join(out, 'masks', `${item.id}.png`), r.label);
    manifest.images[item.id] = { ...r.record, isReference };
    opts.onProgress?.(i + 1, items.length, item.id);
  }
  if (classes) await writeClassNames(join(out, 'classes.json'), classes);
  const manifestPath = join(out, 'transforms.json');
  await writeFileAtomic(manifestPath, `${JSON.stringify(manifest, null, 1)}\n`);
  return { out, manifestPath, manifest };
}
