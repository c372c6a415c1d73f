import { describe, expect, it } from 'vitest';
import { MedpersamUserError } from '../../src/errors.js';
import { diceIoUFromCounts, diceIoUPerClass, meanScores } from '../../src/eval/metrics.js';
import type { LabelMap } from '../../src/image/types.js';

function lm(width: number, values: number[]): LabelMap {
  return { width, height: values.length / width, data: Uint8Array.from(values) };
}

describe('diceIoUPerClass', () => {
  it('known overlap: 3 vs 3 pixels sharing 2 → Dice 2*2/(3+3), IoU 2/4', () => {
    const pred = lm(4, [1, 1, 1, 0, 0, 0, 0, 0]);
    const gt = lm(4, [0, 1, 1, 1, 0, 0, 0, 0]);
    const [s] = diceIoUPerClass(pred, gt, [1]);
    expect(s!.dice).toBeCloseTo(4 / 6, 12);
    expect(s!.iou).toBeCloseTo(0.5, 12);
    expect(s).toMatchObject({ cls: 1, predPixels: 3, gtPixels: 3 });
  });
  it('several classes: perfect, missed, both-empty (→ 1), in the requested order', () => {
    const pred = lm(3, [1, 1, 0, 0, 0, 0]);
    const gt = lm(3, [1, 1, 0, 2, 2, 0]);
    const scores = diceIoUPerClass(pred, gt, [3, 1, 2]);
    expect(scores.map((s) => s.cls)).toEqual([3, 1, 2]);
    expect(scores[0]).toEqual({ cls: 3, dice: 1, iou: 1, predPixels: 0, gtPixels: 0 });
    expect(scores[1]).toEqual({ cls: 1, dice: 1, iou: 1, predPixels: 2, gtPixels: 2 });
    expect(scores[2]).toEqual({ cls: 2, dice: 0, iou: 0, predPixels: 0, gtPixels: 2 });
  });
  it('class confusion counts as a miss for both classes', () => {
    const pred = lm(2, [2, 2]);
    const gt = lm(2, [1, 1]);
    const [a, b] = diceIoUPerClass(pred, gt, [1, 2]);
    expect(a).toMatchObject({ dice: 0, iou: 0, predPixels: 0, gtPixels: 2 });
    expect(b).toMatchObject({ dice: 0, iou: 0, predPixels: 2, gtPixels: 0 });
  });
  it('1-pixel images', () => {
    expect(diceIoUPerClass(lm(1, [1]), lm(1, [1]), [1])[0]).toMatchObject({ dice: 1, iou: 1 });
    expect(diceIoUPerClass(lm(1, [0]), lm(1, [1]), [1])[0]).toMatchObject({ dice: 0, iou: 0 });
  });
  it('size mismatch is a user error', () => {
    try {
      diceIoUPerClass(lm(2, [0, 0]), lm(1, [0, 0]), [1]);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(MedpersamUserError);
      expect((err as MedpersamUserError).code).toBe('SIZE_MISMATCH');
      expect((err as Error).message).toContain('2x1');
    }
  });
  it('Dice and IoU are related by D = 2J/(1+J)', () => {
    const { dice, iou } = diceIoUFromCounts(10, 7, 5);
    expect(dice).toBeCloseTo(10 / 17, 12);
    expect(iou).toBeCloseTo(5 / 12, 12);
    expect(dice).toBeCloseTo((2 * iou) / (1 + iou), 12);
  });
});

describe('meanScores', () => {
  it('unweighted mean over classes', () => {
    const m = meanScores([
      { cls: 1, dice: 1, iou: 1, predPixels: 5, gtPixels: 5 },
      { cls: 2, dice: 0.5, iou: 1 / 3, predPixels: 1, gtPixels: 3 },
    ]);
    expect(m.dice).toBeCloseTo(0.75, 12);
    expect(m.iou).toBeCloseTo(2 / 3, 12);
  });
  it('empty list gives NaN', () => {
    const m = meanScores([]);
    expect(m.dice).toBeNaN();
    expect(m.iou).toBeNaN();
  });
});
