/**
 * How well the initial alignment (src/warp/prealign.ts) recovers the known transforms of stress folders
 * (bench/stress-set.ts). The source test images are other patients, so the truth is only approximate (natural
 * anatomy differences of a few % remain); the error is the mean distance between the estimated and the recorded
 * reference→test maps over the central 80 % of the reference, in % of the test image's diagonal. Usage:
 *   npx tsx bench/prealign-check.ts --root /work/team/results/robust/stress/phantom [--transforms rotate,scale] [--method search|moments] [--limit N] [--evidence]
 * --evidence: one line per image with the search's evidence (prealign.ts AlignmentEvidence) and the error.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { discoverDataset } from '../src/io/dataset.js';
import { readImage } from '../src/io/image.js';
import { applyAffine, composeAffine, invertAffine, type Affine2D } from '../src/image/affine.js';
import { phantomGeometry, pixelToAnatomy } from '../src/image/phantom.js';
import { normalizeIntensity, toGrey } from '../src/image/normalize.js';
import { contentMask } from '../src/image/padding.js';
import { estimatePrealignment, PrealignReference, type PrealignMethod } from '../src/warp/prealign.js';
import { benchArgs } from './args.js';
import type { StressManifest } from './stress/generate.js';

const { value, num, flag } = benchArgs();
const root = value('root') ?? '/work/team/results/robust/stress/phantom';
const method = (value('method') ?? 'search') as PrealignMethod;
/** A plain dataset folder (no transforms.json): the truth is taken as the plain resize (error = distance from it). */
const plainDataset = existsSync(join(root, 'images')) && !existsSync(join(root, 'transforms.json'));
const transforms = plainDataset ? ['.'] : (value('transforms')?.split(',') ?? readdirSync(root).filter((d) => existsSync(join(root, d, 'transforms.json'))));
/** Phantoms: the pose of each patient is known, so the truth is exact up to shape variation: pixel → anatomy map. */
function phantomPixelToAnatomy(seed: number, patient: number, w: number, h: number): Affine2D {
  const g = phantomGeometry(seed, patient);
  const o = pixelToAnatomy(g, 0, 0, w, h);
  const px = pixelToAnatomy(g, 1, 0, w, h);
  const py = pixelToAnatomy(g, 0, 1, w, h);
  return [px.u - o.u, py.u - o.u, o.u, px.v - o.v, py.v - o.v, o.v];
}
const phantomSeed = (source: string): number | null => {
  const m = /^phantom\(seed (\d+)/.exec(source);
  return m ? Number(m[1]) : null;
};
const raw = (img: Parameters<typeof toGrey>[0]) => (img.channels === 1 ? img : toGrey(img));
const grey = (img: Parameters<typeof toGrey>[0]) => normalizeIntensity(raw(img));

for (const t of transforms) {
  const dir = join(root, t);
  const manifest: StressManifest | null = plainDataset ? null : (JSON.parse(readFileSync(join(dir, 'transforms.json'), 'utf8')) as StressManifest);
  const ds = await discoverDataset(dir);
  const refRaw = (await readImage(ds.reference.imagePath)).image;
  const refImg = grey(refRaw);
  const ref = new PrealignReference(refImg, contentMask(raw(refRaw)));
  const errors: number[] = [];
  let inversionsRight = 0;
  let ms = 0;
  let kept = 0;
  const tests = ds.tests.slice(0, num('limit') ?? ds.tests.length);
  for (const item of tests) {
    const imgRaw = (await readImage(item.imagePath)).image;
    const img = grey(imgRaw);
    const t0 = performance.now();
    const p = estimatePrealignment(ref, img, { method, polarity: 'auto' }, contentMask(raw(imgRaw)));
    ms += performance.now() - t0;
    // Without an alignment the map is the plain resize of the reference grid onto the test grid.
    const plainResize: Affine2D = [img.width / refImg.width, 0, 0.5 * (img.width / refImg.width) - 0.5, 0, img.height / refImg.height, 0.5 * (img.height / refImg.height) - 0.5];
    const rec = manifest?.images[item.id];
    let truth = rec ? (rec.srcToOut as unknown as Affine2D) : plainResize;
    const seed = manifest ? phantomSeed(manifest.source) : null;
    if (seed !== null && rec) {
      // ref pixel → anatomy → source test pixel → output test pixel
      const refPatient = Number(ds.reference.id.replace(/\D/g, ''));
      const testPatient = Number(item.id.replace(/\D/g, ''));
      const { width: sw, height: sh } = rec.source;
      const refToAnatomy = phantomPixelToAnatomy(seed, refPatient, refImg.width, refImg.height);
      const anatomyToSource = invertAffine(phantomPixelToAnatomy(seed, testPatient, sw, sh));
      truth = composeAffine(truth, composeAffine(anatomyToSource, refToAnatomy));
    }
    const est: Affine2D = p.refToTest ?? plainResize;
    if (!p.refToTest) kept++;
    let sum = 0;
    let n = 0;
    for (let v = 0.1; v <= 0.9; v += 0.1) {
      for (let u = 0.1; u <= 0.9; u += 0.1) {
        const x = u * refImg.width;
        const y = v * refImg.height;
        const a = applyAffine(est, x, y);
        const b = applyAffine(truth, x, y);
        sum += Math.hypot(a.x - b.x, a.y - b.y);
        n++;
      }
    }
    const err = (100 * sum) / n / Math.hypot(img.width, img.height);
    errors.push(err);
    if (flag('evidence')) {
      const e = p.evidence;
      const f = (v: number | null | undefined) => (v === null || v === undefined ? '-' : v.toFixed(3));
      process.stdout.write(
        `  ${item.id}\terror ${err.toFixed(1)}\tr ${f(p.correlation)}\tresize ${f(p.resizeCorrelation)}\tgain ${f(e?.gain)}\td ${f(e?.distance)}\tmargin ${f(e?.runnerUpMargin)}\tframe ${f(e?.framePaddingIoU)}\t${p.refToTest ? 'aligned' : 'resize'}\t${e?.reason ?? ''}\n`,
      );
    }
    if (err > 10 && process.env.PREALIGN_DEBUG && rec) {
      const f = (v: number) => v.toFixed(3);
      process.stdout.write(
        `  ${item.id}: error ${err.toFixed(1)} %, found ${JSON.stringify(p.params && Object.fromEntries(Object.entries(p.params).map(([k, v]) => [k, f(v)])))} r ${f(p.correlation)} (resize ${f(p.resizeCorrelation)}), inverted ${p.inverted}; ` +
          `recorded rotation ${f(rec.rotationDeg)} scale ${f(rec.scale)} shift ${f(rec.shiftPx.x / img.width)},${f(rec.shiftPx.y / img.height)} inverted ${rec.inverted}\n`,
      );
    }
    if (p.inverted === (rec?.inverted ?? false)) inversionsRight++;
  }
  errors.sort((a, b) => a - b);
  const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
  const over = (x: number) => errors.filter((e) => e > x).length;
  process.stdout.write(
    `${t.padEnd(11)} ${method}: error mean ${mean.toFixed(2)} %, median ${errors[errors.length >> 1]!.toFixed(2)} %, max ${errors[errors.length - 1]!.toFixed(2)} %, ` +
      `>5 %: ${over(5)}, >10 %: ${over(10)} of ${errors.length}; resize kept ${kept}; polarity right ${inversionsRight}/${errors.length}; ${(ms / tests.length).toFixed(0)} ms/image\n`,
  );
}
