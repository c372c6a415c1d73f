import { describe, expect, it } from 'vitest';
import { dilate, erode } from '../../src/image/morphology.js';
import type { BinaryMask, LabeledPoint } from '../../src/image/types.js';
import { generatePrompts } from '../../src/prompts/generate.js';
import { ellipsesMask, randomBlob, randomMap, rectMask, rng } from './helpers.js';

const idx = (p: LabeledPoint, w: number) => p.y * w + p.x;
const pos = (r: { points: LabeledPoint[] }) => r.points.filter((p) => p.label === 1);
const neg = (r: { points: LabeledPoint[] }) => r.points.filter((p) => p.label === 0);
const rasterRamp = (n: number) => Float32Array.from({ length: n }, (_, i) => i);

describe('generatePrompts: hand-checked 10x10 case (square kernels r=1, similarity = raster index)', () => {
  const mask = rectMask(10, 10, 2, 2, 7, 7);
  const r = generatePrompts(mask, rasterRamp(100), { kernelShape: 'square', erosionRadius: 1, dilationRadius: 1 });
  it('positives: the last pixel of each of the 5 subregions of rect 3..6', () => {
    // R_pos rows 3..6 x 3..6 → segments [33,34,35] [36,43,44] [45,46,53] [54,55,56] [63,64,65,66]
    expect(pos(r).map((p) => [p.x, p.y])).toEqual([
      [5, 3],
      [4, 4],
      [3, 5],
      [6, 5],
      [6, 6],
    ]);
  });
  it('negatives: the first pixel of each of the 5 subregions of the 48-pixel band', () => {
    // band segments start at positions 0, 9, 19, 28, 38 → raster 11, 22, 38, 61, 77
    expect(neg(r).map((p) => [p.x, p.y])).toEqual([
      [1, 1],
      [2, 2],
      [8, 3],
      [1, 6],
      [7, 7],
    ]);
    expect(r.diagnostics.negativeSubregionSizes).toEqual([9, 10, 9, 10, 10]);
    expect(r.diagnostics.positiveSubregionSizes).toEqual([3, 3, 3, 3, 4]);
  });
  it('box is the tight inclusive box, mask passed through, positives listed first', () => {
    expect(r.box).toEqual({ x0: 2, y0: 2, x1: 7, y1: 7 });
    expect(r.mask).toBe(mask);
    expect(r.points.map((p) => p.label)).toEqual([1, 1, 1, 1, 1, 0, 0, 0, 0, 0]);
    expect(r.diagnostics.bilateral.bilateral).toBe(false);
    expect(r.diagnostics.counts).toEqual({ positive: 5, negative: 5 });
  });
});

/** Brute-force reference: segment k of a region's raster-ordered pixels, and its best pixel. */
function expectedPicks(region: BinaryMask, sim: Float32Array, n: number, order: 'max' | 'min', xFrom = 0, xTo = region.width): number[] {
  const pixels: number[] = [];
  for (let i = 0; i < region.data.length; i++) {
    const x = i % region.width;
    if (region.data[i] && x >= xFrom && x < xTo) pixels.push(i);
  }
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const seg = pixels.slice(Math.floor((k * pixels.length) / n), Math.floor(((k + 1) * pixels.length) / n));
    if (seg.length === 0) continue;
    let best = seg[0]!;
    for (const i of seg) if (order === 'max' ? sim[i]! > sim[best]! : sim[i]! < sim[best]!) best = i;
    out.push(best);
  }
  return out;
}

describe('generatePrompts on random-ish shapes (20 seeds)', () => {
  for (let seed = 1; seed <= 20; seed++) {
    it(`seed ${seed}: positives in Erosion(M), negatives in Dilation(M) \\ Erosion(M), one point per subregion`, () => {
      const rand = rng(seed);
      const w = 64 + Math.floor(rand() * 40);
      const h = 48 + Math.floor(rand() * 40);
      const mask = randomBlob(w, h, rand);
      const sim = randomMap(w * h, rand);
      const r = generatePrompts(mask, sim, { bilateral: 'single' });
      const d = r.diagnostics;
      const eroded = erode(mask, { shape: 'disk', radius: d.erosionRadiusUsed });
      const dilated = dilate(mask, { shape: 'disk', radius: d.dilationRadiusUsed });
      expect(r.positiveRegion.data).toEqual(eroded.data);
      expect(r.negativeRegion.data).toEqual(dilated.data.map((v, i) => (v && !eroded.data[i] ? 1 : 0)));
      for (const p of pos(r)) expect(eroded.data[idx(p, w)]).toBe(1);
      for (const p of neg(r)) {
        expect(dilated.data[idx(p, w)]).toBe(1);
        expect(eroded.data[idx(p, w)]).toBe(0);
      }
      expect(pos(r)).toHaveLength(5);
      expect(neg(r)).toHaveLength(5);
      expect(pos(r).map((p) => idx(p, w))).toEqual(expectedPicks(r.positiveRegion, sim, 5, 'max'));
      expect(neg(r).map((p) => idx(p, w))).toEqual(expectedPicks(r.negativeRegion, sim, 5, 'min'));
      expect(new Set(r.points.map((p) => idx(p, w))).size).toBe(10);
    });
  }
});

