import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from '../../src/warp/backend.js';
import { diceCELoss, diceLoss, flowGradL2, multiScaleNccLoss, nccLoss, ssimLoss } from '../../src/warp/losses.js';
import { onBackend, randomValues, relErr } from './helpers.js';

const img = (v: Float32Array, H: number, W: number): tf.Tensor4D => tf.tensor4d(v, [1, H, W, 1]);
const unit = (n: number, seed: number): Float32Array => randomValues(n, seed).map((v) => 0.5 + 0.5 * v);

/** Double-precision reference of local window statistics (valid windows, single channel). */
function windowStats(a: Float32Array, b: Float32Array, H: number, W: number, w: number): Array<{ ma: number; mb: number; va: number; vb: number; cov: number }> {
  const out = [];
  for (let y = 0; y + w <= H; y++) for (let x = 0; x + w <= W; x++) {
    let sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
    for (let dy = 0; dy < w; dy++) for (let dx = 0; dx < w; dx++) {
      const i = (y + dy) * W + x + dx;
      sa += a[i]!; sb += b[i]!; saa += a[i]! * a[i]!; sbb += b[i]! * b[i]!; sab += a[i]! * b[i]!;
    }
    const n = w * w;
    const ma = sa / n, mb = sb / n;
    out.push({ ma, mb, va: saa / n - ma * ma, vb: sbb / n - mb * mb, cov: sab / n - ma * mb });
  }
  return out;
}

