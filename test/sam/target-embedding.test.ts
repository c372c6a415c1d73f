import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { loadSamModel } from '../../src/sam/model.js';
import { patchDecoderForTargetEmbedding, TARGET_EMBEDDING_INPUT } from '../../src/sam/target-embedding.js';
import {
  buildDecoder,
  buildPlainEncoder,
  buildTargetEmbeddingToyDecoder,
  garbageOnnxBytes,
  TOY_TOKEN,
} from '../fixtures/sam-models.js';
import { useTempDir } from '../fixtures/temp-dir.js';
import { constantImage } from './helpers.js';

const tmp = useTempDir({ prefix: 'medpersam-sam-' });

const meanToken = (t: number) => {
  let s = 0;
  for (let ch = 0; ch < 256; ch++) s += TOY_TOKEN(t, ch);
  return s / 256;
};
const target = Float32Array.from({ length: 256 }, (_, i) => 0.02 + 0.001 * (i % 13));
const meanTarget = target.reduce((a, b) => a + b, 0) / 256;

describe('patchDecoderForTargetEmbedding', () => {
  it('adds the input, one Add per layer and one before the final q projection, and splits the node layers 0 and 1 share', async () => {
    const r = patchDecoderForTargetEmbedding(buildTargetEmbeddingToyDecoder(4));
    expect(r.patched).toBe(true);
    expect(r.addedNodes).toBe(3);
    expect(r.duplicatedNodes).toBe(1);
    expect(r.warning).toBeUndefined();
    const s = await ort.InferenceSession.create(r.bytes, { logSeverityLevel: 3 });
    expect(s.inputNames).toContain(TARGET_EMBEDDING_INPUT);
    await s.release();
    // Patching twice is a no-op.
    const again = patchDecoderForTargetEmbedding(r.bytes);
    expect(again).toMatchObject({ patched: true, addedNodes: 0, duplicatedNodes: 0 });
  });

  it('fails safe (unchanged bytes + warning, no throw) when the pattern is absent or the bytes are not a model', () => {
    const plain = buildDecoder({ behaviour: 'fill-box', k: 4 });
    const r = patchDecoderForTargetEmbedding(plain);
    expect(r.patched).toBe(false);
    expect(r.bytes).toBe(plain);
    expect(r.warning).toMatch(/target-semantic prompting is off/);
    const g = patchDecoderForTargetEmbedding(garbageOnnxBytes());
    expect(g.patched).toBe(false);
    expect(g.warning).toBeDefined();
  });
});

describe('loadSamModel({ targetEmbedding })', () => {
  async function folder(name: string, decoder: Uint8Array): Promise<string> {
    const dir = join(tmp.dir, name);
    const { mkdir } = await import('node:fs/promises');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'encoder.onnx'), buildPlainEncoder().model);
    await writeFile(join(dir, 'decoder.onnx'), decoder);
    return dir;
  }

  it('patched toy decoder: IoU moves by exactly 10·mean(T), as PerSAM computes (layer 0 never sees layer 1\'s T)', async () => {
    const dir = await folder('toy', buildTargetEmbeddingToyDecoder(4));
    const m = await loadSamModel(dir, { targetEmbedding: true, cacheDir: false, threads: 1 });
    expect(m.info.targetEmbedding).toBe(true);
    expect(m.info.warnings).toEqual([]);
    const e = await m.encode(constantImage(64, 64, 50));
    const prompts = { pointsOriginal: [{ x: 3, y: 4, label: 1 as const }] };
    const without = await m.decode(e, prompts);
    expect(without.iouScores[0]).toBeCloseTo(7 * meanToken(0), 5);
    const withT = await m.decode(e, { ...prompts, targetEmbedding: target }, { multimask: true });
    expect(withT.iouScores[0]).toBeCloseTo(7 * meanToken(1) + 10 * meanTarget, 5);
    expect(withT.iouScores[2]).toBeCloseTo(7 * meanToken(3) + 10 * meanTarget, 5);
    await m.release();

    const unpatched = await loadSamModel(dir, { cacheDir: false, threads: 1 });
    expect(unpatched.info.targetEmbedding).toBe(false);
    const u = await unpatched.decode(await unpatched.encode(constantImage(64, 64, 50)), { ...prompts, targetEmbedding: target });
    expect(u.iouScores[0]).toBeCloseTo(7 * meanToken(0), 5);
    await unpatched.release();
  });

  it('a decoder without the pattern runs unpatched with one warning', async () => {
    const dir = await folder('nopattern', buildDecoder({ behaviour: 'fill-box', k: 1 }));
    const m = await loadSamModel(dir, { targetEmbedding: true, cacheDir: false, threads: 1 });
    expect(m.info.targetEmbedding).toBe(false);
    expect(m.info.warnings).toHaveLength(1);
    expect(m.info.warnings[0]).toMatch(/target-semantic prompting is off/);
    const r = await m.decode(await m.encode(constantImage(64, 64, 50)), {
      boxOriginal: { x0: 1, y0: 1, x1: 5, y1: 5 },
      targetEmbedding: target,
    });
    expect(r.logitsOriginal[0]![3 * 64 + 3]).toBeGreaterThan(0);
    await m.release();
  });
});
