/**
 * SAM 2 (samexporter's interface) on generated tiny graphs (test/fixtures/sam2-models.ts): recognising the pair and
 * refusing mixed or other SAM 2 folders, the squashed ImageNet-normalised encoder input, the decoder's prompt inputs
 * in the squashed frame, K = 3 low-resolution outputs resized to the image, the embedding cache and decoder workers
 * carrying the high-resolution features.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { strToU8, zipSync } from 'fflate';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FloatImage } from '../../src/image/types.js';
import { createBinaryMask } from '../../src/image/types.js';
import { samFrame } from '../../src/sam/frames.js';
import { pullModel, resolveSamModel, verifyModelDir } from '../../src/sam/manage.js';
import { findSamModelFiles } from '../../src/sam/model-files.js';
import { loadSamModel, type SamModel } from '../../src/sam/model.js';
import { buildSam2PointInputs } from '../../src/sam/prompt-frames.js';
import { IMAGENET_MEAN, IMAGENET_STD, SAM2_HIGH_RES_LENGTH } from '../../src/sam/sam2-interface.js';
import { buildPlainEncoder, buildDecoder, ENC_B, ENC_W } from '../fixtures/sam-models.js';
import { buildOnnxruntimeStyleSam2Decoder, buildSam2Decoder, buildSam2Encoder, writeTestSam2Model } from '../fixtures/sam2-models.js';
import { makeTempDir } from '../fixtures/temp-dir.js';
import { expectUserError } from '../fixtures/user-error.js';
import { useTestServer } from './download-server.js';

const server = useTestServer();

let root: string;
let cleanup: () => Promise<void>;
const models: SamModel[] = [];
async function load(name: string, opts: Parameters<typeof writeTestSam2Model>[1], loadOpts: Parameters<typeof loadSamModel>[1] = {}) {
  const dir = join(root, name);
  await writeTestSam2Model(dir, opts);
  const m = await loadSamModel(dir, { cacheDir: false, threads: 1, decoderWorkers: 0, ...loadOpts });
  models.push(m);
  return m;
}

beforeAll(async () => ({ dir: root, cleanup } = await makeTempDir('medpersam-sam2-')));
afterAll(async () => {
  for (const m of models) await m.release();
  await cleanup();
});

/** 40×20 RGB: left half colour A, right half colour B (0..255). */
const A = [200, 40, 90];
const B = [10, 230, 120];
function twoColourImage(): FloatImage {
  const width = 40;
  const height = 20;
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = (x < 20 ? A : B)[c]!;
  return { width, height, channels: 3, data };
}

/** The tiny encoder's output channel c for a constant colour: Σ_k ENC_W(c,k)·(v_k/255 − mean_k)/std_k + ENC_B(c). */
function expectedFeature(c: number, colour: number[]): number {
  let v = ENC_B(c);
  for (let k = 0; k < 3; k++) v += ENC_W(c, k) * ((colour[k]! / 255 - IMAGENET_MEAN[k]!) / IMAGENET_STD[k]!);
  return v;
}

describe('recognising a SAM 2 folder', () => {
  it('samexporter pair: variant sam2, embedding [1,256,64,64] from the encoder, K = 3', async () => {
    const dir = join(root, 'detect');
    await writeTestSam2Model(dir);
    const f = await findSamModelFiles(dir);
    expect(f.encoderVariant).toBe('sam2');
    expect(f.encoderInputName).toBe('image');
    expect(f.embeddingOutputName).toBe('image_embed');
    expect(f.embeddingDims).toEqual([1, 256, 64, 64]);
    expect(f.embeddingDimsSource).toBe('encoder');
    expect(f.decoderOutputs).toBe(3);
  });

  it('a SAM 1 encoder with a SAM 2 decoder (and the reverse) is MODEL_KIND_MISMATCH naming both files', async () => {
    const dir = join(root, 'mixed');
    await writeTestSam2Model(dir);
    await writeFile(join(dir, 'encoder.onnx'), buildPlainEncoder().model);
    await expectUserError(findSamModelFiles(dir), 'MODEL_KIND_MISMATCH', 'encoder.onnx is SAM 1', 'decoder.onnx is SAM 2', 'high_res_feats_0');
    const dir2 = join(root, 'mixed2');
    await writeTestSam2Model(dir2);
    await writeFile(join(dir2, 'decoder.onnx'), buildDecoder({ behaviour: 'echo-mask', k: 4 }));
    await expectUserError(findSamModelFiles(dir2), 'MODEL_KIND_MISMATCH', 'encoder.onnx is SAM 2', 'decoder.onnx is SAM 1', 'orig_im_size');
  });

  it("onnxruntime's SAM 2 export and an 8-input decoder are UNSUPPORTED_SAM2_VARIANT naming what differs", async () => {
    const dir = join(root, 'ort-style');
    await writeTestSam2Model(dir);
    await writeFile(join(dir, 'decoder.onnx'), buildOnnxruntimeStyleSam2Decoder());
    const err = await expectUserError(findSamModelFiles(dir), 'UNSUPPORTED_SAM2_VARIANT', 'no input image_embed', 'extra input image_features_0', "onnxruntime's SAM 2 export");
    expect(err.message).toContain('extra input original_image_size');
    const dir2 = join(root, 'orig-im-size');
    await writeTestSam2Model(dir2);
    await writeFile(join(dir2, 'decoder.onnx'), buildSam2Decoder({ behaviour: 'echo-mask', withOrigImSize: true }));
    await expectUserError(findSamModelFiles(dir2), 'UNSUPPORTED_SAM2_VARIANT', 'extra input orig_im_size', 'ONNX-SAM2-Segment-Anything');
    const dir3 = join(root, 'ort-encoder');
    await writeTestSam2Model(dir3);
    await writeFile(join(dir3, 'encoder.onnx'), buildSam2Encoder({ outputNames: ['image_features_0', 'image_features_1', 'image_embeddings'] }));
    await expectUserError(findSamModelFiles(dir3), 'UNSUPPORTED_SAM2_VARIANT', 'SAM 2 encoder', 'no output image_embed', 'extra output image_features_0');
  });
});

