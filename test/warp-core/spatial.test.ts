import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from '../../src/warp/backend.js';
import {
  affineGrid, composeFlows, upsampleFlow, upsampleFlowPlanes, warpBilinear, warpLabelArgmax, warpLabelNearest, warpPlaneBilinear,
} from '../../src/warp/spatial.js';
import { createLabelMap } from '../../src/image/types.js';
import { onBackend, randomValues, relErr } from './helpers.js';

function constantFlow(B: number, H: number, W: number, dx: number, dy: number): tf.Tensor4D {
  const d = new Float32Array(B * H * W * 2);
  for (let i = 0; i < B * H * W; i++) { d[2 * i] = dx; d[2 * i + 1] = dy; }
  return tf.tensor4d(d, [B, H, W, 2]);
}

describe('warpBilinear (wasm)', () => {
  beforeAll(async () => { await initTf({ backend: 'wasm' }); });

  it('zero flow returns the source exactly (both paddings)', () => {
    const src = tf.tensor4d(randomValues(2 * 7 * 9 * 3, 1), [2, 7, 9, 3]);
    for (const padding of ['zeros', 'border'] as const) {
      const out = warpBilinear(src, tf.zeros([2, 7, 9, 2]) as tf.Tensor4D, { padding });
      expect(Array.from(out.dataSync())).toEqual(Array.from(src.dataSync()));
    }
  });

  it('integer shift gives an exact shifted copy; zeros padding fills 0, border replicates', () => {
    const [B, H, W] = [2, 5, 6];
    const v = randomValues(B * H * W, 2);
    const src = tf.tensor4d(v, [B, H, W, 1]);
    const flow = constantFlow(B, H, W, 2, -1); // out(x,y) = src(x+2, y-1)
    const z = warpBilinear(src, flow, { padding: 'zeros' }).dataSync();
    const bd = warpBilinear(src, flow, { padding: 'border' }).dataSync();
    for (let b = 0; b < B; b++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const i = (b * H + y) * W + x;
      const xs = x + 2, ys = y - 1;
      const inside = xs < W && ys >= 0;
      expect(z[i]! + 0).toBe(inside ? v[(b * H + ys) * W + xs] : 0);
      expect(bd[i]).toBe(v[(b * H + Math.max(ys, 0)) * W + Math.min(xs, W - 1)]);
    }
  });

  it('fractional shift interpolates linearly', () => {
    // ramp src(x) = x: sampling at x + 0.25 gives x + 0.25 away from the right edge
    const W = 8;
    const src = tf.tensor4d(Float32Array.from({ length: W }, (_, i) => i), [1, 1, W, 1]);
    const out = warpBilinear(src, constantFlow(1, 1, W, 0.25, 0), { padding: 'border' }).dataSync();
    for (let x = 0; x < W - 1; x++) expect(out[x]).toBeCloseTo(x + 0.25, 6);
    expect(out[W - 1]).toBeCloseTo(W - 1, 6); // clamped at the border
  });

  it('gradients w.r.t. flow and source match finite differences', () => {
    const [B, H, W, C] = [1, 5, 6, 2];
    const src = tf.tensor4d(randomValues(B * H * W * C, 3), [B, H, W, C]);
    // fractional parts well inside (0.2, 0.8) so ±eps stays in one linear piece
    const fv = randomValues(B * H * W * 2, 4).map((r) => Math.round(r * 2) + 0.5 + 0.25 * r);
    const flow = tf.tensor4d(fv, [B, H, W, 2]);
    const r = tf.tensor4d(randomValues(B * H * W * C, 5), [B, H, W, C]);
    for (const padding of ['zeros', 'border'] as const) {
      const loss = (s: tf.Tensor, f: tf.Tensor): tf.Scalar => tf.sum(tf.mul(warpBilinear(s as tf.Tensor4D, f as tf.Tensor4D, { padding }), r));
      const [gs, gf] = tf.grads(loss)([src, flow]);
      const gfv = gf!.dataSync();
      const gsv = gs!.dataSync();
      const eps = 1e-2;
      for (const k of [0, 3, 7, 20, 41, 59]) {
        const plus = fv.slice(); plus[k]! += eps;
        const minus = fv.slice(); minus[k]! -= eps;
        const fd = (loss(src, tf.tensor4d(plus, flow.shape)).dataSync()[0]! - loss(src, tf.tensor4d(minus, flow.shape)).dataSync()[0]!) / (2 * eps);
        expect(Math.abs(fd - gfv[k]!)).toBeLessThan(2e-3 * Math.max(1, Math.abs(fd)));
      }
      // the output is linear in the source: the gradient is exact against a unit perturbation
      const sv = src.dataSync();
      for (const k of [0, 5, 17, 33, 59]) {
        const plus = Float32Array.from(sv); plus[k]! += 1;
        const fd = loss(tf.tensor4d(plus, src.shape), flow).dataSync()[0]! - loss(src, flow).dataSync()[0]!;
        expect(Math.abs(fd - gsv[k]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(fd)));
      }
    }
  });

  it('matches the cpu backend (forward and gradients)', async () => {
    const fn = (): tf.Tensor[] => {
      const src = tf.tensor4d(randomValues(2 * 6 * 7 * 3, 6), [2, 6, 7, 3]);
      const flow = tf.tensor4d(randomValues(2 * 6 * 7 * 2, 7).map((v) => 3 * v), [2, 6, 7, 2]);
      const r = tf.tensor4d(randomValues(2 * 6 * 7 * 3, 8), [2, 6, 7, 3]);
      const [gs, gf] = tf.grads((s: tf.Tensor, f: tf.Tensor) => tf.sum(tf.mul(warpBilinear(s as tf.Tensor4D, f as tf.Tensor4D, { padding: 'zeros' }), r)))([src, flow]);
      return [warpBilinear(src, flow), gs!, gf!];
    };
    const w = await onBackend('wasm', fn);
    const c = await onBackend('cpu', fn);
    for (let i = 0; i < 3; i++) expect(relErr(w[i]!, c[i]!)).toBeLessThan(1e-4);
    await initTf({ backend: 'wasm' });
  });

  it('leaves no tensors behind (forward and gradient steps)', () => {
    const src = tf.tensor4d(randomValues(2 * 8 * 8 * 2, 11), [2, 8, 8, 2]);
    const flow = tf.variable(tf.tensor4d(randomValues(2 * 8 * 8 * 2, 12), [2, 8, 8, 2]));
    const step = (padding: 'zeros' | 'border'): void => {
      tf.tidy(() => {
        const { grads } = tf.variableGrads(() => tf.sum(warpBilinear(src, flow as unknown as tf.Tensor4D, { padding })) as tf.Scalar);
        tf.dispose(grads);
      });
      tf.dispose(warpBilinear(src, flow as unknown as tf.Tensor4D, { padding }));
    };
    step('zeros');
    step('border');
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) { step('zeros'); step('border'); }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([src, flow]);
  });

  it('rejects a flow of the wrong shape', () => {
    expect(() => warpBilinear(tf.zeros([1, 4, 4, 1]) as tf.Tensor4D, tf.zeros([1, 4, 5, 2]) as tf.Tensor4D)).toThrow(/flow shape/);
  });
});

