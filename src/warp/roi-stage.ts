/**
 * LocalWarpStage: the region-of-interest stage after the global warp, for objects that are small or thin against the
 * image (roi-trigger.ts decides which and where). Pure (no file system): runs in a browser.
 *
 *   global WarpModel trained (§3.1) ─► plan: crops of the reference around its small/thin objects (xyRefOriginal)
 *   per crop: a WarpModel of the same family (its own working resolution and step budget) whose reference is the
 *             reference crop and whose test images are the test images resampled onto the crop through the
 *             inverse global warp (roi-frames.ts), i.e. already globally aligned, at the original resolution, and
 *             moved by the translation that matches the crop's objects (roi-match.ts: the object may still be off by
 *             more than its own size, out of reach of the network's similarity loss);
 *   label of a test image: reference label read through "global warp, then the crop's local warp" (roi-compose.ts;
 *             Eq. 4 with the composed map). Outside every crop the result is the global warp's, bit for bit.
 *   §3.3 retraining: pseudolabels (test frame) are resampled onto each crop the same way and retrain the crop models.
 *
 * When the global model changes (a retraining round), call `rebase` with the new global flows: the test crops are
 * resampled again and the crop models keep their weights and optimiser state.
 */
import type { Box, FloatImage, LabelMap } from '../image/types.js';
import { toGrey } from '../image/normalize.js';
import { dilate } from '../image/morphology.js';
import { WarpModel, toWorkingImage, type LabelWarpMode, type TrainPhaseOptions, type TrainPhaseResult } from './model.js';
import type { WarpSettings, WarpSettingsOverrides } from './presets.js';
import type { CheckpointData } from './checkpoint.js';
import type { ImageLossMode } from './trainer.js';
import { upsampleFlowPlanes, warpLabelArgmax, warpLabelNearest } from './spatial.js';
import type { WorkingFrame } from './working-frame.js';
import { GlobalWarpMap, cropImage, cropLabel, resampleImageOnGrid, resampleLabelOnGrid, type CropFrame } from './roi-frames.js';
import { composeGlobalAndLocal, type LocalRefinement } from './roi-compose.js';
import { DEFAULT_EVIDENCE, cropSimilarity, decideObject, heldOutIds, type EvidenceOptions, type ObjectEvidence, type ObjectRegion } from './roi-evidence.js';
import { ShiftMatcher, type ShiftMatch } from './roi-match.js';
import { DEFAULT_ROI_TRIGGER, planRegions, type RoiObject, type RoiPlan, type RoiTriggerOptions } from './roi-trigger.js';

export interface LocalStageOptions {
  /** Trigger and crop geometry (mode 'auto' | 'force' | 'off', thresholds, margins; roi-trigger.ts). */
  trigger?: Partial<RoiTriggerOptions>;
  /**
   * Training budget of the crop models together, as a share of the global phase's compute (default 0.75, so that
   * with resampling and the composed label warps the stage stays under the global warp stage's time). Crop i of n,
   * at local resolution R_i, trains for globalSteps · costRatio · (R / R_i)² / n optimiser steps (R = the global
   * resolution; a step costs about ∝ R²), at least 1 and at most 4 × globalSteps. Retraining rounds the same.
   */
  costRatio?: number;
  /** Overrides of the crop models' settings (on top of the global settings; the resolution is set per crop). */
  overrides?: WarpSettingsOverrides;
  /** Width of the band where a crop's local flow fades out, as a fraction of the crop side (default 0.1). */
  taperFraction?: number;
  /** Template-match each test crop's objects before the crop model (default true; roi-match.ts). */
  templateMatch?: boolean;
  /**
   * Image similarity loss of the crop models, whatever the global model uses (default 'ncc'; 'auto' = the global
   * rule of loss-choice.ts applied to the reference crop). An `overrides.loss.imageLoss` wins over this.
   * Measured (issue 12's stress set, bench/roi-variants.ts, the same global model per set): NCC instead of SSIM
   * raises the phantoms' small-target Dice at every kind and size: tiny 24 images 78.5 → 82.6, small 24 87.3 → 90.9
   * (band 74.1 → 83.7), small 8 91.6 → 92.6, small 64 89.8 → 90.5, medium 24 93.1 → 94.0. The same small-24 crops
   * trained on one thread instead of two give 87.9 (SSIM) and 91.1 (NCC): the +3.2 to +4.1 gains are real, the
   * +0.7 to +1.0 ones within that spread. NCC's 9 px windows normalise the local contrast, so a 2–4 px bright line
   * in noise pulls the flow as strongly as a large edge does; SSIM's pull on it is weak.
   */
  imageLoss?: ImageLossMode;
  /** Which test images are held out of the crop models' training to decide per object (roi-evidence.ts). */
  evidence?: Partial<EvidenceOptions>;
}

export const DEFAULT_LOCAL_STAGE = { costRatio: 0.75, taperFraction: 0.1, templateMatch: true, imageLoss: 'ncc' } as const satisfies LocalStageOptions;

