/**
 * LocalWarpStage: the region-of-interest stage after the global warp, for objects that are small or thin against the
 * image (roi-trigger.ts decides which and where). Pure (no file system): runs in a browser.
 *
 *   global WarpModel trained (§3.1) ─► plan: crops of the reference around its small/thin objects (xyRefOriginal)
 *   per crop: a WarpModel of the same family (its own working resolution and step budget) whose reference is the
 *             reference crop and whose test images are the test images resampled onto the crop through the
 *             inverse global warp (roi-frames.ts), i.e. already globally aligned, at the original resolution;
 *   label of a test image: reference label read through "global warp, then the crop's local warp" (roi-compose.ts;
 *             Eq. 4 with the composed map). Outside every crop the result is the global warp's, bit for bit.
 *   §3.3 retraining: pseudolabels (test frame) are resampled onto each crop the same way and retrain the crop models.
 *
 * When the global model changes (a retraining round), call `rebase` with the new global flows: the test crops are
 * resampled again and the crop models keep their weights and optimiser state.
 */
import type { FloatImage, LabelMap } from '../image/types.js';
import { WarpModel, toWorkingImage, type LabelWarpMode, type TrainPhaseOptions, type TrainPhaseResult } from './model.js';
import type { WarpSettings, WarpSettingsOverrides } from './presets.js';
import type { CheckpointData } from './checkpoint.js';
import { upsampleFlowPlanes, warpLabelArgmax, warpLabelNearest } from './spatial.js';
import { GlobalWarpMap, cropImage, cropLabel, resampleImageOnGrid, resampleLabelOnGrid, type CropFrame } from './roi-frames.js';
import { composeGlobalAndLocal, type LocalRefinement } from './roi-compose.js';
import { DEFAULT_ROI_TRIGGER, planRegions, type RoiPlan, type RoiTriggerOptions } from './roi-trigger.js';

export interface LocalStageOptions {
  /** Trigger and crop geometry (mode 'auto' | 'force' | 'off', thresholds, margins; roi-trigger.ts). */
  trigger?: Partial<RoiTriggerOptions>;
  /**
   * Optimiser steps of each crop model in its initial phase, as a multiple of the global model's steps per its
   * own phase (`globalSteps` passed to `initialEpochs`); default 1. Retraining rounds use the same ratio.
   */
  stepRatio?: number;
  /** Overrides of the crop models' settings (on top of the global settings; the resolution is set per crop). */
  overrides?: WarpSettingsOverrides;
  /** Width of the band where a crop's local flow fades out, as a fraction of the crop side (default 0.1). */
  taperFraction?: number;
}

export const DEFAULT_LOCAL_STAGE = { stepRatio: 1, taperFraction: 0.1 } as const;

interface CropModel {
  frame: CropFrame;
  model: WarpModel;
  settings: WarpSettings;
  taperPx: number;
}

interface TestRecord {
  id: string;
  width: number;
  height: number;
  /** The global map the test crops were resampled with (needed to compose and to map pseudolabels). */
  global: GlobalWarpMap;
}

/** Settings of a crop model: the global settings at the crop's resolution, another seed, and the overrides. */
export function cropSettings(global: WarpSettings, resolution: number, cropIndex: number, overrides: WarpSettingsOverrides = {}): WarpSettings {
  return {
    network: { ...global.network, ...overrides.network, resolution },
    loss: { ...global.loss, ...overrides.loss },
    schedule: { ...global.schedule, seed: global.schedule.seed + 1 + cropIndex, ...overrides.schedule },
  };
}

export class LocalWarpStage {
  readonly plan: RoiPlan;
  readonly options: Required<Omit<LocalStageOptions, 'overrides' | 'trigger'>> & Pick<LocalStageOptions, 'overrides'> & { trigger: RoiTriggerOptions };
  private readonly refImage: FloatImage;
  private readonly refLabel: LabelMap;
  private readonly globalSettings: WarpSettings;
  private crops: CropModel[];
  private readonly tests = new Map<string, TestRecord>();

  constructor(globalSettings: WarpSettings, reference: { image: FloatImage; label: LabelMap }, opts: LocalStageOptions = {}) {
    const { image, label } = reference;
    if (image.width !== label.width || image.height !== label.height) {
      throw new Error(`reference image ${image.width}x${image.height} and label ${label.width}x${label.height} differ in size`);
    }
    const trigger = { ...DEFAULT_ROI_TRIGGER, ...opts.trigger };
    this.options = {
      trigger,
      stepRatio: opts.stepRatio ?? DEFAULT_LOCAL_STAGE.stepRatio,
      taperFraction: opts.taperFraction ?? DEFAULT_LOCAL_STAGE.taperFraction,
      overrides: opts.overrides,
    };
    if (!(this.options.stepRatio > 0)) throw new Error(`local stage stepRatio must be > 0, got ${this.options.stepRatio}`);
    this.refImage = image;
    this.refLabel = label;
    this.globalSettings = globalSettings;
    this.plan = planRegions(label, globalSettings.network.resolution, trigger);
    this.crops = this.plan.crops.map((c, i) => this.newCropModel(i));
  }

