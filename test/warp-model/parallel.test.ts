import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initTf } from '../../src/warp/backend.js';
import { WarpModel } from '../../src/warp/model.js';
import { evaluateLoss, batchGradients } from '../../src/warp/trainer.js';
import { shardSizes, splitBatch, shardTensors, disposeWarpBatch, wholeBatch, type BatchData } from '../../src/warp/parallel/batch-data.js';
import { startNodeWarpWorkers } from '../../src/warp/parallel/node-workers.js';
import type { WarpWorkerPeer } from '../../src/warp/parallel/worker-peer.js';
import type { WorkerChannel } from '../../src/warp/parallel/channel.js';
import { WarpWorkerPeer as Peer } from '../../src/warp/parallel/worker-peer.js';
import { serveWarpWorker } from '../../src/warp/parallel/worker-server.js';
import { webWorkerChannel, type WebMessageEndpoint } from '../../src/warp/parallel/web-workers.js';
import { discPair, tinySettings } from './helpers.js';

beforeAll(async () => {
  await initTf({ backend: 'wasm' });
});

let workers: WarpWorkerPeer[] = [];
afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
});

const SHIFTS: [number, number][] = [[5, 0], [4, 2], [6, -1], [5, 1], [-3, 2], [2, -4], [0, 3]];

function toyModel(over: Parameters<typeof tinySettings>[0] = {}) {
  const ref = discPair(64, 64, 32, 32, 12);
  const model = new WarpModel(tinySettings({ ...over, schedule: { initialSteps: 6, batchSize: 4, augPerBatch: 1, ...over.schedule } }), ref);
  SHIFTS.forEach(([dx, dy], i) => model.addTest(`t${i}`, discPair(64, 64, 32 + dx, 32 + dy, 12).image));
  return model;
}

const flatOf = (m: WarpModel) => {
  const arrays = m.network.params.exportArrays();
  return Float32Array.from(arrays.flatMap((a) => Array.from(a.data)));
};

describe('batch shards', () => {
  it('shard sizes are as equal as possible, extra samples on the later shards', () => {
    expect(shardSizes(5, 2)).toEqual([2, 3]);
    expect(shardSizes(6, 2)).toEqual([3, 3]);
    expect(shardSizes(7, 3)).toEqual([2, 2, 3]);
    expect(shardSizes(1, 4)).toEqual([1]);
  });

  it('the shards of a batch add up to the whole batch: loss parts and gradients', () => {
    const model = toyModel();
    const R = model.resolution;
    const K = model.classes.length + 1;
    // 4 tests (two with a pseudolabel) + 2 augmented pairs, split three ways.
    const batch: BatchData = model['makeBatchData']([0, 1, 2, 3], 2);
    batch.pseudo[1] = model['refOneHotWork'];
    batch.pseudo[3] = model['refOneHotWork'];
    const shards = splitBatch(batch, 3);
    expect(shards.map((s) => [s.nTests, s.nAug])).toEqual([[2, 0], [2, 0], [0, 2]]);
    expect(shards.map((s) => s.shares)).toEqual([
      { tests: 0.5, augmented: 0, pseudo: 0.5 },
      { tests: 0.5, augmented: 0, pseudo: 0.5 },
      { tests: 0, augmented: 1, pseudo: 0 },
    ]);
    expect(shards[0]!.tests.length).toBe(2 * R * R);
    expect(shards[1]!.pseudoOneHot.length).toBe(R * R * K);

    const whole = wholeBatch(batch);
    const run = (s: typeof whole) => {
      const t = shardTensors(s, model['refWork'], model['refOneHotWork']);
      try {
        return { loss: evaluateLoss(model.network, t, model.settings.loss, s.shares), grads: batchGradients(model.network, t, model.settings.loss, s.shares) };
      } finally {
        disposeWarpBatch(t);
      }
    };
    const all = run(whole);
    const parts = shards.map(run);
    for (const k of ['total', 'image', 'reg', 'aug', 'augSeg', 'pseudoSeg'] as const) {
      const sum = parts.reduce((a, p) => a + p.loss[k], 0);
      expect(sum).toBeCloseTo(all.loss[k], 5);
    }
    expect(all.loss.pseudoSeg).toBeGreaterThan(0);
    const sum = new Float32Array(all.grads.flat.length);
    for (const p of parts) for (let i = 0; i < sum.length; i++) sum[i] += p.grads.flat[i]!;
    let maxAbs = 0;
    let maxDiff = 0;
    for (let i = 0; i < sum.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(all.grads.flat[i]!));
      maxDiff = Math.max(maxDiff, Math.abs(sum[i]! - all.grads.flat[i]!));
    }
    expect(maxAbs).toBeGreaterThan(0);
    expect(maxDiff / maxAbs).toBeLessThan(1e-4);
    model.dispose();
  });
});