/** Every option of the stage with its default filled in (what a run records). */
export type ResolvedLocalStageOptions = Required<Omit<LocalStageOptions, 'overrides' | 'trigger' | 'evidence'>> &
  Pick<LocalStageOptions, 'overrides'> & { trigger: RoiTriggerOptions; evidence: EvidenceOptions };

export function resolveLocalStageOptions(opts: LocalStageOptions = {}): ResolvedLocalStageOptions {
  const o: ResolvedLocalStageOptions = {
    trigger: { ...DEFAULT_ROI_TRIGGER, ...opts.trigger },
    costRatio: opts.costRatio ?? DEFAULT_LOCAL_STAGE.costRatio,
    taperFraction: opts.taperFraction ?? DEFAULT_LOCAL_STAGE.taperFraction,
    templateMatch: opts.templateMatch ?? DEFAULT_LOCAL_STAGE.templateMatch,
    imageLoss: opts.imageLoss ?? DEFAULT_LOCAL_STAGE.imageLoss,
    evidence: { ...DEFAULT_EVIDENCE, ...opts.evidence },
    ...(opts.overrides ? { overrides: opts.overrides } : {}),
  };
  if (!['auto', 'force', 'off'].includes(o.trigger.mode)) throw new Error(`unknown region-of-interest mode "${String(o.trigger.mode)}" (auto, force, off)`);
  if (!['ncc', 'ssim', 'auto'].includes(o.imageLoss)) throw new Error(`local stage imageLoss must be ncc, ssim or auto, got "${String(o.imageLoss)}"`);
  if (!(o.costRatio > 0)) throw new Error(`local stage costRatio must be > 0, got ${o.costRatio}`);
  if (!(o.trigger.minOutlineContrast >= 0 && Number.isFinite(o.trigger.minOutlineContrast))) {
    throw new Error(`region-of-interest minOutlineContrast must be a number ≥ 0, got ${o.trigger.minOutlineContrast}`);
  }
  const e = o.evidence;
  if (!(e.heldOutShare >= 0 && e.heldOutShare < 1) || !(e.minHeldOut >= 1 && e.maxHeldOut >= e.minHeldOut) || !(e.minTestsToHoldOut >= 2)) {
    throw new Error(`local stage evidence options out of range: ${JSON.stringify(e)} (heldOutShare in [0, 1), 1 ≤ minHeldOut ≤ maxHeldOut, minTestsToHoldOut ≥ 2)`);
  }
  if (!(o.taperFraction >= 0 && o.taperFraction <= 0.5)) throw new Error(`local stage taperFraction must be in [0, 0.5], got ${o.taperFraction}`);
  return o;
}

/** Per-crop training options: `onCropCheckpoint(cropIndex, checkpoint)` saves each crop model's state. */
export interface LocalTrainOptions extends Pick<TrainPhaseOptions, 'onProgress' | 'signal'> {
  onCropCheckpoint?: (cropIndex: number, checkpoint: CheckpointData) => Promise<void> | void;
  /**
   * The global model whose warp workers the crop models borrow while they train (one crop at a time), so the stage
   * trains on as many threads as the global phase did; the workers are handed back (re-initialised with the global
   * model) before `train` returns, also when it fails. Without it the crop models train on this thread alone.
   */
  lendWorkersFrom?: WarpModel;
}

/** What a run records about the stage (see `summary`). */
export interface LocalStageSummary {
  mode: string;
  costRatio: number;
  /** The plan's objects (roi-trigger.ts), extent, thickness and contrast rounded for the record. */
  objects: (Pick<RoiObject, 'cls' | 'box' | 'extent' | 'thicknessFraction' | 'thicknessWorkingPx' | 'elongation' | 'small' | 'thin' | 'outlineContrast' | 'visible' | 'triggered'> & {
    /** The held-out evidence and the decision (roi-evidence.ts), once the crop models trained; absent before. */
    evidence?: ObjectEvidence;
  })[];
  /**
   * Per crop: its frame, classes, local resolution, the optimiser steps its model has run, and whether its
   * refinement is used (some object of it kept; true before any decision).
   */
  crops: { frame: CropFrame; classes: number[]; resolution: number; steps: number; kept: boolean }[];
  /** Test images held out of the crop models' training to decide (0 = in-sample evidence or none yet). */
  heldOut: number;
}

