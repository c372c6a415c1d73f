/**
 * Warp stress benchmark (issue 8 item 3): for each transform folder written by bench/stress-set.ts, score
 *   - the reference-copy floor (the reference mask resized nearest-neighbour to each test image: no registration),
 *   - the warping model alone (runWarpBenchmark, default settings unless flags say otherwise),
 * and write bench/results/stress-<tag>.json. bench/stress-table.ts merges runs and elastix summaries into a table.
 * Usage:
 *   npx tsx bench/stress-bench.ts --root /work/team/results/robust/stress/jsrt --tag after-jsrt [--transforms rotate,scale]
 *        [--limit N] [--steps N | --epochs N] [--res PX] [--threads N] [--prealign search|moments|none]
 *        [--colour auto|luminance|...] [--polarity auto|keep] [--loss auto|ssim|ncc] [--fill reference|zero] [--seed N] [--no-warp]
 *        [--align-only]
 * `--align-only` scores, instead of the trained warp, the reference mask carried through each image's working frame
 * alone (colour, initial alignment, polarity of the default preprocessing; zero network flow): what the
 * preprocessing gives before any training — a lower bound of the default warp, measured in seconds, not minutes.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { discoverDataset } from '../src/io/dataset.js';
import { readLabelMap } from '../src/io/mask.js';
import { resizeLabelNearest } from '../src/image/resize.js';
import { diceIoUPerClass } from '../src/eval/metrics.js';
import { runWarpBenchmark } from '../src/pipeline/bench-warp.js';
import { readImage } from '../src/io/image.js';
import { resolveWarpSettings } from '../src/warp/presets.js';
import { WarpPreprocessor } from '../src/warp/preprocess.js';
import { warpLabelThroughFrame } from '../src/warp/working-frame.js';
import type { WarpSettingsOverrides } from '../src/warp/presets.js';
import { benchArgs } from './args.js';

const { flag, value, num } = benchArgs();
const root = value('root');
if (!root) throw new Error('--root DIR (a folder of stress-set transform folders) is required');
const tag = value('tag') ?? new Date().toISOString().replace(/[:.]/g, '-');
const transforms = value('transforms')?.split(',') ?? readdirSync(root).filter((d) => existsSync(join(root, d, 'transforms.json')));
const limit = num('limit');

const overrides: Record<string, Record<string, unknown>> = { network: {}, loss: {}, schedule: {}, preprocess: {} };
if (num('epochs') !== undefined) overrides.schedule!.initialEpochs = num('epochs');
if (num('steps') !== undefined) overrides.schedule!.initialSteps = num('steps');
if (num('res') !== undefined) overrides.network!.resolution = num('res');
if (num('seed') !== undefined) overrides.schedule!.seed = num('seed');
if (value('loss')) overrides.loss!.imageLoss = value('loss');
for (const k of ['prealign', 'colour', 'polarity', 'fill']) if (value(k)) overrides.preprocess![k] = value(k);

/** Mean over images of the mean Dice over the reference's classes, reference mask resized to each test. */
async function copyFloor(dir: string): Promise<{ meanDice: number; perClass: number[]; perImage: Record<string, number> }> {
  const ds = await discoverDataset(dir);
  const ref = await readLabelMap(ds.reference.maskPath!, { classes: ds.classes });
  const classes = [...new Set(ref.data)].filter((c) => c !== 0).sort((a, b) => a - b);
  const tests = ds.tests.filter((t) => t.maskPath).slice(0, limit ?? ds.tests.length);
  const sums = classes.map(() => 0);
  const perImage: Record<string, number> = {};
  for (const t of tests) {
    const gt = await readLabelMap(t.maskPath!, { classes: ds.classes });
    const scores = diceIoUPerClass(resizeLabelNearest(ref, gt.width, gt.height), gt, classes);
    scores.forEach((s, i) => (sums[i]! += s.dice));
    perImage[t.id] = scores.reduce((a, s) => a + s.dice, 0) / scores.length;
  }
  const perClass = sums.map((s) => s / tests.length);
  return { meanDice: perClass.reduce((a, b) => a + b, 0) / perClass.length, perClass, perImage };
}

