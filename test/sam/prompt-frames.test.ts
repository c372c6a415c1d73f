import { describe, expect, it } from 'vitest';
import { createBinaryMask } from '../../src/image/types.js';
import { samFrame } from '../../src/sam/frames.js';
import {
  buildMaskInput,
  buildPointInputs,
  selectDecoderOutputs,
  validatePrompts,
} from '../../src/sam/prompt-frames.js';

const codeOf = (fn: () => void): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe('buildPointInputs', () => {
  const f = samFrame(800, 600);
  it('clicks then a padding point (0,0) label -1 when there is no box', () => {
    const r = buildPointInputs([{ x: 400, y: 300, label: 1 }, { x: 100, y: 50, label: 0 }], undefined, f);
    expect(r.count).toBe(3);
    expect(Array.from(r.labels)).toEqual([1, 0, -1]);
    expect(Array.from(r.coordsSam1024)).toEqual([512, 384, 128, 64, 0, 0]);
  });

  it('box corners as labels 2 and 3 after the clicks, and no padding point', () => {
    const r = buildPointInputs([{ x: 400, y: 300, label: 1 }], { x0: 100, y0: 50, x1: 700, y1: 500 }, f);
    expect(r.count).toBe(3);
    expect(Array.from(r.labels)).toEqual([1, 2, 3]);
    expect(Array.from(r.coordsSam1024)).toEqual([512, 384, 128, 64, 896, 640]);
  });

  it('box only', () => {
    const r = buildPointInputs([], { x0: 0, y0: 0, x1: 799, y1: 599 }, f);
    expect(Array.from(r.labels)).toEqual([2, 3]);
    expect(r.coordsSam1024[2]).toBeCloseTo(799 * 1.28, 3);
  });
});

describe('buildMaskInput', () => {
  it('binary → ±20 logits in the padded frame at 256x256 (left half, 800x600)', () => {
    const f = samFrame(800, 600);
    const m = createBinaryMask(800, 600);
    for (let y = 0; y < 600; y++) for (let x = 0; x < 400; x++) m.data[y * 800 + x] = 1;
    const mi = buildMaskInput({ kind: 'binary', mask: m }, f);
    expect(mi.length).toBe(65536);
    // x = 400 → 512 in the 1024 frame → cell 128; rows of the image: 768 / 4 = 192 cells.
    expect(mi[10 * 256 + 127]).toBeCloseTo(20, 4);
    expect(mi[10 * 256 + 128]).toBeCloseTo(-20, 4);
    expect(mi[191 * 256 + 0]).toBeCloseTo(20, 4);
    expect(mi[192 * 256 + 0]).toBeCloseTo(-20, 4); // padding = background logit
    expect(mi[255 * 256 + 255]).toBeCloseTo(-20, 4);
  });

  it('partially padded cells mix foreground and the background logit by covered area', () => {
    const f = samFrame(300, 200); // resized 1024 x 683: cell row 170 covers rows 680..683, 3 of them image
    const m = createBinaryMask(300, 200);
    m.data.fill(1);
    const mi = buildMaskInput({ kind: 'binary', mask: m }, f, 20);
    expect(mi[169 * 256 + 5]).toBeCloseTo(20, 3);
    expect(mi[170 * 256 + 5]).toBeCloseTo(0.75 * 20 + 0.25 * -20, 2);
    expect(mi[171 * 256 + 5]).toBeCloseTo(-20, 4);
  });

  it('custom logit magnitude; logitsOriginal resampled; logits256 passed through', () => {
    const f = samFrame(800, 600);
    const m = createBinaryMask(800, 600);
    m.data.fill(1);
    expect(buildMaskInput({ kind: 'binary', mask: m }, f, 8)[0]).toBeCloseTo(8, 5);
    const soft = new Float32Array(800 * 600).fill(3);
    const mi = buildMaskInput({ kind: 'logitsOriginal', logits: soft }, f, 20);
    expect(mi[100 * 256 + 100]).toBeCloseTo(3, 4);
    expect(mi[200 * 256 + 100]).toBeCloseTo(-20, 4);
    const low = new Float32Array(65536).fill(1.5);
    expect(buildMaskInput({ kind: 'logits256', logits: low }, f)).toBe(low);
  });

  it('rejects masks of the wrong size', () => {
    const f = samFrame(800, 600);
    expect(codeOf(() => buildMaskInput({ kind: 'binary', mask: createBinaryMask(600, 800) }, f))).toBe('MASK_PROMPT_SIZE_MISMATCH');
    expect(codeOf(() => buildMaskInput({ kind: 'logits256', logits: new Float32Array(100) }, f))).toBe('MASK_PROMPT_SIZE_MISMATCH');
    expect(codeOf(() => buildMaskInput({ kind: 'logitsOriginal', logits: new Float32Array(100) }, f))).toBe('MASK_PROMPT_SIZE_MISMATCH');
  });
});