/** Why the region-of-interest stage did not run: the mode, or which small/thin objects the image hardly shows. */
export function notTriggeredReason(roi: Pick<LocalStageSummary, 'mode' | 'objects'>): string {
  if (roi.mode === 'off') return 'mode off';
  const decided = roi.objects.filter((o) => o.evidence);
  if (decided.length > 0 && decided.every((o) => !o.evidence!.kept)) {
    const list = decided.map((o) => `class ${o.cls} ${signed(o.evidence!.gain)} (${o.evidence!.improved}/${o.evidence!.images})`).join(', ');
    return `mode ${roi.mode}; no crop refinement improved the ${decided[0]!.evidence!.basis} images' similarity over the global warp (NCC gain ${list})`;
  }
  if (roi.objects.some((o) => o.triggered)) return `mode ${roi.mode}; crops planned but not needed in this session`;
  const faint = roi.objects.filter((o) => (o.small || o.thin) && !o.visible);
  if (faint.length === 0) return `mode ${roi.mode}; no object small or thin against the image`;
  const list = faint.map((o) => `class ${o.cls} ${o.outlineContrast!.toFixed(3)}`).join(', ');
  return `mode ${roi.mode}; small or thin objects whose outline the reference image hardly shows (outline contrast ${list}, below the threshold)`;
}

const round4 = (x: number) => Number(x.toFixed(4));
const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;

/** One line per triggered object: its decision and evidence (reports, bench tables). */
export function evidenceLines(roi: Pick<LocalStageSummary, 'objects'>, className: (cls: number) => string = (c) => `class ${c}`): string[] {
  return roi.objects
    .filter((o) => o.triggered && o.evidence)
    .map((o) => {
      const e = o.evidence!;
      return `${className(o.cls)}: ${e.kept ? 'refined' : 'global warp kept'} (local NCC ${e.nccGlobal.toFixed(3)} → ${e.nccLocal.toFixed(3)}, ${signed(e.gain)}, better on ${e.improved}/${e.images} ${e.basis} images)`;
    });
}

/**
 * The report's line on the stage: each crop (its frame in the reference, classes, grid) and each candidate object's
 * decision with its evidence; or why the stage did not run.
 */
export function roiReportLine(roi: LocalStageSummary, ran: boolean, className?: (cls: number) => string): string {
  if (!ran) return `not run (${notTriggeredReason(roi)})`;
  const crops = roi.crops.map(
    (c) => `crop ${c.frame.width}×${c.frame.height} px at (${c.frame.x0}, ${c.frame.y0}) of the reference, classes ${c.classes.join('+')}, ${c.resolution} px grid${c.kept ? '' : ' (not used)'}`,
  );
  const decisions = evidenceLines(roi, className);
  return [...crops, ...decisions].join('; ');
}

/** A plan as a run records it (no model needed: crops' steps are 0). */
export function planSummary(plan: RoiPlan, options: ResolvedLocalStageOptions): LocalStageSummary {
  return {
    mode: options.trigger.mode,
    costRatio: options.costRatio,
    objects: plan.objects.map((o) => ({
      cls: o.cls,
      box: o.box,
      extent: Number(o.extent.toFixed(4)),
      thicknessFraction: Number(o.thicknessFraction.toFixed(4)),
      thicknessWorkingPx: Number(o.thicknessWorkingPx.toFixed(2)),
      elongation: Number(o.elongation.toFixed(2)),
      small: o.small,
      thin: o.thin,
      outlineContrast: o.outlineContrast === null ? null : Number(o.outlineContrast.toFixed(4)),
      visible: o.visible,
      triggered: o.triggered,
    })),
    crops: plan.crops.map((c) => ({ frame: c.frame, classes: c.classes, resolution: c.resolution, steps: 0, kept: true })),
    heldOut: 0,
  };
}

interface CropModel {
  frame: CropFrame;
  model: WarpModel;
  settings: WarpSettings;
  taperPx: number;
  /** The crop's objects' box (crop pixels): the ownership box of roi-compose.ts. */
  objectBox: Box;
  /** One template per object (roi-match.ts) and its share of the pre-shift field (sums to 1 over the objects). */
  templates: ObjectTemplate[];
  /** The reference crop in grey, for template matching and the evidence. */
  refGrey: Float32Array;
  /** Per object of the crop: its reference pixels on the crop grid (the evidence's neighbourhoods). */
  regions: ObjectRegion[];
  /** The evidence's NCC window radius in crop pixels: the crop models' 9-pixel windows on the crop grid. */
  windowRadiusPx: number;
}

interface TestRecord {
  id: string;
  width: number;
  height: number;
  /** The global map the test crops were resampled with (needed to compose and to map pseudolabels). */
  global: GlobalWarpMap;
  /** Per crop, per object: the template match, its shift (crop pixels) and NCC with and without it (all zero without
   * matching). */
  matches: ShiftMatch[][];
  /** Held-out (or in-sample evidence) images only, per crop: the model's working input and the unshifted crop in grey. */
  evidence?: { work: Float32Array; grey: Float32Array }[];
}

/** An object's template in a crop: its pixels dilated by a little, inside a box (roi-match.ts), and its pre-shift weight. */
interface ObjectTemplate {
  /** Weight of this object's shift in the crop's pre-shift field at each crop pixel (crop-size plane). */
  weight: Float32Array;
  /** The template prepared for matching against every test crop (roi-match.ts). */
  matcher: ShiftMatcher;
}

