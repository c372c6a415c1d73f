/**
 * The coarse grid of a coarse-to-fine schedule (pure; runs in a browser): the working grid at half its resolution.
 *
 * Frames: coarse pixel (xc, yc) covers working pixels (2xc, 2yc) … (2xc+1, 2yc+1); with pixel centres at integers,
 * x_warp = 2·x_coarse + 0.5, the same centre convention as the working grid's own resize (model.ts). A coarse plane
 * is the 2×2 mean of the working plane (area averaging, as the working copies themselves are made), so soft one-hot
 * channels still sum to 1.
 */
import type { BatchData } from './parallel/batch-data.js';

/** 2×2 mean of an R×R plane with `channels` interleaved values per pixel (R even) → (R/2)×(R/2). */
export function halvePlane(plane: Float32Array, resolution: number, channels = 1): Float32Array {
  const R = resolution;
  if (R % 2 !== 0) throw new Error(`halvePlane: resolution must be even, got ${R}`);
  if (plane.length !== R * R * channels) throw new Error(`halvePlane: expected ${R}x${R}x${channels} values, got ${plane.length}`);
  const H = R / 2;
  const out = new Float32Array(H * H * channels);
  for (let yc = 0; yc < H; yc++) {
    for (let xc = 0; xc < H; xc++) {
      const o = (yc * H + xc) * channels;
      const a = (2 * yc * R + 2 * xc) * channels;
      const b = a + R * channels;
      for (let c = 0; c < channels; c++) {
        out[o + c] = 0.25 * (plane[a + c]! + plane[a + channels + c]! + plane[b + c]! + plane[b + channels + c]!);
      }
    }
  }
  return out;
}

/** A training batch on the coarse grid: every test, pseudolabel and augmented pair halved. */
export function halveBatch(batch: BatchData): BatchData {
  const R = batch.resolution;
  const K = batch.classesWithBackground;
  return {
    resolution: R / 2,
    classesWithBackground: K,
    tests: batch.tests.map((t) => halvePlane(t, R)),
    pseudo: batch.pseudo.map((p) => (p ? halvePlane(p, R, K) : null)),
    augImages: batch.augImages.map((a) => halvePlane(a, R)),
    augOneHot: batch.augOneHot.map((a) => halvePlane(a, R, K)),
  };
}

/**
 * The reference image (R×R) and its one-hot label (R×R×K) on the grid of `resolution` (R or R/2): a shard carries
 * its own resolution, the thread that computes it holds the reference at the working resolution.
 */
export function referenceOnGrid(
  reference: Float32Array,
  referenceOneHot: Float32Array,
  resolution: number,
): { image: Float32Array; oneHot: Float32Array } {
  const R = Math.round(Math.sqrt(reference.length));
  if (resolution === R) return { image: reference, oneHot: referenceOneHot };
  if (resolution * 2 !== R) throw new Error(`the reference is ${R}x${R}; a shard at ${resolution} px is neither that grid nor its coarse grid`);
  const K = referenceOneHot.length / (R * R);
  return { image: halvePlane(reference, R), oneHot: halvePlane(referenceOneHot, R, K) };
}
