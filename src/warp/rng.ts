/**
 * Seeded uniform random source for the pure augmentation code. Any object with `next(): number` in [0, 1) works
 * (warp-model's SeededRng fits); `mulberry32(seed)` is a small default. Deterministic: the same seed gives the same
 * sequence on every platform (32-bit integer arithmetic only).
 */
import { mulberry32 as uniformSource } from '../image/random.js';

export interface UniformRng {
  /** Uniform in [0, 1). */
  next(): number;
}

/** mulberry32 (image/random.ts) as a UniformRng: period 2³², fine for augmentation draws. */
export function mulberry32(seed: number): UniformRng {
  return { next: uniformSource(seed) };
}

/** Uniform in [lo, hi). */
export function uniform(rng: UniformRng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.next();
}
