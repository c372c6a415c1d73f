import { describe, expect, it } from 'vitest';
import { averageRanks, spearman, validateQuality } from '../../src/eval/quality-validation.js';

describe('spearman', () => {
  it('average ranks share ties', () => {
    expect(averageRanks([10, 20, 20, 5])).toEqual([2, 3.5, 3.5, 1]);
  });
  it('+1 for any increasing relation, −1 for decreasing, known value with one swap', () => {
    expect(spearman([1, 2, 3, 4, 5], [1, 4, 9, 16, 100])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4, 5], [5, 4, 3, 2, 1])).toBeCloseTo(-1, 12);
    // One adjacent swap among 5: ρ = 1 − 6·Σd²/(n(n²−1)) = 1 − 6·2/120 = 0.9.
    expect(spearman([1, 2, 3, 4, 5], [1, 2, 4, 3, 5])).toBeCloseTo(0.9, 12);
  });
  it('drops non-finite pairs; NaN when fewer than 3 pairs or a constant side', () => {
    expect(spearman([1, 2, Number.NaN, 3], [1, 2, 3, 4])).toBeCloseTo(1, 12);
    expect(spearman([1, 2], [1, 2])).toBeNaN();
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(() => spearman([1], [1, 2])).toThrow(RangeError);
  });
});

describe('validateQuality', () => {
  it('counts the worst decile caught by the flag, the share flagged and the mean Dice of both groups', () => {
    // 20 images, Dice 0.80..0.99; the 2 worst (0.80, 0.81) form the decile; the flag catches one of them + one good.
    const items = Array.from({ length: 20 }, (_, i) => ({ score: i / 20, dice: 0.8 + i / 100, check: i === 0 || i === 10 }));
    const v = validateQuality(items);
    expect(v.n).toBe(20);
    expect(v.worstDecile).toEqual({ count: 2, flagged: 1, share: 0.5, maxDice: 0.81 });
    expect(v.flagged).toBe(2);
    expect(v.flaggedShare).toBe(0.1);
    expect(v.meanDiceFlagged).toBeCloseTo((0.8 + 0.9) / 2, 12);
    expect(v.spearman).toBeCloseTo(1, 12);
  });
  it('ties at the decile cut are all in the decile', () => {
    const items = [0.5, 0.5, 0.5, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9].map((dice, i) => ({ score: i, dice, check: false }));
    expect(validateQuality(items).worstDecile.count).toBe(3);
  });
});
