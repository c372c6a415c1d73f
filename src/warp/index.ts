/**
 * The warping model (paper §3.1, §3.3, §4.3, App. B): public API.
 *
 *   const model = new WarpModel(resolveWarpSettings('cpu'), { image: refImage, label: refLabel });
 *   for (const [id, img] of tests) model.addTest(id, img);      // keeps only R×R working copies
 *   await model.train('initial', model.settings.schedule.initialEpochs, { onProgress, onEpochEnd: save });
 *   const mask = model.warpLabel(testImage);                      // Eq. 4, at the test image's original size
 *   model.setPseudolabel(id, samMask);                            // §3.3
 *   await model.train('retrain-1', model.settings.schedule.retrainEpochs);
 */
export { WarpModel, toWorkingImage, toWorkingOneHot, labelClasses } from './model.js';
export type { LabelWarpMode, TrainPhaseOptions, TrainPhaseResult } from './model.js';
export { WarpNetwork, DEFAULT_NETWORK_CONFIG, affineToFlow, upsampleFlow2x } from './network.js';
export type { WarpArchitecture, WarpNetworkConfig, WarpForward } from './network.js';
export { batchLoss, trainStep, evaluateLoss, DEFAULT_LOSS_OPTIONS } from './trainer.js';
export type { WarpLossOptions, WarpBatch, LossBreakdown, ImageLossKind } from './trainer.js';
export { resolveWarpSettings, PAPER_PRESET, CPU_PRESET, WARP_PRESETS } from './presets.js';
export type { WarpSettings, WarpSettingsOverrides, WarpScheduleOptions, WarpPresetName } from './presets.js';
export { serializeCheckpoint, deserializeCheckpoint } from './checkpoint.js';
export type { CheckpointData, CheckpointProgress } from './checkpoint.js';
export { AdamW, ParamStore } from './params.js';
export { SeededRng } from './seeded-rng.js';
export { warpShared } from './fast-warp.js';
export { initTf } from './backend.js';
export type { TfBackendChoice } from './backend.js';

/** Convenience: `trainWarpModel` = construct + add tests + initial phase (public API name). */
import type { FloatImage, LabelMap } from '../image/types.js';
import { WarpModel as Model, type TrainPhaseOptions as PhaseOpts } from './model.js';
import type { WarpSettings as Settings } from './presets.js';

export async function trainWarpModel(
  settings: Settings,
  reference: { image: FloatImage; label: LabelMap },
  tests: Iterable<{ id: string; image: FloatImage }>,
  opts: PhaseOpts = {},
): Promise<Model> {
  const model = new Model(settings, reference);
  for (const t of tests) model.addTest(t.id, t.image);
  await model.train('initial', settings.schedule.initialEpochs, opts);
  return model;
}

/** Eq. 4 (public API name): the reference label warped onto a test image, at its original size. */
export function warpReferenceLabel(model: Model, testImage: FloatImage): LabelMap {
  return model.warpLabel(testImage);
}
