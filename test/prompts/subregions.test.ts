import { describe, expect, it } from 'vitest';
import { cutSubregions, regionIndices } from '../../src/prompts/subregions.js';
import { rectMask } from './helpers.js';

describe('regionIndices', () => {
  it('lists foreground raster indices in ascending order', () => {
    // 4x3 mask with pixels (1,0), (3,0), (0,2), (2,2)
    const data = new Uint8Array([0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0]);
    expect(Array.from(regionIndices({ width: 4, height: 3, data }))).toEqual([1, 3, 8, 10]);
  });
  it('restricts to a column range [xFrom, xTo)', () => {
    const m = rectMask(5, 2, 0, 0, 4, 1); // all on
    expect(Array.from(regionIndices(m, 2, 4))).toEqual([2, 3, 7, 8]);
  });
});

describe('cutSubregions (Eqs. 8–9)', () => {
  it('cuts 10 indices into 3 consecutive segments of sizes 3, 3, 4', () => {
    const idx = Int32Array.from([2, 5, 7, 11, 12, 13, 20, 21, 30, 31]);
    const parts = cutSubregions(idx, 3).map((p) => Array.from(p));
    expect(parts).toEqual([
      [2, 5, 7],
      [11, 12, 13],
      [20, 21, 30, 31],
    ]);
  });
  it('cuts a 6x6 square region into 5 segments in raster order', () => {
    const m = rectMask(10, 10, 2, 2, 7, 7); // 36 pixels
    const parts = cutSubregions(regionIndices(m), 5);
    expect(parts.map((p) => p.length)).toEqual([7, 7, 7, 7, 8]);
    // first segment: row 2 (x 2..7) and the first pixel of row 3
    expect(Array.from(parts[0]!)).toEqual([22, 23, 24, 25, 26, 27, 32]);
    expect(Array.from(parts[4]!)).toEqual([66, 67, 72, 73, 74, 75, 76, 77]);
    // consecutive and covering everything exactly once
    expect(parts.flatMap((p) => Array.from(p))).toEqual(Array.from(regionIndices(m)));
  });
  it('sizes differ by at most one for many (N, n)', () => {
    for (let total = 0; total < 40; total++) {
      for (let n = 1; n <= 12; n++) {
        const idx = Int32Array.from({ length: total }, (_, i) => i * 3);
        const sizes = cutSubregions(idx, n).map((p) => p.length);
        expect(sizes.length).toBe(Math.min(n, total));
        if (sizes.length > 0) expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        expect(sizes.reduce((a, b) => a + b, 0)).toBe(total);
      }
    }
  });
  it('gives one single-pixel segment per pixel when the region is smaller than n', () => {
    const parts = cutSubregions(Int32Array.from([4, 9]), 5).map((p) => Array.from(p));
    expect(parts).toEqual([[4], [9]]);
  });
  it('rejects a negative n', () => {
    expect(() => cutSubregions(new Int32Array(3), -1)).toThrow(RangeError);
  });
});
