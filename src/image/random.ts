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
