/**
 * Test-time perturbation consistency of the registration: the target's working image is perturbed a little
 * (brightness curve, noise, a shift of a few pixels), the warping model predicts a flow for each copy, and the
 * reference label warped with each flow is compared with the unperturbed result per class. A registration that is
 * well determined by the image barely moves; one that is guessing (a scan unlike the reference, a failed alignment)
 * moves a lot. Pure (typed arrays); the caller runs the model on the perturbed copies.
 */
import { gaussianSource, mulberry32 } from '../image/random.js';
import type { LabelMap } from '../image/types.js';

export type PerturbationKind = 'gamma-down' | 'gamma-up' | 'noise' | 'shift';

export interface Perturbation {
  kind: PerturbationKind;
  /** Shift in working pixels (x, y) for 'shift': perturbed(x, y) = original(x − dx, y − dy). */
  shift: [number, number];
}

/** The default set: two brightness curves, Gaussian noise and a shift of 1/32 of the side. */
export function defaultPerturbations(size: number): Perturbation[] {
  const s = Math.max(1, Math.round(size / 32));
  return [
    { kind: 'gamma-down', shift: [0, 0] },
    { kind: 'gamma-up', shift: [0, 0] },
    { kind: 'noise', shift: [0, 0] },
    { kind: 'shift', shift: [s, s] },
  ];
}

/** A perturbed copy of a size×size working image in [0, 1] (deterministic: the noise is seeded). */
export function perturbWorkingImage(work: Float32Array, size: number, p: Perturbation, seed = 1): Float32Array {
  const out = new Float32Array(work.length);
  if (p.kind === 'gamma-down' || p.kind === 'gamma-up') {
    const g = p.kind === 'gamma-down' ? 0.7 : 1.4;
    for (let i = 0; i < work.length; i++) out[i] = Math.pow(Math.min(1, Math.max(0, work[i]!)), g);
  } else if (p.kind === 'noise') {
    // Gaussian noise, σ = 0.03 of the intensity range.
    const gaussian = gaussianSource(mulberry32(seed));
    for (let i = 0; i < work.length; i++) out[i] = work[i]! + 0.03 * gaussian();
  } else {
    const [dx, dy] = p.shift;
    for (let y = 0; y < size; y++) {
      const sy = Math.min(size - 1, Math.max(0, y - dy));
      for (let x = 0; x < size; x++) out[y * size + x] = work[sy * size + Math.min(size - 1, Math.max(0, x - dx))]!;
    }
  }
  return out;
}

/**
 * Per-class Dice between the label predicted for the original image and the one predicted for a perturbed copy
 * (both size×size), undoing a shift first: perturbed(x + dx, y + dy) is compared with original(x, y), over the
 * pixels where both exist. A class absent from both gives 1.
 */
export function perturbationAgreement(original: LabelMap, perturbed: LabelMap, classes: readonly number[], shift: readonly [number, number] = [0, 0]): Map<number, number> {
  const { width, height } = original;
  const [dx, dy] = shift;
  const counts = new Map<number, { a: number; b: number; both: number }>(classes.map((c) => [c, { a: 0, b: 0, both: 0 }]));
  for (let y = Math.max(0, -dy); y < Math.min(height, height - dy); y++) {
    for (let x = Math.max(0, -dx); x < Math.min(width, width - dx); x++) {
      const a = original.data[y * width + x]!;
      const b = perturbed.data[(y + dy) * width + x + dx]!;
      const ca = counts.get(a);
      const cb = counts.get(b);
      if (ca) ca.a++;
      if (cb) cb.b++;
      if (ca && a === b) ca.both++;
    }
  }
  const out = new Map<number, number>();
  for (const [cls, c] of counts) out.set(cls, c.a + c.b === 0 ? 1 : (2 * c.both) / (c.a + c.b));
  return out;
}
