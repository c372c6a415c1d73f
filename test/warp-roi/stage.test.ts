import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initTf } from '../../src/warp/backend.js';
import { WarpModel } from '../../src/warp/model.js';
import { LocalWarpStage, notTriggeredReason, resolveLocalStageOptions } from '../../src/warp/roi-stage.js';
import { DEFAULT_ROI_TRIGGER, planRegions } from '../../src/warp/roi-trigger.js';
import type { FloatImage, LabelMap } from '../../src/image/types.js';
import { tinySettings } from '../warp-model/helpers.js';
import { contrastScene, diceOf, discAndSquareScene as scene } from './helpers.js';
import { resizeImage, resizeLabelNearest } from '../../src/image/resize.js';
import { startNodeWarpWorkers } from '../../src/warp/parallel/node-workers.js';
import type { WarpWorkerPeer } from '../../src/warp/parallel/worker-peer.js';

let workers: WarpWorkerPeer[] = [];
afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
});

beforeAll(async () => {
  await initTf({ backend: 'wasm' });
});

const SHIFTS: [number, number, number, number][] = [
  [3, -2, 6, 4],
  [-4, 2, -5, 6],
  [2, 3, 7, -5],
  [-3, -3, -6, -4],
];
const settings = tinySettings({ loss: { augmentation: false }, schedule: { learningRate: 2e-3 } });
// 64 px crop at 32 local px: a small, fast crop model
const trigger = { minZoom: 2, marginWorkingPx: 4, minCropWorkingPx: 16 };
// four test images: one held out (the defaults hold out none below 8 images)
const evidence = { minTestsToHoldOut: 4, minHeldOut: 1 };

/** A global model trained on the shifted scenes and a stage on its flows; `holdOut`: decide on held-out images. */
async function trainedPair(holdOut = false) {
  const ref = scene(0, 0, 0, 0);
  const tests = SHIFTS.map((s, i) => ({ id: `t${i}`, ...scene(...s) }));
  const global = new WarpModel(settings, ref);
  for (const t of tests) global.addTest(t.id, t.image);
  await global.train('initial', 15);
  const flows = new Map(global.testFlows(tests.map((t) => t.id)).map((f) => [f.id, f.flowXyWarp]));
  const stage = new LocalWarpStage(settings, ref, { trigger, costRatio: 1, ...(holdOut ? { evidence } : {}) });
  if (holdOut) stage.holdOutFrom(tests.map((t) => t.id));
  for (const t of tests) stage.addTest(t.id, t.image, flows.get(t.id)!);
  return { ref, tests, global, flows, stage };
}