  private newCropModel(i: number): CropModel {
    const c = this.plan.crops[i]!;
    const settings = cropSettings(this.globalSettings, c.resolution, i, this.options.overrides);
    const model = new WarpModel(settings, { image: cropImage(this.refImage, c.frame), label: cropLabel(this.refLabel, c.frame) });
    const taperPx = Math.round(this.options.taperFraction * Math.min(c.frame.width, c.frame.height));
    return { frame: c.frame, model, settings, taperPx };
  }

  /** Whether any crop was planned (otherwise every method is a no-op and labels equal the global warp's). */
  get active(): boolean {
    return this.crops.length > 0;
  }

  get testIds(): string[] {
    return [...this.tests.keys()];
  }

  /** The crop models (read-only use: settings, progress, classes). */
  get cropModels(): readonly { frame: CropFrame; model: WarpModel; taperPx: number }[] {
    return this.crops;
  }

  /**
   * Add a test image with its global working flow (WarpModel.testFlows / predictFlowsWork): every crop gets the
   * test image resampled onto it through the inverse global warp, at the reference's original resolution.
   */
  addTest(id: string, image: FloatImage, globalFlowXyWarp: Float32Array): void {
    if (this.tests.has(id)) throw new Error(`duplicate test image id ${id}`);
    const global = this.globalMap(image, globalFlowXyWarp);
    this.tests.set(id, { id, width: image.width, height: image.height, global });
    for (const c of this.crops) c.model.addTest(id, this.testCrop(image, global, c.frame));
  }

  private globalMap(size: { width: number; height: number }, flowXyWarp: Float32Array): GlobalWarpMap {
    return new GlobalWarpMap(flowXyWarp, this.globalSettings.network.resolution, size, this.refLabel);
  }

  private testCrop(image: FloatImage, global: GlobalWarpMap, frame: CropFrame): FloatImage {
    return resampleImageOnGrid(image, global.cropGridInTest(frame), frame.width, frame.height);
  }

  /**
   * Epochs of a crop model for `globalSteps` optimiser steps of the global phase (× stepRatio), at least 1.
   * (WarpModel trains in whole epochs of ceil(tests / batch) steps.)
   */
  epochsFor(globalSteps: number, cropIndex = 0): number {
    const c = this.crops[cropIndex];
    if (!c) return 0;
    const perEpoch = Math.ceil(this.tests.size / c.settings.schedule.batchSize);
    return Math.max(1, Math.round((globalSteps * this.options.stepRatio) / Math.max(1, perEpoch)));
  }

  /**
   * Train every crop model for phase `phase` ('initial' or 'retrain-N'), for the epochs matching `globalSteps`
   * global steps. Progress is reported as stage 'roi-train' over all crops' steps.
   */
  async train(phase: string, globalSteps: number, opts: TrainPhaseOptions = {}): Promise<TrainPhaseResult[]> {
    const results: TrainPhaseResult[] = [];
    if (!this.active || this.tests.size === 0) return results;
    const totals = this.crops.map((c, i) => this.epochsFor(globalSteps, i) * Math.ceil(this.tests.size / c.settings.schedule.batchSize));
    const total = totals.reduce((a, b) => a + b, 0);
    let before = 0;
    for (let i = 0; i < this.crops.length; i++) {
      const c = this.crops[i]!;
      const offset = before;
      results.push(
        await c.model.train(phase, this.epochsFor(globalSteps, i), {
          ...opts,
          onProgress: opts.onProgress
            ? (e) => opts.onProgress!({ stage: 'roi-train', done: offset + e.done, total, message: `crop ${i + 1}/${this.crops.length} ${e.message ?? ''}` })
            : undefined,
        }),
      );
      before += totals[i]!;
    }
    return results;
  }

  /**
   * One §3.3 round for the crop models: the pseudolabels (test id → label map at the test image's size) are
   * resampled onto every crop through the current global warp, then phase 'retrain-<round>' trains.
   */
  async retrain(round: number, pseudolabels: ReadonlyMap<string, LabelMap>, globalSteps: number, opts: TrainPhaseOptions = {}): Promise<TrainPhaseResult[]> {
    if (!this.active) return [];
    for (const c of this.crops) c.model.clearPseudolabels();
    for (const [id, label] of pseudolabels) {
      const t = this.tests.get(id);
      if (!t) throw new Error(`pseudolabel for unknown test image id ${id}`);
      for (const c of this.crops) {
        const grid = t.global.cropGridInTest(c.frame);
        c.model.setPseudolabel(id, resampleLabelOnGrid(label, grid, c.frame.width, c.frame.height));
      }
    }
    return this.train(`retrain-${round}`, globalSteps, opts);
  }

