import { describe, expect, it } from 'vitest';
import { defaultPerturbations, perturbationAgreement, perturbWorkingImage } from '../../src/eval/quality-tta.js';
import type { LabelMap } from '../../src/image/types.js';

const S = 8;
const ramp = Float32Array.from({ length: S * S }, (_, i) => (i % S) / (S - 1));

/** A square of class 1 at (x0, y0), side 3, on an S×S map. */
function square(x0: number, y0: number): LabelMap {
  const data = new Uint8Array(S * S);
  for (let y = y0; y < y0 + 3; y++) for (let x = x0; x < x0 + 3; x++) data[y * S + x] = 1;
  return { width: S, height: S, data };
}

describe('perturbWorkingImage', () => {
  it('brightness curves: v^0.7 and v^1.4, clamped to [0, 1]', () => {
    const down = perturbWorkingImage(ramp, S, { kind: 'gamma-down', shift: [0, 0] });
    const up = perturbWorkingImage(ramp, S, { kind: 'gamma-up', shift: [0, 0] });
    expect(down[3]).toBeCloseTo((3 / 7) ** 0.7, 6);
    expect(up[3]).toBeCloseTo((3 / 7) ** 1.4, 6);
    expect(down[0]).toBe(0);
    expect(up[S - 1]).toBe(1);
  });
  it('shift: perturbed(x, y) = original(x − dx, y − dy), edge pixels repeated', () => {
    const out = perturbWorkingImage(ramp, S, { kind: 'shift', shift: [2, 1] });
    expect(out[1 * S + 5]).toBe(ramp[0 * S + 3]);
    expect(out[0]).toBe(ramp[0]);
    expect(out[1]).toBe(ramp[0]);
  });
  it('noise: deterministic for a seed, σ about 0.03', () => {
    const flat = new Float32Array(4096).fill(0.5);
    const a = perturbWorkingImage(flat, 64, { kind: 'noise', shift: [0, 0] }, 7);
    expect(perturbWorkingImage(flat, 64, { kind: 'noise', shift: [0, 0] }, 7)).toEqual(a);
    const sd = Math.sqrt(a.reduce((s, v) => s + (v - 0.5) ** 2, 0) / a.length);
    expect(sd).toBeGreaterThan(0.027);
    expect(sd).toBeLessThan(0.033);
  });
  it('the default set scales the shift with the grid (4 px at 128)', () => {
    expect(defaultPerturbations(128).map((p) => p.kind)).toEqual(['gamma-down', 'gamma-up', 'noise', 'shift']);
    expect(defaultPerturbations(128)[3]!.shift).toEqual([4, 4]);
  });
});

describe('perturbationAgreement', () => {
  it('a label that moved with a shifted input agrees fully once the shift is undone', () => {
    expect(perturbationAgreement(square(2, 2), square(3, 4), [1], [1, 2]).get(1)).toBe(1);
  });
  it('a label that did not move with the shifted input: Dice of the squares offset by (1, 2): overlap 2×1 of 9 + 9', () => {
    expect(perturbationAgreement(square(2, 2), square(2, 2), [1], [1, 2]).get(1)).toBeCloseTo(4 / 18, 12);
  });
  it('a class absent from both agrees (1)', () => {
    expect(perturbationAgreement(square(2, 2), square(2, 2), [1, 2]).get(2)).toBe(1);
  });
});