describe('encoder', () => {
  it('the image is squashed to 1024×1024 (no padding) and ImageNet-normalised; all three feature maps come back', async () => {
    const m = await load('enc', {});
    const e = await m.encode(twoColourImage());
    expect(e.dims).toEqual([1, 256, 64, 64]);
    expect(e.highResFeatures).toHaveLength(SAM2_HIGH_RES_LENGTH);
    for (const c of [0, 17, 255]) {
      // Cells left of x = 480 (sam1024) see colour A only, right of 544 colour B only, over the whole height: the
      // 40×20 image fills the square (SAM 1 would pad its lower half).
      for (const gy of [0, 40, 63]) {
        expect(e.data[c * 4096 + gy * 64 + 5]).toBeCloseTo(expectedFeature(c, A), 4);
        expect(e.data[c * 4096 + gy * 64 + 60]).toBeCloseTo(expectedFeature(c, B), 4);
      }
    }
    // high_res_feats_0 channel 3 at (row 250, col 10), high_res_feats_1 channel 63 at (row 100, col 120).
    expect(e.highResFeatures![3 * 65536 + 250 * 256 + 10]).toBeCloseTo(expectedFeature(3, A), 4);
    expect(e.highResFeatures![32 * 65536 + 63 * 16384 + 100 * 128 + 120]).toBeCloseTo(expectedFeature(63, B), 4);
  });

  it('the embedding cache keeps the high-resolution maps: a disk hit in a new model equals the encoder run', async () => {
    const cacheDir = join(root, 'cache-sam2');
    const first = await load('cache', {}, { cacheDir });
    const image = twoColourImage();
    const e1 = await first.encode(image);
    const second = await load('cache-again', {}, { cacheDir });
    const e2 = await second.encode(image);
    expect(second.stats().diskCacheHits).toBe(1);
    expect(second.stats().encoderRuns).toBe(0);
    expect(Array.from(e2.data)).toEqual(Array.from(e1.data));
    expect(Array.from(e2.highResFeatures!)).toEqual(Array.from(e1.highResFeatures!));
  });
});

