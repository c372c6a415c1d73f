import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from '../../src/warp/backend.js';
import { WarpModel } from '../../src/warp/model.js';
import { resolveWarpSettings } from '../../src/warp/presets.js';
import { BatchSampler, describeSchedule, phaseBudget, stepsInPhase } from '../../src/warp/schedule.js';
import { SeededRng } from '../../src/warp/seeded-rng.js';
import { discPair, tinySettings } from './helpers.js';

beforeAll(async () => {
  await initTf({ backend: 'wasm' });
});

describe('phase budgets', () => {
  it('steps budgets do not depend on the folder size; epoch budgets grow with it', () => {
    expect(stepsInPhase({ unit: 'steps', steps: 600 }, 4, 5)).toBe(600);
    expect(stepsInPhase({ unit: 'steps', steps: 600 }, 4, 5000)).toBe(600);
    expect(stepsInPhase({ unit: 'epochs', epochs: 10 }, 4, 40)).toBe(100);
    expect(stepsInPhase({ unit: 'epochs', epochs: 10 }, 4, 246)).toBe(620);
  });

  it('describes each phase budget in the unit it is counted in (the report said "undefined epochs" for a steps budget)', () => {
    const cpu = resolveWarpSettings('cpu').schedule;
    expect(describeSchedule(cpu)).toBe(`${cpu.initialSteps} steps, then ${cpu.retrainSteps} steps per retraining round`);
    expect(describeSchedule(resolveWarpSettings('paper').schedule)).toBe('30 epochs, then 10 epochs per retraining round');
    expect(describeSchedule({ initialEpochs: 8, retrainSteps: 1 })).toBe('8 epochs, then 1 step per retraining round');
  });

  it('the cpu preset counts steps, the paper preset epochs; an override in the other unit replaces the preset budget', () => {
    const cpu = resolveWarpSettings('cpu');
    expect(phaseBudget(cpu.schedule, 'initial').unit).toBe('steps');
    expect(phaseBudget(cpu.schedule, 'retrain').unit).toBe('steps');
    expect(phaseBudget(resolveWarpSettings('paper').schedule, 'initial')).toEqual({ unit: 'epochs', epochs: 30 });
    expect(phaseBudget(resolveWarpSettings('paper').schedule, 'retrain')).toEqual({ unit: 'epochs', epochs: 10 });
    const cpuEpochs = resolveWarpSettings('cpu', { schedule: { initialEpochs: 20 } });
    expect(phaseBudget(cpuEpochs.schedule, 'initial')).toEqual({ unit: 'epochs', epochs: 20 });
    expect(cpuEpochs.schedule.initialSteps).toBeUndefined();
    expect(phaseBudget(cpuEpochs.schedule, 'retrain').unit).toBe('steps');
    const paperSteps = resolveWarpSettings('paper', { schedule: { initialSteps: 300, retrainSteps: 50 } });
    expect(phaseBudget(paperSteps.schedule, 'initial')).toEqual({ unit: 'steps', steps: 300 });
    expect(phaseBudget(paperSteps.schedule, 'retrain')).toEqual({ unit: 'steps', steps: 50 });
    expect(() => resolveWarpSettings('cpu', { schedule: { initialSteps: 5, initialEpochs: 5 } })).toThrow(/not both/);
  });
});

describe('BatchSampler', () => {
  it('steps mode: full batches of distinct images, every image equally often over whole passes', () => {
    const rng = new SeededRng(3);
    const sampler = new BatchSampler(5, 4, 'steps');
    const counts = new Array(5).fill(0);
    for (let s = 0; s < 50; s++) {
      const batch = sampler.next(rng);
      expect(batch).toHaveLength(4);
      expect(new Set(batch).size).toBe(4);
      for (const i of batch) counts[i]++;
    }
    // 200 draws = 40 whole passes over 5 images
    expect(counts).toEqual([40, 40, 40, 40, 40]);
  });

  it('steps mode: a folder smaller than the batch gives batches of the whole folder', () => {
    const sampler = new BatchSampler(2, 4, 'steps');
    const rng = new SeededRng(1);
    for (let s = 0; s < 5; s++) expect([...sampler.next(rng)].sort()).toEqual([0, 1]);
  });

  it('epochs mode: each epoch is one shuffled pass, the last batch partial', () => {
    const sampler = new BatchSampler(5, 2, 'epochs');
    const rng = new SeededRng(9);
    const epoch = [sampler.next(rng), sampler.next(rng), sampler.next(rng)];
    expect(epoch.map((b) => b.length)).toEqual([2, 2, 1]);
    expect(epoch.flat().sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('state round trip: a restored sampler draws the same batches', () => {
    const a = new BatchSampler(7, 3, 'steps');
    const rngA = new SeededRng(5);
    for (let s = 0; s < 4; s++) a.next(rngA);
    const b = new BatchSampler(7, 3, 'steps');
    b.setState(a.getState());
    const rngB = new SeededRng(0);
    rngB.setState(rngA.getState());
    for (let s = 0; s < 10; s++) expect(b.next(rngB)).toEqual(a.next(rngA));
    expect(() => new BatchSampler(6, 3, 'steps').setState(a.getState())).toThrow(/7 images/);
  });
});

describe('WarpModel step budget', () => {
  function model(n: number) {
    const ref = discPair(48, 48, 24, 24, 9);
    const m = new WarpModel(tinySettings({ schedule: { initialSteps: 3, batchSize: 4 } }), ref);
    for (let i = 0; i < n; i++) m.addTest(`t${i}`, discPair(48, 48, 24 + (i % 5) - 2, 24 + (i % 3) - 1, 9).image);
    return m;
  }

  it('runs the same number of optimiser steps for 5 and for 50 images', async () => {
    for (const n of [5, 50]) {
      const m = model(n);
      const events: number[] = [];
      const r = await m.train('initial', phaseBudget(m.settings.schedule, 'initial'), { onProgress: (e) => events.push(e.total) });
      expect(r.stepsRun).toBe(3);
      expect(r.phaseSteps).toBe(3);
      expect(m.optimizer.steps).toBe(3);
      expect(events).toEqual([3, 3, 3]);
      m.dispose();
    }
  });
});
