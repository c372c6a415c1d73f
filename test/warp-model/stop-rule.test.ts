import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from '../../src/warp/backend.js';
import { WarpModel } from '../../src/warp/model.js';
import { checkPlateauRule, describePlateauRule, plateauReached } from '../../src/warp/stop-rule.js';
import { describeSchedule } from '../../src/warp/schedule.js';
import { discPair, tinySettings } from './helpers.js';

beforeAll(async () => {
  await initTf({ backend: 'wasm' });
});

describe('stopping when done (loss plateau)', () => {
  const rule = { window: 3, minSteps: 10, minImprovement: 0.05 };

  it('compares the means of the last two windows, from the floor on', () => {
    // Windows [1, 1, 1] → [0.9, 0.9, 0.9]: a 10 % fall, still improving.
    expect(plateauReached(rule, 20, [1, 1, 1, 0.9, 0.9, 0.9])).toBe(false);
    // [1, 1, 1] → [0.97, 0.97, 0.97]: 3 % < 5 %, converged.
    expect(plateauReached(rule, 20, [1, 1, 1, 0.97, 0.97, 0.97])).toBe(true);
    // Only the last 2·window losses count: an early large fall does not keep it going.
    expect(plateauReached(rule, 20, [5, 4, 1, 1, 1, 0.97, 0.97, 0.97])).toBe(true);
    // A rising loss has converged too.
    expect(plateauReached(rule, 20, [1, 1, 1, 1.2, 1.1, 1.3])).toBe(true);
    // Below the floor, or with fewer than two windows of losses, never.
    expect(plateauReached(rule, 9, [1, 1, 1, 1, 1, 1])).toBe(false);
    expect(plateauReached(rule, 20, [1, 1, 1, 1, 1])).toBe(false);
  });

  it('refuses a malformed rule and says it in words', () => {
    expect(() => checkPlateauRule({ ...rule, window: 0 })).toThrow(/window/);
    expect(() => checkPlateauRule({ ...rule, minSteps: -1 })).toThrow(/minSteps/);
    expect(() => checkPlateauRule({ ...rule, minImprovement: 1 })).toThrow(/minImprovement/);
    expect(describePlateauRule(rule)).toBe('stops when the loss falls < 5 % over 3 steps, after at least 10');
    expect(describeSchedule({ initialSteps: 300, retrainSteps: 100, coarseSteps: 200, plateau: { window: 50, minSteps: 250, minImprovement: 0.01 } })).toBe(
      '300 steps (the first 200 at half resolution; stops when the loss falls < 1 % over 50 steps, after at least 250), then 100 steps per retraining round',
    );
  });

  it('a converged phase stops before its budget, says so, and stays done after a checkpoint round trip', async () => {
    const ref = discPair(64, 64, 32, 32, 12);
    // minImprovement just under 1: any two windows count as converged once the floor (4 steps) is reached.
    const settings = tinySettings({ loss: { augmentation: false }, schedule: { initialSteps: 12, plateau: { window: 2, minSteps: 4, minImprovement: 0.999 } } });
    const model = new WarpModel(settings, ref);
    model.addTest('t0', discPair(64, 64, 36, 32, 12).image);
    model.addTest('t1', discPair(64, 64, 34, 33, 12).image);
    const budget = { unit: 'steps', steps: 12 } as const;
    const result = await model.train('initial', budget);
    expect(result.stoppedBy).toBe('plateau');
    expect(result.stepsRun).toBe(4);
    expect(model.needsTraining('initial', budget)).toBe(false);
    const copy = new WarpModel(settings, ref);
    copy.addTest('t0', discPair(64, 64, 36, 32, 12).image);
    copy.addTest('t1', discPair(64, 64, 34, 33, 12).image);
    copy.loadCheckpoint(model.toCheckpoint());
    expect(copy.needsTraining('initial', budget)).toBe(false);
    expect((await copy.train('initial', budget)).stepsRun).toBe(0);
    // Without the rule the whole budget runs.
    const full = new WarpModel(tinySettings({ loss: { augmentation: false }, schedule: { initialSteps: 6 } }), ref);
    full.addTest('t0', discPair(64, 64, 36, 32, 12).image);
    const all = await full.train('initial', { unit: 'steps', steps: 6 });
    expect(all).toMatchObject({ stoppedBy: 'budget', stepsRun: 6 });
    for (const m of [model, copy, full]) m.dispose();
  }, 60_000);
});
