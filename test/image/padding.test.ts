import { describe, expect, it } from 'vitest';
import { contentMask } from '../../src/image/padding.js';
import { mulberry32 } from '../../src/image/random.js';
import type { FloatImage } from '../../src/image/types.js';

function noisy(w: number, h: number, seed = 3): FloatImage {
  const rng = mulberry32(seed);
  return { width: w, height: h, channels: 1, data: Float32Array.from({ length: w * h }, () => 20 + 200 * rng()) };
}

describe('contentMask (padding)', () => {
  it('finds constant black padding connected to the border (a rotated image corner)', () => {
    const img = noisy(40, 30);
    // a triangle of exact zeros in the top-left corner, and an isolated zero inside (not padding)
    for (let y = 0; y < 30; y++) for (let x = 0; x < 40; x++) if (x + y < 12) img.data[y * 40 + x] = 0;
    img.data[15 * 40 + 20] = 0;
    const mask = contentMask(img)!;
    expect(mask).not.toBeNull();
    expect(mask[0]).toBe(0);
    expect(mask[5 * 40 + 5]).toBe(0);
    expect(mask[15 * 40 + 20]).toBe(1);
    expect(mask[29 * 40 + 39]).toBe(1);
    const padded = mask.reduce((a, v) => a + (1 - v), 0);
    expect(padded).toBe(78); // x + y < 12: 12·13/2
  });

  it('finds white padding (an inverted image) and ignores tiny constant areas', () => {
    const img = noisy(40, 40);
    for (let y = 0; y < 40; y++) for (let x = 0; x < 8; x++) img.data[y * 40 + x] = 255;
    expect(contentMask(img)!.reduce((a, v) => a + (1 - v), 0)).toBe(320);
    const tiny = noisy(40, 40);
    tiny.data[0] = 0; // 1 pixel < 1 % of the image
    expect(contentMask(tiny)).toBeNull();
    expect(contentMask(noisy(10, 10))).toBeNull();
    expect(() => contentMask({ width: 1, height: 1, channels: 3, data: new Float32Array(3) })).toThrow(/grey/);
  });
});