describe('affineGrid, upsampleFlow, composeFlows', () => {
  beforeAll(async () => { await initTf({ backend: 'wasm' }); });

  it('identity theta gives an exactly zero flow; translation θ02 = t moves by t·W/2 pixels', () => {
    const theta = tf.tensor3d([1, 0, 0, 0, 1, 0, 1, 0, 0.5, 0, 1, -0.25], [2, 2, 3]);
    const flow = affineGrid(theta, 4, 8);
    expect(flow.shape).toEqual([2, 4, 8, 2]);
    const v = flow.dataSync();
    for (let i = 0; i < 4 * 8 * 2; i++) expect(v[i]).toBe(0);
    for (let i = 0; i < 4 * 8; i++) {
      expect(v[64 + 2 * i]).toBeCloseTo(0.5 * 8 / 2, 5);
      expect(v[64 + 2 * i + 1]).toBeCloseTo(-0.25 * 4 / 2, 5);
    }
  });

  it('scaling θ00 = 2 maps pixel x to the source point with normalised coordinate 2u (align_corners=false)', () => {
    const W = 8;
    const flow = affineGrid(tf.tensor3d([2, 0, 0, 0, 1, 0], [1, 2, 3]), 1, W).dataSync();
    for (let x = 0; x < W; x++) {
      const u = (2 * x + 1) / W - 1;
      const xs = ((2 * u + 1) * W - 1) / 2;
      expect(flow[2 * x]).toBeCloseTo(xs - x, 5);
      expect(flow[2 * x + 1]).toBeCloseTo(0, 6);
    }
  });

  it('affineGrid is differentiable w.r.t. theta', () => {
    const g = tf.grad((t: tf.Tensor) => tf.sum(affineGrid(t as tf.Tensor3D, 3, 4)))(tf.tensor3d([1, 0, 0, 0, 1, 0], [1, 2, 3]));
    // d/dθ02 of Σ flow_x = H·W·W/2; d/dθ00 = W/2 · Σu = 0 (symmetric grid)
    const gv = g.dataSync();
    expect(gv[2]).toBeCloseTo(3 * 4 * 2, 4);
    expect(gv[0]).toBeCloseTo(0, 4);
    expect(gv[5]).toBeCloseTo(3 * 4 * 1.5, 4);
  });

  it('upsampleFlow scales displacements by the size ratio (constant flow stays constant)', () => {
    const up = upsampleFlow(constantFlow(1, 4, 5, 1.5, -2), 8, 15).dataSync();
    for (let i = 0; i < 8 * 15; i++) {
      expect(up[2 * i]).toBeCloseTo(1.5 * 3, 5);
      expect(up[2 * i + 1]).toBeCloseTo(-4, 5);
    }
  });

  it('composeFlows of two constant shifts adds them', () => {
    const c = composeFlows(constantFlow(1, 6, 6, 1, 0), constantFlow(1, 6, 6, 0, 2)).dataSync();
    // interior pixel (2, 2)
    const i = (2 * 6 + 2) * 2;
    expect(c[i]).toBeCloseTo(1, 6);
    expect(c[i + 1]).toBeCloseTo(2, 6);
  });
});

