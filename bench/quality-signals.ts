/**
 * Collects the ground-truth-free quality signals of a warp-only run (src/pipeline/quality.ts, exactly what
 * `segment` computes) together with the true Dice of every test image, to study and validate the quality score
 * (bench/quality.ts scores these files). Usage:
 *   npx tsx bench/quality-signals.ts [--dataset DIR] [--limit N] [--steps N | --epochs N] [--prealign search|moments|none]
 *     [--stress EVERY] [--no-tta] [--tag NAME]
 * --stress EVERY: every EVERY-th test image (and its ground truth) is transformed (bench/stress.ts: rot90, flip-v,
 * invert, zoom, rot180, shift, in turn) to provoke failed registrations.
 * The trained model is cached in bench/results/quality-cache/ (keyed by settings and test set), so a second run
 * on the same set only recomputes the signals. Output: bench/results/quality-signals-<tag>.json.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { discoverDataset } from '../src/io/dataset.js';
import { readImage } from '../src/io/image.js';
import { readLabelMap } from '../src/io/mask.js';
import { readReferencePair } from '../src/io/reference.js';
import { loadCheckpointFile, saveCheckpointFile } from '../src/io/checkpoint-store.js';
import { diceIoUPerClass } from '../src/eval/metrics.js';
import { imageQualitySignals, qualityContext } from '../src/pipeline/quality.js';
import { initTf } from '../src/warp/backend.js';
import { WarpModel } from '../src/warp/model.js';
import { resolveWarpSettings, type WarpSettingsOverrides } from '../src/warp/presets.js';
import type { WarpPreprocessOptions } from '../src/warp/preprocess.js';
import { phaseBudget } from '../src/warp/schedule.js';
import { STRESS_KINDS, stressImage, stressLabel, type StressKind } from './stress.js';
import { benchArgs } from './args.js';

const { value, num, flag } = benchArgs();
const datasetDir = value('dataset') ?? '../shared/data/jsrt-scr';
const stressEvery = num('stress');
const tag = value('tag') ?? 'run';

const backend = await initTf({ backend: 'auto' });
const budgetOverride: WarpSettingsOverrides =
  num('steps') !== undefined ? { schedule: { initialSteps: num('steps')! } } : num('epochs') !== undefined ? { schedule: { initialEpochs: num('epochs')! } } : {};
const prealign = value('prealign') as WarpPreprocessOptions['prealign'] | undefined;
const settings = resolveWarpSettings('cpu', { ...budgetOverride, ...(prealign ? { preprocess: { prealign } } : {}) });
const R = settings.network.resolution;
const ds = await discoverDataset(datasetDir);
const tests = ds.tests.filter((t) => t.maskPath).slice(0, num('limit') ?? ds.tests.length);
const stressOf = (i: number): StressKind | null =>
  stressEvery && i % stressEvery === stressEvery - 1 ? STRESS_KINDS[Math.floor(i / stressEvery) % STRESS_KINDS.length]! : null;
const readTest = async (i: number) => {
  const kind = stressOf(i);
  const image = (await readImage(tests[i]!.imagePath)).image;
  return kind ? stressImage(image, kind) : image;
};

const ref = await readReferencePair(ds.reference.imagePath, ds.reference.maskPath!, ds.classes);
const model = new WarpModel(settings, { image: ref.image.image, label: ref.label });
for (let i = 0; i < tests.length; i++) {
  model.addTest(tests[i]!.id, await readTest(i));
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
await model.train('initial', phaseBudget(settings.schedule, 'initial'), {
  onCheckpoint: (c) => saveCheckpointFile(ckptPath, c),
  onProgress: (e) => {
    if (Date.now() - last > 20_000) {
      last = Date.now();
      process.stderr.write(`[train] ${e.done}/${e.total} ${e.message ?? ''}\n`);
    }
  },
});
const trainS = (performance.now() - t0) / 1000;

const classes = model.classes;
const ctx = qualityContext({ image: ref.image.image, label: ref.label, work: model.preprocessor.referenceWork }, classes, R, flag('no-tta') ? undefined : (works) => model.predictFlowsWork(works));
const images = [];
const t1 = performance.now();
for (let s = 0; s < tests.length; s += 16) {
  const chunk = tests.slice(s, s + 16);
  for (const f of model.testFlows(chunk.map((t) => t.id), 16)) {
    const i = tests.findIndex((t) => t.id === f.id);
    const kind = stressOf(i);
    const image = await readTest(i);
    const gtRead = await readLabelMap(tests[i]!.maskPath!, { classes: ds.classes });
    const gt = kind ? stressLabel(gtRead, kind) : gtRead;
    const label = model.labelForTest(f.id, f.flowXyWarp, 'nearest');
    const dice = diceIoUPerClass(label, gt, classes).map((c) => c.dice);
    images.push({ id: f.id, stress: kind, dice, signals: imageQualitySignals(ctx, { id: f.id, image, flowXyWarp: f.flowXyWarp, label, fixedWork: model.testWorkingImage(f.id), frame: model.testFrame(f.id) }) });
  }
  process.stderr.write(`[signals] ${Math.min(s + 16, tests.length)}/${tests.length}\n`);
}
const signalsS = (performance.now() - t1) / 1000;
mkdirSync('bench/results', { recursive: true });
const out = `bench/results/quality-signals-${tag}.json`;
writeFileSync(
  out,
  JSON.stringify({ format: 'medpersam-quality-signals', version: 2, dataset: datasetDir, reference: ds.reference.id, classes, backend, settings, trainS, signalsS, images }, null, 1),
);
process.stdout.write(`${images.length} images, train ${trainS.toFixed(0)} s, signals ${signalsS.toFixed(1)} s (${((signalsS / images.length) * 1000).toFixed(0)} ms/image) → ${out}\n`);
model.dispose();
