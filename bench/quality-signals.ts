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
import { appearanceSignals, maskShapeSignals, warpSignals } from '../src/eval/quality-signals.js';
import { resizeLabelNearest } from '../src/image/resize.js';
import { initTf } from '../src/warp/backend.js';
import { WarpModel, toWorkingImage } from '../src/warp/model.js';
import { resolveWarpSettings } from '../src/warp/presets.js';
import { warpLabelNearest, warpPlaneBilinear } from '../src/warp/spatial.js';
import { defaultPerturbations, perturbationAgreement, perturbWorkingImage } from '../src/eval/quality-tta.js';
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
const refLabelWork = resizeLabelNearest(ref.label, R, R);
const classes = model.classes;
const t1 = performance.now();
let ttaMs = 0;
for (let s = 0; s < tests.length; s += 16) {
  const chunk = tests.slice(s, s + 16);
  const flows = model.testFlows(chunk.map((t) => t.id), 16);
  // Test-time perturbations: flows of perturbed working copies, per image in perturbation order.
  const perts = defaultPerturbations(R);
  const works: Float32Array[] = [];
  for (const t of chunk) {
    const i = tests.indexOf(t);
    const kind = stressOf(i);
    const read = (await readImage(t.imagePath)).image;
    const w = toWorkingImage(kind ? stressImage(read, kind) : read, R);
    perts.forEach((p, k) => works.push(perturbWorkingImage(w, R, p, k + 1)));
  }
  const tPert = performance.now();
  const pertFlows = model.predictFlowsWork(works, 16);
  ttaMs += performance.now() - tPert;
  for (const [j, f] of flows.entries()) {
    const i = tests.findIndex((t) => t.id === f.id);
    const baseWork = warpLabelNearest(refLabelWork, f.flowXyWarp, R, R);
    const agree = perts.map((p, k) => perturbationAgreement(baseWork, warpLabelNearest(refLabelWork, pertFlows[j * perts.length + k]!, R, R), classes, p.shift));
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
    const app = appearanceSignals({ targetWork: fixedWork, referenceWork: refWork, size: R, labelWork, referenceLabelWork: refLabelWork, classes });
    // Similarity before the warp (reference as it is), for the registration gain.
    const unwarped = warpSignals({ fixedWork, warpedReferenceWork: refWork, flowXyWarp: new Float32Array(R * R * 2), size: R, labelWork, classes });
    const small = resizeLabelNearest(label, 256, 256);
    images.push({
      id: f.id,
      stress: kind,
      dice,
      global: ws.global,
      unwarped: { ssim: unwarped.global.ssim, ncc: unwarped.global.ncc },
      perClass: classes.map((c) => ({
        cls: c,
        ...ws.perClass.get(c),
        ssim0: unwarped.perClass.get(c)?.ssim,
        tta: agree.reduce((a, m) => a + m.get(c)! / agree.length, 0),
        ttaMin: Math.min(...agree.map((m) => m.get(c)!)),
        ncc0: unwarped.perClass.get(c)?.ncc,
        ...app.get(c),
        ...maskShapeSignals(small, c),
      })),
    });
  }
  process.stderr.write(`[signals] ${Math.min(s + 16, tests.length)}/${tests.length}\n`);
}
const signalsS = (performance.now() - t1) / 1000;
mkdirSync('bench/results', { recursive: true });
const out = `bench/results/quality-signals-${tag}.json`;
writeFileSync(out, JSON.stringify({ dataset: datasetDir, reference: ds.reference.id, classes, referenceAreas: classes.map((c) => maskShapeSignals(ref.label, c).area), settings, trainS, signalsS, ttaS: ttaMs / 1000, images }, null, 1));
process.stdout.write(`${images.length} images, train ${trainS.toFixed(0)} s, signals ${signalsS.toFixed(1)} s → ${out}\n`);
model.dispose();
