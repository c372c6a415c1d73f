/**
 * Variants of the region-of-interest (local) stage on one trained global warp (issue 12's measurements): the
 * global model is trained once (preset `cpu`, the first N test images) and kept as <out>/global-n<N>.ckpt (delete
 * it when the data or the global warp's code changed); each variant then builds the local stage on the same global flows and reports, per small class:
 *   global      the global warp alone;
 *   shift-only  global ∘ the template-matched shifts (the crop models untrained, their flow ≈ 0);
 *   local       global ∘ local after the crop models trained;
 * and per image the Dice of each and the template matches (shift in crop pixels, NCC with and without it), in
 * <out>/<variant>-n<N>.json.
 *
 * Usage: nice -n 19 npx tsx bench/roi-variants.ts --data bench/results/roi-data/jsrt-small --n 24
 *          --variants default,nomatch[,...] [--out bench/results/roi-variants] [--shift-only] [--one-thread]
 *          [--dump ID,ID] [--label-warp nearest|argmax]
 * A variant is a name from VARIANTS below. The crop models borrow the global model's workers (every core) unless
 * --one-thread; --dump writes the global and the refined label of those images as raw bytes (width × height).
 * Measured 2026-11-30 with SSIM crop models (the default then; now variant `ssim`) on jsrt-small (24 images; 2-core
 * machine), heart apex / costophrenic angle Dice:
 * global 25.0 / 49.7; template-matched shifts alone 20.8 / 42.8; local stage (all crop models trained)
 * nomatch 24.1 / 42.1 (one thread) and 27.1 / 35.4 (two threads), zoom2 26.2 / 34.1,
 * wideZoom2 25.6 / 47.1: none gains, hence the outline-contrast gate of roi-trigger.ts.
 * On phantom-small (24 images; disc / ring / band, global 93.7 / 79.6 / 65.6): auto 97.3 / 90.3 / 74.1, cost1
 * 97.4 / 90.4 / 77.5, cost125 97.4 / 90.5 / 79.5; the same steps for every crop (instead of the same compute,
 * tried and removed) 97.1 / 88.0 / 76.9; fine (the band's crop on a 256 px grid, a quarter of the steps)
 * 97.3 / 18.7 / 29.9; lr2 97.3 / 90.6 / 75.7; noaug 97.2 / 91.5 / 79.5 (mean 89.4 vs 87.3), but mixed elsewhere:
 * tiny 79.5 vs 78.5, medium 93.0 vs 93.1, small at 64 images 88.0 vs 89.8, so the default keeps the augmentation.
 * Measured 2026-12-01, phantom-small 24 images, SSIM crop models: margin2 97.8 / 85.0 / 69.9; taper05 exactly as
 * auto (no target pixel reaches the fade-out band); every object in its own crop (tried and removed) 96.9 / 91.9 /
 * 73.6; reg03 97.4 / 89.8 / 74.8; the label read with bilinear class weights (--label-warp argmax) global 93.8 /
 * 79.8 / 66.2, auto 97.7 / 91.3 / 74.7 (the band's error is the registration's, not the label sampling's).
 * NCC crop models (variant `ncc`, since then the default; `ssim` = the earlier default) against SSIM, same global
 * model: phantom-small 8 images 91.6 → 92.6, 24 images 87.3 → 90.9 (band 74.1 → 83.7), 64 images 89.8 → 90.5;
 * phantom-tiny 24 78.5 → 82.6; phantom-medium 24 93.1 → 94.0; phantom-small 24 on one thread (--one-thread):
 * ssim 97.4 / 90.6 / 75.8 (87.9), ncc 97.2 / 91.8 / 84.2 (91.1). Forced on JSRT (nccUngated): jsrt-small
 * 20.9 / 45.5 (global 25.0 / 49.7), jsrt-border (bench/roi-data.ts: diaphragm / lateral band) 44.0 / 27.9; SSIM
 * there: 32.9 / 28.0 and, without template matching, 23.6 / 39.5 (global 28.0 / 41.3). NCC without template
 * matching (nccNomatchUngated): jsrt-small 20.3 / 55.7, jsrt-border 42.0 / 37.4.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initTf } from '../src/warp/backend.js';
import { resolveWarpSettings } from '../src/warp/presets.js';
import { WarpModel } from '../src/warp/model.js';
import { phaseBudget } from '../src/warp/schedule.js';
import { serializeCheckpoint, deserializeCheckpoint } from '../src/warp/checkpoint.js';
import { LocalWarpStage, type LocalStageOptions } from '../src/warp/roi-stage.js';
import { discoverDataset } from '../src/io/dataset.js';
import { readImage } from '../src/io/image.js';
import { readLabelMap } from '../src/io/mask.js';
import { readReferencePair } from '../src/io/reference.js';
import { diceIoUPerClass } from '../src/eval/metrics.js';
import { startNodeWarpWorkers, defaultWarpThreads } from '../src/warp/parallel/node-workers.js';
import type { LabelMap } from '../src/image/types.js';
import type { LabelWarpMode } from '../src/warp/working-frame.js';
import { benchArgs } from './args.js';

/** The variants. UNGATED (minOutlineContrast 0) makes the stage run on low-contrast targets too (JSRT's). */
const UNGATED = { minOutlineContrast: 0 };
const VARIANTS: Record<string, LocalStageOptions> = {
  default: { trigger: UNGATED },
  nomatch: { templateMatch: false, trigger: UNGATED },
  // coarser local grid (half the zoom: smoother crop flows, a quarter of the cost per step)
  zoom2: { templateMatch: false, trigger: { ...UNGATED, minZoom: 2 } },
  // twice the context around the object
  wide: { templateMatch: false, trigger: { ...UNGATED, marginWorkingPx: 12, minCropWorkingPx: 40 } },
  wideZoom2: { templateMatch: false, trigger: { ...UNGATED, marginWorkingPx: 12, minCropWorkingPx: 40, minZoom: 2 } },
  // the automatic trigger as shipped (outline-contrast gate on), and larger crop budgets
  auto: {},
  // the crop models' image loss: NCC (the default since 2026-12-01) or SSIM (the default before)
  ncc: { imageLoss: 'ncc' },
  ssim: { imageLoss: 'ssim' },
  nccUngated: { imageLoss: 'ncc', trigger: UNGATED },
  nccNomatchUngated: { imageLoss: 'ncc', templateMatch: false, trigger: UNGATED },
  cost1: { costRatio: 1 },
  cost125: { costRatio: 1.25 },
  // a finer grid for crops longer than 128 px (the band's 246 px crop: 1 px per grid pixel), fewer steps
  fine: { trigger: { maxLocalResolution: 256 } },
  // the crop models' optimiser: twice the global learning rate
  lr2: { overrides: { schedule: { learningRate: 2e-3 } } },
  // the crop models without the augmentation loss (Eq. 2)
  noaug: { overrides: { loss: { augmentation: false } } },
  // twice the margin around each object (more context, a coarser grid for the same crop model)
  margin2: { trigger: { marginWorkingPx: 12 } },
  // the crop models' flow regularisation λr 0.3 instead of 0.75
  reg03: { overrides: { loss: { lambdaReg: 0.3 } } },
  // half the fade-out band at the crop's edge
  taper05: { taperFraction: 0.05 },
};

