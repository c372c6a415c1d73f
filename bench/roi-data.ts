/**
 * Writes the small-structure stress set of the region-of-interest stage (issue 12) under bench/results/roi-data/
 * (git-ignored; the JSRT-derived masks must never be committed):
 *
 *   phantom-<kind>/   65 small-structure phantoms (bench/roi-phantoms.ts), kinds tiny / small / medium
 *   jsrt-small/       the JSRT images (symbolic links to ../shared) with masks that add two small targets drawn
 *                     from each image's own masks: 4 heart apex = the heart within APEX_RADIUS px of its lowest,
 *                     rightmost point (the patient's left: max of x + y), 5 right costophrenic angle = the right lung
 *                     (image left) within CP_ANGLE_RADIUS px of its lowest, outermost point (max of y − x). Those pixels
 *                     leave classes 3 and 1.
 *   jsrt-border/      the same images with two thin bands along lung borders (carveBorderBand):
 *                     4 right diaphragm band = the right lung's lowest BORDER_BAND_PX px of each column over
 *                     BORDER_BAND_LENGTH columns centred on the lung's box, 5 left lateral band = the left lung's
 *                     outermost BORDER_BAND_PX px of each row over BORDER_BAND_LENGTH rows centred on its box.
 *                     Those pixels leave classes 1 and 2. One edge of each band is a lung border (the diaphragm,
 *                     the chest wall), the other lies inside the lung at a fixed distance from it.
 *
 * Usage: npx tsx bench/roi-data.ts [--count 65] [--jsrt ../shared/data/jsrt-scr] [--out bench/results/roi-data]
 */
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../src/io/atomic.js';
import { encodeLabelPng, readLabelMap, writeClassNames, writeLabelPng } from '../src/io/mask.js';
import type { LabelMap } from '../src/image/types.js';
import { benchArgs } from './args.js';
import { generateSmallPhantom, SMALL_PHANTOM_CLASSES, SMALL_PHANTOM_KINDS } from './roi-phantoms.js';

/** Radii of the JSRT small targets, in pixels of the 1024 px images (the apex patch is about a half disc, the
 * costophrenic patch a narrow wedge, so it gets a larger radius). */
export const APEX_RADIUS = 48;
export const CP_ANGLE_RADIUS = 72;

/** Thickness and length of the JSRT border bands, pixels of the 1024 px images (1.5 and 20 global working pixels). */
export const BORDER_BAND_PX = 12;
export const BORDER_BAND_LENGTH = 160;

export const JSRT_BORDER_CLASSES = new Map([
  [0, 'background'],
  [1, 'right_lung'],
  [2, 'left_lung'],
  [3, 'heart'],
  [4, 'right_diaphragm_band'],
  [5, 'left_lateral_band'],
]);

export const JSRT_SMALL_CLASSES = new Map([
  [0, 'background'],
  [1, 'right_lung'],
  [2, 'left_lung'],
  [3, 'heart'],
  [4, 'heart_apex'],
  [5, 'right_cp_angle'],
]);

/** Carve class `to` out of class `from`: its pixels within `radius` of the point of `from` maximising score(x, y). */
export function carvePatch(label: LabelMap, from: number, to: number, radius: number, score: (x: number, y: number) => number): void {
  const { width: W, height: H, data } = label;
  let best = -Infinity;
  let bx = -1;
  let by = -1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (data[y * W + x] !== from) continue;
      const s = score(x, y);
      if (s > best) {
        best = s;
        bx = x;
        by = y;
      }
    }
  }
  if (bx < 0) return;
  for (let y = Math.max(0, by - radius); y <= Math.min(H - 1, by + radius); y++) {
    for (let x = Math.max(0, bx - radius); x <= Math.min(W - 1, bx + radius); x++) {
      const i = y * W + x;
      if (data[i] === from && (x - bx) ** 2 + (y - by) ** 2 <= radius * radius) data[i] = to;
    }
  }
}

/**
 * Carve class `to` out of class `from` along one side of it: on each line (a column for side 'bottom', a row for
 * 'right') within `length` lines centred on the class's bounding box, the `thickness` outermost pixels of `from`
 * on that side (counted from the class's last pixel on the line, inclusive) that belong to `from`.
 */