describe('training on two threads (worker_threads)', () => {
  it('is deterministic, agrees with one thread to float rounding, and computes the same flows', async () => {
    workers = startNodeWarpWorkers(1);
    const single = toyModel();
    await single.train('initial', { unit: 'steps', steps: 6 });

    const runTwoThreads = async () => {
      const m = toyModel();
      await m.useWorkers(workers);
      expect(m.threads).toBe(2);
      const r = await m.train('initial', { unit: 'steps', steps: 6 });
      expect(r.stepsRun).toBe(6);
      return m;
    };
    const a = await runTwoThreads();
    const b = await runTwoThreads();
    // Same seed, same thread count: bit-identical weights.
    expect(Array.from(flatOf(b))).toEqual(Array.from(flatOf(a)));
    // One thread vs two: the same gradients summed in another order. Stated tolerance: after 6 AdamW steps every
    // weight agrees within 1e-4 of the largest weight magnitude (measured: ~1e-6).
    const w1 = flatOf(single);
    const w2 = flatOf(a);
    let maxAbs = 0;
    let maxDiff = 0;
    for (let i = 0; i < w1.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(w1[i]!));
      maxDiff = Math.max(maxDiff, Math.abs(w1[i]! - w2[i]!));
    }
    expect(maxDiff).toBeLessThan(1e-4 * maxAbs);
    // The optimiser took the same path: 6 steps, same learning rate.
    expect(a.optimizer.steps).toBe(6);

    // Flows on both threads equal the flows of this thread alone, bit for bit.
    const works = a['tests'].map((t: { work: Float32Array }) => t.work);
    const local = a.predictFlowsWork(works, 3);
    const parallel = await a.predictFlowsWorkParallel(works, 3);
    expect(parallel).toHaveLength(works.length);
    parallel.forEach((f, i) => expect(Array.from(f)).toEqual(Array.from(local[i]!)));
    a.detachWorkers();
    b.detachWorkers();
    [single, a, b].forEach((m) => m.dispose());
  }, 120_000);

  it('resumes a two-thread run from a mid-phase checkpoint to the same weights', async () => {
    if (workers.length === 0) workers = startNodeWarpWorkers(1);
    const straight = toyModel();
    await straight.useWorkers(workers);
    let at3: ReturnType<WarpModel['toCheckpoint']> | null = null;
    await straight.train('initial', { unit: 'steps', steps: 6 }, { checkpointEvery: 3, onCheckpoint: (c) => { if (c.progress.stepInPhase === 3) at3 = c; } });
    straight.detachWorkers();
    const resumed = toyModel();
    resumed.loadCheckpoint(at3!);
    await resumed.useWorkers(workers);
    const r = await resumed.train('initial', { unit: 'steps', steps: 6 });
    expect(r.stepsRun).toBe(3);
    expect(Array.from(flatOf(resumed))).toEqual(Array.from(flatOf(straight)));
    resumed.detachWorkers();
    straight.dispose();
    resumed.dispose();
  }, 120_000);

  it('a two-thread run stopped by its signal (a batch already drawn ahead) continues to the same weights', async () => {
    if (workers.length === 0) workers = startNodeWarpWorkers(1);
    const straight = toyModel();
    await straight.useWorkers(workers);
    await straight.train('initial', { unit: 'steps', steps: 6 });
    straight.detachWorkers();
    const stopped = toyModel();
    await stopped.useWorkers(workers);
    const ac = new AbortController();
    let saved: ReturnType<WarpModel['toCheckpoint']> | null = null;
    await expect(
      stopped.train('initial', { unit: 'steps', steps: 6 }, { signal: ac.signal, onCheckpoint: (c) => void (saved = c), onProgress: (e) => { if (e.done === 2) ac.abort(); } }),
    ).rejects.toThrow(/training aborted at step 2/);
    expect(saved!.progress.stepInPhase).toBe(2);
    // the same model continues (its RNG was rewound to the last completed step) ...
    await stopped.train('initial', { unit: 'steps', steps: 6 });
    expect(Array.from(flatOf(stopped))).toEqual(Array.from(flatOf(straight)));
    stopped.detachWorkers();
    // ... and so does a new model from the checkpoint handed over at the stop
    const resumed = toyModel();
    resumed.loadCheckpoint(saved!);
    await resumed.useWorkers(workers);
    await resumed.train('initial', { unit: 'steps', steps: 6 });
    expect(Array.from(flatOf(resumed))).toEqual(Array.from(flatOf(straight)));
    resumed.detachWorkers();
    [straight, stopped, resumed].forEach((m) => m.dispose());
  }, 120_000);

  it('the Web message channel (what a browser app uses with Web Workers) carries the same protocol', async () => {
    // Both ends of a MessageChannel in this thread: the worker side serves with the same engine, so the
    // two-shard step must equal the worker_threads one bit for bit.
    const { port1, port2 } = new MessageChannel();
    serveWarpWorker(webWorkerChannel(port2 as unknown as WebMessageEndpoint));
    const peer = new Peer(webWorkerChannel(port1 as unknown as WebMessageEndpoint), 'web worker 1');
    const viaWeb = toyModel();
    await viaWeb.useWorkers([peer]);
    await viaWeb.train('initial', { unit: 'steps', steps: 2 });
    if (workers.length === 0) workers = startNodeWarpWorkers(1);
    const viaNode = toyModel();
    await viaNode.useWorkers(workers);
    await viaNode.train('initial', { unit: 'steps', steps: 2 });
    expect(Array.from(flatOf(viaWeb))).toEqual(Array.from(flatOf(viaNode)));
    viaWeb.detachWorkers();
    viaNode.detachWorkers();
    await peer.close();
    port2.close();
    [viaWeb, viaNode].forEach((m) => m.dispose());
  }, 120_000);

  it('a worker that fails makes the step fail with an error naming it', async () => {
    // A channel whose worker answers nothing and then dies.
    let fail: ((e: Error) => void) | null = null;
    const channel: WorkerChannel = {
      post: () => setTimeout(() => fail?.(new Error('the worker thread exited (code 1)')), 5),
      onMessage: () => {},
      onFailure: (h) => {
        fail = h;
      },
      close: async () => {},
    };
    const peer = new Peer(channel, 'warp worker 9');
    const m = toyModel();
    await expect(m.useWorkers([peer])).rejects.toThrow(/warp worker 9 failed: the worker thread exited/);
    expect(m.threads).toBe(1);
    // a failed worker stays failed: later calls reject at once with the same error
    await expect(peer.flows({ version: 1, flat: () => new Float32Array(0) }, [], 32)).rejects.toThrow(/warp worker 9 failed/);
    m.dispose();
  });
});
