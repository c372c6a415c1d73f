import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  boxMeanMap,
  flowGradientL2,
  jacobianDeterminantMap,
  localSimilarityMaps,
  classDice,
  maskDice,
  mainPiecesShare,
  maskShapeSignals,
  pieceShares,
  regionMean,
  regionShareAtMost,
  samSignals,
  significantPieces,
  warpSignals,
} from '../../src/eval/quality-signals.js';
import { binaryOfClass } from '../../src/image/labels.js';
import type { LabelMap } from '../../src/image/types.js';
import { initTf } from '../../src/warp/backend.js';
import { flowGradL2, nccLoss, ssimLoss } from '../../src/warp/losses.js';
import { randomValues } from '../warp-core/helpers.js';

const unit = (n: number, seed: number) => randomValues(n, seed).map((v) => 0.5 + 0.5 * v);
const lm = (width: number, values: number[]): LabelMap => ({ width, height: values.length / width, data: Uint8Array.from(values) });

/** A flow field from a function of the pixel position. */
function flowOf(w: number, h: number, f: (x: number, y: number) => [number, number]): Float32Array {
  const out = new Float32Array(w * h * 2);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) [out[(y * w + x) * 2], out[(y * w + x) * 2 + 1]] = f(x, y);
  return out;
}

/** Mean of a map over the pixels whose window×window neighbourhood lies inside the image ('valid'). */
function interiorMean(map: Float32Array, w: number, h: number, window: number): number {
  const r = (window - 1) / 2;
  let s = 0;
  let n = 0;
  for (let y = r; y < h - r; y++) for (let x = r; x < w - r; x++) {
    s += map[y * w + x]!;
    n++;
  }
  return s / n;
}

describe('boxMeanMap', () => {
  it('3×3 window on 1..9: centre 5, corner clipped to its 4 pixels (mean 3), edge to 6 pixels', () => {
    const m = boxMeanMap([1, 2, 3, 4, 5, 6, 7, 8, 9], 3, 3, 3);
    expect(m[4]).toBeCloseTo(5, 6);
    expect(m[0]).toBeCloseTo((1 + 2 + 4 + 5) / 4, 6);
    expect(m[1]).toBeCloseTo((1 + 2 + 3 + 4 + 5 + 6) / 6, 6);
  });
  it('rejects even windows', () => {
    expect(() => boxMeanMap([1, 2], 2, 1, 2)).toThrow(/odd/);
  });
});

describe('localSimilarityMaps (the Eq. 1 image terms)', () => {
  beforeAll(async () => {
    await initTf({ backend: 'wasm' });
  });

  it('over full windows, mean SSIM = 1 − ssimLoss and mean NCC = −nccLoss of warp/losses.ts', () => {
    const W = 23;
    const H = 19;
    const a = unit(W * H, 3);
    const b = a.map((v, i) => 0.6 * v + 0.4 * unit(W * H, 9)[i]!);
    const maps = localSimilarityMaps(a, b, W, H);
    const [ssimRef, nccRef] = tf.tidy(() => {
      const ta = tf.tensor4d(a, [1, H, W, 1]);
      const tb = tf.tensor4d(b, [1, H, W, 1]);
      return [1 - ssimLoss(ta, tb).dataSync()[0]!, -nccLoss(ta, tb).dataSync()[0]!];
    });
    expect(interiorMean(maps.ssim, W, H, 7)).toBeCloseTo(ssimRef!, 4);
    expect(interiorMean(maps.ncc, W, H, 9)).toBeCloseTo(nccRef!, 4);
  });

  it('identical images: SSIM 1 and NCC 1 everywhere; the negative image: NCC 1, SSIM < 0; flat images: NCC 0', () => {
    const a = unit(16 * 16, 5);
    const same = localSimilarityMaps(a, a, 16, 16);
    expect(Math.min(...same.ssim)).toBeGreaterThan(0.9999);
    expect(Math.min(...same.ncc)).toBeGreaterThan(0.999);
    const neg = localSimilarityMaps(a, a.map((v) => 1 - v), 16, 16);
    expect(regionMean(neg.ncc)).toBeGreaterThan(0.999);
    expect(regionMean(neg.ssim)).toBeLessThan(0);
    const flat = localSimilarityMaps(new Float32Array(64).fill(0.5), new Float32Array(64).fill(0.5), 8, 8);
    expect(Math.max(...flat.ncc)).toBe(0);
    expect(Math.min(...flat.ssim)).toBeCloseTo(1, 6);
  });
});

