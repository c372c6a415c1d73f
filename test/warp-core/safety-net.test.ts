import { describe, expect, it } from 'vitest';
import { generatePhantom } from '../../src/image/phantom.js';
import { normalizeIntensity } from '../../src/image/normalize.js';
import { resizeImage } from '../../src/image/resize.js';
import { localCorrelations, meanLocalCorrelation, pairedAgreement, safetyNetDecision } from '../../src/warp/safety-net.js';

const R = 128;
const SHIFT = 10;
const reference = resizeImage(normalizeIntensity(generatePhantom({ seed: 2, patient: 0, width: 256, noise: 4 }).image), R, R, 'area').data;
/** The reference moved SHIFT working px to the right (edge pixels repeated): test(x) = reference(x − SHIFT). */
const test = reference.map((_, i) => reference[Math.floor(i / R) * R + Math.max(0, (i % R) - SHIFT)]!);
/** A constant flow of dx working px (xyWarp, test → reference: warped(x) = reference(x + dx)). */
const constantFlow = (dx: number): Float32Array => Float32Array.from({ length: 2 * R * R }, (_, k) => (k % 2 === 0 ? dx : 0));

describe('the per-image safety net', () => {
  it('keeps a warp that moves the reference onto the test (its agreement beats the copy’s)', () => {
    const d = safetyNetDecision(reference, test, constantFlow(-SHIFT), R);
    expect(d.fellBack).toBe(false);
    expect(d.warpAgreement).toBeGreaterThan(0.95);
    expect(d.warpAgreement).toBeGreaterThan(d.copyAgreement + 0.1);
  });

  it('falls back when the warp moves the structures away from their match (clearly less plausible than the copy)', () => {
    // the aligned copy already matches (test = reference); the warp moves everything SHIFT px off
    const d = safetyNetDecision(reference, reference, constantFlow(SHIFT), R);
    expect(d.fellBack).toBe(true);
    expect(d.copyAgreement).toBeCloseTo(1, 6);
    expect(d.copyAgreement - d.warpAgreement).toBeGreaterThan(d.margin);
  });

  it('keeps a warp whose deficit is within the evidence’s own noise (both far from the match)', () => {
    // the copy is SHIFT px off, the warp 2·SHIFT: both explain little; the difference is inside two standard errors
    const d = safetyNetDecision(reference, test, constantFlow(SHIFT), R);
    expect(d.copyAgreement).toBeGreaterThan(d.warpAgreement);
    expect(d.copyAgreement - d.warpAgreement).toBeLessThan(d.margin);
    expect(d.fellBack).toBe(false);
  });

  it('keeps the zero flow (the copy itself: equal agreement)', () => {
    const d = safetyNetDecision(reference, test, constantFlow(0), R);
    expect(d.fellBack).toBe(false);
    expect(d.warpAgreement).toBeCloseTo(d.copyAgreement, 6);
    expect(d.maxDisplacementPx).toBe(0);
  });

  it('keeps a flow under half a working pixel even where the copy agrees better (the copy on the working grid)', () => {
    const d = safetyNetDecision(reference, test, constantFlow(0.45), R);
    expect(d.copyAgreement - d.warpAgreement).toBeGreaterThan(d.margin);
    expect(d.maxDisplacementPx).toBeCloseTo(0.45, 6);
    expect(d.fellBack).toBe(false);
  });

  it('decides the same when two engines’ flows differ by float noise (1e-4 px), on both sides of the decision', () => {
    const noisy = (dx: number) => constantFlow(dx).map((v, k) => v + (k % 7 === 0 ? 1e-4 : -1e-4));
    for (const dx of [-SHIFT, SHIFT, 3]) {
      const a = safetyNetDecision(reference, test, constantFlow(dx), R);
      const b = safetyNetDecision(reference, test, noisy(dx), R);
      expect(b.fellBack).toBe(a.fellBack);
      // far from the threshold in both: the gap to the margin is much larger than what the noise moves
      expect(Math.abs(a.copyAgreement - a.warpAgreement - a.margin)).toBeGreaterThan(100 * Math.abs(a.warpAgreement - b.warpAgreement));
    }
  });

  it('falls back only beyond two standard errors of the paired per-window differences', () => {
    const copy = Float64Array.from([1, 1, 1, 1]);
    // differences 0.1, −0.1, 0.1, −0.1: mean 0, sd 0.1; 4 independent 1×1 windows → margin 2 · 0.1 / √4
    expect(pairedAgreement(copy, Float64Array.from([0.9, 1.1, 0.9, 1.1]), 1)).toEqual({ copy: 1, warp: 1, margin: expect.closeTo(0.1, 12) });
    // 2×2 windows overlap: 4 windows are one independent one → margin 2 · 0.1
    expect(pairedAgreement(copy, Float64Array.from([0.9, 1.1, 0.9, 1.1]), 2).margin).toBeCloseTo(0.2, 12);
    // windows where the fixed image is flat (NaN) are left out of both means
    expect(pairedAgreement(Float64Array.from([1, Number.NaN, 0.5]), Float64Array.from([0.5, Number.NaN, 0]), 1)).toEqual({ copy: 0.75, warp: 0.25, margin: 0 });
  });

  it('local correlation: 1 for identical planes, −1 for an inverted one, 0 when every window is flat', () => {
    const a = Float32Array.from({ length: 36 }, (_, i) => (i % 6) / 5 + Math.floor(i / 6) / 10);
    expect(meanLocalCorrelation(a, a, 6, 3)).toBeCloseTo(1, 6);
    expect(meanLocalCorrelation(a, a.map((v) => 1 - v), 6, 3)).toBeCloseTo(-1, 6);
    expect(meanLocalCorrelation(new Float32Array(36).fill(0.5), a, 6, 3)).toBe(0);
    // a flat fixed image gives no evidence: every window NaN, the mean 0
    expect([...localCorrelations(a, new Float32Array(36).fill(0.5), 6, 3)].every(Number.isNaN)).toBe(true);
    expect(meanLocalCorrelation(a, new Float32Array(36).fill(0.5), 6, 3)).toBe(0);
  });
});