export function carveBorderBand(label: LabelMap, from: number, to: number, side: 'bottom' | 'right', thickness: number, length: number): void {
  const { width: W, height: H, data } = label;
  let x0 = W;
  let y0 = H;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (data[y * W + x] !== from) continue;
      x0 = Math.min(x0, x);
      x1 = Math.max(x1, x);
      y0 = Math.min(y0, y);
      y1 = Math.max(y1, y);
    }
  }
  if (x1 < 0) return;
  const bottom = side === 'bottom';
  const centre = Math.round(bottom ? (x0 + x1) / 2 : (y0 + y1) / 2);
  const lines = bottom ? W : H;
  const along = bottom ? H : W;
  const at = (line: number, k: number) => (bottom ? k * W + line : line * W + k);
  for (let line = Math.max(0, centre - (length >> 1)); line < Math.min(lines, centre - (length >> 1) + length); line++) {
    let last = -1;
    for (let k = 0; k < along; k++) if (data[at(line, k)] === from) last = k;
    for (let k = last; k > last - thickness && k >= 0; k--) if (data[at(line, k)] === from) data[at(line, k)] = to;
  }
}

async function writePhantoms(out: string, count: number): Promise<void> {
  for (const kind of SMALL_PHANTOM_KINDS) {
    const dir = join(out, `phantom-${kind.name}`);
    if (existsSync(join(dir, 'classes.json'))) {
      process.stderr.write(`${dir} exists, kept\n`);
      continue;
    }
    for (let p = 0; p < count; p++) {
      const { image, label } = generateSmallPhantom(kind, 12, p);
      const id = `sp_${String(p).padStart(3, '0')}`;
      const bytes = new Uint8Array(image.data.length);
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round(image.data[i]!);
      await writeFileAtomic(join(dir, 'images', `${id}.png`), await encodeLabelPng({ width: image.width, height: image.height, data: bytes }));
      await writeLabelPng(join(dir, 'masks', `${id}.png`), label);
    }
    await writeClassNames(join(dir, 'classes.json'), SMALL_PHANTOM_CLASSES);
    process.stderr.write(`wrote ${dir} (${count} images)\n`);
  }
}

/** A JSRT-derived set: the JSRT images (symbolic links) with each mask changed by `carve`. */
async function writeJsrtDerived(out: string, jsrt: string, name: string, classes: Map<number, string>, carve: (label: LabelMap) => void): Promise<void> {
  const dir = join(out, name);
  if (existsSync(join(dir, 'classes.json'))) {
    process.stderr.write(`${dir} exists, kept\n`);
    return;
  }
  if (!existsSync(join(jsrt, 'masks'))) {
    process.stderr.write(`${jsrt} not found: ${name} skipped\n`);
    return;
  }
  mkdirSync(join(dir, 'images'), { recursive: true });
  const names = readdirSync(join(jsrt, 'masks')).filter((n) => n.endsWith('.png')).sort();
  for (const file of names) {
    const label = await readLabelMap(join(jsrt, 'masks', file));
    const copy = { width: label.width, height: label.height, data: new Uint8Array(label.data) };
    carve(copy);
    await writeLabelPng(join(dir, 'masks', file), copy);
    const link = join(dir, 'images', file);
    if (!existsSync(link)) symlinkSync(resolve(jsrt, 'images', file), link);
  }
  await writeClassNames(join(dir, 'classes.json'), classes);
  process.stderr.write(`wrote ${dir} (${names.length} masks)\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { value, num } = benchArgs();
  const out = value('out') ?? 'bench/results/roi-data';
  await writePhantoms(out, num('count') ?? 65);
  const jsrt = value('jsrt') ?? '../shared/data/jsrt-scr';
  await writeJsrtDerived(out, jsrt, 'jsrt-small', JSRT_SMALL_CLASSES, (label) => {
    carvePatch(label, 3, 4, APEX_RADIUS, (x, y) => x + y);
    carvePatch(label, 1, 5, CP_ANGLE_RADIUS, (x, y) => y - x);
  });
  await writeJsrtDerived(out, jsrt, 'jsrt-border', JSRT_BORDER_CLASSES, (label) => {
    carveBorderBand(label, 1, 4, 'bottom', BORDER_BAND_PX, BORDER_BAND_LENGTH);
    carveBorderBand(label, 2, 5, 'right', BORDER_BAND_PX, BORDER_BAND_LENGTH);
  });
}
