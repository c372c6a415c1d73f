/**
 * The region-of-interest (local) warp stage inside a run (core.ts), browser-safe. The stage itself is
 * src/warp/roi-stage.ts; this module builds it for the current global model, resumes its crop models from the run
 * store, trains them for the round's phase and hands back something that warps like the global model.
 *
 * Per run: `planLocalStage` decides once whether the stage runs at all (objects small or thin against the image,
 * roi-trigger.ts); when it does not, nothing else happens (no image is read again, no model is built).
 * Per round r (Med-PerSAM) or once (warp only), after the global model reached phase r:
 *   every test image is loaded again and resampled onto the crops through the current global flow;
 *   the crop models continue from their checkpoints ('roi-<i>' in the store) and train phase r: 'initial', or
 *   'retrain-r' on the previous round's labels resampled onto the crops (§3.3);
 *   the round's mask prompts (Eq. 4) are then read through global ∘ local (`LocalWarpStage.warpTests`).
 */
import type { FloatImage, LabelMap } from '../image/types.js';
import type { ProgressCallback } from '../progress.js';
import type { WarpModel } from '../warp/model.js';
import type { CheckpointData } from '../warp/checkpoint.js';
import type { WarpSettings } from '../warp/presets.js';
import { LocalWarpStage, planSummary, resolveLocalStageOptions, type LocalStageOptions, type LocalStageSummary, type ResolvedLocalStageOptions } from '../warp/roi-stage.js';
import { planRegions, type RoiPlan } from '../warp/roi-trigger.js';
import { MedpersamUserError } from '../errors.js';
import type { RunStore } from './run-store.js';
import type { StageTimer } from './run-record.js';
import type { ImageSource } from './sources.js';

/** The stage's options as a run records them (fingerprint): every default filled in. */
export function resolveRoiOptions(opts: LocalStageOptions | undefined): ResolvedLocalStageOptions {
  try {
    return resolveLocalStageOptions(opts);
  } catch (err) {
    throw new MedpersamUserError('INVALID_OPTION', (err as Error).message, { cause: err });
  }
}

/** The plan for this reference (no model is built): whether the stage runs, and what it crops (for the record). */
export function planLocalStage(
  settings: WarpSettings,
  reference: { image: FloatImage; label: LabelMap },
  options: ResolvedLocalStageOptions,
): { active: boolean; summary: LocalStageSummary; plan: RoiPlan } {
  const plan = planRegions(reference.label, settings.network.resolution, options.trigger, reference.image);
  return { active: plan.crops.length > 0, summary: planSummary(plan, options), plan };
}

export interface BuildLocalStageArgs {
  settings: WarpSettings;
  reference: { image: FloatImage; label: LabelMap };
  options: ResolvedLocalStageOptions;
  /** The plan `planLocalStage` made for this reference and these options (the stage does not plan again). */
  plan?: RoiPlan;
  /** The global model, trained to `round`'s phase. */
  global: WarpModel;
  tests: readonly ImageSource[];
  store: RunStore;
  /** 0 = the initial phase; r ≥ 1 = retraining round r on `pseudolabel(id)` (the labels of round r − 1). */
  round: number;
  /** Optimiser steps of the global model in this phase (the crop models' budget follows, see costRatio). */
  globalSteps: number;
  pseudolabel?: (id: string) => Promise<LabelMap>;
  timer?: StageTimer;
  progress?: ProgressCallback;
  signal?: AbortSignal;
}

const ckptName = (i: number) => `roi-${i}`;

/** The stage for this round, trained (resumed from the store where it holds the crop models' checkpoints). */
export async function buildLocalStage(a: BuildLocalStageArgs): Promise<LocalWarpStage> {
  const time = <T>(stage: string, fn: () => T): T => (a.timer ? a.timer.time(stage, fn) : fn());
  const stage = new LocalWarpStage(a.settings, a.reference, a.options, a.plan);
  try {
    const ids = a.tests.map((t) => t.id);
    stage.holdOutFrom(ids);
    const BATCH = 8;
    for (let s = 0; s < a.tests.length; s += BATCH) {
      const chunk = a.tests.slice(s, s + BATCH);
      const flows = time('roi-prepare', () => a.global.testFlows(chunk.map((t) => t.id), BATCH));
      for (let j = 0; j < chunk.length; j++) {
        const loaded = await time('read', () => chunk[j]!.load());
        time('roi-prepare', () => stage.addTest(chunk[j]!.id, loaded.image, flows[j]!.flowXyWarp, a.global.testFrame(chunk[j]!.id)));
        a.progress?.({ stage: 'roi-prepare', done: s + j + 1, total: ids.length, message: chunk[j]!.id });
      }
    }
    if (a.store.loadExtraCheckpoint) {
      const saved = [];
      for (let i = 0; i < stage.cropModels.length; i++) saved.push(await a.store.loadExtraCheckpoint(ckptName(i)));
      if (saved.every((c) => c !== null)) {
        try {
          stage.loadCheckpoints(saved.map((c) => c!));
        } catch (err) {
          throw new MedpersamUserError('BAD_RUN_STATE', `region-of-interest checkpoint does not fit this run (${(err as Error).message})`, {
            file: a.store.location,
            cause: err,
          });
        }
      }
    }
    const trainOpts = {
      signal: a.signal,
      onProgress: a.progress,
      lendWorkersFrom: a.global,
      onCropCheckpoint: a.store.saveExtraCheckpoint ? (i: number, c: CheckpointData) => a.store.saveExtraCheckpoint!(ckptName(i), c) : undefined,
    };
    const run = async () => {
      if (a.round === 0) {
        await stage.train('initial', a.globalSteps, trainOpts);
        return;
      }
      const pseudo = new Map<string, LabelMap>();
      for (const id of ids) pseudo.set(id, await a.pseudolabel!(id));
      await stage.retrain(a.round, pseudo, a.globalSteps, trainOpts);
    };
    if (a.timer) await a.timer.timeAsync('roi-train', run);
    else await run();
    return stage;
  } catch (err) {
    stage.dispose();
    throw err;
  }
}
