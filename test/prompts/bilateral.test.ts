import { describe, expect, it } from 'vitest';
import { decideBilateral } from '../../src/prompts/bilateral.js';
import { ellipsesMask, rectMask } from './helpers.js';

function union(...ms: { width: number; height: number; data: Uint8Array }[]) {
  const data = new Uint8Array(ms[0]!.data.length);
  for (const m of ms) m.data.forEach((v, i) => (data[i] = data[i]! | v));
  return { width: ms[0]!.width, height: ms[0]!.height, data };
}

describe('decideBilateral', () => {
  const left = rectMask(100, 60, 10, 10, 39, 49);
  const right = rectMask(100, 60, 60, 10, 89, 49);
  it('two equal blobs side by side → bilateral, split in the middle of the gap (columns 40..59 → 50)', () => {
    const d = decideBilateral(union(left, right));
    expect(d.bilateral).toBe(true);
    expect(d.splitX).toBe(50);
    expect(d.leftPixels).toBe(1200);
    expect(d.rightPixels).toBe(1200);
  });
  it('ignores a speck in the gap (component < 2% of the foreground)', () => {
    const d = decideBilateral(union(left, right, rectMask(100, 60, 50, 5, 50, 5)));
    expect(d.bilateral).toBe(true);
    expect(d.splitX).toBe(50);
  });
  it('a single blob or vertically stacked blobs are not bilateral', () => {
    expect(decideBilateral(ellipsesMask(100, 60, [{ cx: 50, cy: 30, rx: 30, ry: 20 }])).bilateral).toBe(false);
    const stacked = union(rectMask(100, 60, 30, 2, 70, 20), rectMask(100, 60, 35, 30, 65, 55));
    const d = decideBilateral(stacked);
    expect(d.bilateral).toBe(false);
    expect(d.splitX).toBeNull();
    expect(d.reason).toMatch(/no vertical gap/);
  });
  it('an unbalanced pair (10% on one side) is not bilateral in auto mode', () => {
    const big = rectMask(100, 60, 10, 10, 39, 39); // 900
    const small = rectMask(100, 60, 70, 10, 74, 29); // 100
    expect(decideBilateral(union(big, small)).bilateral).toBe(false);
    expect(decideBilateral(union(big, small), 'auto', { minSideFraction: 0.05 }).bilateral).toBe(true);
  });
  it('picks the most balanced gap among several (teeth-like: 3 blobs)', () => {
    const a = rectMask(120, 40, 5, 5, 24, 34); // 600
    const b = rectMask(120, 40, 35, 5, 54, 34); // 600
    const c = rectMask(120, 40, 70, 5, 109, 34); // 1200
    const d = decideBilateral(union(a, b, c));
    expect(d.bilateral).toBe(true);
    expect(d.splitX).toBe(62); // gap 55..69 → 55 + floor(15 / 2)
    expect([d.leftPixels, d.rightPixels]).toEqual([1200, 1200]);
  });
  it("forced 'bilateral' on a single blob splits all pixels in half by column", () => {
    const d = decideBilateral(rectMask(30, 10, 10, 0, 19, 9), 'bilateral');
    expect(d.bilateral).toBe(true);
    expect(d.splitX).toBe(15);
    expect([d.leftPixels, d.rightPixels]).toEqual([50, 50]);
  });
  it("forced 'single' never splits; an empty mask is never bilateral", () => {
    expect(decideBilateral(union(left, right), 'single').bilateral).toBe(false);
    expect(decideBilateral(rectMask(10, 10, 0, 0, -1, -1), 'bilateral').bilateral).toBe(false);
  });
});