describe('validatePrompts', () => {
  it('EMPTY_PROMPT without points, box or mask', () => {
    expect(codeOf(() => validatePrompts({}, 800, 600))).toBe('EMPTY_PROMPT');
    expect(codeOf(() => validatePrompts({ pointsOriginal: [] }, 800, 600))).toBe('EMPTY_PROMPT');
    expect(codeOf(() => validatePrompts({ maskPrompt: { kind: 'binary', mask: createBinaryMask(800, 600) } }, 800, 600))).toBeUndefined();
  });

  it('PROMPT_OUTSIDE_IMAGE for points and boxes outside 0..W-1 x 0..H-1', () => {
    expect(codeOf(() => validatePrompts({ pointsOriginal: [{ x: 799, y: 599, label: 1 }] }, 800, 600))).toBeUndefined();
    expect(codeOf(() => validatePrompts({ pointsOriginal: [{ x: 800, y: 10, label: 1 }] }, 800, 600))).toBe('PROMPT_OUTSIDE_IMAGE');
    expect(codeOf(() => validatePrompts({ pointsOriginal: [{ x: 10, y: -1, label: 0 }] }, 800, 600))).toBe('PROMPT_OUTSIDE_IMAGE');
    expect(codeOf(() => validatePrompts({ pointsOriginal: [{ x: Number.NaN, y: 1, label: 1 }] }, 800, 600))).toBe('PROMPT_OUTSIDE_IMAGE');
    expect(codeOf(() => validatePrompts({ boxOriginal: { x0: 0, y0: 0, x1: 800, y1: 10 } }, 800, 600))).toBe('PROMPT_OUTSIDE_IMAGE');
    expect(codeOf(() => validatePrompts({ boxOriginal: { x0: 50, y0: 0, x1: 10, y1: 10 } }, 800, 600))).toBe('INVALID_PROMPT');
  });
});

describe('selectDecoderOutputs', () => {
  it('K=4: single = [0], multimask = [1,2,3]; K=1: always [0]', () => {
    expect(selectDecoderOutputs(4, false)).toEqual([0]);
    expect(selectDecoderOutputs(4, true)).toEqual([1, 2, 3]);
    expect(selectDecoderOutputs(1, true)).toEqual([0]);
    expect(selectDecoderOutputs(1, false)).toEqual([0]);
  });
});

describe('binaryFractionSam256', () => {
  it('equals the generic area resampling for random masks and odd sizes', async () => {
    const { binaryFractionSam256, planeOriginalToSam256 } = await import('../../src/sam/prompt-frames.js');
    let s = 7;
    const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 8) / 2 ** 24;
    for (const [w, h] of [
      [37, 29],
      [800, 600],
      [1500, 700],
      [257, 1030],
    ] as const) {
      const m = createBinaryMask(w, h);
      for (let i = 0; i < w * h; i++) m.data[i] = rnd() < 0.3 ? 1 : 0;
      const f = samFrame(w, h);
      const fast = binaryFractionSam256(m.data, f);
      const ref = planeOriginalToSam256(m.data, f, 0);
      let maxDiff = 0;
      for (let i = 0; i < fast.length; i++) maxDiff = Math.max(maxDiff, Math.abs(fast[i]! - ref[i]!));
      expect(maxDiff).toBeLessThan(1e-5);
    }
  });
});
