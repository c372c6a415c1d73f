/**
 * The computations a thread does for the parallel warp trainer, on whichever network it holds: the gradients of
 * one shard, and flows for a list of working images. The main thread runs them on the model's own network; a
 * worker (worker-server.ts) on its replica, after loading the weights the main thread sent. Pure tfjs (no Node
 * API), so the same code runs in the main thread, a worker_thread or a Web Worker.
 */
import * as tf from '@tensorflow/tfjs';
import type { WarpNetwork } from '../network.js';
import { batchGradients, type FlatGradients, type WarpLossOptions } from '../trainer.js';
import { disposeWarpBatch, shardTensors, type ShardData } from './batch-data.js';

export function shardGradients(
  network: WarpNetwork,
  shard: ShardData,
  reference: Float32Array,
  referenceOneHot: Float32Array,
  loss: WarpLossOptions,
): FlatGradients {
  const batch = shardTensors(shard, reference, referenceOneHot);
  try {
    return batchGradients(network, batch, loss, shard.shares);
  } finally {
    disposeWarpBatch(batch);
  }
}

/**
 * Flows (R×R×2 each, xyWarp test → reference; network.ts) of working images, computed `batchSize` at a time.
 * Each image's flow does not depend on the others in its batch (every layer works per image).
 */
export function predictFlows(network: WarpNetwork, reference: Float32Array, works: readonly Float32Array[], batchSize = 8): Float32Array[] {
  const R = network.config.resolution;
  const out: Float32Array[] = [];
  const ref = tf.tensor4d(reference, [1, R, R, 1]);
  try {
    for (let s = 0; s < works.length; s += batchSize) {
      const chunk = works.slice(s, s + batchSize);
      const buf = new Float32Array(chunk.length * R * R);
      chunk.forEach((w, j) => buf.set(w, j * R * R));
      const flat = tf.tidy(() => network.forward(tf.tensor4d(buf, [chunk.length, R, R, 1]), ref).flowXyWarp.dataSync() as Float32Array);
      for (let j = 0; j < chunk.length; j++) out.push(flat.slice(j * R * R * 2, (j + 1) * R * R * 2));
    }
  } finally {
    ref.dispose();
  }
  return out;
}

/** The network's weights as one flat array in parameter-store order (the layout workers receive). */
export function flatWeights(network: WarpNetwork): Float32Array {
  const vars = network.params.variables();
  let size = 0;
  for (const v of vars) size += v.size;
  const out = new Float32Array(size);
  let offset = 0;
  for (const v of vars) {
    out.set(v.dataSync() as Float32Array, offset);
    offset += v.size;
  }
  return out;
}

/** Load flat weights (layout of flatWeights) into a network. */
export function loadFlatWeights(network: WarpNetwork, flat: Float32Array): void {
  const vars = network.params.variables();
  let offset = 0;
  tf.tidy(() => {
    for (const v of vars) {
      v.assign(tf.tensor(flat.subarray(offset, offset + v.size), v.shape));
      offset += v.size;
    }
  });
  if (offset !== flat.length) throw new Error(`weight vector has ${flat.length} values, the network ${offset}`);
}
