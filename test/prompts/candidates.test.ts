import { describe, expect, it } from 'vitest';
import { dilate, erode } from '../../src/image/morphology.js';
import { candidateRegions, characteristicRadius } from '../../src/prompts/candidates.js';
import { ellipsesMask, rectMask } from './helpers.js';

const on = (m: { data: Uint8Array }) => m.data.reduce((a, b) => a + b, 0);

describe('characteristicRadius (rho = 2 * area / boundary pixels)', () => {
  it('is 3.6 for a 6x6 square (36 pixels, 20 on the boundary)', () => {
    expect(characteristicRadius(rectMask(10, 10, 2, 2, 7, 7))).toBeCloseTo(3.6, 12);
  });
  it('is about R for a disk of radius R and the same for two copies', () => {
    const one = characteristicRadius(ellipsesMask(120, 60, [{ cx: 30, cy: 30, rx: 20, ry: 20 }]));
    const two = characteristicRadius(
      ellipsesMask(120, 60, [
        { cx: 30, cy: 30, rx: 20, ry: 20 },
        { cx: 90, cy: 30, rx: 20, ry: 20 },
      ]),
    );
    expect(one).toBeGreaterThan(18);
    expect(one).toBeLessThan(26);
    expect(two).toBeCloseTo(one, 10);
  });
  it('is 0 for an empty mask', () => {
    expect(characteristicRadius(rectMask(5, 5, 0, 0, -1, -1))).toBe(0);
  });
});

describe('candidateRegions (Eqs. 5–7)', () => {
  const mask = rectMask(10, 10, 2, 2, 7, 7);
  it('square kernels r=1: R_pos = rect 3..6, R_neg = rect 1..8 minus rect 3..6 (dilate minus erode)', () => {
    const r = candidateRegions(mask, { kernelShape: 'square', erosionRadius: 1, dilationRadius: 1 });
    expect(r.positiveRegion.data).toEqual(rectMask(10, 10, 3, 3, 6, 6).data);
    const expectedBand = rectMask(10, 10, 1, 1, 8, 8).data.map((v, i) => (v && !(mask.data[i] && rectMask(10, 10, 3, 3, 6, 6).data[i]) ? 1 : 0));
    expect(r.negativeRegion.data).toEqual(expectedBand);
    expect(r.positivePixels).toBe(16);
    expect(r.negativePixels).toBe(48);
    expect(r.fallbacks).toEqual([]);
    // the default band straddles the boundary: (2, 2) is inside M and in R_neg
    expect(r.negativeRegion.data[2 * 10 + 2]).toBe(1);
  });
  it("'dilate-minus-mask' keeps only the outer ring (28 pixels)", () => {
    const r = candidateRegions(mask, { kernelShape: 'square', erosionRadius: 1, dilationRadius: 1, negativeBand: 'dilate-minus-mask' });
    expect(r.negativePixels).toBe(28);
    for (let i = 0; i < 100; i++) if (r.negativeRegion.data[i]) expect(mask.data[i]).toBe(0);
  });
  it('relative default radii: 40x40 square → rho = 3200/156, erosion round(0.2 rho) = 4, dilation round(0.1 rho) = 2', () => {
    const sq = rectMask(60, 60, 10, 10, 49, 49);
    const r = candidateRegions(sq);
    expect(r.characteristicRadius).toBeCloseTo(3200 / 156, 10);
    expect(r.erosionRadiusRequested).toBe(4);
    expect(r.erosionRadiusUsed).toBe(4);
    expect(r.dilationRadiusUsed).toBe(2);
    expect(r.kernelShape).toBe('disk');
    expect(r.positiveRegion.data).toEqual(erode(sq, { shape: 'disk', radius: 4 }).data);
    const d = dilate(sq, { shape: 'disk', radius: 2 });
    expect(r.negativeRegion.data).toEqual(d.data.map((v, i) => (v && !r.positiveRegion.data[i] ? 1 : 0)));
  });
  it('fractions and absolute radii are options', () => {
    const sq = rectMask(60, 60, 10, 10, 49, 49);
    expect(candidateRegions(sq, { erosionFraction: 0.5, dilationFraction: 0.3 }).erosionRadiusUsed).toBe(10);
    expect(candidateRegions(sq, { erosionFraction: 0.5, dilationFraction: 0.3 }).dilationRadiusUsed).toBe(6);
    expect(candidateRegions(sq, { erosionRadius: 7, dilationRadius: 3 }).erosionRadiusUsed).toBe(7);
    expect(() => candidateRegions(sq, { erosionRadius: 1.5 })).toThrow(RangeError);
  });
  it('shrinks the erosion kernel (halving) when erosion empties the mask', () => {
    const small = rectMask(9, 9, 3, 3, 5, 5); // 3x3: disk r=4 and r=2 erase it, r=1 (cross) keeps the centre
    const r = candidateRegions(small, { erosionRadius: 4, dilationRadius: 1 });
    expect(r.erosionRadiusUsed).toBe(1);
    expect(r.fallbacks).toEqual(['erosion-shrunk']);
    expect(Array.from(r.positiveRegion.data.keys()).filter((i) => r.positiveRegion.data[i])).toEqual([4 * 9 + 4]);
  });
  it('uses the mask itself when even radius 1 erases it', () => {
    const dot = rectMask(9, 9, 4, 4, 4, 4);
    const r = candidateRegions(dot);
    expect(r.erosionRadiusUsed).toBe(0);
    expect(r.fallbacks).toEqual(['erosion-empty-used-mask']);
    expect(r.positiveRegion.data).toEqual(dot.data);
    expect(r.negativePixels).toBe(4); // cross r=1 dilation minus the dot
  });
  it('falls back to the background when the band is empty, and reports when there is none', () => {
    const part = rectMask(8, 8, 0, 0, 3, 7);
    const r = candidateRegions(part, { negativeBand: 'dilate-minus-mask', dilationRadius: 0, erosionRadius: 1 });
    expect(r.fallbacks).toEqual(['band-empty-used-background']);
    expect(r.negativeRegion.data).toEqual(part.data.map((v) => 1 - v));
    const full = rectMask(8, 8, 0, 0, 7, 7);
    const f = candidateRegions(full, { negativeBand: 'dilate-minus-mask' });
    expect(f.fallbacks).toEqual(['no-negative-region']);
    expect(on(f.negativeRegion)).toBe(0);
  });
  it('an empty mask gives empty regions and no fallback', () => {
    const r = candidateRegions(rectMask(8, 8, 0, 0, -1, -1));
    expect(r.positivePixels + r.negativePixels).toBe(0);
    expect(r.fallbacks).toEqual([]);
  });
});

describe('candidateRegions works on a crop but matches the whole-image morphology', () => {
  it('for shapes touching the image border and several components', () => {
    const m = ellipsesMask(70, 50, [
      { cx: 0, cy: 10, rx: 15, ry: 12 },
      { cx: 50, cy: 45, rx: 18, ry: 9 },
      { cx: 40, cy: 20, rx: 6, ry: 6 },
    ]);
    for (const band of ['dilate-minus-erode', 'dilate-minus-mask'] as const) {
      const r = candidateRegions(m, { erosionRadius: 3, dilationRadius: 4, negativeBand: band });
      const e = erode(m, { shape: 'disk', radius: 3 });
      const d = dilate(m, { shape: 'disk', radius: 4 });
      const inner = band === 'dilate-minus-erode' ? e : m;
      expect(r.positiveRegion.data).toEqual(e.data);
      expect(r.negativeRegion.data).toEqual(d.data.map((v, i) => (v && !inner.data[i] ? 1 : 0)));
    }
  });
});