describe('typed-array label warps', () => {
  function square(W: number, H: number, x0: number, y0: number, size: number, cls = 1): ReturnType<typeof createLabelMap> {
    const m = createLabelMap(W, H);
    for (let y = y0; y < y0 + size; y++) for (let x = x0; x < x0 + size; x++) m.data[y * W + x] = cls;
    return m;
  }
  function constFlowXY(W: number, H: number, dx: number, dy: number): Float32Array {
    const f = new Float32Array(W * H * 2);
    for (let i = 0; i < W * H; i++) { f[2 * i] = dx; f[2 * i + 1] = dy; }
    return f;
  }

  it('warpLabelNearest / warpLabelArgmax move a square by a known translation', () => {
    const lab = square(20, 16, 5, 4, 6, 2);
    // flow (-3, +2): out(x,y) = lab(x-3, y+2) → square moves right 3 and up 2
    const expected = square(20, 16, 8, 2, 6, 2);
    for (const warp of [warpLabelNearest, warpLabelArgmax]) {
      const out = warp(lab, constFlowXY(20, 16, -3, 2), 20, 16);
      expect(Array.from(out.data)).toEqual(Array.from(expected.data));
    }
  });

  it('maps between different source and target sizes (pixel-centre aligned)', () => {
    // source 10x10 with the square at [2,6); target 20x20, zero flow → square at [4,12)
    const lab = square(10, 10, 2, 2, 4, 1);
    const expected = square(20, 20, 4, 4, 8, 1);
    expect(Array.from(warpLabelNearest(lab, new Float32Array(800), 20, 20).data)).toEqual(Array.from(expected.data));
    expect(Array.from(warpLabelArgmax(lab, new Float32Array(800), 20, 20).data)).toEqual(Array.from(expected.data));
  });

  it('outside: background vs border', () => {
    const lab = createLabelMap(4, 1);
    lab.data.set([1, 1, 2, 2]);
    const f = constFlowXY(4, 1, 2, 0);
    expect(Array.from(warpLabelNearest(lab, f, 4, 1).data)).toEqual([2, 2, 0, 0]);
    expect(Array.from(warpLabelNearest(lab, f, 4, 1, { outside: 'border' }).data)).toEqual([2, 2, 2, 2]);
    expect(Array.from(warpLabelArgmax(lab, f, 4, 1, { outside: 'border' }).data)).toEqual([2, 2, 2, 2]);
  });

  it('warpLabelArgmax picks the majority class at a half-pixel shift (ties → smaller class)', () => {
    const lab = createLabelMap(4, 1);
    lab.data.set([0, 3, 3, 1]);
    const out = warpLabelArgmax(lab, constFlowXY(4, 1, 0.5, 0), 4, 1, { outside: 'border' });
    // sample points 0.5 (0|3 tie → 0), 1.5 (3), 2.5 (3|1 tie → 1), 3.5 (border → 1)
    expect(Array.from(out.data)).toEqual([0, 3, 1, 1]);
  });

  it('upsampleFlowPlanes: constant flow is scaled; a linear ramp is reproduced at pixel centres', () => {
    const up = upsampleFlowPlanes(constFlowXY(4, 3, 1, -1), 4, 3, 8, 9);
    for (let i = 0; i < 72; i++) { expect(up[2 * i]).toBeCloseTo(2, 6); expect(up[2 * i + 1]).toBeCloseTo(-3, 6); }
    // dx(x) = x at 4 px → upsampled to 8 px: dx at 8px = 2·((x+0.5)/2 - 0.5) interior
    const ramp = new Float32Array(4 * 1 * 2);
    for (let x = 0; x < 4; x++) ramp[2 * x] = x;
    const r = upsampleFlowPlanes(ramp, 4, 1, 8, 1);
    for (let x = 1; x < 7; x++) expect(r[2 * x]).toBeCloseTo(2 * ((x + 0.5) / 2 - 0.5), 6);
    expect(() => upsampleFlowPlanes(ramp, 5, 1, 8, 1)).toThrow(/flow length/);
  });

  it('warpPlaneBilinear agrees with warpBilinear (border) on the same grid', async () => {
    const [H, W] = [6, 7];
    const plane = randomValues(H * W, 9);
    const flow = randomValues(H * W * 2, 10).map((v) => 2.5 * v);
    const [t] = await onBackend('wasm', () => [warpBilinear(tf.tensor4d(plane, [1, H, W, 1]), tf.tensor4d(flow, [1, H, W, 2]), { padding: 'border' })]);
    const p = warpPlaneBilinear(plane, W, H, flow, W, H);
    expect(relErr(p, t!)).toBeLessThan(1e-5);
  });
});
