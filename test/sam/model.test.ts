import { readdir, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBinaryMask } from '../../src/image/types.js';
import { loadSamModel, type SamModel } from '../../src/sam/model.js';
import { buildMaskInput } from '../../src/sam/prompt-frames.js';
import { samFrame } from '../../src/sam/frames.js';
import { SAM_PIXEL_MEAN, SAM_PIXEL_STD } from '../../src/sam/preprocess.js';
import { ENC_B, ENC_W, OUTPUT_OFFSET, writeTestSamModel } from '../fixtures/sam-models.js';
import { makeTempDir } from '../fixtures/temp-dir.js';
import { constantImage, patternImage } from './helpers.js';

let root: string;
let cleanup: () => Promise<void>;
const models: SamModel[] = [];
async function load(name: string, opts: Parameters<typeof writeTestSamModel>[1], loadOpts: Parameters<typeof loadSamModel>[1] = {}) {
  const dir = join(root, name);
  await writeTestSamModel(dir, opts);
  const m = await loadSamModel(dir, { cacheDir: join(root, `${name}-cache`), threads: 1, ...loadOpts });
  models.push(m);
  return m;
}

beforeAll(async () => ({ dir: root, cleanup } = await makeTempDir('medpersam-sam-')));
afterAll(async () => {
  for (const m of models) await m.release();
  await cleanup();
});

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: { code?: string }) => e.code ?? String(e),
  );
}