describe('losses (wasm)', () => {
  beforeAll(async () => { await initTf({ backend: 'wasm' }); });

  it('ssimLoss: identical images → 0 with zero gradient', () => {
    const a = img(unit(12 * 11, 1), 12, 11);
    expect(Math.abs(ssimLoss(a, a).dataSync()[0]!)).toBeLessThan(1e-6);
    const g = tf.grad((x: tf.Tensor) => ssimLoss(x as tf.Tensor4D, a))(a).dataSync();
    for (const v of g) expect(Math.abs(v)).toBeLessThan(1e-4);
  });

  it('ssimLoss: two constant images give the closed form (2μaμb+C1)/(μa²+μb²+C1)', () => {
    const a = tf.fill([1, 9, 9, 1], 0.2) as tf.Tensor4D;
    const b = tf.fill([1, 9, 9, 1], 0.6) as tf.Tensor4D;
    const c1 = 1e-4;
    expect(ssimLoss(a, b).dataSync()[0]).toBeCloseTo(1 - (2 * 0.12 + c1) / (0.04 + 0.36 + c1), 5);
  });

  it('ssimLoss: random images match a double-precision reference (window 7 and 3)', () => {
    const [H, W] = [10, 12];
    const av = unit(H * W, 2), bv = unit(H * W, 3);
    for (const w of [7, 3]) {
      const s = windowStats(av, bv, H, W, w);
      const ref = 1 - s.reduce((acc, q) => acc + ((2 * q.ma * q.mb + 1e-4) * (2 * q.cov + 9e-4)) / ((q.ma ** 2 + q.mb ** 2 + 1e-4) * (q.va + q.vb + 9e-4)), 0) / s.length;
      expect(ssimLoss(img(av, H, W), img(bv, H, W), w).dataSync()[0]).toBeCloseTo(ref, 4);
    }
  });

  it('nccLoss: perfectly correlated (b = 2a + 1) and anti-correlated images → −1; matches a reference', () => {
    const [H, W] = [11, 13];
    const av = unit(H * W, 4);
    const a = img(av, H, W);
    expect(nccLoss(a, img(av.map((v) => 2 * v + 1), H, W)).dataSync()[0]).toBeCloseTo(-1, 4);
    expect(nccLoss(a, img(av.map((v) => -v), H, W)).dataSync()[0]).toBeCloseTo(-1, 4);
    const bv = unit(H * W, 5);
    const n = 81;
    const s = windowStats(av, bv, H, W, 9);
    const ref = -s.reduce((acc, q) => acc + (n * q.cov) ** 2 / ((n * q.va) * (n * q.vb) + 1e-5), 0) / s.length;
    expect(nccLoss(a, img(bv, H, W)).dataSync()[0]).toBeCloseTo(ref, 4);
    expect(ref).toBeGreaterThan(-0.5); // independent noise correlates weakly
  });

  it('multiScaleNccLoss: the mean of nccLoss on the images and on their 2×2 area-reduced copies', () => {
    const [H, W] = [22, 26];
    const av = unit(H * W, 6);
    const bv = unit(H * W, 7);
    const a = img(av, H, W);
    const b = img(bv, H, W);
    const reduce = (v: Float32Array) => Float32Array.from({ length: (H / 2) * (W / 2) }, (_, k) => {
      const y = 2 * Math.floor(k / (W / 2));
      const x = 2 * (k % (W / 2));
      return (v[y * W + x]! + v[y * W + x + 1]! + v[(y + 1) * W + x]! + v[(y + 1) * W + x + 1]!) / 4;
    });
    const expected = (nccLoss(a, b).dataSync()[0]! + nccLoss(img(reduce(av), H / 2, W / 2), img(reduce(bv), H / 2, W / 2)).dataSync()[0]!) / 2;
    expect(multiScaleNccLoss(a, b).dataSync()[0]).toBeCloseTo(expected, 5);
    expect(multiScaleNccLoss(a, img(av.map((v) => 3 * v - 1), H, W)).dataSync()[0]).toBeCloseTo(-1, 4);
    expect(multiScaleNccLoss(a, b, { scales: 1 }).dataSync()[0]).toBeCloseTo(nccLoss(a, b).dataSync()[0]!, 6);
  });

  it('flowGradL2: constant flow → 0; (dx, dy) = (x, 3y) → (0.5 + 4.5) / 2', () => {
    const [H, W] = [5, 6];
    const c = new Float32Array(H * W * 2).fill(2.5);
    expect(flowGradL2(tf.tensor4d(c, [1, H, W, 2])).dataSync()[0]).toBe(0);
    const ramp = new Float32Array(H * W * 2);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) { ramp[(y * W + x) * 2] = x; ramp[(y * W + x) * 2 + 1] = 3 * y; }
    // x-differences: channel 0 → 1, channel 1 → 0: mean 0.5; y-differences: ch0 0, ch1 3 → mean 4.5
    expect(flowGradL2(tf.tensor4d(ramp, [1, H, W, 2])).dataSync()[0]).toBeCloseTo((0.5 + 4.5) / 2, 6);
  });

  it('diceCELoss: perfect prediction → ~0; absent class in both → 0; hand-computed value', () => {
    // 2x2 image, K = 3: pixels classes [0, 1, 1, 0], class 2 absent everywhere
    const t = tf.oneHot(tf.tensor1d([0, 1, 1, 0], 'int32'), 3).reshape([1, 2, 2, 3]).toFloat() as tf.Tensor4D;
    expect(Math.abs(diceCELoss(t, t).dataSync()[0]!)).toBeLessThan(1e-5);
    expect(Math.abs(diceLoss(t, t).dataSync()[0]!)).toBeLessThan(1e-6);
    // uniform prediction 1/3: class 1 dice = 2·(2/3)/(4/3 + 2) = 0.4 → 0.6; class 2: inter 0, Σp = 4/3, Σt = 0 → 1
    const p = tf.fill([1, 2, 2, 3], 1 / 3) as tf.Tensor4D;
    const dice = (0.6 + 1) / 2;
    const ce = -Math.log(1 / 3 + 1e-6);
    expect(diceCELoss(p, t).dataSync()[0]).toBeCloseTo(dice + 0.001 * ce, 5);
    expect(diceCELoss(p, t, { diceWeight: 0, ceWeight: 1 }).dataSync()[0]).toBeCloseTo(ce, 5);
    // with background included, class 0 dice = 1 - 2·(2/3)/(4/3+2) = 0.6 too
    expect(diceLoss(p, t, { includeBackground: true }).dataSync()[0]).toBeCloseTo((0.6 + 0.6 + 1) / 3, 5);
    // K = 1 (background only): no Dice term
    const bg = tf.ones([1, 2, 2, 1]) as tf.Tensor4D;
    expect(Math.abs(diceLoss(bg, bg).dataSync()[0]!)).toBeLessThan(1e-6);
  });

  it('diceCELoss gradient: raising the probability of the true class lowers the loss', () => {
    const t = tf.oneHot(tf.tensor1d([0, 1, 1, 0], 'int32'), 2).reshape([1, 2, 2, 2]).toFloat() as tf.Tensor4D;
    const p = tf.fill([1, 2, 2, 2], 0.5) as tf.Tensor4D;
    const g = tf.grad((x: tf.Tensor) => diceCELoss(x as tf.Tensor4D, t))(p).dataSync();
    const tv = t.dataSync();
    for (let i = 0; i < g.length; i++) {
      if (i % 2 === 1) expect(Math.sign(g[i]!)).toBe(tv[i] === 1 ? -1 : 1); // foreground channel
      else if (tv[i] === 1) expect(g[i]).toBeLessThan(0); // background channel: only CE pulls
    }
  });

  it('gradients match the cpu backend', async () => {
    const fn = (): tf.Tensor[] => {
      const a = tf.tensor4d(unit(2 * 12 * 13 * 2, 6), [2, 12, 13, 2]);
      const b = tf.tensor4d(unit(2 * 12 * 13 * 2, 7), [2, 12, 13, 2]);
      const f = tf.tensor4d(randomValues(2 * 12 * 13 * 2, 8), [2, 12, 13, 2]);
      const t = tf.oneHot(tf.tensor3d(Int32Array.from(unit(2 * 12 * 13, 9), (v) => Math.floor(v * 3)), [2, 12, 13], 'int32'), 3).toFloat() as tf.Tensor4D;
      const logits = tf.tensor4d(randomValues(2 * 12 * 13 * 3, 10), [2, 12, 13, 3]);
      return [
        tf.grad((x: tf.Tensor) => ssimLoss(x as tf.Tensor4D, b))(a),
        tf.grad((x: tf.Tensor) => nccLoss(x as tf.Tensor4D, b))(a),
        tf.grad((x: tf.Tensor) => flowGradL2(x as tf.Tensor4D))(f),
        tf.grad((x: tf.Tensor) => diceCELoss(tf.softmax(x) as tf.Tensor4D, t))(logits),
      ];
    };
    const w = await onBackend('wasm', fn);
    const c = await onBackend('cpu', fn);
    for (let i = 0; i < w.length; i++) expect(relErr(w[i]!, c[i]!)).toBeLessThan(1e-4);
    await initTf({ backend: 'wasm' });
  });

  it('rejects mismatched shapes and windows larger than the image', () => {
    const a = tf.zeros([1, 6, 6, 1]) as tf.Tensor4D;
    expect(() => ssimLoss(a, a)).toThrow(/window 7/);
    expect(() => nccLoss(a, tf.zeros([1, 6, 7, 1]) as tf.Tensor4D)).toThrow(/same shape/);
  });
});