describe('the flow', () => {
  beforeAll(async () => {
    await initTf({ backend: 'wasm' });
  });

  it('Jacobian determinant: 1 for zero and constant flows, (1+a)² for a scaling, −1 where the x axis is reflected', () => {
    const det = (f: (x: number, y: number) => [number, number]) => jacobianDeterminantMap(flowOf(6, 5, f), 6, 5);
    for (const v of det(() => [0, 0])) expect(v).toBe(1);
    for (const v of det(() => [3.5, -2])) expect(v).toBe(1);
    for (const v of det((x, y) => [0.25 * x, 0.25 * y])) expect(v).toBeCloseTo(1.5625, 6);
    // φ(x) = x − 2x = −x: the map reverses the x axis, so it folds everywhere.
    for (const v of det((x) => [-2 * x, 0])) expect(v).toBeCloseTo(-1, 6);
  });

  it('flowGradientL2 equals warp/losses flowGradL2 (the Eq. 1 regulariser), and 0.25 for φx = x on 3×3', () => {
    expect(flowGradientL2(flowOf(3, 3, (x) => [x, 0]), 3, 3)).toBeCloseTo(0.25, 12);
    const W = 13;
    const H = 9;
    const flow = randomValues(W * H * 2, 11).map((v) => 3 * v);
    const ref = tf.tidy(() => flowGradL2(tf.tensor4d(flow, [1, H, W, 2])).dataSync()[0]!);
    expect(flowGradientL2(flow, W, H)).toBeCloseTo(ref, 4);
  });
});

describe('warpSignals', () => {
  const S = 32;
  const label = (() => {
    const data = new Uint8Array(S * S);
    for (let y = 8; y < 24; y++) for (let x = 2; x < 10; x++) data[y * S + x] = 1;
    for (let y = 8; y < 24; y++) for (let x = 18; x < 28; x++) data[y * S + x] = 2;
    return { width: S, height: S, data };
  })();

  it('perfect registration (identity flow, identical images): similarity 1, no folding, no displacement', () => {
    const img = unit(S * S, 2);
    const s = warpSignals({ fixedWork: img, warpedReferenceWork: img, flowXyWarp: new Float32Array(S * S * 2), size: S, labelWork: label, classes: [1, 2, 3] });
    expect(s.global.ssim).toBeCloseTo(1, 5);
    expect(s.global.folding).toBe(0);
    expect(s.global.displacement).toBe(0);
    expect(s.global.flowGradL2).toBe(0);
    expect([...s.perClass.keys()]).toEqual([1, 2]); // class 3 is not in the mask: no entry
    expect(s.perClass.get(1)!.ssim).toBeCloseTo(1, 5);
  });

  it('local terms see a misregistration inside one class band only', () => {
    const img = unit(S * S, 2);
    const other = unit(S * S, 77);
    // The warped reference differs from the target in the right half (class 2) only; class 1 (x 2..9, band to 10)
    // stays more than half an SSIM window (3 px) away from it.
    const warped = img.map((v, i) => (i % S >= 16 ? other[i]! : v));
    // The flow folds in the right half: φx = −2 (x − 16) for x ≥ 16.
    const flow = flowOf(S, S, (x) => [x >= 16 ? -2 * (x - 16) : 0, 0]);
    const s = warpSignals({ fixedWork: img, warpedReferenceWork: warped, flowXyWarp: flow, size: S, labelWork: label, classes: [1, 2], bandRadius: 1 });
    expect(s.perClass.get(1)!.ssim).toBeGreaterThan(0.99);
    expect(s.perClass.get(2)!.ssim).toBeLessThan(0.3);
    expect(s.perClass.get(1)!.folding).toBe(0);
    expect(s.perClass.get(2)!.folding).toBeGreaterThan(0.9);
    expect(s.global.folding).toBeGreaterThan(0.4);
    expect(s.global.folding).toBeLessThan(0.55);
  });

  it('a class of two pieces by anatomy: the boundary NCC of its worse piece, beside the whole class’s', () => {
    // Classes 1 and 2 of `label` as one class of two pieces; the warped reference is wrong around the right piece.
    const merged = { ...label, data: label.data.map((v) => (v ? 1 : 0)) };
    const img = unit(S * S, 2);
    const other = unit(S * S, 77);
    const warped = img.map((v, i) => (i % S >= 16 ? other[i]! : v));
    const flow = new Float32Array(S * S * 2);
    const args = { fixedWork: img, warpedReferenceWork: warped, flowXyWarp: flow, size: S, labelWork: merged, classes: [1], bandRadius: 1 };
    const whole = warpSignals(args).perClass.get(1)!;
    expect(whole.nccEdgeWorstPiece).toBeUndefined(); // one piece expected: the whole class only
    const two = warpSignals({ ...args, piecesPerClass: new Map([[1, 2]]) }).perClass.get(1)!;
    const right = warpSignals({ ...args, labelWork: { ...label, data: label.data.map((v) => (v === 2 ? 1 : 0)) } }).perClass.get(1)!;
    expect(two.nccEdge).toBe(whole.nccEdge);
    expect(two.nccEdgeWorstPiece).toBeCloseTo(right.nccEdge, 6);
    expect(two.nccEdgeWorstPiece!).toBeLessThan(whole.nccEdge - 0.2);
  });
});

