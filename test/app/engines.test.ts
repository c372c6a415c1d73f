/**
 * The GPU engines' replacement gradient of bilinear resizing (src/app/engines.ts) against TF.js's forward resize and
 * the fixed CPU gradient kernel (src/warp/shims.ts) — on the cpu backend, so it runs in Node.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { resizeAxisMatrix, separableResizeGradient } from '../../src/app/engines.js';
import { initTf } from '../../src/warp/backend.js';

beforeAll(async () => {
  await initTf({ backend: 'cpu' }); // registers the fixed ResizeBilinearGrad kernel
});

const cases: { shape: [number, number, number, number]; out: [number, number]; align: boolean; hpc: boolean }[] = [
  { shape: [1, 4, 4, 2], out: [8, 8], align: false, hpc: true },
  { shape: [2, 3, 5, 1], out: [7, 4], align: false, hpc: true },
  { shape: [1, 6, 3, 3], out: [4, 9], align: false, hpc: false },
  { shape: [1, 5, 4, 2], out: [9, 7], align: true, hpc: false },
];

function input(shape: number[], k: number): tf.Tensor4D {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor4d(Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + k)), shape as [number, number, number, number]);
}

describe('separable bilinear resize', () => {
  it('the axis matrices reproduce tf.image.resizeBilinear (forward)', () => {
    for (const c of cases) {
      const x = input(c.shape, 1);
      const y = tf.image.resizeBilinear(x, c.out, c.align, c.hpc);
      const [b, h, w, ch] = c.shape;
      const ry = tf.tensor2d(resizeAxisMatrix(h, c.out[0], c.align, c.hpc), [c.out[0], h]);
      const rx = tf.tensor2d(resizeAxisMatrix(w, c.out[1], c.align, c.hpc), [c.out[1], w]);
      const mine = tf.einsum('bpwc,qw->bpqc', tf.einsum('ph,bhwc->bpwc', ry, x), rx);
      expect(mine.shape).toEqual([b, c.out[0], c.out[1], ch]);
      expect(tf.max(tf.abs(tf.sub(mine, y))).dataSync()[0]).toBeLessThan(1e-5);
    }
  });

  it('its gradient equals the fixed CPU kernel, non-square and batched', () => {
    for (const c of cases) {
      const x = input(c.shape, 2);
      const dy = input([c.shape[0], c.out[0], c.out[1], c.shape[3]], 3);
      const viaKernel = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeBilinear(t as tf.Tensor4D, c.out, c.align, c.hpc), dy)))(x);
      const mine = separableResizeGradient(dy, x, c.align, c.hpc);
      expect(mine.shape).toEqual(x.shape);
      expect(tf.max(tf.abs(tf.sub(mine, viaKernel))).dataSync()[0]).toBeLessThan(1e-5);
    }
  });
});
