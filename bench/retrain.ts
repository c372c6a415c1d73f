/**
 * How many optimiser steps a §3.3 retraining round needs to take in its pseudolabels (for the retrainSteps
 * default). Trains the initial phase on the first N JSRT test images, then one retraining round whose
 * pseudolabels are the ground-truth masks (an oracle SAM: the fastest a round can move), scoring the warped
 * masks every K steps of the round.
 *   npx tsx bench/retrain.ts [--dataset DIR] [--limit 40] [--steps N] [--retrain-steps 300] [--every 25] [--threads N] [--tag NAME]
 * Writes bench/results/retrain-<tag>.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { discoverDataset } from '../src/io/dataset.js';
import { readImage } from '../src/io/image.js';
import { readLabelMap } from '../src/io/mask.js';
import { readReferencePair } from '../src/io/reference.js';
import { diceIoUPerClass } from '../src/eval/metrics.js';
import { initTf } from '../src/warp/backend.js';
import { WarpModel } from '../src/warp/model.js';
import { resolveWarpSettings } from '../src/warp/presets.js';
import { phaseBudget } from '../src/warp/schedule.js';
import { defaultWarpThreads, startNodeWarpWorkers } from '../src/warp/parallel/node-workers.js';
import type { LabelMap } from '../src/image/types.js';
import { benchArgs } from './args.js';

const { value, num } = benchArgs();
await initTf({ backend: 'wasm' });
const ds = await discoverDataset(value('dataset') ?? '../shared/data/jsrt-scr');
const tests = ds.tests.filter((t) => t.maskPath).slice(0, num('limit') ?? 40);
const ref = await readReferencePair(ds.reference.imagePath, ds.reference.maskPath!, ds.classes);
const settings = resolveWarpSettings('cpu', num('steps') !== undefined ? { schedule: { initialSteps: num('steps')! } } : {});
const model = new WarpModel(settings, { image: ref.image.image, label: ref.label });
const workers = startNodeWarpWorkers((num('threads') ?? defaultWarpThreads()) - 1);
await model.useWorkers(workers);
const gts = new Map<string, LabelMap>();
for (const t of tests) {
  model.addTest(t.id, (await readImage(t.imagePath)).image);
  gts.set(t.id, await readLabelMap(t.maskPath!, { classes: ds.classes }));
}
const score = async (): Promise<number> => {
  let sum = 0;
  for (const f of await model.testFlowsParallel(tests.map((t) => t.id), 16)) {
    const s = diceIoUPerClass(model.labelForTest(f.id, f.flowXyWarp), gts.get(f.id)!, model.classes);
    sum += s.reduce((a, c) => a + c.dice, 0) / s.length;
  }
  return sum / tests.length;
};
const t0 = performance.now();
await model.train('initial', phaseBudget(settings.schedule, 'initial'));
const initialS = (performance.now() - t0) / 1000;
const curve: { step: number; meanDice: number }[] = [{ step: 0, meanDice: await score() }];
const every = num('every') ?? 25;
const t1 = performance.now();
let scoring = 0;
await model.retrain(1, gts, {
  budget: { unit: 'steps', steps: num('retrain-steps') ?? 300 },
  checkpointEvery: every,
  onCheckpoint: async (c) => {
    const s0 = performance.now();
    curve.push({ step: c.progress.stepInPhase, meanDice: await score() });
    scoring += performance.now() - s0;
  },
});
const retrainS = (performance.now() - t1 - scoring) / 1000;
model.dispose();
await Promise.all(workers.map((w) => w.close()));
const tag = value('tag') ?? new Date().toISOString().replace(/[:.]/g, '-');
mkdirSync('bench/results', { recursive: true });
writeFileSync(`bench/results/retrain-${tag}.json`, JSON.stringify({ nTest: tests.length, settings, initialS, retrainS, curve }, null, 1));
process.stdout.write(`N=${tests.length}: initial ${initialS.toFixed(0)} s, retraining with GT pseudolabels (${retrainS.toFixed(0)} s): ` +
  curve.map((c) => `${c.step}: ${(c.meanDice * 100).toFixed(1)}`).join(', ') + '\n');