describe('LocalWarpStage', () => {
  it('plans one crop around the small disc only, at its own resolution and seed', () => {
    const stage = new LocalWarpStage(settings, scene(0, 0, 0, 0), { trigger });
    expect(stage.active).toBe(true);
    expect(stage.plan.objects.map((o) => [o.cls, o.triggered])).toEqual([[1, true], [2, false]]);
    expect(stage.plan.crops.length).toBe(1);
    expect(stage.plan.crops[0]!.classes).toEqual([1]);
    const crop = stage.cropModels[0]!;
    expect(crop.model.resolution).toBe(32);
    expect(crop.model.settings.schedule.seed).toBe(settings.schedule.seed + 1);
    expect(crop.model.classes).toEqual([1, 2]); // the crop (x 64..127, y 0..63) holds a corner of the square
    stage.dispose();
  });

  it('a faint small object is a candidate too (the outline contrast is recorded); the old gate is an option', () => {
    const faint = new LocalWarpStage(settings, contrastScene(60));
    expect(faint.active).toBe(true);
    expect(faint.summary().objects[0]).toMatchObject({ cls: 1, small: true, outlineContrast: 0.1, visible: true, triggered: true });
    const gated = new LocalWarpStage(settings, contrastScene(60), { trigger: { minOutlineContrast: 0.15 } });
    expect(gated.active).toBe(false);
    expect(gated.summary().objects[0]).toMatchObject({ cls: 1, outlineContrast: 0.1, visible: false, triggered: false });
    faint.dispose();
    gated.dispose();
  });

  it('uses a plan made beforehand for the same reference, resolution and mode; refuses one made for another', () => {
    const ref = scene(0, 0, 0, 0);
    const plan = planRegions(ref.label, settings.network.resolution, { ...DEFAULT_ROI_TRIGGER, ...trigger }, ref.image);
    const stage = new LocalWarpStage(settings, ref, { trigger }, plan);
    expect(stage.plan).toBe(plan);
    expect(stage.cropModels.map((c) => c.frame)).toEqual(plan.crops.map((c) => c.frame));
    stage.dispose();
    const other = planRegions(ref.label, 2 * settings.network.resolution, trigger, ref.image);
    expect(() => new LocalWarpStage(settings, ref, { trigger }, other)).toThrow(/plan was made for a 128x128 reference at R = 64 in mode auto, not for this 128x128 reference at R = 32 in mode auto/);
    expect(() => new LocalWarpStage(settings, ref, { trigger: { ...trigger, mode: 'force' } }, plan)).toThrow(/in mode auto, not .* in mode force/);
  });

  it('crop models train with NCC whatever the global loss; the option or an override chooses another', () => {
    const ref = scene(0, 0, 0, 0);
    const ssimGlobal = { ...settings, loss: { ...settings.loss, imageLoss: 'ssim' as const } };
    const lossOf = (s: LocalWarpStage) => [s.cropModels[0]!.model.settings.loss.imageLoss, s.cropModels[0]!.model.imageLossChoice.kind];
    const byDefault = new LocalWarpStage(ssimGlobal, ref, { trigger });
    expect(lossOf(byDefault)).toEqual(['ncc', 'ncc']);
    expect(byDefault.options.imageLoss).toBe('ncc');
    const ssim = new LocalWarpStage(ssimGlobal, ref, { trigger, imageLoss: 'ssim' });
    expect(lossOf(ssim)).toEqual(['ssim', 'ssim']);
    // 'auto': the global rule on the reference crop (no padding, no noise here: SSIM)
    const auto = new LocalWarpStage(ssimGlobal, ref, { trigger, imageLoss: 'auto' });
    expect(lossOf(auto)).toEqual(['ssim', 'ssim']);
    expect(auto.cropModels[0]!.model.imageLossChoice.reason).toMatch(/SSIM/);
    const overridden = new LocalWarpStage(ssimGlobal, ref, { trigger, overrides: { loss: { imageLoss: 'ssim' } } });
    expect(lossOf(overridden)).toEqual(['ssim', 'ssim']);
    for (const s of [byDefault, ssim, auto, overridden]) s.dispose();
  });

  it('rejects bad options with the option named', () => {
    expect(() => resolveLocalStageOptions({ trigger: { minOutlineContrast: -0.1 } })).toThrow(/minOutlineContrast must be a number ≥ 0, got -0.1/);
    expect(() => resolveLocalStageOptions({ trigger: { minOutlineContrast: Number.NaN } })).toThrow(/minOutlineContrast/);
    expect(() => resolveLocalStageOptions({ costRatio: 0 })).toThrow(/costRatio must be > 0/);
    expect(resolveLocalStageOptions({}).trigger.minOutlineContrast).toBe(0);
    expect(() => resolveLocalStageOptions({ evidence: { heldOutShare: 1 } })).toThrow(/evidence options out of range/);
    expect(() => resolveLocalStageOptions({ imageLoss: 'mse' as never })).toThrow(/imageLoss must be ncc, ssim or auto, got "mse"/);
  });

  it('an inactive stage (mode off) costs nothing and returns the global warp exactly', async () => {
    const ref = scene(0, 0, 0, 0);
    const global = new WarpModel(settings, ref);
    const t = scene(...SHIFTS[0]!);
    global.addTest('t0', t.image);
    await global.train('initial', 1);
    const [f] = global.testFlows(['t0']);
    const stage = new LocalWarpStage(settings, ref, { trigger: { mode: 'off' } });
    expect(stage.active).toBe(false);
    stage.addTest('t0', t.image, f!.flowXyWarp);
    expect(await stage.train('initial', 100)).toEqual([]);
    let label: LabelMap | null = null;
    stage.warpTests(['t0'], (_id, l) => (label = l));
    expect(Array.from(label!.data)).toEqual(Array.from(global.labelFromFlow(f!.flowXyWarp, 128, 128).data));
    global.dispose();
    stage.dispose();
  });

  it('keeps no reference to a full test image once its crops are cut (memory grows by crops, not images)', async () => {
    const ref = scene(0, 0, 0, 0);
    const global = new WarpModel(settings, ref);
    const t = scene(...SHIFTS[0]!);
    global.addTest('t0', t.image);
    const [f] = global.testFlows(['t0']);
    const stage = new LocalWarpStage(settings, ref, { trigger });
    expect(stage.active).toBe(true);
    stage.addTest('t0', t.image, f!.flowXyWarp);
    // every value the stage keeps per test image, walked; the image's pixel array must not be among them
    const seen = new Set<unknown>();
    const walk = (v: unknown): void => {
      if (v === null || typeof v !== 'object' || seen.has(v)) return;
      seen.add(v);
      if (ArrayBuffer.isView(v)) return;
      for (const x of v instanceof Map ? v.values() : Object.values(v)) walk(x);
    };
    walk((stage as unknown as { tests: Map<string, unknown> }).tests);
    expect(seen.has(t.image)).toBe(false);
    expect(seen.has(t.image.data)).toBe(false);
    global.dispose();
    stage.dispose();
  });

  it('refines a small object the global warp misplaces; outside the crop the labels equal the global ones', async () => {
    const { tests, global, flows, stage } = await trainedPair();
    const globalSteps = 15 * Math.ceil(tests.length / settings.schedule.batchSize);
    expect(stage.stepsFor(globalSteps)).toBe(15); // costRatio 1, one crop at the global resolution (32 px)
    const results = await stage.train('initial', globalSteps * 4);
    expect(results.map((r) => r.stepsRun)).toEqual([60]);
    let globalDice = 0;
    let localDice = 0;
    const footprint = stage.cropModels[0]!.frame;
    stage.warpTests(tests.map((t) => t.id), (id, label) => {
      const t = tests.find((x) => x.id === id)!;
      const g = global.labelFromFlow(flows.get(id)!, 128, 128);
      globalDice += diceOf(g, t.label, 1) / tests.length;
      localDice += diceOf(label, t.label, 1) / tests.length;
      // far from the crop (its footprint in the test is the crop moved by the global warp, a few px) nothing changes
      for (let y = 0; y < 128; y++) {
        for (let x = 0; x < 128; x++) {
          const far = x < footprint.x0 - 16 || x > footprint.x0 + footprint.width + 16 || y > footprint.y0 + footprint.height + 16;
          if (far) expect(label.data[y * 128 + x]).toBe(g.data[y * 128 + x]);
        }
      }
    });
    if (process.env.ROI_TEST_DEBUG) console.log({ globalDice, localDice });
    // one template match per object of each crop; the chosen shift matches at least as well as no shift
    for (const t of tests) {
      const matches = stage.testMatches(t.id);
      expect(matches.map((c) => c.length)).toEqual([1]);
      const m = matches[0]![0]!;
      expect(m.ncc).toBeGreaterThanOrEqual(m.nccAtZero - 0.05); // the small-shift prior may cost a little
    }
    expect(() => stage.testMatches('nope')).toThrow(/unknown test image id nope/);
    // the disc (radius 5 px = 1.25 global working px) moves on its own by up to 8.6 px
    // (measured: global 0.15, local 0.86 after 60 local steps; 0.38 after 30)
    expect(globalDice).toBeLessThan(0.4);
    expect(localDice).toBeGreaterThan(0.75);
    // warpImage (an image given with its flow, not added) gives the same label as warpTests
    const t0 = tests[0]!;
    let viaTests: LabelMap | null = null;
    stage.warpTests([t0.id], (_id, l) => (viaTests = l));
    expect(Array.from(stage.warpImage(t0.image, flows.get(t0.id)!).data)).toEqual(Array.from(viaTests!.data));
    global.dispose();
    stage.dispose();
  }, 120_000);

  it('rebase keeps the crop models; checkpoints restore them; retrain runs a retraining phase on pseudolabels', async () => {
    const { ref, tests, global, flows, stage } = await trainedPair();
    await stage.train('initial', 4);
    const ids = tests.map((t) => t.id);
    const before = stage.refinements(ids).get('t1')![0]!.flowXyCrop;
    stage.rebase(tests.map((t) => ({ id: t.id, image: t.image, globalFlowXyWarp: flows.get(t.id)! })));
    expect(Array.from(stage.refinements(ids).get('t1')![0]!.flowXyCrop)).toEqual(Array.from(before));
    expect(() => stage.rebase([])).toThrow(/exactly the test images/);

    const copy = new LocalWarpStage(settings, ref, { trigger });
    for (const t of tests) copy.addTest(t.id, t.image, flows.get(t.id)!);
    copy.loadCheckpoints(stage.toCheckpoints());
    expect(Array.from(copy.refinements(ids).get('t1')![0]!.flowXyCrop)).toEqual(Array.from(before));

    const pseudo = new Map(tests.map((t) => [t.id, t.label]));
    const res = await stage.retrain(1, pseudo, 4);
    expect(res.map((r) => r.phase)).toEqual(['retrain-1']);
    expect(stage.cropModels[0]!.model.progress.phase).toBe('retrain-1');
    expect(res[0]!.recentLoss!.pseudoSeg).toBeGreaterThan(0);
    await expect(stage.retrain(2, new Map([['nope', tests[0]!.label]]), 4)).rejects.toThrow(/unknown test image id nope/);
    [global, stage, copy].forEach((m) => m.dispose());
  }, 120_000);

  it('a test image of another size and aspect ratio gets its label at its own size, the object where it is', async () => {
    // The scene resampled to 160 × 96 (the global warp is the identity: zero working flow, sizes differ): the
    // crop is resampled from the wide image, matched, and the composed label comes back at 160 × 96.
    const ref = scene(0, 0, 0, 0);
    const wide = resizeImage(scene(0, 0, 0, 0).image, 160, 96, 'bilinear');
    const wideLabel = resizeLabelNearest(scene(0, 0, 0, 0).label, 160, 96);
    const stage = new LocalWarpStage(settings, ref, { trigger, costRatio: 1 });
    const zero = new Float32Array(32 * 32 * 2);
    const label = stage.warpImage(wide, zero);
    expect([label.width, label.height]).toEqual([160, 96]);
    expect(diceOf(label, wideLabel, 1)).toBeGreaterThan(0.8);
    stage.dispose();
  });

  it("crop models train on the global model's workers when lent, and the global model gets them back", async () => {
    workers = startNodeWarpWorkers(1);
    const { tests, global, flows, stage } = await trainedPair();
    await global.useWorkers(workers);
    const threadsSeen = new Set<number>();
    await stage.train('initial', 6, { lendWorkersFrom: global, onProgress: () => threadsSeen.add(stage.cropModels[0]!.model.threads) });
    expect([...threadsSeen]).toEqual([2]);
    expect(global.threads).toBe(2);
    expect(stage.cropModels[0]!.model.threads).toBe(1);
    // The global model computes with the workers again: its parallel flows equal the ones it gave before.
    const again = await global.testFlowsParallel(tests.map((t) => t.id), 2);
    again.forEach((f) => expect(Array.from(f.flowXyWarp)).toEqual(Array.from(flows.get(f.id)!)));
    // The same crop training on this thread alone agrees to float rounding (the sum of two shards' gradients).
    const single = new LocalWarpStage(settings, scene(0, 0, 0, 0), { trigger, costRatio: 1 });
    for (const t of tests) single.addTest(t.id, t.image, flows.get(t.id)!);
    await single.train('initial', 6);
    const a = stage.refinements(['t0']).get('t0')![0]!.flowXyCrop;
    const b = single.refinements(['t0']).get('t0')![0]!.flowXyCrop;
    let maxAbs = 0;
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(b[i]!));
      maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    }
    expect(maxAbs).toBeGreaterThan(0);
    expect(maxDiff).toBeLessThan(1e-3 * maxAbs);
    global.detachWorkers();
    [global, stage, single].forEach((m) => m.dispose());
  }, 120_000);
  it('decides per object on held-out images: a disc that moves on its own keeps its refinement, held-out images included', async () => {
    const { tests, global, flows, stage } = await trainedPair(true);
    expect(() => stage.holdOut([])).toThrow(/before the first addTest/);
    // t2 is held out: the crop model trains on the other three
    expect(stage.cropModels[0]!.model.testIds).toEqual(['t0', 't1', 't3']);
    await stage.train('initial', 60);
    const [disc] = stage.objectDecisions;
    if (process.env.ROI_TEST_DEBUG) console.log(disc);
    expect(disc).toMatchObject({ basis: 'held-out', images: 1, improved: 1, kept: true });
    expect(disc!.nccLocal).toBeGreaterThan(disc!.nccGlobal);
    expect(stage.summary()).toMatchObject({ heldOut: 1, crops: [{ kept: true }], objects: [{ cls: 1, evidence: { kept: true } }, { cls: 2 }] });
    expect(stage.summary().objects[1]!.evidence).toBeUndefined(); // the square is not a candidate
    // the held-out image's label comes from the crop model too, and it is better than the global warp's
    const t2 = tests[2]!;
    let label: LabelMap | null = null;
    stage.warpTests(['t2'], (_id, l) => (label = l));
    expect(diceOf(label!, t2.label, 1)).toBeGreaterThan(diceOf(global.labelFromFlow(flows.get('t2')!, 128, 128), t2.label, 1) + 0.2);
    global.dispose();
    stage.dispose();
  }, 120_000);

  it('falls back to the global warp per crop when the refinement cannot beat it on held-out images', async () => {
    // every test image is the reference itself and the global warp the identity: nothing to improve, so the crop's
    // local warp can only match the held-out image as well as the global warp (gain 0) or worse
    const ref = scene(0, 0, 0, 0);
    const ids = ['a', 'b', 'c', 'd'];
    const zero = new Float32Array(32 * 32 * 2);
    const stage = new LocalWarpStage(settings, ref, { trigger, costRatio: 1, evidence });
    stage.holdOutFrom(ids);
    for (const id of ids) stage.addTest(id, ref.image, zero);
    await stage.train('initial', 8);
    const [disc] = stage.objectDecisions;
    expect(disc).toMatchObject({ basis: 'held-out', images: 1, kept: false });
    expect(disc!.nccGlobal).toBeCloseTo(1, 6);
    expect(disc!.gain).toBeLessThanOrEqual(0);
    expect(stage.cropKept(0)).toBe(false);
    const summary = stage.summary();
    expect(summary.crops[0]!.kept).toBe(false);
    expect(notTriggeredReason(summary)).toMatch(/no crop refinement improved the held-out images' similarity over the global warp \(NCC gain class 1 /);
    // every label is the global warp's (here: the reference label), bit for bit, held-out or not
    stage.warpTests(ids, (_id, l) => expect(Array.from(l.data)).toEqual(Array.from(ref.label.data)));
    expect(Array.from(stage.warpImage(ref.image, zero).data)).toEqual(Array.from(ref.label.data));
    // a rejected crop is not trained further
    const steps = stage.cropModels[0]!.model.progress.totalSteps;
    expect(await stage.retrain(1, new Map(ids.map((id) => [id, ref.label])), 8)).toEqual([]);
    expect(stage.cropModels[0]!.model.progress.totalSteps).toBe(steps);
    stage.dispose();
  }, 120_000);
});
