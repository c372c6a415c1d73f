import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/warp/backend.js';
import { AdamW, ParamStore } from '../../src/warp/params.js';
import { SeededRng } from '../../src/warp/seeded-rng.js';

beforeAll(async () => {
  await initTf({ backend: 'wasm' });
});

describe('AdamW', () => {
  it('matches the closed form: decoupled decay, bias-corrected Adam step', () => {
    const store = new ParamStore(new SeededRng(1));
    const p = store.get('p', [2], { kind: 'ones' });
    const opt = new AdamW(store, { learningRate: 0.1, weightDecay: 0.5 });
    opt.apply(new Map([['p', tf.tensor1d([0.5, -2])]]));
    // step 1: m̂ = g, v̂ = g², update = lr·g/|g| = ±lr; decay: p·(1 − lr·wd) = 0.95
    const v1 = Array.from(p.dataSync());
    expect(v1[0]).toBeCloseTo(0.95 - 0.1, 5);
    expect(v1[1]).toBeCloseTo(0.95 + 0.1, 5);
    // step 2 with the same gradient: m̂ = g, v̂ = g² again → another ±lr
    opt.apply(new Map([['p', tf.tensor1d([0.5, -2])]]));
    const v2 = Array.from(p.dataSync());
    expect(v2[0]).toBeCloseTo(0.85 * 0.95 - 0.1, 5);
    expect(v2[1]).toBeCloseTo(1.05 * 0.95 + 0.1, 5);
    // state round trip
    const st = opt.exportState();
    expect(st.step).toBe(2);
    const opt2 = new AdamW(store, { learningRate: 0.1, weightDecay: 0.5 });
    opt2.importState(st);
    expect(opt2.steps).toBe(2);
    expect(Array.from(opt2.exportState().m[0]!.data)).toEqual(Array.from(st.m[0]!.data));
    store.dispose();
  });
});
