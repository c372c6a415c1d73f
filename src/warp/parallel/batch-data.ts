/**
 * One training batch as plain arrays (what crosses a thread boundary), its split into data-parallel shards, and the
 * tensors of a shard (pure; runs in a browser or any worker).
 *
 * A batch holds B test images (some with a §3.3 pseudolabel) and A augmented reference pairs (Eq. 2), all at the
 * working resolution R. Its samples, tests first then augmented pairs, are cut into contiguous shards of nearly
 * equal size (the later shards take the extra sample: the main thread, which computes shard 0, also assembles
 * batches and applies the update). Each shard carries its BatchShares, so the shards' losses and gradients add up
 * to the whole batch's (trainer.ts).
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchShares, WarpBatch } from '../trainer.js';
import { referenceOnGrid } from '../coarse.js';

export interface BatchData {
  /** Working resolution R and one-hot channels K (background + classes). */
  resolution: number;
  classesWithBackground: number;
  /** Test images, R×R each. */
  tests: Float32Array[];
  /** Per test: its pseudolabel as R×R×K soft one-hot, or null. */
  pseudo: (Float32Array | null)[];
  /** Augmented reference pairs: images R×R and one-hot masks R×R×K. */
  augImages: Float32Array[];
  augOneHot: Float32Array[];
}

/** A shard: contiguous copies of its samples (ready to become tensors) and its shares of the batch means. */
export interface ShardData {
  resolution: number;
  classesWithBackground: number;
  nTests: number;
  /** nTests·R·R values. */
  tests: Float32Array;
  /** Positions (within this shard's tests) of the tests with a pseudolabel, and those pseudolabels (P·R·R·K). */
  pseudoIndex: number[];
  pseudoOneHot: Float32Array;
  nAug: number;
  /** nAug·R·R and nAug·R·R·K values. */
  augImages: Float32Array;
  augOneHot: Float32Array;
  shares: BatchShares;
}

/** Shard sizes for `total` samples over at most `count` shards: as equal as possible, the extra ones last. */
export function shardSizes(total: number, count: number): number[] {
  const n = Math.max(1, Math.min(count, total));
  const base = Math.floor(total / n);
  const extra = total % n;
  return Array.from({ length: n }, (_, i) => base + (i >= n - extra ? 1 : 0));
}

function concat(arrays: Float32Array[], each: number): Float32Array {
  const out = new Float32Array(arrays.length * each);
  arrays.forEach((a, i) => out.set(a, i * each));
  return out;
}

/** Cut a batch into at most `count` shards (fewer when the batch has fewer samples). */
export function splitBatch(batch: BatchData, count: number): ShardData[] {
  const R = batch.resolution;
  const K = batch.classesWithBackground;
  const B = batch.tests.length;
  const A = batch.augImages.length;
  const P = batch.pseudo.filter((p) => p !== null).length;
  const shards: ShardData[] = [];
  let start = 0;
  for (const size of shardSizes(B + A, count)) {
    const end = start + size;
    const testIdx: number[] = [];
    const augIdx: number[] = [];
    for (let s = start; s < end; s++) (s < B ? testIdx : augIdx).push(s < B ? s : s - B);
    const pseudoIndex: number[] = [];
    const pseudoArrays: Float32Array[] = [];
    testIdx.forEach((t, j) => {
      const p = batch.pseudo[t];
      if (p) {
        pseudoIndex.push(j);
        pseudoArrays.push(p);
      }
    });
    shards.push({
      resolution: R,
      classesWithBackground: K,
      nTests: testIdx.length,
      tests: concat(testIdx.map((t) => batch.tests[t]!), R * R),
      pseudoIndex,
      pseudoOneHot: concat(pseudoArrays, R * R * K),
      nAug: augIdx.length,
      augImages: concat(augIdx.map((a) => batch.augImages[a]!), R * R),
      augOneHot: concat(augIdx.map((a) => batch.augOneHot[a]!), R * R * K),
      // A single shard has shares of exactly 1 (the whole-batch loss, computed as without sharding).
      shares: {
        tests: B > 0 ? testIdx.length / B : 1,
        augmented: A > 0 ? augIdx.length / A : 1,
        pseudo: P > 0 ? pseudoIndex.length / P : 1,
      },
    });
    start = end;
  }
  return shards;
}

/** The whole batch as one shard (shares 1). */
export function wholeBatch(batch: BatchData): ShardData {
  return splitBatch(batch, 1)[0]!;
}

/** Tensors of a shard for trainer.ts (the caller disposes them with disposeWarpBatch). */
export function shardTensors(shard: ShardData, referenceWork: Float32Array, referenceOneHotWork: Float32Array): WarpBatch {
  const R = shard.resolution;
  const K = shard.classesWithBackground;
  // A coarse step's shard (coarse.ts) takes the reference on its own grid.
  const { image: reference, oneHot: referenceOneHot } = referenceOnGrid(referenceWork, referenceOneHotWork, R);
  const tests = shard.nTests > 0 ? tf.tensor4d(shard.tests, [shard.nTests, R, R, 1]) : null;
  const pseudo =
    shard.pseudoIndex.length > 0
      ? { index: [...shard.pseudoIndex], oneHot: tf.tensor4d(shard.pseudoOneHot, [shard.pseudoIndex.length, R, R, K]) }
      : null;
  const augmented =
    shard.nAug > 0
      ? { images: tf.tensor4d(shard.augImages, [shard.nAug, R, R, 1]), oneHot: tf.tensor4d(shard.augOneHot, [shard.nAug, R, R, K]) }
      : null;
  return {
    reference: tf.tensor4d(reference, [1, R, R, 1]),
    referenceOneHot: tf.tensor4d(referenceOneHot, [1, R, R, K]),
    tests,
    pseudo,
    augmented,
  };
}

export function disposeWarpBatch(b: WarpBatch): void {
  b.reference.dispose();
  b.referenceOneHot.dispose();
  b.tests?.dispose();
  b.pseudo?.oneHot.dispose();
  b.augmented?.images.dispose();
  b.augmented?.oneHot.dispose();
}