describe('decoder', () => {
  it('points go box corners first (labels 2, 3), then clicks, without a padding point, in the squashed frame', () => {
    const frame = samFrame(40, 20, { squash: true });
    const p = buildSam2PointInputs([{ x: 10, y: 5, label: 1 }, { x: 30, y: 15, label: 0 }], { x0: 4, y0: 2, x1: 36, y1: 18 }, frame);
    expect(p.count).toBe(4);
    expect(Array.from(p.labels)).toEqual([2, 3, 1, 0]);
    expect(Array.from(p.coordsSam1024)).toEqual([102.4, 102.4, 921.6, 921.6, 256, 256, 768, 768].map(Math.fround));
    expect(buildSam2PointInputs([{ x: 10, y: 5, label: 1 }], undefined, frame).count).toBe(1);
  });

  it('box prompt: K = 3 low-res outputs, the best-IoU one by default, resized bilinearly to the image', async () => {
    const m = await load('fill-box', { decoder: 'fill-box' });
    const e = await m.encode(twoColourImage());
    // Box (10,5)–(29,14) → sam1024 x 256..742.4, y 256..716.8: 256-cells (centres 4u + 1.5) u 64..185, v 64..178.
    const r = await m.decode(e, { boxOriginal: { x0: 10, y0: 5, x1: 29, y1: 14 } });
    expect(r.iouScores.map((v) => Math.fround(v))).toEqual([Math.fround(0.7)]);
    const low = r.lowResLogits[0]!;
    expect(low[64 * 256 + 64]).toBeCloseTo(10.5, 5);
    expect(low[178 * 256 + 185]).toBeCloseTo(10.5, 5);
    expect(low[63 * 256 + 100]).toBeCloseTo(-9.5, 5);
    expect(low[179 * 256 + 100]).toBeCloseTo(-9.5, 5);
    expect(low[100 * 256 + 186]).toBeCloseTo(-9.5, 5);
    const full = r.logitsOriginal[0]!;
    expect(full).toHaveLength(40 * 20);
    expect(full[10 * 40 + 20]).toBeCloseTo(10.5, 5);
    expect(full[0]).toBeCloseTo(-9.5, 5);
    const all = await m.decode(e, { boxOriginal: { x0: 10, y0: 5, x1: 29, y1: 14 } }, { multimask: true });
    expect(all.multimask).toBe(true);
    expect(all.lowResLogits.map((l) => l[64 * 256 + 64])).toEqual([10, 10.25, 10.5]);
  });

  it('mask prompts: logits256 pass through; a binary mask maps to ±20 cells of the squashed frame', async () => {
    const m = await load('echo', { decoder: 'echo-mask' });
    const e = await m.encode(twoColourImage());
    const logits = Float32Array.from({ length: 65536 }, (_, i) => ((i % 97) - 48) / 2);
    const r = await m.decode(e, { maskPrompt: { kind: 'logits256', logits } });
    expect(Array.from(r.lowResLogits[0]!.subarray(0, 200))).toEqual(Array.from(logits.subarray(0, 200), (v) => Math.min(32, v + 0.5)));
    const mask = createBinaryMask(40, 20);
    for (let y = 0; y < 20; y++) for (let x = 0; x < 20; x++) mask.data[y * 40 + x] = 1;
    const b = await m.decode(e, { maskPrompt: { kind: 'binary', mask } });
    // Original x < 20 ↔ sam1024 x < 512 ↔ cells u < 128, on every row (no padded rows).
    expect(b.lowResLogits[0]![255 * 256 + 127]).toBeCloseTo(20.5, 5);
    expect(b.lowResLogits[0]![255 * 256 + 128]).toBeCloseTo(-19.5, 5);
  });

  it('decoder workers carry the three feature inputs: results equal the main-thread decoder', async () => {
    const main = await load('iou-main', { decoder: 'discs', iouFromFeatures: true });
    const workers = await load('iou-workers', { decoder: 'discs', iouFromFeatures: true }, { decoderWorkers: 2 });
    const image = twoColourImage();
    const prompts = { pointsOriginal: [{ x: 12, y: 6, label: 1 as const }] };
    const a = await main.decode(await main.encode(image), prompts, { multimask: true });
    const b = await workers.decode(await workers.encode(image), prompts, { multimask: true });
    expect(workers.decoderWorkersStarted).toBe(true);
    expect(b.iouScores).toEqual(a.iouScores);
    expect(Array.from(b.lowResLogits[1]!)).toEqual(Array.from(a.lowResLogits[1]!));
    // The IoUs carry the means of image_embed and both high-resolution maps: not 0.5/0.6/0.7.
    expect(a.iouScores[0]).not.toBeCloseTo(0.5, 3);
  });
});

describe('models pull / verify for SAM 2.1', () => {
  it('pulls sam2.1-hiera-tiny (zip of encoder.onnx + decoder.onnx) and verify --smoke runs it', async () => {
    const src = join(root, 'zip-src');
    const files = await writeTestSam2Model(src, { decoder: 'fill-box' });
    const zip = zipSync({
      'sam2.1_hiera_tiny/encoder.onnx': new Uint8Array(await readFile(files.encoderPath)),
      'sam2.1_hiera_tiny/decoder.onnx': new Uint8Array(await readFile(files.decoderPath)),
      'sam2.1_hiera_tiny/config.yaml': strToU8('type: segment_anything_2\n'),
    });
    server.files.set('/sam2.1_hiera_tiny_20260221.zip', { body: zip });
    const home = join(root, 'home');
    const pulled = await pullModel('sam2.1-hiera-tiny', { home, baseUrl: server.baseUrl });
    expect(pulled.manifest.checksumPolicy).toBe('trust-on-first-use');
    expect(await resolveSamModel('sam2.1-hiera-tiny', { home })).toBe(pulled.dir);
    const err = await expectUserError(resolveSamModel('sam2.1-hiera-small', { home }), 'MODEL_NOT_PRESENT', 'samexporter.export_sam2', 'sam2.1_hiera_small');
    expect(err.message).not.toContain('export_onnx_model.py');
  });

  it('verify --smoke on a SAM 2 folder: variant sam2, K = 3, the smoke test decodes', async () => {
    const dir = join(root, 'verify');
    await writeTestSam2Model(dir, { decoder: 'fill-box' });
    const r = await verifyModelDir(dir, { smokeTest: true, threads: 1 });
    expect(r.ok).toBe(true);
    expect(r.encoder.variant).toBe('sam2');
    expect(r.encoder.outputs.map((o) => o.name)).toEqual(['high_res_feats_0', 'high_res_feats_1', 'image_embed']);
    expect(r.decoder.k).toBe(3);
    expect(r.smokeTest).toMatchObject({ ok: true, outputs: 1 });
  });
});