const { value, num, flag } = benchArgs();
const DATA = value('data') ?? 'bench/results/roi-data/jsrt-small';
const N = num('n') ?? 24;
const OUT = value('out') ?? 'bench/results/roi-variants';
mkdirSync(OUT, { recursive: true });

await initTf({ backend: 'auto' });
const settings = resolveWarpSettings('cpu');
const ds = await discoverDataset(DATA);
const tests = ds.tests.filter((t) => t.maskPath).slice(0, N);
const ref = await readReferencePair(ds.reference.imagePath, ds.reference.maskPath!, ds.classes);
const reference = { image: ref.image.image, label: ref.label };
const workers = startNodeWarpWorkers(defaultWarpThreads() - 1);
const model = new WarpModel(settings, reference);
const started = model.useWorkers(workers);
for (const t of tests) await model.addTestAsync(t.id, (await readImage(t.imagePath)).image);
await model.testsReady();
await started;
const ckptFile = join(OUT, `global-n${N}.ckpt`);
const budget = phaseBudget(settings.schedule, 'initial');
const t0 = performance.now();
if (existsSync(ckptFile)) model.loadCheckpoint(deserializeCheckpoint(readFileSync(ckptFile)));
else {
  await model.train('initial', budget, {});
  writeFileSync(ckptFile, serializeCheckpoint(model.toCheckpoint()));
}
const globalS = (performance.now() - t0) / 1000;
process.stderr.write(`global model ready (${globalS.toFixed(0)} s)\n`);
const classes = model.classes;
const gts = new Map<string, LabelMap>();
for (const t of tests) gts.set(t.id, await readLabelMap(t.maskPath!, { classes: ds.classes }));
const images = new Map<string, Awaited<ReturnType<typeof readImage>>['image']>();
for (const t of tests) images.set(t.id, (await readImage(t.imagePath)).image);
const flows = new Map((await model.testFlowsParallel(tests.map((t) => t.id), 8)).map((f) => [f.id, f.flowXyWarp]));
// --label-warp argmax: read the reference label through the maps with bilinear class weights instead of nearest.
const labelWarp = (value('label-warp') ?? 'nearest') as LabelWarpMode;
if (labelWarp !== 'nearest' && labelWarp !== 'argmax') throw new Error(`--label-warp must be nearest or argmax, got ${String(labelWarp)}`);
const globalDice = new Map(tests.map((t) => [t.id, diceIoUPerClass(model.labelForTest(t.id, flows.get(t.id)!, labelWarp), gts.get(t.id)!, classes).map((s) => s.dice)]));

