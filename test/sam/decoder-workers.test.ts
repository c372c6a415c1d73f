import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecoderWorkerPool } from '../../src/sam/decoder-workers.js';
import { decoderWorkerCount, loadSamModel, type SamModel } from '../../src/sam/model.js';
import type { SamDecodeResult, SamEmbedding, SamPrompts } from '../../src/sam/types.js';
import { garbageOnnxBytes, writeTestSamModel } from '../fixtures/sam-models.js';
import { makeTempDir } from '../fixtures/temp-dir.js';
import { constantImage } from './helpers.js';

let root: string;
let cleanup: () => Promise<void>;
let onMain: SamModel;
let onWorkers: SamModel;

beforeAll(async () => {
  ({ dir: root, cleanup } = await makeTempDir('medpersam-decoder-workers-'));
  const dir = join(root, 'model');
  // 'discs' draws the positive points; the IoUs carry the embedding's mean, so each output shows its call's prompts
  // and the embedding it ran on.
  await writeTestSamModel(dir, { decoder: 'discs', k: 4, decoderIouFromEmbedding: true });
  onMain = await loadSamModel(dir, { cacheDir: false, threads: 1, decoderWorkers: 0 });
  onWorkers = await loadSamModel(dir, { cacheDir: false, threads: 1, decoderWorkers: 2 });
}, 60_000);
afterAll(async () => {
  await onMain?.release();
  await onWorkers?.release();
  await cleanup();
});

const plain = (r: SamDecodeResult) => ({
  iou: r.iouScores,
  logits: r.logitsOriginal.map((l) => Array.from(l)),
  low: r.lowResLogits.map((l) => Array.from(l)),
  size: [r.width, r.height],
  multimask: r.multimask,
});

describe('SAM decoder on worker threads', () => {
  it('how many run at once: 2 workers by default on 2+ cores, none with CUDA or one thread', () => {
    expect(decoderWorkerCount({ threads: 2 })).toBe(2);
    expect(decoderWorkerCount({ threads: 8 })).toBe(2);
    expect(decoderWorkerCount({ threads: 1 })).toBe(0);
    expect(decoderWorkerCount({ threads: 4, executionProvider: 'cuda' })).toBe(0);
    expect(decoderWorkerCount({ threads: 1, decoderWorkers: 3 })).toBe(3);
    expect(() => decoderWorkerCount({ decoderWorkers: -1 })).toThrow(/decoder workers/);
    expect(onMain.decodeConcurrency).toBe(1);
    expect(onWorkers.decodeConcurrency).toBe(2);
  });

  it('the workers start at the first decoder call, not at load (they never add to the encoding stage’s memory)', async () => {
    const m = await loadSamModel(join(root, 'model'), { cacheDir: false, threads: 2 });
    try {
      expect(m.decodeConcurrency).toBe(2);
      expect(m.decoderWorkersStarted).toBe(false);
      const e = await m.encode(constantImage(64, 48, 90));
      expect(m.decoderWorkersStarted).toBe(false);
      const r = await m.decode(e, { pointsOriginal: [{ x: 20, y: 20, label: 1 }] });
      expect(r.logitsOriginal[0]![20 * 64 + 20]).toBeGreaterThan(0);
      expect(m.decoderWorkersStarted).toBe(true);
    } finally {
      await m.release();
    }
    await expect(m.decode(await onMain.encode(constantImage(64, 48, 90)), { pointsOriginal: [{ x: 20, y: 20, label: 1 }] })).rejects.toThrow(/released/);
    expect(onMain.decoderWorkersStarted).toBe(false);
  });

  it('calls on two images at once, interleaved: each result equals the main-thread decoder’s for its own image', async () => {
    const a = await onMain.encode(constantImage(320, 240, 40));
    const b = await onMain.encode(constantImage(320, 240, 220));
    const mean = (e: SamEmbedding) => e.data.reduce((s, v) => s + v, 0) / e.data.length;
    expect(Math.abs(mean(a) - mean(b))).toBeGreaterThan(1e-3); // the IoUs tell the two embeddings apart
    const calls: [SamEmbedding, SamPrompts, boolean][] = [];
    for (let i = 0; i < 6; i++) {
      for (const e of [a, b, a]) calls.push([e, { pointsOriginal: [{ x: 40 + 30 * i, y: 60 + 20 * i, label: 1 }, { x: 10, y: 10, label: 0 }] }, i % 2 === 1]);
    }
    const expected: ReturnType<typeof plain>[] = [];
    for (const [e, p, multimask] of calls) expected.push(plain(await onMain.decode(e, p, { multimask })));
    const got = await Promise.all(calls.map(([e, p, multimask]) => onWorkers.decode(e, p, { multimask })));
    expect(got.map(plain)).toEqual(expected);
    // …and again after both workers hold an embedding (later calls send only their prompts).
    const again = await Promise.all(calls.slice().reverse().map(([e, p, multimask]) => onWorkers.decode(e, p, { multimask })));
    expect(again.map(plain)).toEqual(expected.slice().reverse());
  });

  it('a graph ONNX Runtime cannot load is ONNX_LOAD_FAILED naming the file; a released pool refuses calls', async () => {
    await expect(DecoderWorkerPool.start({ model: garbageOnnxBytes(), label: '/models/broken/decoder.onnx', workers: 2 })).rejects.toMatchObject({
      code: 'ONNX_LOAD_FAILED',
      file: '/models/broken/decoder.onnx',
    });
    const dir = join(root, 'model');
    const pool = await DecoderWorkerPool.start({ model: join(dir, 'decoder.onnx'), label: 'decoder.onnx', workers: 1 });
    expect(pool.size).toBe(1);
    await pool.release();
    await expect(pool.run({})).rejects.toThrow(/released/);
  });
});