describe('generatePrompts: bilateral', () => {
  const w = 120;
  const h = 80;
  const lungs = ellipsesMask(w, h, [
    { cx: 30, cy: 40, rx: 18, ry: 30 },
    { cx: 90, cy: 40, rx: 16, ry: 28 },
  ]);
  const sim = randomMap(w * h, rng(99));
  it('two blobs → 10 + 10 points, 5 per side for each polarity', () => {
    const r = generatePrompts(lungs, sim);
    const split = r.diagnostics.bilateral.splitX!;
    expect(r.diagnostics.bilateral.bilateral).toBe(true);
    expect(split).toBeGreaterThan(48);
    expect(split).toBeLessThan(74);
    expect(r.diagnostics.counts).toEqual({ positive: 10, negative: 10 });
    expect(pos(r).filter((p) => p.x < split)).toHaveLength(5);
    expect(pos(r).filter((p) => p.x >= split)).toHaveLength(5);
    expect(neg(r).filter((p) => p.x < split)).toHaveLength(5);
    expect(neg(r).filter((p) => p.x >= split)).toHaveLength(5);
    // subregions are cut per side
    expect(pos(r).map((p) => idx(p, w))).toEqual([
      ...expectedPicks(r.positiveRegion, sim, 5, 'max', 0, split),
      ...expectedPicks(r.positiveRegion, sim, 5, 'max', split, w),
    ]);
    expect(neg(r).map((p) => idx(p, w))).toEqual([
      ...expectedPicks(r.negativeRegion, sim, 5, 'min', 0, split),
      ...expectedPicks(r.negativeRegion, sim, 5, 'min', split, w),
    ]);
  });
  it("'single' forces 5 + 5; custom counts split with the extra point on the left", () => {
    expect(generatePrompts(lungs, sim, { bilateral: 'single' }).points).toHaveLength(10);
    const r = generatePrompts(lungs, sim, { bilateralCounts: { positive: 7, negative: 3 } });
    const split = r.diagnostics.bilateral.splitX!;
    expect(pos(r).filter((p) => p.x < split)).toHaveLength(4);
    expect(pos(r).filter((p) => p.x >= split)).toHaveLength(3);
    expect(neg(r).filter((p) => p.x < split)).toHaveLength(2);
    expect(neg(r).filter((p) => p.x >= split)).toHaveLength(1);
  });
});

describe('generatePrompts: determinism, fallbacks, strategies', () => {
  const rand = rng(5);
  const mask = randomBlob(80, 60, rand);
  const sim = randomMap(80 * 60, rand);
  it('same input → identical output, inputs untouched', () => {
    const maskCopy = new Uint8Array(mask.data);
    const simCopy = new Float32Array(sim);
    const a = generatePrompts(mask, sim);
    const b = generatePrompts(mask, sim);
    expect(b.points).toEqual(a.points);
    expect(b.diagnostics).toEqual(a.diagnostics);
    expect(mask.data).toEqual(maskCopy);
    expect(sim).toEqual(simCopy);
  });
  it('a tiny mask that erodes to nothing still gives positives inside the mask', () => {
    const tiny = rectMask(20, 20, 9, 9, 10, 10); // 2x2
    const r = generatePrompts(tiny, randomMap(400, rng(3)));
    expect(r.diagnostics.fallbacks).toContain('erosion-empty-used-mask');
    expect(pos(r)).toHaveLength(4); // 4 pixels → 4 single-pixel subregions
    for (const p of pos(r)) expect(tiny.data[idx(p, 20)]).toBe(1);
    expect(neg(r).length).toBe(5);
  });
  it('an empty mask prompt gives no points and no box', () => {
    const r = generatePrompts(rectMask(10, 10, 0, 0, -1, -1), rasterRamp(100));
    expect(r.points).toEqual([]);
    expect(r.box).toBeNull();
    expect(r.diagnostics.fallbacks).toContain('empty-mask-prompt');
  });
  it("'candidate-region': the 5 most similar pixels of R_pos and the 5 least similar of R_neg", () => {
    const r = generatePrompts(mask, sim, { strategy: 'candidate-region', bilateral: 'single' });
    const posIdx = Array.from(r.positiveRegion.data.keys()).filter((i) => r.positiveRegion.data[i]);
    const negIdx = Array.from(r.negativeRegion.data.keys()).filter((i) => r.negativeRegion.data[i]);
    const top = [...posIdx].sort((a, b) => sim[b]! - sim[a]! || a - b).slice(0, 5);
    const bottom = [...negIdx].sort((a, b) => sim[a]! - sim[b]! || a - b).slice(0, 5);
    expect(pos(r).map((p) => idx(p, 80))).toEqual(top);
    expect(neg(r).map((p) => idx(p, 80))).toEqual(bottom);
    expect(r.diagnostics.positiveSubregionSizes).toEqual([]);
  });
  it("'persam-topk': the global max and min of the similarity map, whatever the mask", () => {
    const s = new Float32Array(80 * 60).fill(0.1);
    s[123] = 0.9;
    s[4000] = -0.7;
    s[4001] = -0.7; // tie → lower index wins
    const r = generatePrompts(mask, s, { strategy: 'persam-topk' });
    expect(r.points).toEqual([
      { x: 123 % 80, y: 1, label: 1 },
      { x: 4000 % 80, y: 50, label: 0 },
    ]);
    expect(r.box).not.toBeNull();
    const k3 = generatePrompts(mask, s, { strategy: 'persam-topk', persamTopK: 3 });
    expect(k3.points.map((p) => idx(p, 80))).toEqual([123, 0, 1, 4000, 4001, 0]);
  });
  it('rejects a similarity map of the wrong size', () => {
    expect(() => generatePrompts(mask, new Float32Array(10))).toThrow(RangeError);
  });
});
