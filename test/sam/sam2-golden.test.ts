/**
 * Golden test of medpersam's SAM 2 path against the official PyTorch predictor: a 300×200 RGB image → squashed
 * ImageNet preprocessing → the exporter's encoder.onnx (ReshapeFusion disabled) → decoder inputs for points, a box and
 * a mask prompt (the previous call's low-resolution logits) → K = 3 low-resolution logits → full-size logits. The
 * reference (test/fixtures/golden/sam2-hiera-tiny.json, from tools/sam2-reference/make_golden.py) is
 * SAM2ImagePredictor on the same real-architecture SAM 2.1 Hiera-Tiny (random weights); tolerance 1e-4 on every
 * sampled value, IoU and mean. The last case runs PerSAM's target embedding in SAM 2's two-way transformer
 * (PyTorch) against the patched decoder graph (src/sam/target-embedding.ts).
 *
 * Needs the real-architecture folder (built once with ../shared/tools/real-arch-sam2/make.py): its path in
 * MEDPERSAM_SAM2_REAL_ARCH (the folder holding encoder.onnx and decoder.onnx). Skipped with a message elsewhere.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '../../src/image/random.js';
import type { FloatImage } from '../../src/image/types.js';
import { loadSamModel, type SamModel } from '../../src/sam/model.js';
import type { SamDecodeResult, SamEmbedding, SamPrompts } from '../../src/sam/types.js';

const ENV = 'MEDPERSAM_SAM2_REAL_ARCH';
const TOLERANCE = 1e-4;

interface GoldenCase {
  name: string;
  points: [number, number, 0 | 1][];
  box: [number, number, number, number] | null;
  maskFrom: string | null;
  maskChannel?: number;
  target: boolean;
  iouPredictions: number[];
  lowRes: number[][];
  lowResMean: number[];
  masks: number[][];
  masksMean: number[];
}
interface Golden {
  encoderSha256: string;
  decoderSha256: string;
  width: number;
  height: number;
  imageSeed: number;
  targetSeed: number;
  targetScale: number;
  lowResPositions: number[];
  fullPositions: number[];
  cases: GoldenCase[];
}

const golden = JSON.parse(readFileSync(new URL('../fixtures/golden/sam2-hiera-tiny.json', import.meta.url), 'utf8')) as Golden;
const dir = process.env[ENV];
const present = dir !== undefined && existsSync(join(dir, 'encoder.onnx')) && existsSync(join(dir, 'decoder.onnx'));

/** make_golden.py's image: floor(256 u) per value, HWC RGB, mulberry32(imageSeed). */
function goldenImage(): FloatImage {
  const r = mulberry32(golden.imageSeed);
  const data = Float32Array.from({ length: golden.width * golden.height * 3 }, () => Math.floor(r() * 256));
  return { width: golden.width, height: golden.height, channels: 3, data };
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;

/** The largest difference seen over all comparisons (reported at the end). */
let worstSeen = 0;

function expectClose(actual: number[], expected: number[], what: string): void {
  expect(actual).toHaveLength(expected.length);
  const worst = Math.max(...actual.map((v, i) => Math.abs(v - expected[i]!)));
  worstSeen = Math.max(worstSeen, worst);
  expect(worst, `${what}: max |diff| ${worst.toExponential(2)}`).toBeLessThanOrEqual(TOLERANCE);
}

(present ? describe : describe.skip)(
  present ? 'SAM 2.1 Hiera-Tiny real architecture vs SAM2ImagePredictor (golden)' : `SAM 2 golden (skipped: set ${ENV} to the real-architecture SAM 2.1 Hiera-Tiny folder built by ../shared/tools/real-arch-sam2/make.py)`,
  () => {
    let model: SamModel;
    let embedding: SamEmbedding;
    beforeAll(async () => {
      model = await loadSamModel(dir!, { cacheDir: false, decoderWorkers: 0, targetEmbedding: true });
      embedding = await model.encode(goldenImage());
    }, 300_000);
    afterAll(async () => model?.release());

    it('the files are the ones the golden was made from (the exporter encoder, not the reshape-fixed copy)', () => {
      expect(sha256(join(dir!, 'encoder.onnx'))).toBe(golden.encoderSha256);
      expect(sha256(join(dir!, 'decoder.onnx'))).toBe(golden.decoderSha256);
      expect(model.info.encoderVariant).toBe('sam2');
      expect(model.info.targetEmbedding).toBe(true);
    });

    it('points, box and mask prompts (and the PerSAM target embedding): IoUs, low-res and full-size logits within 1e-4', async () => {
      const results = new Map<string, SamDecodeResult>();
      const r = mulberry32(golden.targetSeed);
      const s = golden.targetScale;
      const target = Float32Array.from({ length: 256 }, () => -s + 2 * s * r());
      for (const c of golden.cases) {
        const prompts: SamPrompts = { pointsOriginal: c.points.map(([x, y, label]) => ({ x, y, label })) };
        if (c.box) prompts.boxOriginal = { x0: c.box[0], y0: c.box[1], x1: c.box[2], y1: c.box[3] };
        if (c.maskFrom) prompts.maskPrompt = { kind: 'logits256', logits: results.get(c.maskFrom)!.lowResLogits[c.maskChannel!]!.slice() };
        if (c.target) prompts.targetEmbedding = target;
        const out = await model.decode(embedding, prompts, { multimask: true });
        // Keep copies: the low-res outputs are views into ONNX Runtime's buffers.
        results.set(c.name, { ...out, lowResLogits: out.lowResLogits.map((l) => l.slice()) });
        expectClose(out.iouScores, c.iouPredictions, `${c.name} iou`);
        for (let k = 0; k < 3; k++) {
          expectClose(golden.lowResPositions.map((p) => out.lowResLogits[k]![p]!), c.lowRes[k]!, `${c.name} low-res ${k}`);
          expectClose(golden.fullPositions.map((p) => out.logitsOriginal[k]![p]!), c.masks[k]!, `${c.name} masks ${k}`);
          expectClose([mean(out.lowResLogits[k]!), mean(out.logitsOriginal[k]!)], [c.lowResMean[k]!, c.masksMean[k]!], `${c.name} means ${k}`);
        }
        if (c.target) {
          // The target embedding must matter far beyond the tolerance, or this case would check nothing.
          const without = await model.decode(embedding, { ...prompts, targetEmbedding: undefined }, { multimask: true });
          const effect = Math.max(...golden.fullPositions.map((p, i) => Math.abs(without.logitsOriginal[0]![p]! - c.masks[0]![i]!)));
          expect(effect).toBeGreaterThan(100 * TOLERANCE);
          console.info(`SAM 2 golden: target-embedding effect ${effect.toExponential(2)} on the full-size logits`);
        }
      }
      console.info(`SAM 2 golden: largest |diff| to SAM2ImagePredictor ${worstSeen.toExponential(2)} (tolerance ${TOLERANCE})`);
    }, 120_000);
  },
);
