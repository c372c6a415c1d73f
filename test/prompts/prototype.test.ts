import { describe, expect, it } from 'vitest';
import { MedpersamUserError } from '../../src/errors.js';
import { samFrame } from '../../src/prompts/frames.js';
import { classPrototype, featureMapFromEmbedding, l2Normalize, maskToGridWeights, type FeatureMap } from '../../src/prompts/prototype.js';
import { rectMask, rng } from './helpers.js';

const C = 4;
const G = 64;

function randomFeatures(seed: number): FeatureMap {
  const rand = rng(seed);
  const data = new Float32Array(C * G * G);
  for (let i = 0; i < data.length; i++) data[i] = rand() * 2 - 1;
  return { channels: C, gridWidth: G, gridHeight: G, data };
}

function setCell(f: FeatureMap, gx: number, gy: number, v: number[]): void {
  for (let c = 0; c < C; c++) f.data[c * G * G + gy * G + gx] = v[c]!;
}

describe('maskToGridWeights (800x600 image: cells are 12.5 original pixels)', () => {
  const frame = samFrame(800, 600);
  // 100 x 50 original pixels = 128 x 64 sam1024 pixels = exactly 8 x 4 cells
  const mask = rectMask(800, 600, 0, 0, 99, 49);
  it("'center' selects the 8 x 4 cells whose centres fall in the mask", () => {
    const w = maskToGridWeights(mask, frame, 'center');
    const on: number[] = [];
    w.forEach((v, i) => {
      if (v > 0) on.push(i);
    });
    const expected: number[] = [];
    for (let gy = 0; gy < 4; gy++) for (let gx = 0; gx < 8; gx++) expected.push(gy * G + gx);
    expect(on).toEqual(expected);
    expect(w.every((v) => v === 0 || v === 1)).toBe(true);
  });
  it("'area' gives coverage 1 on the same cells and 0 elsewhere", () => {
    const w = maskToGridWeights(mask, frame, 'area');
    for (let gy = 0; gy < G; gy++) {
      for (let gx = 0; gx < G; gx++) {
        expect(w[gy * G + gx]).toBeCloseTo(gx < 8 && gy < 4 ? 1 : 0, 5);
      }
    }
  });
  it("'area' gives the covered fraction of a partly covered cell", () => {
    const f1024 = samFrame(1024, 1024);
    const half = rectMask(1024, 1024, 0, 0, 7, 15); // left half of cell (0, 0)
    const w = maskToGridWeights(half, f1024, 'area');
    expect(w[0]).toBeCloseTo(0.5, 6);
    expect(w[1]).toBe(0);
    // 'center' misses it: the centre pixel (8, 8) is background
    expect(maskToGridWeights(half, f1024, 'center')[0]).toBe(0);
  });
  it('works with a working-size mask (400x300) covering the same image', () => {
    const small = rectMask(400, 300, 0, 0, 49, 24);
    expect(Array.from(maskToGridWeights(small, frame, 'center'))).toEqual(Array.from(maskToGridWeights(mask, frame, 'center')));
  });
});

describe('classPrototype', () => {
  const frame = samFrame(800, 600);
  it('equals the feature of a region of constant features', () => {
    const f = randomFeatures(1);
    const v = [0.5, -1.5, 2, 0.25];
    for (let gy = 0; gy < 4; gy++) for (let gx = 0; gx < 8; gx++) setCell(f, gx, gy, v);
    const p = classPrototype(f, frame, rectMask(800, 600, 0, 0, 99, 49));
    expect(p.maskToGridUsed).toBe('center');
    expect(p.cellsUsed).toBe(32);
    for (let c = 0; c < C; c++) expect(p.prototype[c]).toBeCloseTo(v[c]!, 6);
    const norm = Math.hypot(...v);
    for (let c = 0; c < C; c++) expect(p.prototypeUnit[c]).toBeCloseTo(v[c]! / norm, 6);
  });
  it("area-weighted mean: cell 0 fully and cell 1 half covered → (f0 + 0.5 f1) / 1.5", () => {
    const f1024 = samFrame(1024, 1024);
    const f = randomFeatures(2);
    setCell(f, 0, 0, [3, 0, 0, 0]);
    setCell(f, 1, 0, [0, 3, 0, 0]);
    const p = classPrototype(f, f1024, rectMask(1024, 1024, 0, 0, 23, 15), { maskToGrid: 'area' });
    expect(p.cellsUsed).toBe(2);
    expect(p.weightSum).toBeCloseTo(1.5, 6);
    expect(Array.from(p.prototype).map((x) => Number(x.toFixed(5)))).toEqual([2, 1, 0, 0]);
  });
  it("falls back to 'area' when the mask is smaller than a cell centre", () => {
    const f1024 = samFrame(1024, 1024);
    const f = randomFeatures(3);
    setCell(f, 5, 5, [1, 2, 3, 4]);
    const p = classPrototype(f, f1024, rectMask(1024, 1024, 81, 81, 82, 82)); // 2x2 px inside cell (5, 5), off-centre
    expect(p.maskToGridUsed).toBe('area');
    expect(p.cellsUsed).toBe(1);
    expect(Array.from(p.prototype)).toEqual([1, 2, 3, 4]);
  });
  it('rejects an empty reference mask with EMPTY_REFERENCE_MASK', () => {
    const f = randomFeatures(4);
    try {
      classPrototype(f, frame, rectMask(800, 600, 0, 0, -1, -1));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(MedpersamUserError);
      expect((err as MedpersamUserError).code).toBe('EMPTY_REFERENCE_MASK');
    }
  });
  it('rejects a feature grid that does not match the frame', () => {
    const f: FeatureMap = { channels: 1, gridWidth: 32, gridHeight: 32, data: new Float32Array(32 * 32) };
    expect(() => classPrototype(f, frame, rectMask(800, 600, 0, 0, 9, 9))).toThrow(/does not match/);
  });
});

describe('featureMapFromEmbedding / l2Normalize', () => {
  it('wraps [1, C, h, w] and checks the length', () => {
    const data = new Float32Array(2 * 3 * 4);
    expect(featureMapFromEmbedding({ data, dims: [1, 2, 3, 4] })).toEqual({ channels: 2, gridHeight: 3, gridWidth: 4, data });
    expect(() => featureMapFromEmbedding({ data, dims: [1, 2, 3, 5] })).toThrow(RangeError);
  });
  it('normalises to unit length; zero stays zero', () => {
    expect(Array.from(l2Normalize(Float32Array.from([3, 4])))).toEqual([0.6000000238418579, 0.800000011920929]);
    expect(Array.from(l2Normalize(new Float32Array(3)))).toEqual([0, 0, 0]);
  });
});