describe('mask and SAM signals', () => {
  it('maskShapeSignals: area share, components, largest component share', () => {
    const l = lm(5, [1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2]);
    expect(maskShapeSignals(l, 1)).toEqual({ area: 5 / 20, components: 2, largestShare: 4 / 5 });
    expect(maskShapeSignals(l, 2)).toEqual({ area: 5 / 20, components: 1, largestShare: 1 });
    const empty = maskShapeSignals(l, 3);
    expect(empty.area).toBe(0);
    expect(empty.components).toBe(0);
    expect(empty.largestShare).toBeNaN();
  });

  it('pieceShares / significantPieces / mainPiecesShare: a two-piece class (both lungs as one) is whole in its two pieces', () => {
    // Class 1: pieces of 6, 5 and 1 pixel (8-connected; the single pixel at the far right is apart).
    const l = lm(6, [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(pieceShares(l, 1)).toEqual([6 / 12, 5 / 12, 1 / 12]);
    expect(pieceShares(l, 2)).toEqual([]);
    // The 1-pixel piece (8.3 %) is below the 10 % of a significant piece: two pieces expected.
    expect(significantPieces(pieceShares(l, 1))).toBe(2);
    expect(significantPieces([0.5, 0.45, 0.05], 0.04)).toBe(3);
    expect(significantPieces([])).toBe(1);
    expect(mainPiecesShare(pieceShares(l, 1), 2)).toBeCloseTo(11 / 12, 12);
    expect(mainPiecesShare(pieceShares(l, 1), 1)).toBeCloseTo(6 / 12, 12);
    expect(mainPiecesShare([], 2)).toBeNaN();
  });

  it('maskDice: known overlap, both empty → 1, sizes must match', () => {
    const a = lm(4, [1, 1, 1, 0]);
    const b = lm(4, [0, 1, 1, 1]);
    expect(maskDice(a, b)).toBeCloseTo(4 / 6, 12);
    expect(maskDice(lm(2, [0, 0]), lm(2, [0, 0]))).toBe(1);
    expect(() => maskDice(lm(2, [0, 0]), lm(1, [0]))).toThrow(/size/);
  });

  it('classDice: the maskDice of the two class masks, for every class (present in one, both or neither)', () => {
    let seed = 3;
    const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    for (let t = 0; t < 20; t++) {
      const n = 1 + Math.floor(rand() * 300);
      const a = lm(n, Array.from({ length: n }, () => Math.floor(rand() * 4)));
      const b = lm(n, Array.from({ length: n }, () => Math.floor(rand() * (t % 2 ? 4 : 2))));
      for (const cls of [0, 1, 2, 3, 4]) expect(classDice(a, b, cls)).toBe(maskDice(binaryOfClass(a, cls), binaryOfClass(b, cls)));
    }
    expect(() => classDice(lm(2, [0, 0]), lm(1, [0]), 1)).toThrow(/size/);
  });

  it('samSignals: last predicted IoU, prompt agreement, round agreement (NaN without a previous round)', () => {
    const warped = lm(4, [1, 1, 0, 0]);
    const final = lm(4, [1, 1, 1, 1]);
    const s = samSignals({ cls: 1, iouScores: [0.7, 0.93], warped, final, previous: lm(4, [1, 1, 1, 0]) });
    expect(s.predictedIoU).toBe(0.93);
    expect(s.promptAgreement).toBeCloseTo(4 / 6, 12);
    expect(s.roundAgreement).toBeCloseTo(6 / 7, 12);
    const first = samSignals({ cls: 1, iouScores: [], warped, final });
    expect(first.predictedIoU).toBeNaN();
    expect(first.roundAgreement).toBeNaN();
  });

  it('region helpers: mean and share ≤ threshold over a region, NaN for an empty region', () => {
    const map = [0, -1, 2, 3];
    const region = { width: 4, height: 1, data: Uint8Array.from([0, 1, 1, 0]) };
    expect(regionMean(map, region)).toBe(0.5);
    expect(regionShareAtMost(map, 0, region)).toBe(0.5);
    expect(regionShareAtMost(map, 0)).toBe(0.5);
    expect(regionMean(map, { width: 4, height: 1, data: new Uint8Array(4) })).toBeNaN();
  });
});
