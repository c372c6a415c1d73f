/**
 * Time to add the first N test images of a dataset to a warp model (read + preparation: colour, initial alignment,
 * working copy) on this thread alone (addTest) and with W warp workers (addTestAsync, as the readers do: the
 * workers are started and attached right before the reads, so their tfjs start-up is inside the time). Both runs
 * are in one process, one after the other, and the load average is printed: the ratio shows the gain only when
 * the machine has a free core per thread. Also checks that both runs give bit-identical working copies, frames
 * and preprocessing reports (exit code 1 if not).
 *   npx tsx bench/prepare-parallel.ts [--dataset DIR] [--limit 30] [--workers 1] [--res R]
 */
import { existsSync, readFileSync } from 'node:fs';
import { performance as nodePerformance } from 'node:perf_hooks';
import { discoverDataset } from '../src/io/dataset.js';
import { readImage } from '../src/io/image.js';
import { readReferencePair } from '../src/io/reference.js';
import { initTf } from '../src/warp/backend.js';
import { WarpModel } from '../src/warp/model.js';
import { resolveWarpSettings } from '../src/warp/presets.js';
import { startNodeWarpWorkers } from '../src/warp/parallel/node-workers.js';
import { benchArgs } from './args.js';

const { value, num } = benchArgs();
await initTf({ backend: 'wasm' });
const ds = await discoverDataset(value('dataset') ?? '/work/shared/data/jsrt-scr');
const ref = await readReferencePair(ds.reference.imagePath, ds.reference.maskPath!, ds.classes);
const tests = ds.tests.slice(0, num('limit') ?? 30);
const workerCount = num('workers') ?? 1;
const resolution = num('res');
const settings = resolveWarpSettings('cpu', resolution ? { network: { resolution } } : {});

const load = () => (existsSync('/proc/loadavg') ? readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') : 'n/a');

interface Run {
  workers: number;
  seconds: number;
  /** Of which: waiting for the last preparations after the last read (testsReady), and for the workers' init. */
  waitTestsS: number;
  waitInitS: number;
  /** CPU seconds of the whole process (every thread), and the main thread's busy share of the wall time. */
  cpuS: number;
  mainBusy: number;
  onWorkers: number;
  model: WarpModel;
}

async function run(workers: number): Promise<Run> {
  const model = new WarpModel(settings, { image: ref.image.image, label: ref.label });
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const elu0 = nodePerformance.eventLoopUtilization();
  const peers = startNodeWarpWorkers(workers);
  let onWorkers = 0;
  for (const p of peers) {
    const prepare = p.prepare.bind(p);
    p.prepare = (image) => (onWorkers++, prepare(image));
  }
  const ready = model.useWorkers(peers);
  for (const t of tests) {
    const image = (await readImage(t.imagePath)).image;
    if (workers === 0) model.addTest(t.id, image);
    else await model.addTestAsync(t.id, image);
  }
  const t1 = performance.now();
  await model.testsReady();
  const t2 = performance.now();
  await ready;
  const t3 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  const elu = nodePerformance.eventLoopUtilization(elu0);
  model.detachWorkers();
  await Promise.all(peers.map((p) => p.close()));
  return {
    workers,
    seconds: (t3 - t0) / 1000,
    waitTestsS: (t2 - t1) / 1000,
    waitInitS: (t3 - t2) / 1000,
    cpuS: (cpu.user + cpu.system) / 1e6,
    mainBusy: elu.utilization,
    onWorkers,
    model,
  };
}

// The cost of handing a test image to a worker: one structured clone of its pixels.
const probe = (await readImage(tests[0]!.imagePath)).image;
const c0 = performance.now();
for (let i = 0; i < 10; i++) structuredClone(probe.data);
const cloneMs = (performance.now() - c0) / 10;

const loadBefore = load();
const alone = await run(0);
const parallel = await run(workerCount);
const loadAfter = load();

let identical = alone.model.testIds.join() === parallel.model.testIds.join();
for (const id of alone.model.testIds) {
  const a = alone.model.testWorkingImage(id);
  const b = parallel.model.testWorkingImage(id);
  if (a.length !== b.length || a.some((v, i) => !Object.is(v, b[i]))) identical = false;
  if (JSON.stringify(alone.model.testFrame(id)) !== JSON.stringify(parallel.model.testFrame(id))) identical = false;
}
if (JSON.stringify(alone.model.preprocessingReport()) !== JSON.stringify(parallel.model.preprocessingReport())) identical = false;
alone.model.dispose();
parallel.model.dispose();

const summary = {
  images: tests.length,
  imageSize: `${probe.width}x${probe.height}x${probe.channels}`,
  resolution: settings.network.resolution,
  prealign: settings.preprocess.prealign,
  cloneMsPerImage: Number(cloneMs.toFixed(2)),
  loadBefore,
  loadAfter,
  runs: [alone, parallel].map(({ model: _m, ...r }) => ({
    ...r,
    seconds: Number(r.seconds.toFixed(2)),
    waitTestsS: Number(r.waitTestsS.toFixed(2)),
    waitInitS: Number(r.waitInitS.toFixed(2)),
    cpuS: Number(r.cpuS.toFixed(2)),
    mainBusy: Number(r.mainBusy.toFixed(2)),
  })),
  speedup: Number((alone.seconds / parallel.seconds).toFixed(2)),
  identical,
};
console.log(JSON.stringify(summary, null, 2));
if (!identical) process.exitCode = 1;
