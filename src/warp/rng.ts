/**
 * Seeded uniform random source for the pure augmentation code. Any object with `next(): number` in [0, 1) works
 * (warp-model's SeededRng fits); `mulberry32(seed)` is a small default. Deterministic: the same seed gives the same
 * sequence on every platform (32-bit integer arithmetic only).
 */
export interface UniformRng {
  /** Uniform in [0, 1). */
  next(): number;
}

/** mulberry32 (Tommy Ettinger's 32-bit generator): period 2³², fine for augmentation draws. */
export function mulberry32(seed: number): UniformRng {
  let s = seed >>> 0;
  return {
    next(): number {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

/** Uniform in [lo, hi). */
export function uniform(rng: UniformRng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.next();
}