/**
 * Settings of a crop model: the global settings at the crop's resolution (without coarse steps or stopping rule),
 * another seed, the crop models' image loss
 * (LocalStageOptions.imageLoss) and the overrides. Test crops are already aligned by the global warp, so crop models
 * never run an initial alignment of their own.
 */
export function cropSettings(
  global: WarpSettings,
  resolution: number,
  cropIndex: number,
  overrides: WarpSettingsOverrides = {},
  imageLoss: ImageLossMode = DEFAULT_LOCAL_STAGE.imageLoss,
): WarpSettings {
  return {
    preprocess: { ...global.preprocess, prealign: 'none', ...overrides.preprocess },
    network: { ...global.network, ...overrides.network, resolution },
    loss: { ...global.loss, imageLoss, ...overrides.loss },
    schedule: { ...withoutGlobalOnlySchedule(global.schedule), seed: global.schedule.seed + 1 + cropIndex, ...overrides.schedule },
  };
}

/**
 * The global schedule less what only the global model uses: coarse steps (a crop's grid need not halve into
 * multiples of 16) and the stopping rule (a crop model's budget is a share of the global one, spent whole).
 */
function withoutGlobalOnlySchedule(schedule: WarpSettings['schedule']): WarpSettings['schedule'] {
  const { coarseSteps: _coarse, plateau: _plateau, ...rest } = schedule;
  return rest;
}

export class LocalWarpStage {
  readonly plan: RoiPlan;
  readonly options: ResolvedLocalStageOptions;
  /** Ownership length scale where crops overlap (reference pixels): two global working pixels. */
  private readonly ownershipPx: number;
  private readonly refImage: FloatImage;
  private readonly refLabel: LabelMap;
  private readonly globalSettings: WarpSettings;
  private crops: CropModel[];
  private readonly tests = new Map<string, TestRecord>();
  /** Images the crop models do not train on (roi-evidence.ts); null until `holdOut` (then no decision is made). */
  private heldOut: Set<string> | null = null;
  /** Per plan object: the evidence and decision after training (null: not decided, every crop used). */
  private decisions: (ObjectEvidence | null)[] | null = null;

  /**
   * `plan`: the plan `planRegions` already made for this reference label and image, this global resolution and these
   * trigger options (a run plans once, before it knows whether the stage runs, and rebuilds the stage every round);
   * without it the stage plans itself.
   */
  constructor(globalSettings: WarpSettings, reference: { image: FloatImage; label: LabelMap }, opts: LocalStageOptions = {}, plan?: RoiPlan) {
    const { image, label } = reference;
    if (image.width !== label.width || image.height !== label.height) {
      throw new Error(`reference image ${image.width}x${image.height} and label ${label.width}x${label.height} differ in size`);
    }
    this.options = resolveLocalStageOptions(opts);
    this.ownershipPx = (2 * Math.max(label.width, label.height)) / globalSettings.network.resolution;
    this.refImage = image;
    this.refLabel = label;
    this.globalSettings = globalSettings;
    if (plan) {
      const { reference: size, globalResolution, mode } = plan;
      if (size.width !== label.width || size.height !== label.height || globalResolution !== globalSettings.network.resolution || mode !== this.options.trigger.mode) {
        throw new Error(
          `region-of-interest plan was made for a ${size.width}x${size.height} reference at R = ${globalResolution} in mode ${mode}, ` +
            `not for this ${label.width}x${label.height} reference at R = ${globalSettings.network.resolution} in mode ${this.options.trigger.mode}`,
        );
      }
    }
    this.plan = plan ?? planRegions(label, globalSettings.network.resolution, this.options.trigger, image);
    this.crops = this.plan.crops.map((c, i) => this.newCropModel(i));
  }

