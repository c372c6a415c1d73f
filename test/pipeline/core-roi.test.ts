/**
 * The region-of-interest stage inside the core loop: warp-only and Med-PerSAM (generated echo-mask SAM, so SAM's
 * output is the mask prompt): it runs only for small objects, changes the labels only around them, records its
 * plan, keeps its crop models' checkpoints in the store, is retrained in the §3.3 rounds, and a resumed run gives
 * the same masks as a straight one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCore, type CoreRunInput, type CoreSamResult, type CoreWarpOnlyResult, type LoadedSam } from '../../src/pipeline/core.js';
import { samModelRecord } from '../../src/pipeline/medpersam.js';
import { MemoryRunStore } from '../../src/pipeline/run-store.js';
import { MemoryOutputSink } from '../../src/pipeline/output-sink.js';
import { bytesImageSource, labelMapSource, type ImageSource } from '../../src/pipeline/sources.js';
import { browserRasterDecoders } from '../../src/io/raster-browser.js';
import { encodePng8 } from '../../src/io/png.js';
import { loadSamModel } from '../../src/sam/model.js';
import { initTf } from '../../src/warp/backend.js';
import { MedpersamUserError } from '../../src/errors.js';
import type { LabelMap } from '../../src/image/types.js';
import { boundingBox } from '../../src/image/components.js';
import { binaryOfClass } from '../../src/image/labels.js';
import { makeFixture, TINY_WARP, type Fixture } from './helpers.js';
import { discAndSquareScene } from '../warp-roi/helpers.js';

let f: Fixture;
let echoDir: string;

beforeAll(async () => {
  f = await makeFixture({ count: 2, size: 64 });
  echoDir = await f.sam({ decoder: 'echo-mask', k: 4 });
}, 60_000);

afterAll(async () => {
  await f?.cleanup();
});

const S = 128;

/** The ROI stage tests' scene (test/warp-roi/helpers.ts) as an 8-bit PNG. */
function scene(sx: number, sy: number, dx: number, dy: number): { png: Uint8Array; label: LabelMap } {
  const { image, label } = discAndSquareScene(sx, sy, dx, dy);
  return { png: encodePng8({ ...image, data: Uint8Array.from(image.data, Math.round) }), label };
}

const SHIFTS: [number, number, number, number][] = [
  [3, -2, 6, 4],
  [-4, 2, -5, 6],
  [2, 3, 7, -5],
  [-3, -3, -6, -4],
];

function inputs(): Pick<CoreRunInput, 'reference' | 'tests'> {
  const ref = scene(0, 0, 0, 0);
  const tests: ImageSource[] = SHIFTS.map((s, i) => {
    const t = scene(...s);
    return bytesImageSource(`t${i}`, `t${i}.png`, async () => t.png, browserRasterDecoders, { groundTruth: labelMapSource(`t${i}_mask`, t.label) });
  });
  return {
    reference: { image: bytesImageSource('ref', 'ref.png', async () => ref.png, browserRasterDecoders), mask: labelMapSource('ref_mask', ref.label) },
    tests,
  };
}

const environment = {
  initWarpBackend: () => initTf({ backend: 'wasm' }),
  runtimeInfo: async () => ({ toolVersion: 'test', platform: 'test', arch: 'test', cpus: 1 }),
};
/** Small, fast crop models: a 64 px crop at 32 local px. */
const ROI_TRIGGER = { minZoom: 2, marginWorkingPx: 4, minCropWorkingPx: 16 };
const warp = (mode: 'auto' | 'off') => ({ overrides: TINY_WARP, roi: { trigger: { ...ROI_TRIGGER, mode }, costRatio: 4 } });

async function loadEcho(): Promise<LoadedSam> {
  const model = await loadSamModel(echoDir, { cacheDir: false, threads: 1, targetEmbedding: true });
  return { model, record: await samModelRecord(model.info, 'echo'), release: () => model.release() };
}

/** Pixels where two label maps differ, and whether all of them lie in the box. */
function differences(a: LabelMap, b: LabelMap, box: { x0: number; y0: number; x1: number; y1: number }) {
  let n = 0;
  let outside = 0;
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      if (a.data[y * a.width + x] === b.data[y * b.width + x]) continue;
      n++;
      if (x < box.x0 || x > box.x1 || y < box.y0 || y > box.y1) outside++;
    }
  }
  return { n, outside };
}

