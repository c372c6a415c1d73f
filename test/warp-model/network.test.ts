import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/warp/backend.js';
import { WarpNetwork, DEFAULT_NETWORK_CONFIG, affineToFlow } from '../../src/warp/network.js';
import { ParamStore } from '../../src/warp/params.js';
import { SeededRng } from '../../src/warp/seeded-rng.js';
import { warpShared } from '../../src/warp/fast-warp.js';
import { warpBilinear } from '../../src/warp/spatial.js';

beforeAll(async () => {
  await initTf({ backend: 'wasm' });
});

const small = { encoderWidths: [8, 8, 8, 16, 16] as [number, number, number, number, number], decoderWidth: 16, attentionWindow: 4 };

describe('WarpNetwork', () => {
  for (const arch of ['conv', 'nice-trans'] as const) {
    it(`${arch}: output shapes and identity at initialisation`, () => {
      const R = 32;
      const net = new WarpNetwork({ ...DEFAULT_NETWORK_CONFIG, ...small, arch, resolution: R }, new ParamStore(new SeededRng(3)));
      const fixed = tf.randomUniform([3, R, R, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
      const moving = tf.randomUniform([1, R, R, 1], 0, 1, 'float32', 2) as tf.Tensor4D;
      const { flowXyWarp, affine } = net.forward(fixed, moving);
      expect(flowXyWarp.shape).toEqual([3, R, R, 2]);
      expect(affine!.shape).toEqual([3, 2, 3]);
      // affine = identity exactly; flow ≈ 0 (heads start at N(0, 1e-5)).
      expect(Array.from(affine!.dataSync())).toEqual([1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0]);
      expect(tf.abs(flowXyWarp).max().dataSync()[0]).toBeLessThan(0.05);
      // warped moving ≈ moving
      const warped = warpShared(moving, flowXyWarp);
      expect(tf.abs(warped.sub(moving)).max().dataSync()[0]).toBeLessThan(0.05);
      tf.dispose([fixed, moving, flowXyWarp, affine!, warped]);
      net.params.dispose();
    });
  }

  it('nice-trans has attention parameters, conv does not; no affine parameters without the affine stage', () => {
    const mk = (arch: 'conv' | 'nice-trans', affine: boolean) =>
      new WarpNetwork({ ...DEFAULT_NETWORK_CONFIG, ...small, arch, affine, resolution: 32 }, new ParamStore(new SeededRng(1)));
    const a = mk('nice-trans', true);
    const b = mk('conv', false);
    expect(a.params.names().some((n) => n.includes('/tr/qkv'))).toBe(true);
    expect(b.params.names().some((n) => n.includes('/tr/'))).toBe(false);
    expect(a.params.names().some((n) => n.startsWith('aff/'))).toBe(true);
    expect(b.params.names().some((n) => n.startsWith('aff/'))).toBe(false);
    let affine: unknown = 'unset';
    tf.tidy(() => {
      affine = b.forward(tf.zeros([1, 32, 32, 1]), tf.zeros([1, 32, 32, 1])).affine;
    });
    expect(affine).toBeNull();
    a.params.dispose();
    b.params.dispose();
  });

  it('same seed → identical parameters', () => {
    const a = new WarpNetwork({ ...DEFAULT_NETWORK_CONFIG, ...small, resolution: 32 }, new ParamStore(new SeededRng(9)));
    const b = new WarpNetwork({ ...DEFAULT_NETWORK_CONFIG, ...small, resolution: 32 }, new ParamStore(new SeededRng(9)));
    const wa = a.params.exportArrays();
    const wb = b.params.exportArrays();
    expect(wa.map((w) => w.name)).toEqual(wb.map((w) => w.name));
    wa.forEach((w, i) => expect(Array.from(w.data)).toEqual(Array.from(wb[i]!.data)));
    a.params.dispose();
    b.params.dispose();
  });

  it('affineToFlow: a pure translation θ02 = 0.25 shifts every pixel by 0.25·S/2 pixels', () => {
    const S = 8;
    const flow = affineToFlow(tf.tensor3d([1, 0, 0.25, 0, 1, 0], [1, 2, 3]), S).dataSync();
    for (let i = 0; i < S * S; i++) {
      expect(flow[i * 2]).toBeCloseTo(1, 5);
      expect(flow[i * 2 + 1]).toBeCloseTo(0, 5);
    }
    // scaling 2× about the centre: pixel x samples 2·u → displacement (2u − u)·S/2
    const f2 = affineToFlow(tf.tensor3d([2, 0, 0, 0, 1, 0], [1, 2, 3]), S).dataSync();
    const u0 = (0.5 / S) * 2 - 1;
    expect(f2[0]).toBeCloseTo(u0 * (S / 2), 5);
  });
});

describe('warpShared (custom-gradient bilinear warp)', () => {
  it('matches spatial.warpBilinear (values and gradients) with a shared batch-1 source', () => {
    const src = tf.randomUniform([1, 6, 7, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const flow = tf.randomUniform([2, 6, 7, 2], -2.5, 2.5, 'float32', 6) as tf.Tensor4D;
    const w = tf.randomUniform([2, 6, 7, 3], 0, 1, 'float32', 7);
    const mine = (s: tf.Tensor, f: tf.Tensor) => warpShared(s as tf.Tensor4D, f as tf.Tensor4D).mul(w).sum();
    const ref = (s: tf.Tensor, f: tf.Tensor) =>
      warpBilinear(tf.concat([s, s], 0) as tf.Tensor4D, f as tf.Tensor4D, { padding: 'border' }).mul(w).sum();
    const ga = tf.grads(mine)([src, flow]);
    const gb = tf.grads(ref)([src, flow]);
    expect(mine(src, flow).dataSync()[0]).toBeCloseTo(ref(src, flow).dataSync()[0]!, 3);
    const d0 = tf.abs(ga[0]!.sub(gb[0]!)).max().dataSync()[0]!;
    const d1 = tf.abs(ga[1]!.sub(gb[1]!)).max().dataSync()[0]!;
    expect(d0).toBeLessThan(1e-4);
    expect(d1).toBeLessThan(1e-3);
  });
});
