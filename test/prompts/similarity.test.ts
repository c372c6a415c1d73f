import { describe, expect, it } from 'vitest';
import { samFrame } from '../../src/prompts/frames.js';
import type { FeatureMap } from '../../src/prompts/prototype.js';
import { cosineSimilarityGrid, cosineSimilarityMap, featureSquaredNorms, gridMapToMaskFrame } from '../../src/prompts/similarity.js';

const G = 64;

function featuresFrom(fn: (gx: number, gy: number) => number[], channels: number): FeatureMap {
  const data = new Float32Array(channels * G * G);
  for (let gy = 0; gy < G; gy++) {
    for (let gx = 0; gx < G; gx++) {
      const v = fn(gx, gy);
      for (let c = 0; c < channels; c++) data[c * G * G + gy * G + gx] = v[c]!;
    }
  }
  return { channels, gridWidth: G, gridHeight: G, data };
}

describe('cosineSimilarityGrid', () => {
  it('is 1 at identical (or positively scaled) vectors, -1 opposite, 0 orthogonal or zero', () => {
    const p = Float32Array.from([1, 2, 3]);
    const f = featuresFrom((gx) => {
      if (gx === 0) return [1, 2, 3];
      if (gx === 1) return [10, 20, 30];
      if (gx === 2) return [-1, -2, -3];
      if (gx === 3) return [3, 0, -1];
      return [0, 0, 0];
    }, 3);
    const s = cosineSimilarityGrid(f, p);
    expect(s[0]).toBeCloseTo(1, 6);
    expect(s[1]).toBeCloseTo(1, 6);
    expect(s[2]).toBeCloseTo(-1, 6);
    expect(s[3]).toBeCloseTo(0, 6);
    expect(s[4]).toBe(0);
  });
  it('rejects a prototype of the wrong length', () => {
    expect(() => cosineSimilarityGrid(featuresFrom(() => [1, 1], 2), Float32Array.from([1]))).toThrow(RangeError);
    const f = featuresFrom(() => [1, 1], 2);
    expect(() => cosineSimilarityGrid(f, Float32Array.from([1, 1]), new Float64Array(3))).toThrow(RangeError);
  });
  it('with the shared squared norms: the same bits as the one-pass computation (dot and norm per channel together)', () => {
    const onePass = (features: FeatureMap, prototype: Float32Array): Float32Array => {
      const plane = features.gridWidth * features.gridHeight;
      const dot = new Float64Array(plane);
      const norm2 = new Float64Array(plane);
      let pNorm2 = 0;
      for (let c = 0; c < features.channels; c++) {
        const p = prototype[c]!;
        pNorm2 += p * p;
        for (let i = 0; i < plane; i++) {
          const v = features.data[c * plane + i]!;
          dot[i]! += p * v;
          norm2[i]! += v * v;
        }
      }
      const out = new Float32Array(plane);
      for (let i = 0; i < plane; i++) {
        const d = Math.sqrt(pNorm2) * Math.sqrt(norm2[i]!);
        out[i] = d > 0 ? dot[i]! / d : 0;
      }
      return out;
    };
    const C = 37;
    const f = featuresFrom((gx, gy) => Array.from({ length: C }, (_, c) => (gx === 5 && gy === 5 ? 0 : Math.sin(gx * 0.3 + c) * Math.cos(gy * 0.17 - c * 0.5) * (c + 1))), C);
    const norms = featureSquaredNorms(f);
    for (let k = 0; k < 3; k++) {
      const p = Float32Array.from({ length: C }, (_, c) => Math.cos(c * 0.9 + k));
      const want = onePass(f, p);
      expect(cosineSimilarityGrid(f, p, norms)).toEqual(want);
      expect(cosineSimilarityGrid(f, p)).toEqual(want);
      const frame = samFrame(300, 200, { gridSize: G });
      expect(cosineSimilarityMap(f, p, frame, 150, 100, norms).map).toEqual(cosineSimilarityMap(f, p, frame, 150, 100).map);
    }
  });
});

describe('gridMapToMaskFrame', () => {
  const ramp = (axis: 'x' | 'y') => {
    const m = new Float32Array(G * G);
    for (let gy = 0; gy < G; gy++) for (let gx = 0; gx < G; gx++) m[gy * G + gx] = axis === 'x' ? gx : gy;
    return m;
  };
  it('1024x1024: pixel x samples grid coordinate (x + 0.5) / 16 - 0.5, clamped at the edges', () => {
    const out = gridMapToMaskFrame(ramp('x'), samFrame(1024, 1024), 1024, 1024);
    expect(out[0]).toBe(0);
    expect(out[100]).toBeCloseTo(100.5 / 16 - 0.5, 5);
    expect(out[5 * 1024 + 500]).toBeCloseTo(500.5 / 16 - 0.5, 5);
    expect(out[1023]).toBe(63);
  });
  it('800x600: crops the padding (the last image row samples grid row ~47.45, not 63)', () => {
    const out = gridMapToMaskFrame(ramp('y'), samFrame(800, 600), 800, 600);
    expect(out[599 * 800 + 10]).toBeCloseTo((599.5 * 768) / 600 / 16 - 0.5, 4);
    expect(out[300 * 800]).toBeCloseTo((300.5 * 768) / 600 / 16 - 0.5, 4);
  });
  it('keeps a constant map constant at any output size', () => {
    const out = gridMapToMaskFrame(new Float32Array(G * G).fill(0.25), samFrame(640, 480), 97, 61);
    expect(out.every((v) => v === 0.25)).toBe(true);
  });
});

describe('cosineSimilarityMap', () => {
  it('is ~1 where features equal the prototype and ~0 where orthogonal (800x600)', () => {
    // left half of the image (grid columns < 32) = prototype direction, right half orthogonal
    const f = featuresFrom((gx) => (gx < 32 ? [2, 0] : [0, 5]), 2);
    const r = cosineSimilarityMap(f, Float32Array.from([1, 0]), samFrame(800, 600));
    expect(r.width).toBe(800);
    expect(r.height).toBe(600);
    expect(r.map[300 * 800 + 100]).toBeCloseTo(1, 6);
    expect(r.map[300 * 800 + 700]).toBeCloseTo(0, 6);
    expect(r.grid[10 * G + 5]).toBeCloseTo(1, 6);
  });
});
