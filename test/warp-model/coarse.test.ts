import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initTf } from '../../src/warp/backend.js';
import { halveBatch, halvePlane, referenceOnGrid } from '../../src/warp/coarse.js';
import { WarpModel } from '../../src/warp/model.js';
import { WarpNetwork } from '../../src/warp/network.js';
import { cropSettings } from '../../src/warp/roi-stage.js';
import { ParamStore } from '../../src/warp/params.js';
import { describeSchedule, isCoarseStep } from '../../src/warp/schedule.js';
import { SeededRng } from '../../src/warp/seeded-rng.js';
import { discPair, tinySettings } from './helpers.js';

beforeAll(async () => {
  await initTf({ backend: 'wasm' });
});

describe('coarse grid (coarse to fine)', () => {
  it('halves a plane by 2×2 means, channel by channel', () => {
    // 4×4 plane, value = index: the top-left coarse pixel averages 0, 1, 4, 5.
    const plane = Float32Array.from({ length: 16 }, (_, i) => i);
    expect([...halvePlane(plane, 4)]).toEqual([2.5, 4.5, 10.5, 12.5]);
    // Two interleaved channels: channel 1 is 100 minus channel 0; a one-hot's channels keep summing to 1.
    const two = new Float32Array(32);
    for (let i = 0; i < 16; i++) {
      two[2 * i] = i;
      two[2 * i + 1] = 100 - i;
    }
    expect([...halvePlane(two, 4, 2)]).toEqual([2.5, 97.5, 4.5, 95.5, 10.5, 89.5, 12.5, 87.5]);
    expect(() => halvePlane(new Float32Array(9), 3)).toThrow(/even/);
    expect(() => halvePlane(new Float32Array(15), 4)).toThrow(/4x4x1/);
  });

  it('puts the reference on the shard grid: the working grid unchanged, the coarse grid halved, others refused', () => {
    const ref = Float32Array.from({ length: 16 }, (_, i) => i);
    const oneHot = new Float32Array(32).fill(0.5);
    const same = referenceOnGrid(ref, oneHot, 4);
    expect(same.image).toBe(ref);
    expect(same.oneHot).toBe(oneHot);
    const coarse = referenceOnGrid(ref, oneHot, 2);
    expect([...coarse.image]).toEqual([2.5, 4.5, 10.5, 12.5]);
    expect([...coarse.oneHot]).toEqual(new Array(8).fill(0.5));
    expect(() => referenceOnGrid(ref, oneHot, 1)).toThrow(/4x4/);
  });

  it('halves every array of a batch and keeps missing pseudolabels missing', () => {
    const plane = new Float32Array(16).fill(1);
    const half = halveBatch({ resolution: 4, classesWithBackground: 2, tests: [plane, plane], pseudo: [null, new Float32Array(32).fill(0.5)], augImages: [plane], augOneHot: [new Float32Array(32)] });
    expect(half.resolution).toBe(2);
    expect(half.tests.map((t) => t.length)).toEqual([4, 4]);
    expect(half.pseudo[0]).toBeNull();
    expect(half.pseudo[1]!.length).toBe(8);
    expect(half.augOneHot[0]!.length).toBe(8);
  });

  it('the first coarseSteps steps of the initial phase are coarse, nothing else is', () => {
    const schedule = { initialSteps: 300, retrainSteps: 100, coarseSteps: 200 };
    expect(isCoarseStep(schedule, 'initial', 0)).toBe(true);
    expect(isCoarseStep(schedule, 'initial', 199)).toBe(true);
    expect(isCoarseStep(schedule, 'initial', 200)).toBe(false);
    expect(isCoarseStep(schedule, 'retrain-1', 0)).toBe(false);
    expect(isCoarseStep({ initialSteps: 300 }, 'initial', 0)).toBe(false);
    expect(() => isCoarseStep({ initialSteps: 3, coarseSteps: -1 }, 'initial', 0)).toThrow(/coarseSteps/);
    expect(describeSchedule(schedule)).toBe('300 steps (the first 200 at half resolution), then 100 steps per retraining round');
    expect(describeSchedule({ ...schedule, coarseSteps: 0 })).toBe('300 steps, then 100 steps per retraining round');
  });

  it('the network runs on the coarse grid with the same weights (identity at initialisation) and refuses other sizes', () => {
    const config = { ...tinySettings().network, resolution: 32 };
    const network = new WarpNetwork(config, new ParamStore(new SeededRng(3)));
    const names = network.params.names().join(',');
    tf.tidy(() => {
      const img = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
      const { flowXyWarp } = network.forward(img, img.slice([0, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D);
      expect(flowXyWarp.shape).toEqual([2, 16, 16, 2]);
      // Zero-initialised affine head and ~0 flow heads: the identity warp, within the heads' N(0, 1e-5) start.
      expect(flowXyWarp.abs().max().dataSync()[0]).toBeLessThan(1e-2);
      expect(() => network.forward(tf.zeros([1, 48, 48, 1]) as tf.Tensor4D, tf.zeros([1, 48, 48, 1]) as tf.Tensor4D)).toThrow(/32x32 or 16x16/);
    });
    expect(network.params.names().join(',')).toBe(names); // no parameter of its own
    network.params.dispose();
  });

  it('refuses coarse steps on a grid that does not halve into multiples of 16; crop models never take them', () => {
    const ref = discPair(64, 64, 32, 32, 12);
    expect(() => new WarpModel(tinySettings({ network: { resolution: 48 }, schedule: { initialSteps: 4, coarseSteps: 2 } }), ref)).toThrow(/multiple of 32, got 48/);
    const global = tinySettings({ schedule: { initialSteps: 4, coarseSteps: 2, plateau: { window: 2, minSteps: 2, minImprovement: 0.01 } } });
    const crop = cropSettings(global, 48, 0);
    expect(crop.schedule.coarseSteps).toBeUndefined();
    expect(crop.schedule.plateau).toBeUndefined();
    expect(crop.schedule.initialSteps).toBe(4);
  });

  it('coarse steps train the shared weights, deterministically; no coarse steps is today\'s training', async () => {
    const ref = discPair(64, 64, 32, 32, 12);
    const build = (coarseSteps: number | undefined) => {
      const schedule = coarseSteps === undefined ? { initialSteps: 4 } : { initialSteps: 4, coarseSteps };
      const model = new WarpModel(tinySettings({ loss: { augmentation: false }, schedule }), ref);
      [[5, 0], [4, 2], [6, -1], [5, 1]].forEach(([dx, dy], i) => model.addTest(`t${i}`, discPair(64, 64, 32 + dx!, 32 + dy!, 12).image));
      return model;
    };
    const a = build(4);
    const untrained = a.predictFlowsWork([a.testWorkingImage('t0')])[0]!;
    await a.train('initial', { unit: 'steps', steps: 4 });
    const b = build(4);
    await b.train('initial', { unit: 'steps', steps: 4 });
    const fine = build(0);
    await fine.train('initial', { unit: 'steps', steps: 4 });
    // No coarseSteps at all (today's schedule) trains exactly as coarseSteps 0.
    const today = build(undefined);
    await today.train('initial', { unit: 'steps', steps: 4 });
    const [fa, fb, ff, ft] = [a, b, fine, today].map((m) => m.predictFlowsWork([m.testWorkingImage('t0')])[0]!);
    expect([...ft!]).toEqual([...ff!]);
    expect([...fa!]).toEqual([...fb!]);
    expect([...fa!]).not.toEqual([...ff!]);
    expect([...fa!]).not.toEqual([...untrained]);
    for (const m of [a, b, fine, today]) m.dispose();
  }, 60_000);
});
