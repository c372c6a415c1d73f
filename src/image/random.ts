/**
 * Seeded uniform random numbers for the pure code (phantoms, Hopkins statistic sampling, augmentation draws).
 * Deterministic on every platform: 32-bit integer arithmetic only.
 */

/** mulberry32 (Tommy Ettinger's 32-bit generator, period 2³²): a seeded source of floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Standard normal draws from a uniform source (Box–Muller, both outputs used: r = √(−2 ln(1 − u₁)), θ = 2πu₂,
 * r·cos θ, then r·sin θ on the next call).
 */
export function gaussianSource(uniform: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const g = spare;
      spare = null;
      return g;
    }
    const r = Math.sqrt(-2 * Math.log(1 - uniform()));
    const t = 2 * Math.PI * uniform();
    spare = r * Math.sin(t);
    return r * Math.cos(t);
  };
}
