import { describe, expect, it } from 'vitest';
import { resizeBinaryNearest } from '../../src/image/resize.js';
import { binaryFromLogits, binaryFromLogitsNearest, smoothMaskForNextPrompt } from '../../src/prompts/refine.js';
import { rectMask } from './helpers.js';

describe('binaryFromLogits', () => {
  it('thresholds at > 0 by default', () => {
    expect(Array.from(binaryFromLogits(Float32Array.from([-1, 0, 0.01, 5]), 2, 2).data)).toEqual([0, 0, 1, 1]);
    expect(Array.from(binaryFromLogits(Float32Array.from([-1, 0, 0.01, 5]), 2, 2, 1).data)).toEqual([0, 0, 0, 1]);
    expect(() => binaryFromLogits(new Float32Array(3), 2, 2)).toThrow(RangeError);
  });
  it('binaryFromLogitsNearest = threshold at full size, then nearest resize (down, up, mixed, same size)', () => {
    const sizes: [number, number, number, number][] = [[1024, 1024, 256, 256], [640, 480, 256, 192], [97, 61, 40, 77], [30, 20, 30, 20], [5, 9, 1, 1], [200, 137, 256, 175]];
    for (const [w, h, ow, oh] of sizes) {
      const logits = new Float32Array(w * h).map((_, i) => Math.sin(i * 0.61) * 3 + (i % 7 === 0 ? 0 : 0.1) - ((i * 13) % 5 === 0 ? 0.1 : 0));
      logits[3] = 0; // exactly the threshold: background
      for (const threshold of [0, 0.5]) {
        const fused = binaryFromLogitsNearest(logits, w, h, ow, oh, threshold);
        const chained = resizeBinaryNearest(binaryFromLogits(logits, w, h, threshold), ow, oh);
        expect(fused).toEqual(chained);
      }
    }
    expect(() => binaryFromLogitsNearest(new Float32Array(3), 2, 2, 1, 1)).toThrow(RangeError);
    expect(() => binaryFromLogitsNearest(new Float32Array(4), 2, 2, 0, 1)).toThrow(RangeError);
  });
});

describe('smoothMaskForNextPrompt (App. C.1: erosion + dilation, hole filling)', () => {
  it('removes a 1-px spur and a speck, fills a hole, keeps the square (square kernel r=1)', () => {
    const sq = rectMask(40, 40, 10, 10, 29, 29);
    const noisy = { width: 40, height: 40, data: new Uint8Array(sq.data) };
    noisy.data[20 * 40 + 20] = 0; // hole
    for (let x = 30; x <= 35; x++) noisy.data[20 * 40 + x] = 1; // spur
    noisy.data[2 * 40 + 2] = 1; // speck
    const r = smoothMaskForNextPrompt(noisy, { radius: 1, kernelShape: 'square' });
    expect(r.mask.data).toEqual(sq.data);
    expect(r.radiusUsed).toBe(1);
    expect(r.pixelsBefore).toBe(400 - 1 + 6 + 1);
    expect(r.pixelsAfter).toBe(400);
    expect(r.fallbacks).toEqual([]);
  });
  it('default radius is relative: 5 px at 1024, 1 px at 100', () => {
    expect(smoothMaskForNextPrompt(rectMask(1024, 8, 0, 0, 1023, 7)).radiusUsed).toBe(5);
    expect(smoothMaskForNextPrompt(rectMask(100, 100, 10, 10, 50, 50)).radiusUsed).toBe(1);
  });
  it('keeps the unsmoothed mask when opening would erase it', () => {
    const line = rectMask(20, 20, 2, 10, 17, 10);
    const r = smoothMaskForNextPrompt(line, { radius: 1 });
    expect(r.mask.data).toEqual(line.data);
    expect(r.fallbacks).toEqual(['opening-emptied-kept-unsmoothed']);
  });
  it('keepComponents: largest / N largest', () => {
    const a = rectMask(40, 20, 1, 1, 10, 10); // 100
    const b = rectMask(40, 20, 15, 1, 22, 8); // 64
    const c = rectMask(40, 20, 30, 1, 35, 6); // 36
    const all = { width: 40, height: 20, data: a.data.map((v, i) => v | b.data[i]! | c.data[i]!) };
    const largest = smoothMaskForNextPrompt(all, { radius: 0, keepComponents: 'largest' });
    expect(largest.mask.data).toEqual(a.data);
    const two = smoothMaskForNextPrompt(all, { radius: 0, keepComponents: 2 });
    expect(two.mask.data).toEqual(a.data.map((v, i) => v | b.data[i]!));
    expect(smoothMaskForNextPrompt(all, { radius: 0 }).pixelsAfter).toBe(200);
    expect(() => smoothMaskForNextPrompt(all, { keepComponents: 0 })).toThrow(RangeError);
  });
});

describe('smoothMaskForNextPrompt works on a crop but matches the whole-image operations', () => {
  it('for a border-touching shape with a hole and a notch', async () => {
    const { opening } = await import('../../src/image/morphology.js');
    const { fillHoles } = await import('../../src/image/components.js');
    const m = rectMask(30, 30, 0, 5, 20, 25);
    m.data[15 * 30 + 10] = 0; // hole
    m.data[15 * 30 + 11] = 0;
    for (let y = 10; y < 14; y++) m.data[y * 30 + 0] = 0; // notch at the border
    const r = smoothMaskForNextPrompt(m, { radius: 2 });
    expect(r.mask.data).toEqual(fillHoles(opening(m, { shape: 'disk', radius: 2 })).data);
  });
});
