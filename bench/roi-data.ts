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

async function writeJsrtSmall(out: string, jsrt: string): Promise<void> {
  const dir = join(out, 'jsrt-small');
  if (existsSync(join(dir, 'classes.json'))) {
    process.stderr.write(`${dir} exists, kept\n`);
    return;
  }
  if (!existsSync(join(jsrt, 'masks'))) {
    process.stderr.write(`${jsrt} not found: jsrt-small skipped\n`);
    return;
  }
  mkdirSync(join(dir, 'images'), { recursive: true });
  const names = readdirSync(join(jsrt, 'masks')).filter((n) => n.endsWith('.png')).sort();
  for (const name of names) {
    const label = await readLabelMap(join(jsrt, 'masks', name));
    const copy = { width: label.width, height: label.height, data: new Uint8Array(label.data) };
    carvePatch(copy, 3, 4, APEX_RADIUS, (x, y) => x + y);
    carvePatch(copy, 1, 5, CP_ANGLE_RADIUS, (x, y) => y - x);
    await writeLabelPng(join(dir, 'masks', name), copy);
    const link = join(dir, 'images', name);
    if (!existsSync(link)) symlinkSync(resolve(jsrt, 'images', name), link);
  }
  await writeClassNames(join(dir, 'classes.json'), JSRT_SMALL_CLASSES);
  process.stderr.write(`wrote ${dir} (${names.length} masks)\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { value, num } = benchArgs();
  const out = value('out') ?? 'bench/results/roi-data';
  await writePhantoms(out, num('count') ?? 65);
  await writeJsrtSmall(out, value('jsrt') ?? '../shared/data/jsrt-scr');
}
