import { describe, expect, it } from 'vitest';
import { persamPrompts, PERSAM_CASCADE } from '../../src/prompts/persam.js';
import { promptSetParts, rescaleBox, toSamPrompts, type PromptBundle, type PromptSet } from '../../src/prompts/prompt-set.js';
import { rectMask } from './helpers.js';

const bundle: PromptBundle = {
  width: 50,
  height: 40,
  points: [
    { x: 12, y: 7, label: 1 },
    { x: 3, y: 3, label: 0 },
  ],
  box: { x0: 10, y0: 5, x1: 19, y1: 9 },
  mask: rectMask(50, 40, 10, 5, 19, 9),
};

describe('prompt sets (Table 8)', () => {
  it('keeps exactly the named parts', () => {
    const keys = (s: PromptSet) => Object.keys(toSamPrompts(bundle, s, 50, 40)).sort();
    expect(keys('P')).toEqual(['pointsOriginal']);
    expect(keys('B')).toEqual(['boxOriginal']);
    expect(keys('P+B')).toEqual(['boxOriginal', 'pointsOriginal']);
    expect(keys('P+B+M')).toEqual(['boxOriginal', 'maskPrompt', 'pointsOriginal']);
    expect(() => promptSetParts('M' as PromptSet)).toThrow(RangeError);
  });
  it('passes everything through unchanged when the bundle is at original size', () => {
    const s = toSamPrompts(bundle, 'P+B+M', 50, 40);
    expect(s.pointsOriginal).toEqual(bundle.points);
    expect(s.boxOriginal).toEqual(bundle.box);
    expect(s.maskPrompt).toEqual({ kind: 'binary', mask: bundle.mask });
  });
  it('rescales a working-size bundle (50x40) to the original frame (100x80)', () => {
    const s = toSamPrompts(bundle, 'P+B+M', 100, 80);
    expect(s.pointsOriginal).toEqual([
      { x: 25, y: 15, label: 1 },
      { x: 7, y: 7, label: 0 },
    ]);
    expect(s.boxOriginal).toEqual({ x0: 20, y0: 10, x1: 39, y1: 19 });
    expect(s.maskPrompt!.mask.width).toBe(100);
    expect(s.maskPrompt!.mask.data).toEqual(rectMask(100, 80, 20, 10, 39, 19).data);
  });
  it('leaves out a missing box and empty points', () => {
    const s = toSamPrompts({ ...bundle, points: [], box: null }, 'P+B', 50, 40);
    expect(s).toEqual({});
  });
  it('rescaleBox shrinks to the covering box', () => {
    expect(rescaleBox({ x0: 20, y0: 10, x1: 39, y1: 19 }, 100, 80, 50, 40)).toEqual({ x0: 10, y0: 5, x1: 19, y1: 9 });
    expect(rescaleBox({ x0: 21, y0: 11, x1: 38, y1: 18 }, 100, 80, 50, 40)).toEqual({ x0: 10, y0: 5, x1: 19, y1: 9 });
  });
});

describe('persamPrompts', () => {
  it('top-1: global max positive, global min negative', () => {
    const s = Float32Array.from([0.2, 0.8, -0.3, 0.5, 0.8, -0.9]);
    expect(persamPrompts(s, 3, 2).points).toEqual([
      { x: 1, y: 0, label: 1 },
      { x: 2, y: 1, label: 0 },
    ]);
    expect(persamPrompts(s, 3, 2, { topK: 2 }).positives.map((p) => [p.x, p.y])).toEqual([
      [1, 0],
      [1, 1],
    ]);
    expect(() => persamPrompts(s, 2, 2)).toThrow(RangeError);
  });
  it('documents a 3-step cascade: single mask, then multimask with mask input, then + box', () => {
    expect(PERSAM_CASCADE.map((s) => [s.multimask, s.maskInputFromPrevious, s.boxFromPrevious])).toEqual([
      [false, false, false],
      [true, true, false],
      [true, true, true],
    ]);
  });
});
