import { describe, expect, it } from 'vitest';
import { cropSimilarity, decideObject, heldOutIds, meanLocalNcc } from '../../src/warp/roi-evidence.js';
import type { LocalRefinement } from '../../src/warp/roi-compose.js';

const all = (n: number) => new Uint8Array(n).fill(1);

/** A 40 × 30 plane with a bright vertical bar (3 px wide) at x0..x0+2 on a gentle ramp. */
function barPlane(x0: number): Float32Array {
  const w = 40;
  const p = new Float32Array(w * 30);
  for (let y = 0; y < 30; y++) for (let x = 0; x < w; x++) p[y * w + x] = 0.5 * y + (x >= x0 && x < x0 + 3 ? 100 : 0);
  return p;
}

describe('meanLocalNcc', () => {
  it('is 1 for a plane against itself or an affine copy, −1 against its negative, 0 where a window is flat', () => {
    const a = barPlane(10);
    const affine = a.map((v) => 3 * v + 7);
    const negative = a.map((v) => -v);
    expect(meanLocalNcc(a, a, 40, 30, 2, all(1200))).toBeCloseTo(1, 9);
    expect(meanLocalNcc(a, affine, 40, 30, 2, all(1200))).toBeCloseTo(1, 6);
    expect(meanLocalNcc(a, negative, 40, 30, 2, all(1200))).toBeCloseTo(-1, 6);
    expect(meanLocalNcc(a, new Float32Array(1200).fill(5), 40, 30, 2, all(1200))).toBe(0);
    // the region selects the pixels averaged: none → 0
    expect(meanLocalNcc(a, negative, 40, 30, 2, new Uint8Array(1200))).toBe(0);
  });
});

describe('heldOutIds', () => {
  it('holds out a quarter (at least 3, at most 16), evenly spread; none below 8 test images', () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `i${i}`);
    expect(heldOutIds(ids(7))).toEqual([]);
    expect(heldOutIds(ids(8))).toEqual(['i1', 'i4', 'i6']); // max(3, round(2)) = 3 at floor((j + 0.5) · 8 / 3)
    expect(heldOutIds(ids(10))).toEqual(['i1', 'i5', 'i8']); // round(2.5) = 3
    expect(heldOutIds(ids(40))).toEqual(['i2', 'i6', 'i10', 'i14', 'i18', 'i22', 'i26', 'i30', 'i34', 'i38']);
    expect(heldOutIds(ids(246)).length).toBe(16);
    expect(heldOutIds(ids(4), { minTestsToHoldOut: 2, minHeldOut: 1 })).toEqual(['i2']);
  });
});

describe('cropSimilarity', () => {
  // reference: bar at x 10..12; the test crop shows it 3 px to the right (x 13..15), the global warp left it there
  const ref = barPlane(10);
  const test = barPlane(13);
  const frame = { x0: 0, y0: 0, width: 40, height: 30 };
  const region = { mask: new Uint8Array(1200).map((_, i) => (i % 40 >= 10 && i % 40 <= 12 ? 1 : 0)), box: { x0: 10, y0: 0, x1: 12, y1: 29 } };
  const constantFlow = (dx: number): LocalRefinement => {
    const flowXyCrop = new Float32Array(1200 * 2);
    for (let i = 0; i < 1200; i++) flowXyCrop[2 * i] = dx;
    return { frame, flowXyCrop, taperPx: 0 };
  };

  it('a local warp that reads the reference where the test shows the object raises the similarity; a wrong one lowers it', () => {
    // test pixel u shows the bar at x 13..15: reading the reference at u − 3 is the right correction
    const [right] = cropSimilarity(ref, test, constantFlow(-3), [region], 2);
    expect(right!.nccLocal).toBeGreaterThan(0.99);
    expect(right!.nccGlobal).toBeLessThan(0.5);
    const [wrong] = cropSimilarity(ref, test, constantFlow(3), [region], 2);
    expect(wrong!.nccLocal).toBeLessThan(right!.nccLocal);
    // no correction: both reads are the same
    const [none] = cropSimilarity(ref, test, constantFlow(0), [region], 2);
    expect(none!.nccLocal).toBe(none!.nccGlobal);
  });

  it('the pre-shift is part of the local map: a pre-shift of +3 with no flow is the same correction', () => {
    const preShift = new Float32Array(1200 * 2);
    for (let i = 0; i < 1200; i++) preShift[2 * i] = 3;
    // the crop model's input shows test content at u + S(u): reading the reference at u (ψ = 0) corrects v = u + 3
    const [shifted] = cropSimilarity(ref, test, { ...constantFlow(0), preShift }, [region], 2);
    const [direct] = cropSimilarity(ref, test, constantFlow(-3), [region], 2);
    expect(shifted!.nccLocal).toBeCloseTo(direct!.nccLocal, 6);
  });
});

describe('decideObject', () => {
  it('keeps an object when the mean gain is positive and at least half of the images improve', () => {
    const s = (g: number, l: number) => ({ nccGlobal: g, nccLocal: l });
    expect(decideObject([s(0.2, 0.6), s(0.3, 0.5), s(0.4, 0.3)], 'held-out')).toMatchObject({ kept: true, improved: 2, images: 3, basis: 'held-out' });
    expect(decideObject([s(0.2, 0.6), s(0.3, 0.5), s(0.4, 0.3)], 'held-out').gain).toBeCloseTo((0.4 + 0.2 - 0.1) / 3, 12);
    // one large gain, two losses: the mean is positive but most images got worse
    expect(decideObject([s(0.1, 0.9), s(0.5, 0.45), s(0.5, 0.45)], 'held-out').kept).toBe(false);
    // a mean loss
    expect(decideObject([s(0.5, 0.6), s(0.5, 0.1)], 'in-sample').kept).toBe(false);
    // no change is no improvement; no image no decision to refine
    expect(decideObject([s(0.5, 0.5)], 'held-out').kept).toBe(false);
    expect(decideObject([], 'held-out')).toMatchObject({ kept: false, images: 0, gain: 0 });
  });
});
