/**
 * Region-of-interest stage benchmark (issue 12): on one dataset (reference = first image with a mask, the paper's
 * protocol), the first N test images:
 *   copy    the reference mask copied unchanged (identity warp);
 *   global  the global warp alone (WarpModel, preset `cpu` unless overridden);
 *   local   global ∘ local: the LocalWarpStage on the crops it plans (mode auto unless --roi force|off).
 * Dice per class for each, wall time per stage (the local stage's time includes re-reading the images to resample
 * the crops), process CPU seconds, the plan (objects, crops) and the load average before and after.
 *
 * Usage: npx tsx bench/roi.ts --dataset DIR [--limit N] [--roi auto|force|off] [--step-ratio X] [--epochs N]
 *                             [--res N] [--max-local-res N] [--label-warp nearest|argmax] [--tag NAME]
 * Writes bench/results/roi-<tag>.json and prints a table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { discoverDataset } from '../src/io/dataset.js';
import { readImage } from '../src/io/image.js';
import { readLabelMap } from '../src/io/mask.js';
import { readReferencePair } from '../src/io/reference.js';
import { diceIoUPerClass } from '../src/eval/metrics.js';
import { initTf } from '../src/warp/backend.js';
import { WarpModel, type LabelWarpMode } from '../src/warp/model.js';
import { resolveWarpSettings, type WarpSettingsOverrides } from '../src/warp/presets.js';
import { LocalWarpStage } from '../src/warp/roi-stage.js';
import type { RoiMode } from '../src/warp/roi-trigger.js';
import { warpLabelNearest } from '../src/warp/spatial.js';
import type { LabelMap } from '../src/image/types.js';
import { benchArgs } from './args.js';

const { value, num } = benchArgs();
const datasetDir = value('dataset') ?? 'bench/results/roi-data/phantom-small';
const labelWarp = (value('label-warp') as LabelWarpMode | undefined) ?? 'nearest';
const mode = (value('roi') as RoiMode | undefined) ?? 'auto';
const overrides: WarpSettingsOverrides = { network: {}, schedule: {} };
if (num('res')) overrides.network!.resolution = num('res')!;
if (num('epochs') !== undefined) overrides.schedule!.initialEpochs = num('epochs')!;
if (num('seed') !== undefined) overrides.schedule!.seed = num('seed')!;
const settings = resolveWarpSettings('cpu', overrides);

const log = (s: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${s}\n`);
const now = () => performance.now() / 1000;
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const load0 = loadavg();

const backend = await initTf({ backend: 'auto' });
const ds = await discoverDataset(datasetDir);
const tests = ds.tests.filter((t) => t.maskPath).slice(0, num('limit') ?? ds.tests.length);
const ref = await readReferencePair(ds.reference.imagePath, ds.reference.maskPath!, ds.classes);

const t0 = now();
const global = new WarpModel(settings, { image: ref.image.image, label: ref.label });
for (const t of tests) global.addTest(t.id, (await readImage(t.imagePath)).image);
const t1 = now();
const c1 = cpu();
const globalTrain = await global.train('initial', settings.schedule.initialEpochs, {
  onProgress: (e) => e.done % 20 === 0 && log(`[global] ${e.done}/${e.total} ${e.message ?? ''}`),
});
const t2 = now();
const c2 = cpu();
const ids = tests.map((t) => t.id);
const flows = new Map(global.testFlows(ids).map((f) => [f.id, f]));
const globalLabels = new Map<string, LabelMap>();
for (const id of ids) {
  const f = flows.get(id)!;
  globalLabels.set(id, global.labelFromFlow(f.flowXyWarp, f.width, f.height, labelWarp));
}
const t3 = now();
const globalSteps = globalTrain.epochsRun * Math.ceil(ids.length / settings.schedule.batchSize);

// ---- local stage
const stage = new LocalWarpStage(settings, { image: ref.image.image, label: ref.label }, {
  trigger: { mode, ...(num('max-local-res') ? { maxLocalResolution: num('max-local-res')! } : {}) },
  stepRatio: num('step-ratio') ?? 1,
});
const t4 = now();
let localTrainS = 0;
let localPrepS = 0;
let localWarpS = 0;
let localCpuS = 0;
const localLabels = new Map<string, LabelMap>();
if (stage.active) {
  const cp = cpu();
  for (const t of tests) stage.addTest(t.id, (await readImage(t.imagePath)).image, flows.get(t.id)!.flowXyWarp);
  const t5 = now();
  localPrepS = t5 - t4;
  await stage.train('initial', globalSteps, { onProgress: (e) => e.done % 20 === 0 && log(`[local] ${e.done}/${e.total} ${e.message ?? ''}`) });
  const t6 = now();
  localTrainS = t6 - t5;
  stage.warpTests(ids, (id, label) => localLabels.set(id, label), labelWarp);
  localWarpS = now() - t6;
  localCpuS = cpu() - cp;
} else {
  localPrepS = t4 - t3;
}
const tEnd = now();

// ---- scores
const classes = global.classes;
const sums = { copy: classes.map(() => 0), global: classes.map(() => 0), local: classes.map(() => 0) };
const perImage: { id: string; copy: number[]; global: number[]; local: number[] }[] = [];
for (const t of tests) {
  const gt = await readLabelMap(t.maskPath!, { classes: ds.classes });
  const copy = warpLabelNearest(ref.label, new Float32Array(gt.width * gt.height * 2), gt.width, gt.height);
  const g = globalLabels.get(t.id)!;
  const l = localLabels.get(t.id) ?? g;
  const row = {
    id: t.id,
    copy: diceIoUPerClass(copy, gt, classes).map((s) => s.dice),
    global: diceIoUPerClass(g, gt, classes).map((s) => s.dice),
    local: diceIoUPerClass(l, gt, classes).map((s) => s.dice),
  };
  perImage.push(row);
  for (const k of ['copy', 'global', 'local'] as const) row[k].forEach((d, i) => (sums[k][i] += d));
}
const mean = (k: 'copy' | 'global' | 'local') => sums[k].map((s) => s / tests.length);
const names = classes.map((c) => ds.classes?.get(c) ?? `class ${c}`);
const triggeredClasses = [...new Set(stage.plan.objects.filter((o) => o.triggered).map((o) => o.cls))];
const globalWarpStageS = t3 - t1;
const localStageS = stage.active ? tEnd - t4 : t4 - t3;
const result = {
  dataset: datasetDir,
  reference: ds.reference.id,
  nTest: tests.length,
  backend,
  mode,
  stepRatio: stage.options.stepRatio,
  settings: { resolution: settings.network.resolution, epochs: settings.schedule.initialEpochs, batch: settings.schedule.batchSize, lr: settings.schedule.learningRate },
  globalSteps,
  plan: {
    objects: stage.plan.objects.map((o) => ({ cls: o.cls, box: o.box, extent: +o.extent.toFixed(4), thicknessWorkingPx: +o.thicknessWorkingPx.toFixed(2), triggered: o.triggered })),
    crops: stage.plan.crops.map((c, i) => ({ ...c, epochs: stage.active ? stage.epochsFor(globalSteps, i) : 0 })),
  },
  classes: names,
  triggeredClasses,
  dice: { copy: mean('copy'), global: mean('global'), local: mean('local') },
  timings: {
    readS: t1 - t0,
    globalTrainS: t2 - t1,
    globalWarpS: t3 - t2,
    globalWarpStageS,
    globalTrainCpuS: c2 - c1,
    localPrepS,
    localTrainS,
    localWarpS,
    localStageS,
    localCpuS,
    localOverGlobal: localStageS / globalWarpStageS,
  },
  loadavg: { before: load0, after: loadavg() },
  perImage,
};
const tag = value('tag') ?? new Date().toISOString().replace(/[:.]/g, '-');
mkdirSync('bench/results', { recursive: true });
writeFileSync(`bench/results/roi-${tag}.json`, JSON.stringify(result, null, 1));
const pct = (v: number) => (v * 100).toFixed(1);
const lines = [
  `roi bench: ${datasetDir}, reference ${ds.reference.id}, ${tests.length} test images, mode ${mode}, step ratio ${stage.options.stepRatio}, backend ${backend}`,
  `plan: ${stage.plan.crops.map((c) => `crop ${c.frame.width}x${c.frame.height}@(${c.frame.x0},${c.frame.y0}) classes ${c.classes.join('+')} res ${c.resolution}`).join('; ') || 'no crop'}`,
  '',
  `| class | copy | global | global+local |`,
  `|---|---|---|---|`,
  ...names.map((n, i) => `| ${n}${triggeredClasses.includes(classes[i]!) ? ' (local)' : ''} | ${pct(result.dice.copy[i]!)} | ${pct(result.dice.global[i]!)} | ${pct(result.dice.local[i]!)} |`),
  '',
  `time: read ${result.timings.readS.toFixed(1)} s, global train ${result.timings.globalTrainS.toFixed(1)} s (${globalSteps} steps, CPU ${result.timings.globalTrainCpuS.toFixed(1)} s), global warp ${result.timings.globalWarpS.toFixed(1)} s; ` +
    `local: prepare ${localPrepS.toFixed(1)} s, train ${localTrainS.toFixed(1)} s, warp ${localWarpS.toFixed(1)} s = ${localStageS.toFixed(1)} s ` +
    `(${(result.timings.localOverGlobal * 100).toFixed(0)} % of the global warp stage); load ${load0.map((l) => l.toFixed(1)).join('/')} → ${loadavg().map((l) => l.toFixed(1)).join('/')}`,
];
process.stdout.write(lines.join('\n') + '\n');
writeFileSync(`bench/results/roi-${tag}.md`, lines.join('\n') + '\n');
global.dispose();
stage.dispose();