describe('encoder', () => {
  it('plain variant: embedding = fixed projection of the pooled, normalised, padded image', async () => {
    const m = await load('plain', { encoder: 'plain' }, { cacheDir: false });
    expect(m.info.encoderVariant).toBe('plain');
    const e = await m.encode(constantImage(800, 600, 100));
    expect(e.dims).toEqual([1, 256, 64, 64]);
    expect([e.originalWidth, e.originalHeight]).toEqual([800, 600]);
    const n = [0, 1, 2].map((k) => (100 - SAM_PIXEL_MEAN[k]!) / SAM_PIXEL_STD[k]!);
    for (const c of [0, 17, 255]) {
      const inside = ENC_W(c, 0) * n[0]! + ENC_W(c, 1) * n[1]! + ENC_W(c, 2) * n[2]! + ENC_B(c);
      // 768 image rows = 48 embedding rows; below that only padding (zeros) → bias only.
      expect(e.data[c * 4096 + 10 * 64 + 5]).toBeCloseTo(inside, 4);
      expect(e.data[c * 4096 + 47 * 64 + 63]).toBeCloseTo(inside, 4);
      expect(e.data[c * 4096 + 48 * 64 + 0]).toBeCloseTo(ENC_B(c), 5);
    }
  });

  it('input_image variant gives the same embedding as the plain one', async () => {
    const plain = await load('plain2', { encoder: 'plain' }, { cacheDir: false });
    const raw = await load('raw', { encoder: 'input_image' }, { cacheDir: false });
    expect(raw.info.encoderVariant).toBe('input_image');
    const img = patternImage(500, 700);
    const a = await plain.encode(img);
    const b = await raw.encode(img);
    let maxDiff = 0;
    for (let i = 0; i < a.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.data[i]! - b.data[i]!));
    expect(maxDiff).toBeLessThan(1e-4);
  });

  it('external data: loads from the path (the bytes alone cannot be loaded) and matches inline weights', async () => {
    const ext = await load('ext', { externalData: true }, { cacheDir: false });
    const files = await readdir(join(root, 'ext'));
    expect(files).toContain('encoder_data.bin');
    const bytesOnly = await ort.InferenceSession.create(await readFile(join(root, 'ext', 'encoder.onnx'))).then(
      () => 'loaded',
      () => 'failed',
    );
    expect(bytesOnly).toBe('failed');
    const inline = await load('inline', {}, { cacheDir: false });
    const img = patternImage(320, 240);
    const a = await ext.encode(img);
    const b = await inline.encode(img);
    expect(Array.from(a.data.subarray(0, 4096))).toEqual(Array.from(b.data.subarray(0, 4096)));
    expect(ext.info.encoderId).not.toBe(inline.info.encoderId);
  });

  it('caches: second encode does not run the session; a new model instance reads the disk cache', async () => {
    const cacheDir = join(root, 'shared-cache');
    const dir = join(root, 'cached');
    await writeTestSamModel(dir);
    const m1 = await loadSamModel(dir, { cacheDir, threads: 1 });
    models.push(m1);
    const img = patternImage(256, 256);
    const [a, a2] = await Promise.all([m1.encode(img), m1.encode(img)]);
    expect(m1.stats().encoderRuns).toBe(1);
    expect(a2.data).toBe(a.data);
    await m1.encode(img);
    expect(m1.stats()).toMatchObject({ encodeCalls: 3, encoderRuns: 1, memoryCacheHits: 1 });

    const m2 = await loadSamModel(dir, { cacheDir, threads: 1 });
    models.push(m2);
    const b = await m2.encode(img);
    expect(m2.stats()).toMatchObject({ encoderRuns: 0, diskCacheHits: 1 });
    expect(b.key).toBe(a.key);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    // A different image (same size) is a different key.
    const c = await m2.encode(patternImage(256, 256, 1));
    expect(c.key).not.toBe(a.key);
    expect(m2.stats().encoderRuns).toBe(1);
    // A truncated cache file is ignored and rewritten.
    const modelDir = join(cacheDir, m2.info.encoderId.slice(0, 16));
    const f = join(modelDir, `${a.key.split(':')[1]}.f32`);
    await truncate(f, 100);
    const m3 = await loadSamModel(dir, { cacheDir, threads: 1 });
    models.push(m3);
    await m3.encode(img);
    expect(m3.stats().encoderRuns).toBe(1);
    expect((await readFile(f)).byteLength).toBe(256 * 64 * 64 * 4);
  });

  it('symbolic dims on both graphs: the first run fixes the embedding shape; the disk cache works from then on', async () => {
    const cacheDir = join(root, 'symbolic-cache');
    const dir = join(root, 'symbolic');
    await writeTestSamModel(dir, { encoderOutput: 'symbolic', decoderSymbolicEmbedding: true, decoder: 'fill-box' });
    const m1 = await loadSamModel(dir, { cacheDir, threads: 1 });
    models.push(m1);
    expect(m1.info.embeddingDims).toBeNull();
    const img = patternImage(96, 64);
    const e = await m1.encode(img);
    expect(e.dims).toEqual([1, 256, 64, 64]);
    expect(m1.info.embeddingDims).toEqual([1, 256, 64, 64]);
    const r = await m1.decode(e, { boxOriginal: { x0: 10, y0: 10, x1: 20, y1: 20 } });
    expect(r.logitsOriginal[0]![15 * 96 + 15]).toBeGreaterThan(0);
    // A new instance: shape unknown again, so the first image is encoded; the next one is read from disk.
    const m2 = await loadSamModel(dir, { cacheDir, threads: 1 });
    models.push(m2);
    await m2.encode(patternImage(96, 64, 3));
    await m2.encode(img);
    expect(m2.stats()).toMatchObject({ encoderRuns: 1, diskCacheHits: 1 });
  });

  it('releaseEncoder frees the encoder session; cached images still encode, a new image re-creates it', async () => {
    const m = await load('release', {}, { cacheDir: join(root, 'release-cache'), memoryCacheEntries: 1 });
    const a = patternImage(64, 64, 1);
    const b = patternImage(64, 64, 2);
    const ea = await m.encode(a);
    await m.encode(b);
    await m.releaseEncoder();
    expect(m.encoderLoaded).toBe(false);
    // a: not in memory any more (LRU of 1), read from disk; the session stays released.
    const again = await m.encode(a);
    expect(Array.from(again.data)).toEqual(Array.from(ea.data));
    expect(m.encoderLoaded).toBe(false);
    expect(m.stats()).toMatchObject({ encoderRuns: 2, encoderReloads: 0, diskCacheHits: 1 });
    const c = await m.encode(patternImage(64, 64, 3));
    expect(c.data.length).toBe(256 * 64 * 64);
    expect(m.encoderLoaded).toBe(true);
    expect(m.stats()).toMatchObject({ encoderRuns: 3, encoderReloads: 1 });
    // Releasing twice, then the whole model, is fine.
    await m.releaseEncoder();
    await m.releaseEncoder();
  });

  it('encoder with and without the memory arena, on its own thread count: same embedding', async () => {
    const a = await load('arena-on', {}, { cacheDir: false, encoderMemoryArena: true });
    const b = await load('arena-off', {}, { cacheDir: false, encoderMemoryArena: false, encoderThreads: 1, threads: 2 });
    const img = patternImage(80, 64, 5);
    expect(Array.from((await b.encode(img)).data)).toEqual(Array.from((await a.encode(img)).data));
  });

  it('memory LRU is bounded (memoryCacheEntries), independent of the image count', async () => {
    const m = await load('lru', {}, { cacheDir: false, memoryCacheEntries: 2 });
    const imgs = [0, 1, 2, 3].map((s) => patternImage(64, 64, s));
    for (const i of imgs) await m.encode(i);
    await m.encode(imgs[3]!); // still in memory
    expect(m.stats()).toMatchObject({ encoderRuns: 4, memoryCacheHits: 1 });
    await m.encode(imgs[0]!); // evicted, no disk cache → re-encoded
    expect(m.stats().encoderRuns).toBe(5);
  });

  it('rejects invalid images', async () => {
    const m = await load('bad-img', {}, { cacheDir: false });
    expect(await codeOf(m.encode({ width: 10, height: 10, channels: 1, data: new Float32Array(5) }))).toBe('INVALID_IMAGE');
  });
});

