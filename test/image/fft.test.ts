import { describe, expect, it } from 'vitest';
import { crossCorrelations, fftInPlace, nextPowerOfTwo } from '../../src/image/fft.js';

/** A seeded uniform generator in [0, 1) (linear congruential). */
function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe('fft', () => {
  it('nextPowerOfTwo', () => {
    expect([1, 2, 3, 5, 256, 257].map(nextPowerOfTwo)).toEqual([1, 2, 4, 8, 256, 512]);
  });

  it('transforms as the DFT sum does, and the inverse restores the signal', () => {
    const next = uniform(3);
    const n = 16;
    const x = Array.from({ length: n }, () => next() - 0.5);
    const re = Float64Array.from(x);
    const im = new Float64Array(n);
    fftInPlace(re, im);
    for (let k = 0; k < n; k++) {
      let sr = 0;
      let si = 0;
      for (let j = 0; j < n; j++) {
        sr += x[j]! * Math.cos((-2 * Math.PI * j * k) / n);
        si += x[j]! * Math.sin((-2 * Math.PI * j * k) / n);
      }
      expect(re[k]).toBeCloseTo(sr, 12);
      expect(im[k]).toBeCloseTo(si, 12);
    }
    fftInPlace(re, im, true);
    x.forEach((v, j) => {
      expect(re[j]).toBeCloseTo(v, 14);
      expect(im[j]).toBeCloseTo(0, 14);
    });
    expect(() => fftInPlace(new Float64Array(6), new Float64Array(6))).toThrow(/power of two/);
  });

  it('cross-correlates real planes as the direct circular sum, an odd number of pairs included', () => {
    const next = uniform(7);
    const W = 8;
    const H = 4;
    const planes = Array.from({ length: 3 }, () => Float64Array.from({ length: W * H }, () => next()));
    const pairs = [[0, 1], [2, 0], [1, 1]] as const;
    const out = crossCorrelations(planes, pairs, W, H);
    expect(out).toHaveLength(3);
    pairs.forEach(([f, g], q) => {
      for (let sy = 0; sy < H; sy++) {
        for (let sx = 0; sx < W; sx++) {
          let sum = 0;
          for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) sum += planes[f]![y * W + x]! * planes[g]![((y + sy) % H) * W + ((x + sx) % W)]!;
          expect(out[q]![sy * W + sx]).toBeCloseTo(sum, 12);
        }
      }
    });
  });
});