  /**
   * After the global model changed: resample every test crop through the new global flows (same ids as added;
   * images at their original size). The crop models keep weights, optimiser state and progress.
   */
  rebase(tests: Iterable<{ id: string; image: FloatImage; globalFlowXyWarp: Float32Array }>): void {
    if (!this.active) return;
    const list = [...tests];
    const ids = new Set(list.map((t) => t.id));
    if (ids.size !== this.tests.size || [...this.tests.keys()].some((id) => !ids.has(id))) {
      throw new Error('rebase needs exactly the test images that were added');
    }
    const states = this.crops.map((c) => c.model.toCheckpoint());
    this.dispose();
    this.tests.clear();
    this.crops = this.plan.crops.map((_, i) => this.newCropModel(i));
    for (const t of list) this.addTest(t.id, t.image, t.globalFlowXyWarp);
    this.crops.forEach((c, i) => c.model.loadCheckpoint(states[i]!));
  }

  /** Local refinements (ψ on each crop grid) of test images already added. */
  refinements(ids: readonly string[], batchSize = 8): Map<string, LocalRefinement[]> {
    const out = new Map<string, LocalRefinement[]>(ids.map((id) => [id, []]));
    for (const c of this.crops) {
      const R = c.model.resolution;
      for (const f of c.model.testFlows([...ids], batchSize)) {
        out.get(f.id)!.push({ frame: c.frame, flowXyCrop: upsampleFlowPlanes(f.flowXyWarp, R, R, c.frame.width, c.frame.height), taperPx: c.taperPx });
      }
    }
    return out;
  }

  /** The reference label warped onto test `id` by the composed map (Eq. 4 with global ∘ local), at its size. */
  warpTest(id: string, refinements: readonly LocalRefinement[], mode: LabelWarpMode = 'nearest'): LabelMap {
    const t = this.tests.get(id);
    if (!t) throw new Error(`unknown test image id ${id}`);
    return this.labelFromMap(t.global, refinements, mode);
  }

  /** Eq. 4 through global ∘ local for test images already added, in batches; `each` per image in order. */
  warpTests(ids: readonly string[], each: (id: string, label: LabelMap) => void, mode: LabelWarpMode = 'nearest', batchSize = 8): void {
    for (let s = 0; s < ids.length; s += batchSize) {
      const chunk = ids.slice(s, s + batchSize);
      const refs = this.refinements(chunk, batchSize);
      for (const id of chunk) each(id, this.warpTest(id, refs.get(id)!, mode));
    }
  }

  /** Eq. 4 through global ∘ local for any image, given its global working flow. */
  warpImage(image: FloatImage, globalFlowXyWarp: Float32Array, mode: LabelWarpMode = 'nearest'): LabelMap {
    const global = this.globalMap(image, globalFlowXyWarp);
    const refinements: LocalRefinement[] = this.crops.map((c) => {
      const R = c.model.resolution;
      const crop = this.testCrop(image, global, c.frame);
      const [flow] = c.model.predictFlowsWork([toWorkingImage(crop, R)]);
      return { frame: c.frame, flowXyCrop: upsampleFlowPlanes(flow!, R, R, c.frame.width, c.frame.height), taperPx: c.taperPx };
    });
    return this.labelFromMap(global, refinements, mode);
  }

  private labelFromMap(global: GlobalWarpMap, refinements: readonly LocalRefinement[], mode: LabelWarpMode): LabelMap {
    const field = composeGlobalAndLocal(global, refinements);
    const { width, height } = global.test;
    return mode === 'argmax' ? warpLabelArgmax(this.refLabel, field, width, height) : warpLabelNearest(this.refLabel, field, width, height);
  }

  /** Every crop model's checkpoint (to resume; restore with `loadCheckpoints` on a stage built the same way). */
  toCheckpoints(): CheckpointData[] {
    return this.crops.map((c) => c.model.toCheckpoint());
  }

  loadCheckpoints(data: readonly CheckpointData[]): void {
    if (data.length !== this.crops.length) throw new Error(`local stage has ${this.crops.length} crops, the checkpoint ${data.length}`);
    this.crops.forEach((c, i) => c.model.loadCheckpoint(data[i]!));
  }

  dispose(): void {
    for (const c of this.crops) c.model.dispose();
  }
}

