/**
 * Collects the ground-truth-free quality signals (src/eval/quality-signals.ts) of a warp-only run together with
 * the true Dice of every test image, for studying and validating the quality score. Usage:
 *   npx tsx bench/quality-signals.ts [--dataset DIR] [--limit N] [--epochs N] [--stress EVERY] [--tag NAME]
 * --stress EVERY: every EVERY-th test image (and its ground truth) is transformed (rot90, flip-v, invert, zoom,
 * rot180, shift, in turn) to provoke failed registrations.
 * The trained model is cached in bench/results/quality-cache/ (keyed by settings and test set); the signals are
 * written to bench/results/quality-signals-<tag>.json.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { discoverDataset } from '../src/io/dataset.js';
import { readImage } from '../src/io/image.js';
import { readLabelMap } from '../src/io/mask.js';
import { readReferencePair } from '../src/io/reference.js';
import { loadCheckpointFile, saveCheckpointFile } from '../src/io/checkpoint-store.js';
import { diceIoUPerClass } from '../src/eval/metrics.js';
import { maskShapeSignals, warpSignals } from '../src/eval/quality-signals.js';
import { resizeLabelNearest } from '../src/image/resize.js';
import { initTf } from '../src/warp/backend.js';
import { WarpModel, toWorkingImage } from '../src/warp/model.js';
import { resolveWarpSettings } from '../src/warp/presets.js';
import { warpPlaneBilinear } from '../src/warp/spatial.js';
import { STRESS_KINDS, stressImage, stressLabel, type StressKind } from './stress.js';
import { benchArgs } from './args.js';

const { value, num } = benchArgs();
const datasetDir = value('dataset') ?? '../shared/data/jsrt-scr';
const stressEvery = num('stress');
const tag = value('tag') ?? 'run';

await initTf({ backend: 'auto' });
const settings = resolveWarpSettings('cpu', num('epochs') !== undefined ? { schedule: { initialEpochs: num('epochs')! } } : {});
const R = settings.network.resolution;
const ds = await discoverDataset(datasetDir);
const tests = ds.tests.filter((t) => t.maskPath).slice(0, num('limit') ?? ds.tests.length);
const stressOf = (i: number): StressKind | null =>
  stressEvery && i % stressEvery === stressEvery - 1 ? STRESS_KINDS[Math.floor(i / stressEvery) % STRESS_KINDS.length]! : null;

const ref = await readReferencePair(ds.reference.imagePath, ds.reference.maskPath!, ds.classes);
const model = new WarpModel(settings, { image: ref.image.image, label: ref.label });
const images = [];
for (let i = 0; i < tests.length; i++) {
  const kind = stressOf(i);
  const img = (await readImage(tests[i]!.imagePath)).image;
  model.addTest(tests[i]!.id, kind ? stressImage(img, kind) : img);
  if (i % 50 === 0) process.stderr.write(`[read] ${i + 1}/${tests.length}\n`);
}
const key = createHash('sha256')
  .update(JSON.stringify({ settings, datasetDir, ids: tests.map((t) => t.id), stressEvery: stressEvery ?? 0 }))
  .digest('hex')
  .slice(0, 16);
const ckptPath = `bench/results/quality-cache/${key}.ckpt`;
const ckpt = await loadCheckpointFile(ckptPath);
if (ckpt) model.loadCheckpoint(ckpt);
const t0 = performance.now();
let last = 0;
await model.train('initial', settings.schedule.initialEpochs, {
  onEpochEnd: (c) => saveCheckpointFile(ckptPath, c),
  onProgress: (e) => {
    if (Date.now() - last > 20_000) {
      last = Date.now();
      process.stderr.write(`[train] ${e.done}/${e.total} ${e.message ?? ''}\n`);
    }
  },
});
const trainS = (performance.now() - t0) / 1000;

const refWork = toWorkingImage(ref.image.image, R);
const classes = model.classes;
const t1 = performance.now();
for (let s = 0; s < tests.length; s += 16) {
  const chunk = tests.slice(s, s + 16);
  for (const f of model.testFlows(chunk.map((t) => t.id), 16)) {
    const i = tests.findIndex((t) => t.id === f.id);
    const kind = stressOf(i);
    const read = (await readImage(tests[i]!.imagePath)).image;
    const image = kind ? stressImage(read, kind) : read;
    const gtRead = await readLabelMap(tests[i]!.maskPath!, { classes: ds.classes });
    const gt = kind ? stressLabel(gtRead, kind) : gtRead;
    const label = model.labelFromFlow(f.flowXyWarp, f.width, f.height, 'nearest');
    const dice = diceIoUPerClass(label, gt, classes).map((c) => c.dice);
    const fixedWork = toWorkingImage(image, R);
    const warpedReferenceWork = warpPlaneBilinear(refWork, R, R, f.flowXyWarp, R, R);
    const labelWork = resizeLabelNearest(label, R, R);
    const ws = warpSignals({ fixedWork, warpedReferenceWork, flowXyWarp: f.flowXyWarp, size: R, labelWork, classes });
    const small = resizeLabelNearest(label, 256, 256);
    images.push({
      id: f.id,
      stress: kind,
      dice,
      global: ws.global,
      perClass: classes.map((c) => ({ cls: c, ...ws.perClass.get(c), ...maskShapeSignals(small, c) })),
    });
  }
  process.stderr.write(`[signals] ${Math.min(s + 16, tests.length)}/${tests.length}\n`);
}
const signalsS = (performance.now() - t1) / 1000;
mkdirSync('bench/results', { recursive: true });
const out = `bench/results/quality-signals-${tag}.json`;
writeFileSync(out, JSON.stringify({ dataset: datasetDir, reference: ds.reference.id, classes, settings, trainS, signalsS, images }, null, 1));
process.stdout.write(`${images.length} images, train ${trainS.toFixed(0)} s, signals ${signalsS.toFixed(1)} s → ${out}\n`);
model.dispose();
