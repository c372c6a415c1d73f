import { describe, expect, it } from 'vitest';
import { hopkinsStatistic, pointAccuracy } from '../../src/eval/points.js';
import type { BinaryMask } from '../../src/image/types.js';

function full(width: number, height: number): BinaryMask {
  return { width, height, data: new Uint8Array(width * height).fill(1) };
}

describe('pointAccuracy', () => {
  // 4x3 mask, foreground = left 2 columns
  const gt: BinaryMask = { width: 4, height: 3, data: Uint8Array.from([1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]) };
  it('counts positives inside and negatives outside; rounds coordinates; outside the image is wrong', () => {
    const r = pointAccuracy(
      [
        { x: 0, y: 0, label: 1 }, // inside ✓
        { x: 1.4, y: 2, label: 1 }, // rounds to (1,2) inside ✓
        { x: 1.6, y: 2, label: 1 }, // rounds to (2,2) outside ✗
        { x: -1, y: 0, label: 1 }, // off image ✗
        { x: 3, y: 1, label: 0 }, // outside ✓
        { x: 0, y: 1, label: 0 }, // inside ✗
        { x: 9, y: 1, label: 0 }, // off image ✗
      ],
      gt,
    );
    expect(r).toMatchObject({ nPositive: 4, nNegative: 3, nPositiveCorrect: 2, nNegativeCorrect: 1 });
    expect(r.positive).toBeCloseTo(0.5, 12);
    expect(r.negative).toBeCloseTo(1 / 3, 12);
    expect(r.total).toBeCloseTo(3 / 7, 12);
  });
  it('NaN shares when a kind of point is absent', () => {
    const r = pointAccuracy([{ x: 0, y: 0, label: 1 }], gt);
    expect(r.positive).toBe(1);
    expect(r.negative).toBeNaN();
    expect(r.total).toBe(1);
    expect(pointAccuracy([], gt).total).toBeNaN();
  });
});

describe('hopkinsStatistic', () => {
  it('hand-computed: two points 4 apart, region = the pixel between them → u=2, w=4, H=1/3', () => {
    const region: BinaryMask = { width: 5, height: 1, data: Uint8Array.from([0, 0, 1, 0, 0]) };
    const h = hopkinsStatistic([{ x: 0, y: 0 }, { x: 4, y: 0 }], region, {});
    expect(h).toBeCloseTo(1 / 3, 12);
  });
  it('is deterministic for a seed', () => {
    const pts = Array.from({ length: 50 }, (_, i) => ({ x: (i * 37) % 100, y: (i * 61) % 100 }));
    const region = full(100, 100);
    expect(hopkinsStatistic(pts, region, { seed: 4 })).toBe(hopkinsStatistic(pts, region, { seed: 4 }));
    expect(hopkinsStatistic(pts, region, { seed: 4 })).not.toBe(hopkinsStatistic(pts, region, { seed: 5 }));
  });
  it('clustered points → close to 1', () => {
    const pts = Array.from({ length: 100 }, (_, i) => ({ x: 50 + (i % 10) * 0.3, y: 50 + Math.floor(i / 10) * 0.3 }));
    expect(hopkinsStatistic(pts, full(100, 100), { seed: 1, trials: 10 })).toBeGreaterThan(0.9);
  });
  it('regular grid → well below 0.5; uniform random → about 0.5', () => {
    const grid = [];
    for (let y = 5; y < 100; y += 10) for (let x = 5; x < 100; x += 10) grid.push({ x, y });
    const region = full(100, 100);
    expect(hopkinsStatistic(grid, region, { seed: 2, trials: 50 })).toBeLessThan(0.4);
    let s = 12345;
    const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    const uniform = Array.from({ length: 400 }, () => ({ x: Math.floor(rand() * 100), y: Math.floor(rand() * 100) }));
    const h = hopkinsStatistic(uniform, region, { seed: 3, trials: 50 });
    expect(h).toBeGreaterThan(0.4);
    expect(h).toBeLessThan(0.6);
  });
  it('fewer than 2 points → NaN; empty region → RangeError', () => {
    expect(hopkinsStatistic([{ x: 1, y: 1 }], full(3, 3), {})).toBeNaN();
    expect(() => hopkinsStatistic([{ x: 1, y: 1 }], { width: 2, height: 1, data: new Uint8Array(2) }, {})).toThrow(RangeError);
  });
});