describe('decoder', () => {
  const W = 800;
  const H = 600;

  it('echo-mask: the mask prompt comes back at the original size (frames consistent end to end)', async () => {
    const m = await load('echo', { decoder: 'echo-mask', k: 1 }, { cacheDir: false });
    const e = await m.encode(constantImage(W, H, 80));
    const mask = createBinaryMask(W, H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (((x - 500) / 180) ** 2 + ((y - 250) / 120) ** 2 <= 1) mask.data[y * W + x] = 1;
    const r = await m.decode(e, { maskPrompt: { kind: 'binary', mask } });
    expect(r.logitsOriginal).toHaveLength(1);
    expect([r.width, r.height]).toEqual([W, H]);
    let inter = 0;
    let union = 0;
    for (let i = 0; i < W * H; i++) {
      const p = r.logitsOriginal[0]![i]! > 0 ? 1 : 0;
      inter += p & mask.data[i]!;
      union += p | mask.data[i]!;
    }
    expect(inter / union).toBeGreaterThan(0.97);
    expect(Array.from(r.lowResLogits[0]!)).toEqual(Array.from(buildMaskInput({ kind: 'binary', mask }, samFrame(W, H))));
    expect(r.multimask).toBe(false);
    expect(r.iouScores).toHaveLength(1);
    expect(r.iouScores[0]).toBeCloseTo(0.5, 6);
  });

  it('fill-box: logits > 0 exactly on the inclusive box', async () => {
    const m = await load('box', { decoder: 'fill-box', k: 1 }, { cacheDir: false });
    const e = await m.encode(constantImage(W, H, 80));
    const box = { x0: 100, y0: 50, x1: 300, y1: 200 };
    const r = await m.decode(e, { boxOriginal: box, pointsOriginal: [{ x: 200, y: 100, label: 1 }] });
    const logits = r.logitsOriginal[0]!;
    let wrong = 0;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const inside = x >= box.x0 && x <= box.x1 && y >= box.y0 && y <= box.y1;
        if (logits[y * W + x]! > 0 !== inside) wrong++;
      }
    expect(wrong).toBe(0);
    // Without a box the padding point carries label -1 and nothing is filled.
    const none = await m.decode(e, { pointsOriginal: [{ x: 200, y: 100, label: 1 }] });
    expect(none.logitsOriginal[0]!.every((v) => v < 0)).toBe(true);
  });

  it('discs: positive point (400,300) lands at (512,384) in the 1024 frame', async () => {
    const m = await load('discs', { decoder: 'discs', k: 1 }, { cacheDir: false });
    const e = await m.encode(constantImage(W, H, 80));
    const r = await m.decode(e, { pointsOriginal: [{ x: 400, y: 300, label: 1 }, { x: 100, y: 100, label: 0 }] });
    const at = (x: number, y: number) => r.logitsOriginal[0]![y * W + x]!;
    // R = 32 in the 1024 frame = 25 original px at scale 1.28.
    expect(at(424, 300)).toBeGreaterThan(0);
    expect(at(426, 300)).toBeLessThan(0);
    expect(at(400, 276)).toBeGreaterThan(0);
    expect(at(400, 274)).toBeLessThan(0);
    expect(at(410, 300)).toBeCloseTo((10 * (1024 - 12.8 ** 2)) / 1024, 3);
    expect(at(100, 100)).toBeCloseTo(-10, 5); // negative points make no disc
  });

  it('K = 4: single-mask output is index 0; multimask returns outputs 1..3 with their IoU', async () => {
    const m = await load('k4', { decoder: 'fill-box', k: 4 }, { cacheDir: false });
    expect(m.info.decoderOutputs).toBe(4);
    const e = await m.encode(constantImage(W, H, 80));
    const prompts = { boxOriginal: { x0: 10, y0: 10, x1: 20, y1: 20 } };
    const single = await m.decode(e, prompts, { multimask: false });
    expect(single.iouScores.map((v) => +v.toFixed(4))).toEqual([0.5]);
    expect(single.logitsOriginal[0]![15 * W + 15]).toBeCloseTo(10, 5);
    const multi = await m.decode(e, prompts, { multimask: true });
    expect(multi.multimask).toBe(true);
    expect(multi.iouScores.map((v) => +v.toFixed(4))).toEqual([0.6, 0.7, 0.8]);
    expect(multi.logitsOriginal.map((l) => +l[15 * W + 15]!.toFixed(4))).toEqual([1, 2, 3].map((k) => 10 + k * OUTPUT_OFFSET));
    expect(multi.lowResLogits).toHaveLength(3);
    expect(multi.lowResLogits[2]!.length).toBe(65536);
  });

  it('K = 1: multimask falls back to the single output', async () => {
    const m = await load('k1', { decoder: 'fill-box', k: 1 }, { cacheDir: false });
    expect(m.info.decoderOutputs).toBe(1);
    const e = await m.encode(constantImage(W, H, 80));
    const r = await m.decode(e, { boxOriginal: { x0: 10, y0: 10, x1: 20, y1: 20 } }, { multimask: true });
    expect(r.multimask).toBe(false);
    expect(r.logitsOriginal).toHaveLength(1);
  });

  it('rejects empty prompts, prompts outside the image and foreign embeddings', async () => {
    const m = await load('errs', { decoder: 'discs', k: 4 }, { cacheDir: false });
    const e = await m.encode(constantImage(W, H, 80));
    expect(await codeOf(m.decode(e, {}))).toBe('EMPTY_PROMPT');
    expect(await codeOf(m.decode(e, { pointsOriginal: [{ x: 800, y: 10, label: 1 }] }))).toBe('PROMPT_OUTSIDE_IMAGE');
    expect(await codeOf(m.decode(e, { boxOriginal: { x0: -3, y0: 0, x1: 10, y1: 10 } }))).toBe('PROMPT_OUTSIDE_IMAGE');
    const foreign = { ...e, dims: [1, 256, 32, 32] as const, data: new Float32Array(256 * 32 * 32) };
    expect(await codeOf(m.decode(foreign, { pointsOriginal: [{ x: 1, y: 1, label: 1 }] }))).toBe('EMBEDDING_MODEL_MISMATCH');
    expect(await codeOf(m.decode(e, { maskPrompt: { kind: 'binary', mask: createBinaryMask(10, 10) } }))).toBe('MASK_PROMPT_SIZE_MISMATCH');
    const st = m.stats();
    expect(st.decodeCalls).toBe(5);
  });

  it('reports session.run time separately from total decode time', async () => {
    const m = await load('timing', { decoder: 'discs', k: 4 }, { cacheDir: false });
    const e = await m.encode(constantImage(200, 100, 80));
    await m.decode(e, { pointsOriginal: [{ x: 50, y: 50, label: 1 }] });
    const s = m.stats();
    expect(s.decoderRunMs).toBeGreaterThan(0);
    expect(s.decodeTotalMs).toBeGreaterThanOrEqual(s.decoderRunMs);
  });
});

