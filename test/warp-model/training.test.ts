import { beforeAll, describe, expect, it } from 'vitest';
import { initTf } from '../../src/warp/backend.js';
import { WarpModel } from '../../src/warp/model.js';
import { serializeCheckpoint, deserializeCheckpoint } from '../../src/warp/checkpoint.js';
import type { CheckpointData } from '../../src/warp/checkpoint.js';
import { discPair, tinySettings, dice } from './helpers.js';

beforeAll(async () => {
  await initTf({ backend: 'wasm' });
});

/** Reference: disc at the centre; tests: the disc shifted. */
function toyModel(settings = tinySettings(), shifts: [number, number][] = [[5, 0], [4, 2], [6, -1], [5, 1]]) {
  const ref = discPair(64, 64, 32, 32, 12);
  const model = new WarpModel(settings, ref);
  shifts.forEach(([dx, dy], i) => model.addTest(`t${i}`, discPair(64, 64, 32 + dx, 32 + dy, 12).image));
  return model;
}

describe('WarpModel training', () => {
  it('training steps decrease the loss on a shifted-disc pair', async () => {
    const model = toyModel(tinySettings({ loss: { augmentation: false } }));
    const before = model.lossOn(model.testIds).total;
    await model.train('initial', 1);
    const after1 = model.lossOn(model.testIds).total;
    expect(after1).toBeLessThan(before);
    await model.train('initial', 6);
    const after = model.lossOn(model.testIds).total;
    expect(after).toBeLessThan(after1);
    model.dispose();
  });

  it('the affine stage recovers a known translation (deformable stages do little)', async () => {
    // Test disc shifted by +6 px in x at 64 px = +3 working pixels at R = 32 → θ02 ≈ 3 / (32/2) = 0.1875.
    const model = toyModel(tinySettings({ loss: { augmentation: false, lambdaReg: 5 }, schedule: { learningRate: 3e-3, batchSize: 4 } }), [
      [6, 0], [6, 0], [6, 0], [6, 0],
    ]);
    await model.train('initial', 40);
    const flows = model.predictFlowsWork([model['tests'][0]!.work]);
    // mean displacement inside the (test) disc ≈ −3 working px? No: flow maps test → reference: the test disc at
    // x+6 must sample the reference at x, so dx ≈ −3 working pixels.
    const R = 32;
    let sx = 0;
    let n = 0;
    for (let y = 0; y < R; y++) {
      for (let x = 0; x < R; x++) {
        if ((x - (38 / 2 - 0.25)) ** 2 + (y - 15.75) ** 2 < 25) {
          sx += flows[0]![(y * R + x) * 2]!;
          n++;
        }
      }
    }
    expect(sx / n).toBeLessThan(-2);
    expect(sx / n).toBeGreaterThan(-4);
    const warped = model.warpLabel(discPair(64, 64, 38, 32, 12).image);
    expect(dice(warped, discPair(64, 64, 38, 32, 12).label)).toBeGreaterThan(0.93);
    model.dispose();
  }, 120_000);

  it('ablation switches remove the loss terms', () => {
    const withAug = toyModel(tinySettings());
    const noAug = toyModel(tinySettings({ loss: { augmentation: false } }));
    const a = withAug.lossOn(withAug.testIds, 2);
    const b = noAug.lossOn(noAug.testIds, 2);
    expect(a.aug).toBeGreaterThan(0);
    expect(a.augSeg).toBeGreaterThan(0);
    expect(b.aug).toBe(0);
    expect(b.augSeg).toBe(0);
    // same weights (same seed), same test images: the totals differ by exactly λa·L_aug
    expect(b.image).toBeCloseTo(a.image, 5);
    expect(a.total - b.total).toBeCloseTo(0.1 * a.aug, 4);
    expect(b.total).toBeCloseTo(b.image * 1 + b.reg * 0.75, 5);
    const noAffine = toyModel(tinySettings({ network: { affine: false } }));
    expect(noAffine.network.params.names().some((n) => n.startsWith('aff/'))).toBe(false);
    [withAug, noAug, noAffine].forEach((m) => m.dispose());
  });

  it('warpLabel returns the original size for non-square images of another size than the reference', () => {
    const model = toyModel();
    const wide = discPair(90, 40, 45, 20, 10).image;
    const out = model.warpLabel(wide);
    expect([out.width, out.height]).toEqual([90, 40]);
    // identity-initialised model: the centred reference disc lands centred (stretched to the test's aspect)
    expect(out.data[20 * 90 + 45]).toBe(1);
    expect(out.data[0]).toBe(0);
    model.dispose();
  });

  it('checkpoint save → load gives identical predictions, and resume continues exactly', async () => {
    const settings = tinySettings();
    const a = toyModel(settings);
    let after1: CheckpointData | null = null;
    // 4 tests, batch 4: one step per epoch.
    await a.train('initial', 1, { onCheckpoint: (c) => { if (c.progress.stepInPhase === 1) after1 = c; } });
    await a.train('initial', 2);
    expect(a.progress).toMatchObject({ phase: 'initial', stepInPhase: 2, totalSteps: 2 });

    const bytes = serializeCheckpoint(after1!);
    const b = toyModel(settings);
    b.loadCheckpoint(deserializeCheckpoint(bytes));
    expect(b.progress).toMatchObject({ phase: 'initial', stepInPhase: 1, totalSteps: 1 });
    const r = await b.train('initial', 2);
    expect(r.stepsRun).toBe(1);
    const wa = a.network.params.exportArrays();
    const wb = b.network.params.exportArrays();
    wa.forEach((w, i) => expect(Array.from(wb[i]!.data)).toEqual(Array.from(w.data)));

    // save → load → identical flows
    const c = toyModel(settings);
    c.loadCheckpoint(deserializeCheckpoint(serializeCheckpoint(a.toCheckpoint())));
    const img = discPair(64, 64, 35, 30, 12).image;
    expect(Array.from(c.warpLabel(img).data)).toEqual(Array.from(a.warpLabel(img).data));
    const fa = a.predictFlowsWork([a['tests'][0]!.work])[0]!;
    const fc = c.predictFlowsWork([c['tests'][0]!.work])[0]!;
    expect(Array.from(fc)).toEqual(Array.from(fa));
    // a finished phase is not retrained
    expect((await c.train('initial', 2)).stepsRun).toBe(0);
    [a, b, c].forEach((m) => m.dispose());
  }, 120_000);

  it('cosine schedule: the learning rate decays over the phase (constant stays constant)', async () => {
    // 4 tests, batch 4 → 1 step per epoch; 2 epochs: steps 0 and 1 of 2 → lr·1 then lr·0.5·(1+cos(π/2)) = lr/2.
    const cos = toyModel(tinySettings({ schedule: { lrSchedule: 'cosine', learningRate: 2e-3 } }));
    await cos.train('initial', 2);
    expect(cos.optimizer.learningRate).toBeCloseTo(1e-3, 10);
    const flat = toyModel(tinySettings({ schedule: { learningRate: 2e-3 } }));
    await flat.train('initial', 2);
    expect(flat.optimizer.learningRate).toBe(2e-3);
    cos.dispose();
    flat.dispose();
  });

  it('loading a checkpoint trained with other settings fails', () => {
    const a = toyModel(tinySettings());
    const b = toyModel(tinySettings({ schedule: { learningRate: 5e-3 } }));
    expect(() => b.loadCheckpoint(a.toCheckpoint())).toThrow(/different settings/);
    a.dispose();
    b.dispose();
  });

  it('retraining with a pseudolabel moves the warp toward it (§3.3)', async () => {
    // Test image identical to the reference, but its pseudolabel is the disc shifted by 8 px. The image terms are
    // switched off (λw = λr = 0) to isolate the §3.3 term: it alone must pull the warped mask onto the pseudolabel.
    const settings = tinySettings({ loss: { augmentation: false, lambdaWarp: 0, lambdaReg: 0 }, schedule: { learningRate: 3e-3 } });
    const ref = discPair(64, 64, 32, 32, 12);
    const model = new WarpModel(settings, ref);
    model.addTest('same', ref.image);
    const shifted = discPair(64, 64, 40, 32, 12).label;
    const before = dice(model.warpLabel(ref.image), shifted);
    expect(model.lossOn(['same']).pseudoSeg).toBe(0);
    model.setPseudolabel('same', shifted);
    expect(model.lossOn(['same']).pseudoSeg).toBeGreaterThan(0.1);
    await model.retrain(1, new Map([['same', shifted]]), { budget: { unit: 'epochs', epochs: 15 } });
    const after = dice(model.warpLabel(ref.image), shifted);
    expect(before).toBeLessThan(0.6);
    expect(after).toBeGreaterThan(0.9);
    expect(model.progress).toMatchObject({ phase: 'retrain-1', stepInPhase: 15 });
    model.dispose();
  }, 120_000);
});
