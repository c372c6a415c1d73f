import { describe, expect, it } from 'vitest';
import { drawPerturbation, perturbTestSample, scaleFlow, type TestPerturbationOptions } from '../../src/pipeline/perturb.js';
import type { FloatImage, LabelMap } from '../../src/image/types.js';

const OFF: TestPerturbationOptions = {
  rotationDeg: null,
  translateFraction: null,
  scale: null,
  shearDeg: null,
  brightness: null,
  contrast: null,
  noiseStdFraction: null,
  blurSigma: null,
};

function ramp(w: number, h: number): FloatImage {
  const data = new Float32Array(w * h);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 256;
  return { width: w, height: h, channels: 1, data };
}

function square(w: number, h: number, x0: number, y0: number, s: number): LabelMap {
  const data = new Uint8Array(w * h);
  for (let y = y0; y < y0 + s; y++) for (let x = x0; x < x0 + s; x++) data[y * w + x] = 2;
  return { width: w, height: h, data };
}

describe('Appendix D test perturbations', () => {
  it('everything off leaves image and mask unchanged', () => {
    const img = ramp(9, 7);
    const mask = square(9, 7, 2, 2, 3);
    const out = perturbTestSample('a', img, mask, OFF);
    expect(Array.from(out.image.data)).toEqual(Array.from(img.data));
    expect(Array.from(out.mask!.data)).toEqual(Array.from(mask.data));
  });

  it('a 90° rotation about the centre rotates the mask exactly', () => {
    const mask = square(9, 9, 5, 1, 2); // pixels x 5..6, y 1..2
    const out = perturbTestSample('a', ramp(9, 9), mask, { ...OFF, rotationDeg: [90, 90] });
    // forward map about c = (4,4): (x,y) → (4 - (y-4), 4 + (x-4)) → x' = 8 - y, y' = x
    const expected = new Uint8Array(81);
    for (let y = 1; y <= 2; y++) for (let x = 5; x <= 6; x++) expected[x * 9 + (8 - y)] = 2;
    expect(Array.from(out.mask!.data)).toEqual(Array.from(expected));
  });

  it('translation stays within the torchvision-style bound (0 horizontally, 10% vertically)', () => {
    const p = drawPerturbation('img7', 100, 50, 255, { ...OFF, translateFraction: [0.0, 0.1] });
    expect(Math.abs(p.translateX)).toBe(0);
    expect(Math.abs(p.translateY)).toBeLessThanOrEqual(5);
  });

  it('parameters depend on (seed, id) only, and stay inside the ranges', () => {
    const a = drawPerturbation('x', 64, 64, 255, { seed: 3 });
    expect(drawPerturbation('x', 64, 64, 255, { seed: 3 })).toEqual(a);
    expect(drawPerturbation('y', 64, 64, 255, { seed: 3 })).not.toEqual(a);
    expect(a.rotationDeg).toBeGreaterThanOrEqual(-20);
    expect(a.rotationDeg).toBeLessThanOrEqual(20);
    expect(a.scale).toBeGreaterThanOrEqual(0.8);
    expect(a.scale).toBeLessThanOrEqual(1.2);
    expect(a.noiseStd).toBeLessThanOrEqual(0.05 * 255);
  });

  it('defaults perturb the image, keep its intensity range, and are deterministic', () => {
    const img = ramp(32, 32);
    const a = perturbTestSample('q', img, undefined, { seed: 5 });
    const b = perturbTestSample('q', img, undefined, { seed: 5 });
    expect(Array.from(a.image.data)).toEqual(Array.from(b.image.data));
    expect(Array.from(a.image.data)).not.toEqual(Array.from(img.data));
    for (const v of a.image.data) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(255);
    }
  });
});

describe('Fig. 6 flow scaling', () => {
  it('multiplies every displacement by alpha', () => {
    expect(Array.from(scaleFlow(Float32Array.from([2, -4, 0.5]), 0.5))).toEqual([1, -2, 0.25]);
    expect(() => scaleFlow(new Float32Array(1), Number.NaN)).toThrow();
  });
});
