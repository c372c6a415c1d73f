import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/warp/backend.js';

/** Deterministic pseudo-random values in [-1, 1) (LCG), so tests do not depend on tf.random. */
export function randomValues(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Run fn on a backend and return plain arrays of every output (tensors are disposed). */
export async function onBackend(backend: 'wasm' | 'cpu', fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  await initTf({ backend });
  const outs = tf.tidy(fn);
  const arrays = outs.map((t) => t.dataSync() as Float32Array).map((a) => Float32Array.from(a));
  tf.dispose(outs);
  return arrays;
}

/** max |a-b| / max(1e-6, max |b|): relative error against the reference b. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < a.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    maxRef = Math.max(maxRef, Math.abs(b[i]!));
  }
  return maxDiff / Math.max(1e-6, maxRef);
}
