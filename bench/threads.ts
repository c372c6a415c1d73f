/**
 * Speed-up of warp training and application with worker threads, measured as a ratio inside one run: the same
 * steps (default settings, first N JSRT test images, same seed) on 1 and on T threads, then flows for the test
 * images on each. Also reports how far the weights of the two runs are apart after the same steps.
 *   npx tsx bench/threads.ts [--dataset DIR] [--limit 16] [--steps 20] [--threads 2] [--batch B --aug-per-batch A] [--tag NAME]
 * Run it on a quiet machine (under the team's heavy lock). Writes bench/results/threads-<tag>.json.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { discoverDataset } from '../src/io/dataset.js';
import { readImage } from '../src/io/image.js';
import { readReferencePair } from '../src/io/reference.js';
import { initTf } from '../src/warp/backend.js';
import { WarpModel } from '../src/warp/model.js';
import { resolveWarpSettings, type WarpSettingsOverrides } from '../src/warp/presets.js';
import { startNodeWarpWorkers } from '../src/warp/parallel/node-workers.js';
import type { FloatImage } from '../src/image/types.js';
import { benchArgs } from './args.js';

const { value, num } = benchArgs();
await initTf({ backend: 'wasm' });
const ds = await discoverDataset(value('dataset') ?? '../shared/data/jsrt-scr');
const ref = await readReferencePair(ds.reference.imagePath, ds.reference.maskPath!, ds.classes);
const steps = num('steps') ?? 20;
const threads = num('threads') ?? 2;
const overrides: WarpSettingsOverrides = { schedule: {} };
if (num('batch')) overrides.schedule!.batchSize = num('batch')!;
if (num('aug-per-batch') !== undefined) overrides.schedule!.augPerBatch = num('aug-per-batch')!;
const settings = resolveWarpSettings('cpu', overrides);
const images: { id: string; image: FloatImage }[] = [];
for (const t of ds.tests.slice(0, num('limit') ?? 16)) images.push({ id: t.id, image: (await readImage(t.imagePath)).image });

const load = () => (existsSync('/proc/loadavg') ? readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') : 'n/a');
interface Run { threads: number; msPerStep: number; cpuMsPerStep: number; flowsMs: number; weights: Float32Array }
async function run(t: number): Promise<Run> {
  const model = new WarpModel(settings, { image: ref.image.image, label: ref.label });
  for (const im of images) model.addTest(im.id, im.image);
  const workers = startNodeWarpWorkers(t - 1);
  try {
    await model.useWorkers(workers);
    await model.train('initial', { unit: 'steps', steps: 2 }); // warm-up (not timed)
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await model.train('initial', { unit: 'steps', steps: steps + 2 });
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    const f0 = performance.now();
    await model.testFlowsParallel(model.testIds, 16);
    const flowsMs = performance.now() - f0;
    const arrays = model.network.params.exportArrays();
    const weights = new Float32Array(arrays.reduce((n, a) => n + a.data.length, 0));
    let o = 0;
    for (const a of arrays) {
      weights.set(a.data, o);
      o += a.data.length;
    }
    return { threads: t, msPerStep: ms / steps, cpuMsPerStep: (cpu.user + cpu.system) / 1000 / steps, flowsMs, weights };
  } finally {
    model.detachWorkers();
    model.dispose();
    await Promise.all(workers.map((w) => w.close()));
  }
}

const loadBefore = load();
const one = await run(1);
const many = await run(threads);
const loadAfter = load();
let maxDiff = 0;
let maxAbs = 0;
for (let i = 0; i < one.weights.length; i++) {
  maxDiff = Math.max(maxDiff, Math.abs(one.weights[i]! - many.weights[i]!));
  maxAbs = Math.max(maxAbs, Math.abs(one.weights[i]!));
}
const result = {
  images: images.length,
  steps,
  batch: `${settings.schedule.batchSize}+${settings.schedule.augPerBatch}`,
  loadBefore,
  loadAfter,
  runs: [one, many].map(({ weights: _w, ...r }) => r),
  trainSpeedup: one.msPerStep / many.msPerStep,
  applySpeedup: one.flowsMs / many.flowsMs,
  weightsMaxAbsDiff: maxDiff,
  weightsMaxAbs: maxAbs,
};
const tag = value('tag') ?? new Date().toISOString().replace(/[:.]/g, '-');
mkdirSync('bench/results', { recursive: true });
writeFileSync(`bench/results/threads-${tag}.json`, JSON.stringify(result, null, 1));
process.stdout.write(
  `${images.length} images, batch ${result.batch}, ${steps} steps (load ${loadBefore} → ${loadAfter}):\n` +
    `  1 thread:  ${one.msPerStep.toFixed(0)} ms/step (CPU ${one.cpuMsPerStep.toFixed(0)} ms/step), flows ${one.flowsMs.toFixed(0)} ms\n` +
    `  ${threads} threads: ${many.msPerStep.toFixed(0)} ms/step (CPU ${many.cpuMsPerStep.toFixed(0)} ms/step), flows ${many.flowsMs.toFixed(0)} ms\n` +
    `  speed-up: training ×${result.trainSpeedup.toFixed(2)}, applying ×${result.applySpeedup.toFixed(2)}; ` +
    `weights after ${steps + 2} steps differ by at most ${maxDiff.toExponential(2)} (largest weight ${maxAbs.toFixed(3)})\n`,
);
