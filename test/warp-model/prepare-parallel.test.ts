import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { gridCentre, invertAffine, resampleAffine, similarityAffine } from '../../src/image/affine.js';
import { generatePhantom } from '../../src/image/phantom.js';
import type { FloatImage } from '../../src/image/types.js';
import { initTf } from '../../src/warp/backend.js';
import { WarpModel } from '../../src/warp/model.js';
import { startNodeWarpWorkers } from '../../src/warp/parallel/node-workers.js';
import { WarpWorkerPeer } from '../../src/warp/parallel/worker-peer.js';
import { serveWarpWorker } from '../../src/warp/parallel/worker-server.js';
import { webWorkerChannel, type WebMessageEndpoint } from '../../src/warp/parallel/web-workers.js';
import { tinySettings } from './helpers.js';

/** The tests added one by one with addTest: what every other way must give. */
let expected: WarpModel;
beforeAll(async () => {
  await initTf({ backend: 'wasm' });
  expected = new WarpModel(settings(), ref);
  for (const t of TESTS) expected.addTest(t.id, t.image);
});

const started: WarpWorkerPeer[] = [];
afterAll(async () => {
  expected.dispose();
  await Promise.all(started.map((w) => w.close()));
});

const SIZE = 96;
const ref = generatePhantom({ seed: 4, patient: 0, width: SIZE, noise: 4 });

/** Patient p of the phantom family, rotated / scaled / shifted (black outside). */
function moved(p: number, rotDeg: number, scale: number, shift: number): FloatImage {
  const src = generatePhantom({ seed: 4, patient: p, width: SIZE, noise: 4 });
  const c = gridCentre(SIZE, SIZE);
  const outToSrc = invertAffine(similarityAffine(c, c, scale, (rotDeg * Math.PI) / 180, { x: shift * SIZE, y: -shift * SIZE }));
  return resampleAffine(src.image, SIZE, SIZE, outToSrc).image;
}

const inverted = (image: FloatImage): FloatImage => ({ ...image, data: image.data.map((v) => 255 - v) });

/** Six tests: four need the initial alignment, one is inverted, one is as it comes. */
const TESTS: { id: string; image: FloatImage }[] = [
  { id: 'rot40', image: moved(1, 40, 1.3, 0.1) },
  { id: 'small', image: moved(2, -35, 0.75, -0.08) },
  { id: 'plain', image: generatePhantom({ seed: 4, patient: 3, width: SIZE, noise: 4 }).image },
  { id: 'shift', image: moved(4, 25, 1.0, 0.15) },
  { id: 'inverted', image: inverted(moved(5, 10, 1.1, 0.05)) },
  { id: 'rot-20', image: moved(6, -20, 1.2, 0) },
];

/** A test image whose preparation throws (its data is shorter than its size says). */
const BROKEN: FloatImage = { width: SIZE, height: SIZE, channels: 1, data: new Float32Array(10) };

const settings = () => tinySettings({ network: { resolution: 32 } });

/** Everything the preparation decided, per test, in the model's order (the entries are private: read as in parallel.test.ts). */
function preparedState(model: WarpModel) {
  return model.testIds.map((id) => {
    const entry = model['entry'](id);
    return { id, work: entry.work, frame: entry.frame, prealignment: entry.prealignment, width: entry.width, height: entry.height };
  });
}

const bytesOf = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** The first `count` tests of `actual` are those of `expected`, bit for bit (toStrictEqual tells -0 from 0). */
function expectSameTests(actual: WarpModel, count = TESTS.length): void {
  expect(actual.testIds).toEqual(expected.testIds.slice(0, count));
  const a = preparedState(actual);
  const e = preparedState(expected);
  for (let i = 0; i < count; i++) {
    expect(bytesOf(a[i]!.work).equals(bytesOf(e[i]!.work))).toBe(true);
    const { work: _a, ...restA } = a[i]!;
    const { work: _e, ...restE } = e[i]!;
    expect(restA).toStrictEqual(restE);
  }
}