/** Mean Dice of the reference mask through each test image's working frame (preprocessing alone, zero flow). */
async function alignedCopy(dir: string): Promise<{ meanDice: number; perClass: number[]; perImage: Record<string, number>; msPerImage: number }> {
  const ds = await discoverDataset(dir);
  const refLabel = await readLabelMap(ds.reference.maskPath!, { classes: ds.classes });
  const refImage = (await readImage(ds.reference.imagePath)).image;
  const classes = [...new Set(refLabel.data)].filter((c) => c !== 0).sort((a, b) => a - b);
  const settings = resolveWarpSettings('cpu', overrides as WarpSettingsOverrides);
  const R = settings.network.resolution;
  const pre = new WarpPreprocessor(settings.preprocess, { image: refImage, label: refLabel }, R);
  const zeroFlow = new Float32Array(R * R * 2);
  const tests = ds.tests.filter((t) => t.maskPath).slice(0, limit ?? ds.tests.length);
  const sums = classes.map(() => 0);
  const perImage: Record<string, number> = {};
  const t0 = performance.now();
  for (const t of tests) {
    const gt = await readLabelMap(t.maskPath!, { classes: ds.classes });
    const { frame } = pre.prepare((await readImage(t.imagePath)).image);
    const scores = diceIoUPerClass(warpLabelThroughFrame(refLabel, zeroFlow, R, frame), gt, classes);
    scores.forEach((sc, i) => (sums[i]! += sc.dice));
    perImage[t.id] = scores.reduce((a, sc) => a + sc.dice, 0) / scores.length;
  }
  const perClass = sums.map((x) => x / tests.length);
  return { meanDice: perClass.reduce((a, b) => a + b, 0) / perClass.length, perClass, perImage, msPerImage: (performance.now() - t0) / tests.length };
}

const out: Record<string, unknown> = { tag, root, overrides, startedAt: new Date().toISOString(), loadavgStart: readLoad(), transforms: {} };
function readLoad(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return 'n/a';
  }
}
mkdirSync('bench/results', { recursive: true });
const path = `bench/results/stress-${tag}.json`;
for (const t of transforms) {
  const dir = join(root, t);
  const floor = await copyFloor(dir);
  const entry: Record<string, unknown> = { copyFloor: floor };
  if (flag('align-only')) {
    const aligned = await alignedCopy(dir);
    entry['alignedCopy'] = aligned;
    process.stdout.write(`${t}: copy ${(floor.meanDice * 100).toFixed(1)}  aligned copy ${(aligned.meanDice * 100).toFixed(1)}  (${aligned.msPerImage.toFixed(0)} ms/image, load ${readLoad()})\n`);
  } else if (!flag('no-warp')) {
    const r = await runWarpBenchmark({
      datasetDir: dir,
      limit,
      overrides: overrides as WarpSettingsOverrides,
      ...(num('threads') !== undefined ? { threads: num('threads')! } : {}),
    });
    entry['warp'] = {
      meanDice: r.meanDice,
      perClass: r.perClass.map((c) => c.dice),
      timings: r.timings,
      trainCpuS: r.trainCpuS,
      settings: r.settings,
      preprocessing: (r as unknown as { preprocessing?: unknown }).preprocessing ?? null,
      perImage: Object.fromEntries(r.perImage.map((p) => [p.id, p.dice.reduce((a, b) => a + b, 0) / p.dice.length])),
    };
    process.stdout.write(
      `${t}: copy ${(floor.meanDice * 100).toFixed(1)}  warp ${(r.meanDice * 100).toFixed(1)}  (${r.timings.totalS.toFixed(0)} s, load ${readLoad()})\n`,
    );
  } else {
    process.stdout.write(`${t}: copy ${(floor.meanDice * 100).toFixed(1)}\n`);
  }
  (out['transforms'] as Record<string, unknown>)[t] = entry;
  out['loadavgEnd'] = readLoad();
  writeFileSync(path, JSON.stringify(out, null, 1));
}
process.stdout.write(`wrote ${path}\n`);
