import { describe, expect, it } from 'vitest';
import { generatePhantom } from '../../src/image/phantom.js';
import { normalizeIntensity } from '../../src/image/normalize.js';
import { resizeImage } from '../../src/image/resize.js';
import { meanLocalCorrelation, safetyNetDecision } from '../../src/warp/safety-net.js';

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

  it('falls back when the warp moves the structures away from their match (less plausible than the copy)', () => {
    const d = safetyNetDecision(reference, test, constantFlow(SHIFT), R);
    expect(d.fellBack).toBe(true);
    expect(d.warpAgreement).toBeLessThan(d.copyAgreement);
  });

  it('keeps the zero flow (the copy itself: equal agreement)', () => {
    const d = safetyNetDecision(reference, test, constantFlow(0), R);
    expect(d.fellBack).toBe(false);
    expect(d.warpAgreement).toBeCloseTo(d.copyAgreement, 6);
  });

  it('local correlation: 1 for identical planes, −1 for an inverted one, 0 when every window is flat', () => {
    const a = Float32Array.from({ length: 36 }, (_, i) => (i % 6) / 5 + Math.floor(i / 6) / 10);
    expect(meanLocalCorrelation(a, a, 6, 3)).toBeCloseTo(1, 6);
    expect(meanLocalCorrelation(a, a.map((v) => 1 - v), 6, 3)).toBeCloseTo(-1, 6);
    expect(meanLocalCorrelation(new Float32Array(36).fill(0.5), a, 6, 3)).toBe(0);
  });
});