  private newCropModel(i: number): CropModel {
    const c = this.plan.crops[i]!;
    const settings = cropSettings(this.globalSettings, c.resolution, i, this.options.overrides, this.options.imageLoss);
    const refCrop = cropImage(this.refImage, c.frame);
    const model = new WarpModel(settings, { image: refCrop, label: cropLabel(this.refLabel, c.frame) });
    const taperPx = Math.round(this.options.taperFraction * Math.min(c.frame.width, c.frame.height));
    const { frame } = c;
    const objectBox = { x0: c.objectBox.x0 - frame.x0, y0: c.objectBox.y0 - frame.y0, x1: c.objectBox.x1 - frame.x0, y1: c.objectBox.y1 - frame.y0 };
    // One template per object: its pixels dilated by half its thickness measure (half a band's width, half a disc's
    // radius; at least 2 px, at most two global working pixels): its edges and a little context, not the background
    // that the global warp already aligned.
    const refPxPerGlobal = Math.max(this.refLabel.width, this.refLabel.height) / this.globalSettings.network.resolution;
    const objs = c.objects.map((k) => this.plan.objects[k]!);
    const distances: Float32Array[] = [];
    const refGrey = (refCrop.channels === 1 ? refCrop : toGrey(refCrop)).data;
    // template matching searches up to half the crop's longer side
    const maxShift = Math.floor(Math.max(frame.width, frame.height) / 2);
    const templates: ObjectTemplate[] = objs.map((o) => {
      const pad = Math.round(Math.min(Math.max(2, 0.5 * o.thicknessPx), 2 * refPxPerGlobal));
      const objectMask = { width: frame.width, height: frame.height, data: new Uint8Array(frame.width * frame.height) };
      for (let y = o.box.y0; y <= o.box.y1; y++) {
        for (let x = o.box.x0; x <= o.box.x1; x++) {
          if (this.refLabel.data[y * this.refLabel.width + x] === o.cls) objectMask.data[(y - frame.y0) * frame.width + (x - frame.x0)] = 1;
        }
      }
      const box = {
        x0: Math.max(0, o.box.x0 - frame.x0 - pad),
        y0: Math.max(0, o.box.y0 - frame.y0 - pad),
        x1: Math.min(frame.width - 1, o.box.x1 - frame.x0 + pad),
        y1: Math.min(frame.height - 1, o.box.y1 - frame.y0 + pad),
      };
      // squared distance of every crop pixel to the object's box: inverse-distance weights between objects
      const d2 = new Float32Array(frame.width * frame.height);
      for (let v = 0; v < frame.height; v++) {
        for (let u = 0; u < frame.width; u++) {
          const dx = Math.max(o.box.x0 - frame.x0 - u, 0, u - (o.box.x1 - frame.x0));
          const dy = Math.max(o.box.y0 - frame.y0 - v, 0, v - (o.box.y1 - frame.y0));
          d2[v * frame.width + u] = dx * dx + dy * dy;
        }
      }
      distances.push(d2);
      const mask = dilate(objectMask, { shape: 'disk', radius: pad }).data;
      const matcher = new ShiftMatcher(refGrey, frame.width, frame.height, box, { maxShift, mask });
      return { weight: new Float32Array(frame.width * frame.height), matcher };
    });
    // Pre-shift field weights: 1 for a single object; between objects, inverse squared distance (1 / (1 + d²)).
    for (let i = 0; i < frame.width * frame.height; i++) {
      let sum = 0;
      for (const d2 of distances) sum += 1 / (1 + d2[i]!);
      templates.forEach((t, k) => (t.weight[i] = 1 / (1 + distances[k]![i]!) / sum));
    }
    const regions: ObjectRegion[] = objs.map((o) => {
      const mask = new Uint8Array(frame.width * frame.height);
      for (let y = o.box.y0; y <= o.box.y1; y++) {
        for (let x = o.box.x0; x <= o.box.x1; x++) {
          if (this.refLabel.data[y * this.refLabel.width + x] === o.cls) mask[(y - frame.y0) * frame.width + (x - frame.x0)] = 1;
        }
      }
      return { mask, box: { x0: o.box.x0 - frame.x0, y0: o.box.y0 - frame.y0, x1: o.box.x1 - frame.x0, y1: o.box.y1 - frame.y0 } };
    });
    const windowRadiusPx = Math.max(1, Math.round((4 * Math.max(frame.width, frame.height)) / c.resolution));
    return { frame, model, settings, taperPx, objectBox, templates, refGrey, regions, windowRadiusPx };
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
   * `testFrame`: the global model's working frame of the image (WarpModel.testFrame; null = plain resize).
   */
  addTest(id: string, image: FloatImage, globalFlowXyWarp: Float32Array, testFrame: WorkingFrame | null = null): void {
    if (this.tests.has(id)) throw new Error(`duplicate test image id ${id}`);
    const global = this.globalMap(image, globalFlowXyWarp, testFrame);
    const matches: ShiftMatch[][] = [];
    const held = this.heldOut?.has(id) ?? false;
    const keepEvidence = held || (this.heldOut !== null && this.heldOut.size === 0);
    const evidence: { work: Float32Array; grey: Float32Array }[] = [];
    for (const c of this.crops) {
      const { crop, unshifted, match } = this.testCrop(image, global, c);
      matches.push(match);
      if (!held) c.model.addTest(id, crop);
      if (keepEvidence) evidence.push({ work: toWorkingImage(crop, c.model.resolution), grey: (unshifted.channels === 1 ? unshifted : toGrey(unshifted)).data });
    }
    this.tests.set(id, { id, width: image.width, height: image.height, global, matches, ...(keepEvidence ? { evidence } : {}) });
  }

  /**
   * Before any `addTest`: hold these test images out of the crop models' training; after `train('initial')` each
   * object is kept or falls back to the global warp by its evidence on them (roi-evidence.ts). An empty list: the
   * evidence is taken on the training images themselves (too few test images to hold some out). Without a call,
   * nothing is decided and every crop's refinement is used.
   */
  holdOut(ids: readonly string[]): void {
    if (this.tests.size > 0) throw new Error('holdOut must be called before the first addTest');
    this.heldOut = new Set(ids);
  }

  /** `holdOut` with the images `heldOutIds` picks from the whole test set under this stage's evidence options. */
  holdOutFrom(allIds: readonly string[]): void {
    this.holdOut(heldOutIds(allIds, this.options.evidence));
  }

  /** Per plan object: its evidence and decision (null: not triggered or not decided yet). */
  get objectDecisions(): readonly (ObjectEvidence | null)[] {
    return this.decisions ?? this.plan.objects.map(() => null);
  }

  /** Whether crop i's refinement is used: some object of it kept (every crop before a decision). */
  cropKept(i: number): boolean {
    if (!this.decisions) return true;
    return this.plan.crops[i]!.objects.some((k) => this.decisions![k]?.kept === true);
  }

  /**
   * Measure every triggered object's evidence on the held-out images (or in-sample, see `holdOut`) with the crop
   * models as trained now, and decide (roi-evidence.ts). A no-op without `holdOut`.
   */
  decide(): void {
    if (!this.heldOut || !this.active) return;
    const basis: ObjectEvidence['basis'] = this.heldOut.size > 0 ? 'held-out' : 'in-sample';
    const ids = [...this.tests.values()].filter((t) => t.evidence).map((t) => t.id);
    const decisions: (ObjectEvidence | null)[] = this.plan.objects.map(() => null);
    this.crops.forEach((c, i) => {
      const perObject: { nccGlobal: number; nccLocal: number }[][] = c.templates.map(() => []);
      const flows = c.model.predictFlowsWork(ids.map((id) => this.tests.get(id)!.evidence![i]!.work));
      ids.forEach((id, j) => {
        const t = this.tests.get(id)!;
        const R = c.model.resolution;
        const r = this.refinement(c, upsampleFlowPlanes(flows[j]!, R, R, c.frame.width, c.frame.height), t.matches[i]!);
        cropSimilarity(c.refGrey, t.evidence![i]!.grey, r, c.regions, c.windowRadiusPx).forEach((s, k) => perObject[k]!.push(s));
      });
      this.plan.crops[i]!.objects.forEach((k, j) => (decisions[k] = decideObject(perObject[j]!, basis)));
    });
    this.decisions = decisions;
  }

  private globalMap(size: { width: number; height: number }, flowXyWarp: Float32Array, testFrame: WorkingFrame | null): GlobalWarpMap {
    // A copy of the size, never the object given: that is often the full test image, and a test's map lives as long
    // as the stage (a 1024 px float image kept per test image held 4 MB each, 1 GB on 246 images).
    const test = { width: size.width, height: size.height };
    const ref = { width: this.refLabel.width, height: this.refLabel.height };
    return new GlobalWarpMap(flowXyWarp, this.globalSettings.network.resolution, test, ref, testFrame?.warpToOriginal ?? null);
  }

  /**
   * A test image on a crop (through the inverse global warp, `unshifted`), and moved by the template-matched shifts
   * (`crop`, what the crop model sees).
   */
  private testCrop(image: FloatImage, global: GlobalWarpMap, c: CropModel): { crop: FloatImage; unshifted: FloatImage; match: ShiftMatch[] } {
    const { frame } = c;
    const unshifted = resampleImageOnGrid(image, global.cropGridInTest(frame), frame.width, frame.height);
    if (!this.options.templateMatch) return { crop: unshifted, unshifted, match: c.templates.map(() => ({ shift: [0, 0], ncc: 0, nccAtZero: 0 })) };
    const grey = (unshifted.channels === 1 ? unshifted : toGrey(unshifted)).data;
    const match = c.templates.map((t) => t.matcher.match(grey));
    if (match.every((m) => m.shift[0] === 0 && m.shift[1] === 0)) return { crop: unshifted, unshifted, match };
    return { crop: resampleImageOnGrid(image, global.cropGridInTest(frame, this.preShiftField(c, match)), frame.width, frame.height), unshifted, match };
  }

  /** The crop's pre-shift field S (crop pixels, w × h × 2) from its objects' shifts. */
  private preShiftField(c: CropModel, matches: readonly ShiftMatch[]): Float32Array {
    const n = c.frame.width * c.frame.height;
    const field = new Float32Array(n * 2);
    c.templates.forEach((t, k) => {
      const [sx, sy] = matches[k]!.shift;
      for (let i = 0; i < n; i++) {
        field[2 * i] += t.weight[i]! * sx;
        field[2 * i + 1] += t.weight[i]! * sy;
      }
    });
    return field;
  }

  /** Optimiser steps of crop model `cropIndex` for `globalSteps` steps of the global phase (see costRatio). */
  stepsFor(globalSteps: number, cropIndex = 0): number {
    const c = this.crops[cropIndex];
    if (!c) return 0;
    const relativeCost = (this.globalSettings.network.resolution / c.model.resolution) ** 2;
    const steps = Math.round((globalSteps * this.options.costRatio * relativeCost) / this.crops.length);
    return Math.min(Math.max(1, steps), Math.max(1, 4 * globalSteps));
  }

  /**
   * Train every crop model for phase `phase` ('initial' or 'retrain-N'): `stepsFor(globalSteps)` optimiser steps
   * each (resumable like WarpModel.train). Progress is reported as stage 'roi-train' over all crops' steps.
   */
  async train(phase: string, globalSteps: number, opts: LocalTrainOptions = {}): Promise<TrainPhaseResult[]> {
    const results: TrainPhaseResult[] = [];
    if (!this.active || this.tests.size === 0) return results;
    const totals = this.crops.map((_, i) => (this.cropKept(i) ? this.stepsFor(globalSteps, i) : 0));
    const total = totals.reduce((a, b) => a + b, 0);
    let before = 0;
    const lender = opts.lendWorkersFrom;
    const workers = lender ? lender.detachWorkers() : [];
    try {
      for (let i = 0; i < this.crops.length; i++) {
        const c = this.crops[i]!;
        const offset = before;
        // a crop whose every object fell back to the global warp is not trained further (its labels are unused)
        if (!this.cropKept(i)) continue;
        if (workers.length > 0) await c.model.useWorkers(workers);
        try {
          results.push(
            await c.model.train(phase, { unit: 'steps', steps: totals[i]! }, {
              signal: opts.signal,
              onCheckpoint: opts.onCropCheckpoint ? (ck) => opts.onCropCheckpoint!(i, ck) : undefined,
              onProgress: opts.onProgress
                ? (e) => opts.onProgress!({ stage: 'roi-train', done: offset + e.done, total, message: `crop ${i + 1}/${this.crops.length} ${e.message ?? ''}` })
                : undefined,
            }),
          );
        } finally {
          c.model.detachWorkers();
        }
        before += totals[i]!;
      }
    } finally {
      if (lender && workers.length > 0) await lender.useWorkers(workers);
    }
    this.decide();
    return results;
  }

  /**
   * One §3.3 round for the crop models: the pseudolabels (test id → label map at the test image's size) are
   * resampled onto every crop through the current global warp, then phase 'retrain-<round>' trains.
   */
  async retrain(round: number, pseudolabels: ReadonlyMap<string, LabelMap>, globalSteps: number, opts: LocalTrainOptions = {}): Promise<TrainPhaseResult[]> {
    if (!this.active) return [];
    for (const c of this.crops) c.model.clearPseudolabels();
    for (const [id, label] of pseudolabels) {
      const t = this.tests.get(id);
      if (!t) throw new Error(`pseudolabel for unknown test image id ${id}`);
      if (this.heldOut?.has(id)) continue;
      this.crops.forEach((c, i) => {
        const grid = t.global.cropGridInTest(c.frame, this.preShiftField(c, t.matches[i]!));
        c.model.setPseudolabel(id, resampleLabelOnGrid(label, grid, c.frame.width, c.frame.height));
      });
    }
    return this.train(`retrain-${round}`, globalSteps, opts);
  }

  /**
   * After the global model changed: resample every test crop through the new global flows (same ids as added;
   * images at their original size). The crop models keep weights, optimiser state and progress.
   */
  rebase(tests: Iterable<{ id: string; image: FloatImage; globalFlowXyWarp: Float32Array; testFrame?: WorkingFrame | null }>): void {
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
    for (const t of list) this.addTest(t.id, t.image, t.globalFlowXyWarp, t.testFrame ?? null);
    this.crops.forEach((c, i) => c.model.loadCheckpoint(states[i]!));
  }

  /** Local refinements (ψ on each crop grid) of test images already added. */
  refinements(ids: readonly string[], batchSize = 8): Map<string, LocalRefinement[]> {
    const out = new Map<string, LocalRefinement[]>(ids.map((id) => [id, []]));
    const trained = ids.filter((id) => !this.heldOut?.has(id));
    const held = ids.filter((id) => this.heldOut?.has(id));
    this.crops.forEach((c, i) => {
      if (!this.cropKept(i)) return;
      const R = c.model.resolution;
      const add = (id: string, flowXyWarp: Float32Array) =>
        out.get(id)!.push(this.refinement(c, upsampleFlowPlanes(flowXyWarp, R, R, c.frame.width, c.frame.height), this.tests.get(id)!.matches[i]!));
      for (const f of c.model.testFlows(trained, batchSize)) add(f.id, f.flowXyWarp);
      const heldFlows = c.model.predictFlowsWork(held.map((id) => this.tests.get(id)!.evidence![i]!.work), batchSize);
      held.forEach((id, j) => add(id, heldFlows[j]!));
    });
    return out;
  }

  private refinement(c: CropModel, flowXyCrop: Float32Array, matches: readonly ShiftMatch[]): LocalRefinement {
    return { frame: c.frame, flowXyCrop, taperPx: c.taperPx, preShift: this.preShiftField(c, matches), objectBox: c.objectBox };
  }

  /**
   * The reference label warped onto test `id` by the composed map (Eq. 4 with global ∘ local), at its size.
   * `flowScale` α multiplies the composed displacement field (Fig. 6's mask-prompt perturbation; default 1).
   */
  warpTest(id: string, refinements: readonly LocalRefinement[], mode: LabelWarpMode = 'nearest', flowScale = 1): LabelMap {
    const t = this.tests.get(id);
    if (!t) throw new Error(`unknown test image id ${id}`);
    return this.labelFromMap(t.global, refinements, mode, flowScale);
  }

  /** Eq. 4 through global ∘ local for test images already added, in batches; `each` per image in order. */
  warpTests(ids: readonly string[], each: (id: string, label: LabelMap) => void, mode: LabelWarpMode = 'nearest', batchSize = 8, flowScale = 1): void {
    for (let s = 0; s < ids.length; s += batchSize) {
      const chunk = ids.slice(s, s + batchSize);
      const refs = this.refinements(chunk, batchSize);
      for (const id of chunk) each(id, this.warpTest(id, refs.get(id)!, mode, flowScale));
    }
  }

  /** Eq. 4 through global ∘ local for any image, given its global working flow and working frame. */
  warpImage(image: FloatImage, globalFlowXyWarp: Float32Array, mode: LabelWarpMode = 'nearest', testFrame: WorkingFrame | null = null): LabelMap {
    const global = this.globalMap(image, globalFlowXyWarp, testFrame);
    const refinements: LocalRefinement[] = this.crops.filter((_, i) => this.cropKept(i)).map((c) => {
      const R = c.model.resolution;
      const { crop, match } = this.testCrop(image, global, c);
      const [flow] = c.model.predictFlowsWork([toWorkingImage(crop, R)]);
      return this.refinement(c, upsampleFlowPlanes(flow!, R, R, c.frame.width, c.frame.height), match);
    });
    return this.labelFromMap(global, refinements, mode);
  }

  private labelFromMap(global: GlobalWarpMap, refinements: readonly LocalRefinement[], mode: LabelWarpMode, flowScale = 1): LabelMap {
    const { width, height } = global.test;
    const warp = (field: Float32Array) => {
      if (flowScale !== 1) for (let i = 0; i < field.length; i++) field[i] *= flowScale;
      return mode === 'argmax' ? warpLabelArgmax(this.refLabel, field, width, height) : warpLabelNearest(this.refLabel, field, width, height);
    };
    const label = warp(composeGlobalAndLocal(global, refinements, { ownershipPx: this.ownershipPx }));
    const fallBack = this.fallbackClasses();
    if (refinements.length === 0 || fallBack.size === 0) return label;
    // A kept crop also holds an object that fell back: that object's class is the global warp's, pixel for pixel
    // (where either warp labels it, the global warp's label wins).
    const globalLabel = warp(composeGlobalAndLocal(global, [], { ownershipPx: this.ownershipPx }));
    for (let i = 0; i < label.data.length; i++) {
      if (fallBack.has(label.data[i]!) || fallBack.has(globalLabel.data[i]!)) label.data[i] = globalLabel.data[i]!;
    }
    return label;
  }

  /** Classes every triggered object of which fell back to the global warp, while some crop's refinement is kept. */
  private fallbackClasses(): Set<number> {
    const out = new Set<number>();
    if (!this.decisions) return out;
    const objs = this.plan.objects;
    for (const o of objs) {
      if (!o.triggered) continue;
      const same = objs.map((p, k) => ({ p, k })).filter(({ p }) => p.cls === o.cls && p.triggered);
      const inKeptCrop = this.plan.crops.some((c, i) => this.cropKept(i) && c.classes.includes(o.cls));
      if (inKeptCrop && same.every(({ k }) => this.decisions![k]?.kept === false)) out.add(o.cls);
    }
    return out;
  }

  /** The plan and the crop models' state, JSON-friendly (run records, reports). */
  summary(): LocalStageSummary {
    const out = planSummary(this.plan, this.options);
    out.crops.forEach((c, i) => {
      c.steps = this.crops[i]?.model.progress.totalSteps ?? 0;
      c.kept = this.cropKept(i);
    });
    this.objectDecisions.forEach((e, k) => {
      if (e) out.objects[k]!.evidence = { ...e, nccGlobal: round4(e.nccGlobal), nccLocal: round4(e.nccLocal), gain: round4(e.gain) };
    });
    out.heldOut = this.heldOut?.size ?? 0;
    return out;
  }

  /** Test `id`'s template match per object of each crop (roi-match.ts): its shift (crop pixels), NCC with and without it. */
  testMatches(id: string): ShiftMatch[][] {
    const t = this.tests.get(id);
    if (!t) throw new Error(`unknown test image id ${id}`);
    return t.matches.map((c) => c.map((m) => ({ shift: [m.shift[0], m.shift[1]], ncc: m.ncc, nccAtZero: m.nccAtZero })));
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