describe('region-of-interest stage in the core loop', () => {
  it('warp-only: runs for the small disc only, changes labels only around it, records its plan and keeps checkpoints', async () => {
    const off = new MemoryOutputSink();
    await runCore({ ...inputs(), warp: warp('off'), store: new MemoryRunStore(), sink: off, environment });
    const store = new MemoryRunStore();
    const on = new MemoryOutputSink();
    const res = (await runCore({ ...inputs(), warp: warp('auto'), store, sink: on, environment })) as CoreWarpOnlyResult;
    expect(res.timings.roiS).toBeGreaterThan(0);
    const roi = (on.record as { roi: { crops: { frame: { x0: number; y0: number; width: number; height: number }; classes: number[]; steps: number }[] } }).roi;
    expect(roi.crops.map((c) => c.classes)).toEqual([[1]]);
    expect(roi.crops[0]!.steps).toBe(4); // costRatio 4 × 1 global step, one crop at the global resolution (32 px)
    const { x0, y0, width, height } = roi.crops[0]!.frame;
    let changed = 0;
    for (const id of ['t0', 't1', 't2', 't3']) {
      // the global warp moves the crop's footprint by a few pixels: allow 12 px around it
      const d = differences(on.masks.get(id)!, off.masks.get(id)!, { x0: x0 - 12, y0: y0 - 12, x1: x0 + width + 12, y1: y0 + height + 12 });
      expect(d.outside).toBe(0);
      changed += d.n;
    }
    expect(changed).toBeGreaterThan(0);
    const ckpt = await store.loadExtraCheckpoint('roi-0');
    expect(ckpt?.progress.stepInPhase).toBe(4);
    // the 'off' run recorded the measured objects but no crop
    expect((off.record as { roi: { crops: unknown[]; mode: string } }).roi).toMatchObject({ crops: [], mode: 'off' });
  }, 120_000);

  it('a reference without small objects: no crop, no cost, the same masks as with the stage off', async () => {
    const [ref, ...tests] = f.data.items; // 64 px chest phantoms: lungs and heart only
    const { fileImageSource, fileMaskSource } = await import('../../src/pipeline/sources-node.js');
    const base = {
      reference: { image: fileImageSource('ref', ref!.imagePath), mask: fileMaskSource(ref!.maskPath) },
      tests: tests.map((t) => fileImageSource(t.id, t.imagePath)),
      environment,
    };
    const auto = new MemoryOutputSink();
    const res = (await runCore({ ...base, warp: { overrides: TINY_WARP }, store: new MemoryRunStore(), sink: auto })) as CoreWarpOnlyResult;
    const off = new MemoryOutputSink();
    await runCore({ ...base, warp: { overrides: TINY_WARP, roi: { trigger: { mode: 'off' } } }, store: new MemoryRunStore(), sink: off });
    expect((auto.record as { roi: { crops: unknown[] } }).roi.crops).toEqual([]);
    expect(res.timings.roiS).toBeLessThan(0.5); // planning only
    // the report page says why the stage did not run
    expect(auto.report!.html).toContain('not run (mode auto; no object small or thin against the image)');
    for (const t of tests) expect(Buffer.from(auto.masks.get(t.id)!.data).equals(Buffer.from(off.masks.get(t.id)!.data))).toBe(true);
  }, 120_000);

  it('Med-PerSAM: the local stage is retrained each round, its prompts come from global ∘ local, resume gives the same masks', async () => {
    const base = { ...inputs(), warp: warp('auto'), retrainRounds: 1, refinements: 0, report: false, overlays: false, environment };
    const straightStore = new MemoryRunStore();
    const straight = new MemoryOutputSink();
    const res = (await runCore({ ...base, sam: loadEcho, store: straightStore, sink: straight })) as CoreSamResult;
    const roi = res.record.roi as { crops: { classes: number[]; steps: number }[] };
    expect(roi.crops.map((c) => c.classes)).toEqual([[1]]);
    expect(roi.crops[0]!.steps).toBe(8); // initial 4 + retrain-1 4
    expect((await straightStore.loadExtraCheckpoint('roi-0'))?.progress.phase).toBe('retrain-1');
    expect(res.record.timingsMs['roi-train']).toBeGreaterThan(0);
    // the round-0 mask prompt of the disc is the composed warp (echo SAM: the final label equals the last prompt)
    const noRoi = new MemoryOutputSink();
    const noRoiStore = new MemoryRunStore();
    await runCore({ ...base, warp: warp('off'), sam: loadEcho, store: noRoiStore, sink: noRoi });
    let promptsDiffer = 0;
    for (const id of ['t0', 't1', 't2', 't3']) {
      const a = (await straightStore.readRoundResult(0, id))!.warped;
      const b = (await noRoiStore.readRoundResult(0, id))!.warped;
      promptsDiffer += differences(a, b, { x0: 0, y0: 0, x1: S, y1: S }).n;
      // SAM's box prompt for the disc is the box of the refined mask prompt, in the image's own coordinates
      const disc = (await straightStore.readRoundResult(0, id))!.record.classes.find((c) => c.cls === 1)!;
      expect(disc.box).toEqual(boundingBox(binaryOfClass(a, 1)));
      expect(Buffer.from(straight.masks.get(id)!.data).equals(Buffer.from((await straightStore.readRoundResult(1, id))!.warped.data))).toBe(true);
    }
    expect(promptsDiffer).toBeGreaterThan(0);

    // interrupted in round 1 (after the local retraining), resumed: identical masks
    const store = new MemoryRunStore();
    const sink = new MemoryOutputSink();
    const controller = new AbortController();
    const err = await runCore({ ...base, sam: loadEcho, store, sink, signal: controller.signal }, (e) => {
      if (e.stage === 'sam' && e.message?.startsWith('round 1/') && e.done === 1) controller.abort();
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MedpersamUserError);
    await runCore({ ...base, sam: loadEcho, store, sink });
    for (const id of ['t0', 't1', 't2', 't3']) expect(Buffer.from(sink.masks.get(id)!.data).equals(Buffer.from(straight.masks.get(id)!.data))).toBe(true);
  }, 240_000);
});