describe('WarpModel.addTestAsync (test images prepared on warp workers too)', () => {
  it('with one worker: the same working copies, frames and alignments, in call order, as addTest', async () => {
    const report = expected.preprocessingReport();
    expect(report.prealign.aligned).toBeGreaterThanOrEqual(4);
    expect(report.prealign.inverted).toBe(1);

    const [worker] = startNodeWarpWorkers(1);
    started.push(worker!);
    const prepareOnWorker = vi.spyOn(worker!, 'prepare');
    const model = new WarpModel(settings(), ref);
    // Not awaited: the images are handed over while the worker still loads tfjs (as the readers do).
    const workersReady = model.useWorkers([worker!]);
    for (const t of TESTS) {
      await model.addTestAsync(t.id, t.image);
      if (t === TESTS[0]) {
        // The first image went to the idle worker, whose answer cannot have arrived yet (no event-loop turn).
        expect(prepareOnWorker).toHaveBeenCalledTimes(1);
        expect(() => model.testIds).toThrow(/1 test image\(s\) are still being prepared: await testsReady\(\)/);
        await expect(model.train('initial', { unit: 'steps', steps: 1 })).rejects.toThrow(/still being prepared/);
      }
      // Let the worker's answers in between (a reader awaits file reads here).
      await new Promise((r) => setTimeout(r, 1));
    }
    await model.testsReady();
    await workersReady;
    expectSameTests(model);
    expect(model.preprocessingReport()).toStrictEqual(report);
    // The first image (prepared on the worker, answered last) came back aligned through the structured clone.
    expect(model.testFrame('rot40').warpToOriginal).toHaveLength(6);

    // A second batch on an initialised worker, no pause between images: still the same.
    const more = new WarpModel(settings(), ref);
    await more.useWorkers([worker!]);
    for (const t of TESTS) await more.addTestAsync(t.id, t.image);
    await more.testsReady();
    expectSameTests(more);
    model.detachWorkers();
    more.detachWorkers();
    for (const m of [model, more]) m.dispose();
  });

  it('a failed preparation on the worker rejects with its image id (and later calls too), without hanging', async () => {
    const [worker] = startNodeWarpWorkers(1);
    started.push(worker!);
    const model = new WarpModel(settings(), ref);
    const workersReady = model.useWorkers([worker!]);
    // The worker is idle: the broken image goes to it; the next one is prepared here while it loads tfjs.
    await model.addTestAsync('broken', BROKEN);
    await model.addTestAsync('plain', TESTS[2]!.image);
    await expect(model.testsReady()).rejects.toThrow(/preparing test image broken failed: .*data length 10 does not match/);
    await expect(model.addTestAsync('late', TESTS[0]!.image)).rejects.toThrow(/test image broken/);
    expect(() => model.testIds).toThrow(/incomplete: preparing test image broken/);
    await workersReady;
    model.detachWorkers();
    model.dispose();
  });

  it('a failed preparation on this thread rejects that call with its image id; the worker\'s image still completes', async () => {
    const [worker] = startNodeWarpWorkers(1);
    started.push(worker!);
    const model = new WarpModel(settings(), ref);
    const workersReady = model.useWorkers([worker!]);
    await model.addTestAsync('plain', TESTS[2]!.image); // to the worker
    await model.addTestAsync('next', TESTS[3]!.image); // the worker's second (it holds two)
    await expect(model.addTestAsync('broken', BROKEN)).rejects.toThrow(/preparing test image broken failed/);
    await expect(model.testsReady()).rejects.toThrow(/test image broken/);
    await workersReady;
    model.detachWorkers();
    model.dispose();
  });

  it('without workers (and through a Web message channel) it is addTest', async () => {
    const alone = new WarpModel(settings(), ref);
    for (const t of TESTS) await alone.addTestAsync(t.id, t.image);
    await alone.testsReady();
    expectSameTests(alone);

    // The worker side served in this thread over a MessageChannel (what a browser's Web Worker gets).
    const { port1, port2 } = new MessageChannel();
    serveWarpWorker(webWorkerChannel(port2 as unknown as WebMessageEndpoint));
    const peer = new WarpWorkerPeer(webWorkerChannel(port1 as unknown as WebMessageEndpoint), 'web worker 1');
    const web = new WarpModel(settings(), ref);
    await web.useWorkers([peer]);
    // Three images are enough here: the "worker" runs on this thread, so this costs as much as addTest.
    for (const t of TESTS.slice(0, 3)) {
      await web.addTestAsync(t.id, t.image);
      await new Promise((r) => setTimeout(r, 1));
    }
    await web.testsReady();
    expectSameTests(web, 3);
    web.detachWorkers();
    await peer.close();
    port1.close();
    port2.close();
    for (const m of [alone, web]) m.dispose();
  });
});