describe('execution', () => {
  it('CUDA is used only when available; otherwise CPU with a warning', async () => {
    const m = await load('cuda', {}, { cacheDir: false, executionProvider: 'cuda' });
    if (m.info.executionProvider === 'cpu') expect(m.info.warnings.join('\n')).toMatch(/CUDA/);
    const e = await m.encode(constantImage(64, 64, 1));
    const r = await m.decode(e, { pointsOriginal: [{ x: 1, y: 1, label: 1 }] });
    expect(r.logitsOriginal[0]!.length).toBe(64 * 64);
  });

  it('rejects a bad thread count', async () => {
    const dir = join(root, 'threads');
    await writeTestSamModel(dir);
    expect(await codeOf(loadSamModel(dir, { threads: 0, cacheDir: false }))).toBe('INVALID_OPTION');
  });
});

describe('embedding cache folder problems', () => {
  it('an unwritable cache folder degrades to a warning, not a failed encode', async () => {
    const { writeFile: wf } = await import('node:fs/promises');
    const dir = join(root, 'ro-model');
    await writeTestSamModel(dir);
    const blocker = join(root, 'blocker');
    await wf(blocker, 'a file where the cache folder should be');
    const m = await loadSamModel(dir, { cacheDir: join(blocker, 'cache'), threads: 1 });
    models.push(m);
    const e = await m.encode(patternImage(64, 64));
    expect(e.data.length).toBe(256 * 64 * 64);
    expect(m.info.warnings.join('\n')).toMatch(/embedding cache not written/);
  });
});
