import { describe, expect, it } from 'vitest';
import { resizeBinaryNearest, resizeImage, resizeLabelNearest, resizePlaneBilinear } from '../../src/image/resize.js';
import type { FloatImage } from '../../src/image/types.js';
import { rng } from './helpers.js';

function grey(width: number, height: number, values: number[]): FloatImage {
  return { width, height, channels: 1, data: Float32Array.from(values) };
}
function expectClose(actual: ArrayLike<number>, expected: number[], tol = 1e-6): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThan(tol);
}

describe('bilinear', () => {
  it('2x2 → 4x4, pixel-centre aligned with edge clamping (hand-computed)', () => {
    // src = [[0,1],[2,3]] = x + 2y; sample coords per axis: -0.25→0, 0.25, 0.75, 1.25→1
    const out = resizeImage(grey(2, 2, [0, 1, 2, 3]), 4, 4);
    expectClose(out.data, [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3]);
    expect(out).toMatchObject({ width: 4, height: 4, channels: 1 });
  });
  it('factor-2 downsample samples between the two source pixels (= 2x2 block mean)', () => {
    const src = grey(4, 2, [0, 2, 4, 6, 8, 10, 12, 14]);
    expectClose(resizeImage(src, 2, 1).data, [(0 + 2 + 8 + 10) / 4, (4 + 6 + 12 + 14) / 4]);
  });
  it('same size is an exact copy; 1-pixel source broadcasts; 1-pixel target', () => {
    const src = grey(3, 2, [1, 2, 3, 4, 5, 6]);
    const same = resizeImage(src, 3, 2);
    expect(Array.from(same.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(same.data).not.toBe(src.data);
    expect(Array.from(resizeImage(grey(1, 1, [7]), 3, 2).data)).toEqual([7, 7, 7, 7, 7, 7]);
    // 3x2 → 1x1: centre at (1, 0.5) → mean of 2 and 5
    expectClose(resizeImage(src, 1, 1).data, [3.5]);
  });
  it('RGB is resized per channel, same as resizePlaneBilinear on each plane', () => {
    const r = rng(5);
    const w = 7;
    const h = 5;
    const data = new Float32Array(w * h * 3).map(() => r());
    const out = resizeImage({ width: w, height: h, channels: 3, data }, 11, 3);
    for (let c = 0; c < 3; c++) {
      const plane = new Float32Array(w * h).map((_, i) => data[i * 3 + c]!);
      const p = resizePlaneBilinear(plane, w, h, 11, 3);
      for (let i = 0; i < p.length; i++) expect(out.data[i * 3 + c]).toBeCloseTo(p[i]!, 6);
    }
  });
  it('rejects bad sizes', () => {
    expect(() => resizeImage(grey(1, 1, [0]), 0, 3)).toThrow(RangeError);
    expect(() => resizePlaneBilinear(new Float32Array(3), 2, 2, 4, 4)).toThrow(RangeError);
  });
});

describe('area', () => {
  it('4x4 → 2x2 gives the block means', () => {
    const v = Array.from({ length: 16 }, (_, i) => i);
    const out = resizeImage(grey(4, 4, v), 2, 2, 'area');
    expectClose(out.data, [(0 + 1 + 4 + 5) / 4, (2 + 3 + 6 + 7) / 4, (8 + 9 + 12 + 13) / 4, (10 + 11 + 14 + 15) / 4]);
  });
  it('fractional factor 3 → 2 weights the shared middle pixel by half', () => {
    // [0,3,6]: out0 = (0*1 + 3*0.5)/1.5 = 1, out1 = (3*0.5 + 6*1)/1.5 = 5
    expectClose(resizeImage(grey(3, 1, [0, 3, 6]), 2, 1, 'area').data, [1, 5]);
  });
  it('preserves the mean for integer factors and constant images stay constant', () => {
    const r = rng(9);
    const src = grey(12, 8, Array.from({ length: 96 }, () => r()));
    const out = resizeImage(src, 3, 2, 'area');
    const mean = (a: ArrayLike<number>) => Array.from(a).reduce((s, x) => s + x, 0) / a.length;
    expect(mean(out.data)).toBeCloseTo(mean(src.data), 6);
    expectClose(resizeImage(grey(5, 7, new Array(35).fill(0.3)), 3, 4, 'area').data, new Array(12).fill(0.3));
  });
  it('RGB channels stay separate', () => {
    const data = Float32Array.from([1, 10, 100, 3, 30, 300]); // 2x1 RGB
    expectClose(resizeImage({ width: 2, height: 1, channels: 3, data }, 1, 1, 'area').data, [2, 20, 200]);
  });
});

describe('nearest (labels, masks)', () => {
  it('2x2 → 4x4 duplicates each label into a 2x2 block', () => {
    const out = resizeLabelNearest({ width: 2, height: 2, data: Uint8Array.from([1, 2, 3, 0]) }, 4, 4);
    expect(Array.from(out.data)).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 0, 0, 3, 3, 0, 0]);
  });
  it('downsampling picks floor((d+0.5)*scale): 4→2 picks 1,3; 3→2 picks 0,2', () => {
    const out = resizeLabelNearest({ width: 4, height: 1, data: Uint8Array.from([1, 2, 3, 4]) }, 2, 1);
    expect(Array.from(out.data)).toEqual([2, 4]);
    const m = resizeBinaryNearest({ width: 3, height: 1, data: Uint8Array.from([1, 0, 0]) }, 2, 1);
    expect(Array.from(m.data)).toEqual([1, 0]);
  });
  it('never invents labels', () => {
    const r = rng(3);
    const data = Uint8Array.from({ length: 13 * 7 }, () => (r() < 0.5 ? 0 : 5));
    const out = resizeLabelNearest({ width: 13, height: 7, data }, 29, 17);
    expect(new Set(out.data)).toEqual(new Set([0, 5]));
  });
});