function score(stage: LocalWarpStage): Map<string, number[]> {
  const out = new Map<string, number[]>();
  stage.warpTests(tests.map((t) => t.id), (id, l) => out.set(id, diceIoUPerClass(l, gts.get(id)!, classes).map((s) => s.dice)), labelWarp);
  return out;
}

// The small classes: those the stage crops when nothing gates it (the order of `classes`).
const ungatedPlan = new LocalWarpStage(settings, reference, { trigger: UNGATED });
const smallClasses = new Set(ungatedPlan.plan.crops.flatMap((c) => c.classes));
ungatedPlan.dispose();
const small = (d: number[]) => d.filter((_, k) => smallClasses.has(classes[k]!));
process.stderr.write(`small classes: ${[...smallClasses].join(', ')}\n`);
const mean = (m: Map<string, number[]>) => {
  const rows = [...m.values()].map(small);
  return rows[0]!.map((_, k) => rows.reduce((a, r) => a + r[k]!, 0) / rows.length);
};
const fmt = (v: number[]) => v.map((x) => (100 * x).toFixed(1)).join(' / ') + ` (mean ${((100 * v.reduce((a, b) => a + b, 0)) / v.length).toFixed(1)})`;
process.stderr.write(`global: ${fmt(mean(globalDice))}\n`);

for (const name of (value('variants') ?? 'default').split(',')) {
  const opts = VARIANTS[name];
  if (!opts) throw new Error(`unknown variant ${name}`);
  const stage = new LocalWarpStage(settings, reference, opts);
  const tp = performance.now();
  for (const t of tests) stage.addTest(t.id, images.get(t.id)!, flows.get(t.id)!, model.testFrame(t.id));
  const prepareS = (performance.now() - tp) / 1000;
  const shiftOnly = score(stage);
  process.stderr.write(`${name} shift-only: ${fmt(mean(shiftOnly))} (prepare ${prepareS.toFixed(1)} s)\n`);
  let local: Map<string, number[]> | null = null;
  let trainS = 0;
  if (!flag('shift-only')) {
    const tt = performance.now();
    await stage.train('initial', model.phaseSteps(budget), flag('one-thread') ? {} : { lendWorkersFrom: model });
    trainS = (performance.now() - tt) / 1000;
    local = score(stage);
    // --dump id,id: the global and the refined label of those images, raw bytes (width × height) for a look.
    for (const id of (value('dump') ?? '').split(',').filter(Boolean)) {
      stage.warpTests([id], (_, l) => writeFileSync(join(OUT, `${name}-${id}-local.u8`), l.data));
      writeFileSync(join(OUT, `${name}-${id}-global.u8`), model.labelForTest(id, flows.get(id)!).data);
    }
    process.stderr.write(`${name} local: ${fmt(mean(local))} (train ${trainS.toFixed(0)} s; global ${globalS.toFixed(0)} s)\n`);
  }
  const perImage = tests.map((t) => ({
    id: t.id,
    global: small(globalDice.get(t.id)!),
    shiftOnly: small(shiftOnly.get(t.id)!),
    local: local ? small(local.get(t.id)!) : null,
    // per crop, per object: [shift x, shift y, NCC, NCC without the shift]
    matches: stage.testMatches(t.id).map((c) => c.map((m) => [...m.shift.map((v) => Number(v.toFixed(2))), Number(m.ncc.toFixed(3)), Number(m.nccAtZero.toFixed(3))])),
  }));
  writeFileSync(
    join(OUT, `${name}${labelWarp === 'nearest' ? '' : `-${labelWarp}`}-n${N}.json`),
    JSON.stringify({ variant: name, options: opts, labelWarp, global: mean(globalDice), shiftOnly: mean(shiftOnly), local: local ? mean(local) : null, prepareS, trainS, globalS, perImage }, null, 1),
  );
  stage.dispose();
}
model.dispose();
await Promise.all(workers.map((w) => w.close()));
