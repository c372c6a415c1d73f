import { describe, expect, it } from 'vitest';
import { combineClassLogits } from '../../src/pipeline/multiclass.js';

const f = (...v: number[]) => Float32Array.from(v);

describe('combineClassLogits (§3.4)', () => {
  it('takes the class with the highest logit, background where every logit is <= 0', () => {
    // 6 pixels, 3 classes
    const label = combineClassLogits(
      [
        { cls: 1, logits: f(5, -1, 2, -3, 0, 1) },
        { cls: 2, logits: f(3, -2, 4, -1, 0, 1) },
        { cls: 3, logits: f(-9, -0.5, 4.5, -2, 0, -1) },
      ],
      3,
      2,
    );
    // p0: 1 (5 > 3); p1: all < 0 → 0; p2: 3 (4.5); p3: all < 0 → 0; p4: all exactly 0 → 0; p5: tie 1 vs 2 → first listed (1)
    expect(Array.from(label.data)).toEqual([1, 0, 3, 0, 0, 1]);
    expect(label.width).toBe(3);
    expect(label.height).toBe(2);
  });

  it('a class without prediction (null) never wins; the order of the list decides ties', () => {
    const label = combineClassLogits(
      [
        { cls: 2, logits: f(1, 1) },
        { cls: 1, logits: null },
        { cls: 5, logits: f(1, 2) },
      ],
      2,
      1,
    );
    expect(Array.from(label.data)).toEqual([2, 5]);
  });

  it('one class reproduces SAM thresholding (logit > 0)', () => {
    const logits = f(-0.1, 0, 0.1, 20, -20);
    expect(Array.from(combineClassLogits([{ cls: 4, logits }], 5, 1).data)).toEqual([0, 0, 4, 4, 0]);
  });

  it('rejects logits of the wrong size and bad class values', () => {
    expect(() => combineClassLogits([{ cls: 1, logits: f(1, 2, 3) }], 2, 2)).toThrow(/expected 2x2/);
    expect(() => combineClassLogits([{ cls: 0, logits: f(1) }], 1, 1)).toThrow(/1\.\.255/);
  });
});
