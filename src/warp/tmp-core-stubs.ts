// TEMPORARY stand-ins for warp-core's spatial.ts / losses.ts / augment.ts until they land. Deleted afterwards.
import * as tf from '@tensorflow/tfjs';
import type { SeededRng } from './seeded-rng.js';

export function warpBilinear(source: tf.Tensor4D, flow: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, H, W, C] = source.shape;
    const base = new Float32Array(H * W * 2);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) { base[(y * W + x) * 2] = x; base[(y * W + x) * 2 + 1] = y; }
    const pos = flow.add(tf.tensor4d(base, [1, H, W, 2]));
    const [px, py] = tf.split(pos, 2, 3) as [tf.Tensor4D, tf.Tensor4D];
    const cx = px.clipByValue(0, W - 1);
    const cy = py.clipByValue(0, H - 1);
    const x0 = cx.floor().clipByValue(0, W - 2);
    const y0 = cy.floor().clipByValue(0, H - 2);
    const fx = cx.sub(x0);
    const fy = cy.sub(y0);
    const bOff = tf.range(0, B).mul(H * W).reshape([B, 1, 1, 1]);
    const flat = source.reshape([B * H * W, C]);
    const idx = (yy: tf.Tensor, xx: tf.Tensor) => tf.tensor1d(Int32Array.from(yy.mul(W).add(xx).add(bOff).dataSync()), 'int32');
    const g = (i: tf.Tensor) => tf.gather(flat, i as tf.Tensor1D).reshape([B, H, W, C]);
    const x1 = x0.add(1);
    const y1 = y0.add(1);
    const v00 = g(idx(y0, x0)), v01 = g(idx(y0, x1)), v10 = g(idx(y1, x0)), v11 = g(idx(y1, x1));
    const top = v00.mul(tf.sub(1, fx)).add(v01.mul(fx));
    const bot = v10.mul(tf.sub(1, fx)).add(v11.mul(fx));
    return top.mul(tf.sub(1, fy)).add(bot.mul(fy)) as tf.Tensor4D;
  });
}

export function ssimLoss(a: tf.Tensor4D, b: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const pool = (t: tf.Tensor4D) => tf.avgPool(t, 7, 1, 'valid');
    const mx = pool(a), my = pool(b);
    const sxx = pool(a.mul(a) as tf.Tensor4D).sub(mx.square());
    const syy = pool(b.mul(b) as tf.Tensor4D).sub(my.square());
    const sxy = pool(a.mul(b) as tf.Tensor4D).sub(mx.mul(my));
    const c1 = 0.01 ** 2, c2 = 0.03 ** 2;
    const ssim = mx.mul(my).mul(2).add(c1).mul(sxy.mul(2).add(c2)).div(mx.square().add(my.square()).add(c1).mul(sxx.add(syy).add(c2)));
    return tf.sub(1, ssim.mean()) as tf.Scalar;
  });
}

export function nccLoss(a: tf.Tensor4D, b: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const pool = (t: tf.Tensor4D) => tf.avgPool(t, 9, 1, 'valid');
    const mx = pool(a), my = pool(b);
    const sxx = pool(a.mul(a) as tf.Tensor4D).sub(mx.square());
    const syy = pool(b.mul(b) as tf.Tensor4D).sub(my.square());
    const sxy = pool(a.mul(b) as tf.Tensor4D).sub(mx.mul(my));
    return tf.neg(sxy.square().div(sxx.mul(syy).add(1e-5)).mean()) as tf.Scalar;
  });
}

export function flowGradL2(flow: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const [, H, W] = flow.shape;
    const dy = flow.slice([0, 1, 0, 0], [-1, H - 1, -1, -1]).sub(flow.slice([0, 0, 0, 0], [-1, H - 1, -1, -1]));
    const dx = flow.slice([0, 0, 1, 0], [-1, -1, W - 1, -1]).sub(flow.slice([0, 0, 0, 0], [-1, -1, W - 1, -1]));
    return dx.square().mean().add(dy.square().mean()).div(2) as tf.Scalar;
  });
}

export function diceCELoss(pred: tf.Tensor4D, target: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const inter = pred.mul(target).sum([1, 2]);
    const denom = pred.sum([1, 2]).add(target.sum([1, 2]));
    const dice = tf.sub(1, inter.mul(2).add(1e-5).div(denom.add(1e-5))).mean();
    const ce = tf.neg(target.mul(pred.clipByValue(1e-6, 1).log()).sum(3)).mean();
    return dice.add(ce.mul(0.001)) as tf.Scalar;
  });
}

/** Random small affine of the reference (working res), image bilinear, one-hot bilinear. */
export function augmentPair(
  ref: { image: Float32Array; oneHot: Float32Array; size: number; classesWithBackground: number },
  rng: SeededRng,
  _preset: 'paper' | 'wide',
): { image: Float32Array; oneHot: Float32Array } {
  const R = ref.size, K = ref.classesWithBackground;
  const ang = ((rng.next() * 20 - 10) * Math.PI) / 180;
  const sc = 0.9 + rng.next() * 0.2;
  const tx = (rng.next() * 0.2 - 0.1) * R, ty = (rng.next() * 0.2 - 0.1) * R;
  const ca = Math.cos(ang) / sc, sa = Math.sin(ang) / sc;
  const c = (R - 1) / 2;
  const image = new Float32Array(R * R), oneHot = new Float32Array(R * R * K);
  const gain = 0.8 + rng.next() * 0.4;
  for (let y = 0; y < R; y++) for (let x = 0; x < R; x++) {
    const u = x - c - tx, v = y - c - ty;
    const sxp = Math.min(Math.max(ca * u + sa * v + c, 0), R - 1), syp = Math.min(Math.max(-sa * u + ca * v + c, 0), R - 1);
    const x0 = Math.min(Math.floor(sxp), R - 2), y0 = Math.min(Math.floor(syp), R - 2), fx = sxp - x0, fy = syp - y0;
    const w = [(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy];
    const ids = [y0 * R + x0, y0 * R + x0 + 1, (y0 + 1) * R + x0, (y0 + 1) * R + x0 + 1];
    let s = 0;
    for (let k = 0; k < 4; k++) s += w[k]! * ref.image[ids[k]!]!;
    image[y * R + x] = Math.min(1, s * gain);
    for (let ch = 0; ch < K; ch++) { let m = 0; for (let k = 0; k < 4; k++) m += w[k]! * ref.oneHot[ids[k]! * K + ch]!; oneHot[(y * R + x) * K + ch] = m; }
  }
  return { image, oneHot };
}
