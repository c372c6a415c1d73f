/**
 * Makes variants of a labelled dataset (images/, masks/, classes.json) that reproduce, on data the team has, what
 * broke the quality score on a second chest X-ray set (issue 20): a class made of two separate regions, and small
 * JPEG-compressed images. Writes OUTSIDE the repository (never commit data). Usage:
 *   npx tsx bench/dataset-variants.ts --dataset DIR --out DIR [--merge 1,2] [--size 384] [--jpeg 75] [--limit N]
 * --merge A,B,...: those class values become one class (the first); the others keep their values.
 * --size S: images resized (bilinear) so that their longest side is S, masks resized nearest to the same size.
 * --jpeg Q: images saved as JPEG quality Q (grey), else PNG.
 * --limit N: only the first N images by id (the reference and N − 1 test images, as a `--limit N−1` run sees).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import sharp from 'sharp';
import { benchArgs } from './args.js';

const { value, num } = benchArgs();
const datasetDir = value('dataset');
const outDir = value('out');
if (!datasetDir || !outDir) throw new Error('usage: --dataset DIR --out DIR [--merge 1,2] [--size 384] [--jpeg 75] [--limit N]');
const merge = (value('merge') ?? '').split(',').filter(Boolean).map(Number);
const size = num('size');
const jpegQuality = num('jpeg');

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const maskNames = readdirSync(join(datasetDir, 'masks')).sort(byCodePoint);
const imageNames = readdirSync(join(datasetDir, 'images')).sort(byCodePoint);
const stem = (f: string) => basename(f, extname(f));
const masked = new Set(maskNames.map(stem));
const chosen = imageNames.filter((f) => masked.has(stem(f))).slice(0, num('limit') ?? imageNames.length);

mkdirSync(join(outDir, 'images'), { recursive: true });
mkdirSync(join(outDir, 'masks'), { recursive: true });
const classes = JSON.parse(readFileSync(join(datasetDir, 'classes.json'), 'utf8')) as Record<string, string>;
if (merge.length > 1) {
  classes[String(merge[0])] = merge.map((c) => classes[String(c)] ?? `class${c}`).join('+');
  for (const c of merge.slice(1)) delete classes[String(c)];
}
writeFileSync(join(outDir, 'classes.json'), JSON.stringify(classes, null, 1) + '\n');

/** Output size for an input size: longest side `size`, aspect kept (the input's size without --size). */
const outSize = (w: number, h: number) => (size ? (w >= h ? [size, Math.round((h * size) / w)] : [Math.round((w * size) / h), size]) : [w, h]) as [number, number];

for (const name of chosen) {
  const id = stem(name);
  const maskName = maskNames.find((m) => stem(m) === id)!;
  const { data, info } = await sharp(join(datasetDir, 'masks', maskName)).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  const labels = Buffer.from(data.map((v) => (merge.includes(v) ? merge[0]! : v)));
  const [w, h] = outSize(info.width, info.height);
  await sharp(labels, { raw: { width: info.width, height: info.height, channels: 1 } })
    .resize(w, h, { kernel: 'nearest', fit: 'fill' })
    .png()
    .toFile(join(outDir, 'masks', `${id}.png`));
  const image = sharp(join(datasetDir, 'images', name)).greyscale().resize(w, h, { fit: 'fill' });
  await (jpegQuality ? image.jpeg({ quality: jpegQuality }).toFile(join(outDir, 'images', `${id}.jpg`)) : image.png().toFile(join(outDir, 'images', `${id}.png`)));
}
process.stdout.write(`${chosen.length} images → ${outDir}\n`);
