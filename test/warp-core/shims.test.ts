import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initTf } from '../../src/warp/backend.js';
import { onBackend, randomValues, relErr } from './helpers.js';

/** Gradients of sum(f(x, w) * r) w.r.t. x and w, with r a fixed random cotangent. */
function gradsOf(
  f: (x: tf.Tensor, w: tf.Tensor) => tf.Tensor,
  xShape: number[], wShape: number[], seed: number,
): () => tf.Tensor[] {
  return () => {
    const x = tf.tensor(randomValues(xShape.reduce((a, b) => a * b, 1), seed), xShape);
    const w = tf.tensor(randomValues(wShape.reduce((a, b) => a * b, 1), seed + 1), wShape);
    const y0 = f(x, w);
    const r = tf.tensor(randomValues(y0.size, seed + 2), y0.shape);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, b), r)));
    const [gx, gw] = g([x, w]);
    return [y0, gx!, gw!];
  };
}

async function compareWithCpu(fn: () => tf.Tensor[]): Promise<number[]> {
  const wasm = await onBackend('wasm', fn);
  const cpu = await onBackend('cpu', fn);
  return wasm.map((a, i) => relErr(a, cpu[i]!));
}

describe('wasm shims (gradients vs the cpu backend)', () => {
  it('initialises wasm', async () => {
    expect(await initTf({ backend: 'wasm' })).toBe('wasm');
  });

  const convCases: Array<{ name: string; x: number[]; w: number[]; stride: number; pad: 'same' | 'valid' }> = [
    { name: '3x3 stride 1 same', x: [2, 9, 8, 3], w: [3, 3, 3, 4], stride: 1, pad: 'same' },
    { name: '3x3 stride 2 same (even size)', x: [2, 8, 10, 3], w: [3, 3, 3, 5], stride: 2, pad: 'same' },
    { name: '3x3 stride 2 same (odd size)', x: [1, 9, 7, 2], w: [3, 3, 2, 3], stride: 2, pad: 'same' },
    { name: '4x4 stride 2 valid', x: [2, 10, 9, 2], w: [4, 4, 2, 3], stride: 2, pad: 'valid' },
    { name: '1x1 stride 1', x: [2, 5, 6, 4], w: [1, 1, 4, 2], stride: 1, pad: 'same' },
    { name: '5x5 stride 1 valid', x: [1, 9, 9, 2], w: [5, 5, 2, 2], stride: 1, pad: 'valid' },
  ];
  for (const c of convCases) {
    it(`conv2d gradient: ${c.name}`, async () => {
      const errs = await compareWithCpu(
        gradsOf((x, w) => tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, c.stride, c.pad), c.x, c.w, 11));
      for (const e of errs) expect(e).toBeLessThan(1e-4);
    });
  }

  it('conv2dTranspose forward + gradients (stride 2, same)', async () => {
    const errs = await compareWithCpu(gradsOf(
      (x, w) => tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [2, 6, 8, 3], 2, 'same'),
      [2, 3, 4, 5], [3, 3, 3, 5], 21));
    for (const e of errs) expect(e).toBeLessThan(1e-4);
  });

  for (const [stride, mult] of [[1, 1], [2, 1], [1, 2]] as const) {
    it(`depthwiseConv2d gradient: stride ${stride}, multiplier ${mult}`, async () => {
      const errs = await compareWithCpu(gradsOf(
        (x, w) => tf.depthwiseConv2d(x as tf.Tensor4D, w as tf.Tensor4D, stride, 'same'),
        [2, 8, 7, 3], [3, 3, 3, mult], 31));
      for (const e of errs) expect(e).toBeLessThan(1e-4);
    });
  }

  it('gather gradient (UnsortedSegmentSum), repeated and out-of-order indices', async () => {
    const errs = await compareWithCpu(() => {
      const x = tf.tensor2d(randomValues(6 * 3, 5), [6, 3]);
      const idx = tf.tensor1d([5, 0, 0, 3, 5, 5, 2], 'int32');
      const r = tf.tensor2d(randomValues(7 * 3, 6), [7, 3]);
      const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.gather(a, idx), r)))(x);
      return [g];
    });
    expect(errs[0]).toBeLessThan(1e-6);
  });

  it('matMul gradients with transposes (BatchMatMul wrapper)', async () => {
    const errs = await compareWithCpu(gradsOf(
      (a, b) => tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, true, false), [2, 5, 4], [2, 5, 3], 41));
    for (const e of errs) expect(e).toBeLessThan(1e-4);
    const errs2 = await compareWithCpu(gradsOf(
      (a, b) => tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D, false, true), [4, 6], [3, 6], 42));
    for (const e of errs2) expect(e).toBeLessThan(1e-4);
  });

  it('resizeBilinear, avgPool, maxPool, softmax, leakyRelu, erf, cumsum, pad/slice/concat gradients', async () => {
    const errs = await compareWithCpu(gradsOf((x, w) => {
      const x4 = x as tf.Tensor4D;
      const up = tf.image.resizeBilinear(x4, [12, 10], false, false);
      const pooled = tf.add(tf.avgPool(up, 2, 2, 'same'), tf.maxPool(up, 3, 2, 'same'));
      const act = tf.leakyRelu(tf.mul(pooled, tf.erf(pooled)), 0.2);
      const sm = tf.softmax(tf.concat([act, tf.pad(tf.slice(act, [0, 1, 0, 0], [-1, 4, -1, -1]), [[0, 0], [1, 1], [0, 0], [0, 0]])], 3));
      return tf.add(tf.cumsum(sm, 2), tf.sum(w));
    }, [2, 6, 5, 3], [2], 51));
    for (const e of errs) expect(e).toBeLessThan(1e-4);
  });

  it('transformer-block ops (layer norm, attention batchMatMul, softmax, tanh-GELU, sigmoid, where) gradients', async () => {
    const errs = await compareWithCpu(gradsOf((x, w) => {
      // x [2, 6 tokens, 4 dims]; w [4, 12] → q, k, v
      const { mean, variance } = tf.moments(x, -1, true);
      const ln = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5)));
      const qkv = tf.matMul(tf.reshape(ln, [-1, 4]), w as tf.Tensor2D);
      const [q, k, v] = tf.split(tf.reshape(qkv, [2, 6, 12]), 3, 2);
      const att = tf.softmax(tf.div(tf.matMul(q as tf.Tensor3D, k as tf.Tensor3D, false, true), 2));
      const o = tf.matMul(att, v as tf.Tensor3D);
      const gelu = tf.mul(tf.mul(o, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(o, tf.mul(0.044715, tf.pow(o, 3)))))));
      return tf.add(gelu, tf.where(tf.greater(o, 0), tf.sigmoid(o), tf.mul(o, 0.1)));
    }, [2, 6, 4], [4, 12], 81));
    for (const e of errs) expect(e).toBeLessThan(1e-4);
  });

  it('maxPool gradient goes to the first maximum of each window (multi-channel, batch 2)', async () => {
    const [B, H, W, C] = [2, 6, 5, 3];
    const xv = randomValues(B * H * W * C, 71);
    // Reference: 3x3 window, stride 2, 'same' padding: total pad (H: 2*2+3-6=1 → top 0), (W: 2*2+3-5=2 → left 1).
    const ref = new Float32Array(xv.length);
    const r = randomValues(B * 3 * 3 * C, 72);
    for (let b = 0; b < B; b++) for (let oy = 0; oy < 3; oy++) for (let ox = 0; ox < 3; ox++) for (let c = 0; c < C; c++) {
      let best = -Infinity;
      let bi = -1;
      for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
        const y = oy * 2 + ky;
        const x = ox * 2 - 1 + kx;
        if (y >= H || x < 0 || x >= W) continue;
        const i = ((b * H + y) * W + x) * C + c;
        if (xv[i]! > best) { best = xv[i]!; bi = i; }
      }
      ref[bi]! += r[((b * 3 + oy) * 3 + ox) * C + c]!;
    }
    for (const backend of ['wasm', 'cpu'] as const) {
      const [g] = await onBackend(backend, () => {
        const rt = tf.tensor4d(r, [B, 3, 3, C]);
        return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 3, 2, 'same'), rt)))(tf.tensor4d(xv, [B, H, W, C]))];
      });
      expect(relErr(g!, ref)).toBeLessThan(1e-6);
    }
  });

  for (const [alignCorners, halfPixel] of [[false, false], [false, true], [true, false]] as const) {
    it(`resizeBilinear gradient is the adjoint of the forward (non-square, alignCorners=${alignCorners}, halfPixelCenters=${halfPixel})`, async () => {
      // resize is linear: <R x, r> must equal <x, R^T r> for every x; R^T r is the gradient of sum(R(x) * r).
      for (const backend of ['wasm', 'cpu'] as const) {
        const [lhs, rhs] = await onBackend(backend, () => {
          const x = tf.tensor4d(randomValues(2 * 6 * 5 * 3, 61), [2, 6, 5, 3]);
          const r = tf.tensor4d(randomValues(2 * 13 * 7 * 3, 62), [2, 13, 7, 3]);
          const f = (a: tf.Tensor): tf.Tensor => tf.image.resizeBilinear(a as tf.Tensor4D, [13, 7], alignCorners, halfPixel);
          const g = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(f(a), r)))(tf.zerosLike(x));
          return [tf.sum(tf.mul(f(x), r)), tf.sum(tf.mul(x, g))];
        });
        expect(Math.abs(lhs![0]! - rhs![0]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(lhs![0]!)));
      }
    });
  }

  it('frees its intermediates (no tensor memory growth across repeated gradient steps)', async () => {
    await initTf({ backend: 'wasm' });
    const x = tf.tensor4d(randomValues(2 * 16 * 16 * 4, 1), [2, 16, 16, 4]);
    const w = tf.variable(tf.tensor4d(randomValues(3 * 3 * 4 * 4, 2), [3, 3, 4, 4]));
    const dw = tf.variable(tf.tensor4d(randomValues(3 * 3 * 4 * 1, 3), [3, 3, 4, 1]));
    const idx = tf.tensor1d([0, 3, 3, 1], 'int32');
    const step = (): void => {
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => {
          const y = tf.depthwiseConv2d(tf.conv2d(x, w, 2, 'same'), dw as tf.Tensor4D, 1, 'same');
          const yt = tf.conv2dTranspose(y, w as tf.Tensor4D, [2, 16, 16, 4], 2, 'same');
          return tf.sum(tf.gather(tf.reshape(yt, [-1, 4]), idx));
        });
        tf.dispose(grads);
      });
    };
    step();
    const before = tf.memory();
    for (let i = 0; i < 3; i++) step();
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    tf.dispose([x, w, dw, idx]);
  });

  it('Identity shares the data instead of copying it: a clone outlives its source, and the backend frees both', async () => {
    await initTf({ backend: 'wasm' });
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const idsBefore = backend.numDataIds();
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a); // runs the Identity kernel
    expect(backend.numDataIds()).toBe(idsBefore + 1); // one buffer for both
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3]);
    b.dispose();
    expect(backend.numDataIds()).toBe(idsBefore);
    // a variable assigned from a clone keeps its value when the clone goes
    const v = tf.variable(tf.zeros([3]));
    const c = tf.clone(tf.tensor1d([4, 5, 6]));
    v.assign(c);
    c.dispose();
    expect(Array.from(v.dataSync())).toEqual([4, 5, 6]);
    v.dispose();
  });

  it('SplitV along the last axis (the concat gradient) equals the cpu backend; other axes still work', async () => {
    const run = () => {
      const x = tf.tensor4d(randomValues(2 * 5 * 3 * 7, 4), [2, 5, 3, 7]);
      const last = tf.split(x, [2, 4, 1], 3).map((t) => Array.from(t.dataSync()));
      const even = tf.split(x, 7, -1).map((t) => Array.from(t.dataSync()));
      const mid = tf.split(x, [1, 4], 1).map((t) => Array.from(t.dataSync()));
      // concat's gradient is a SplitV on the concat axis
      const a = tf.tensor4d(randomValues(2 * 5 * 3 * 3, 5), [2, 5, 3, 3]);
      const b = tf.tensor4d(randomValues(2 * 5 * 3 * 4, 6), [2, 5, 3, 4]);
      const w = tf.tensor4d(randomValues(2 * 5 * 3 * 7, 7), [2, 5, 3, 7]);
      const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.concat([p, q], 3), w)))([a, b]);
      return { last, even, mid, ga: Array.from(ga!.dataSync()), gb: Array.from(gb!.dataSync()) };
    };
    await initTf({ backend: 'cpu' });
    const want = run();
    await initTf({ backend: 'wasm' });
    const got = run();
    expect(got).toEqual(want);
  });
});
