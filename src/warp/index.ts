/**
 * The warping model (paper §3.1, §3.3, §4.3, App. B): public API.
 *
 *   const model = new WarpModel(resolveWarpSettings('cpu'), { image: refImage, label: refLabel });
 *   for (const [id, img] of tests) model.addTest(id, img);      // keeps only R×R working copies
 *   await model.useWorkers(startNodeWarpWorkers(1)); // optional, Node: a second thread (parallel/node-workers.ts)
 *   await model.train('initial', phaseBudget(model.settings.schedule, 'initial'), { onProgress, onCheckpoint: save });
 *   const mask = model.warpLabel(testImage);                      // Eq. 4, at the test image's original size
 *   await model.retrain(1, pseudolabels);                         // §3.3, the schedule's retraining budget
 */
export { WarpModel, TrainingAborted, toWorkingImage, toWorkingOneHot, labelClasses } from './model.js';
export { BatchSampler, phaseBudget, stepsInPhase, batchSizeFor } from './schedule.js';
export type { TrainBudget, SamplerState } from './schedule.js';
export { WarpWorkerPeer } from './parallel/worker-peer.js';
export type { WorkerChannel } from './parallel/channel.js';
export { serveWarpWorker } from './parallel/worker-server.js';
export { webWorkerChannel } from './parallel/web-workers.js';
export type { WebMessageEndpoint } from './parallel/web-workers.js';
export { serializeWarpModel, deserializeWarpModel, checkSavedReference, referenceHashes, WARP_MODEL_FORMAT_VERSION } from './saved-model.js';
export type { SavedWarpModel, SavedWarpReference, SavedWarpTraining } from './saved-model.js';
export type { LabelWarpMode, TrainPhaseOptions, TrainPhaseResult } from './model.js';
export { WarpNetwork, DEFAULT_NETWORK_CONFIG, affineToFlow, upsampleFlow2x } from './network.js';
export type { WarpArchitecture, WarpNetworkConfig, WarpForward } from './network.js';
export { batchLoss, batchGradients, trainStep, evaluateLoss, DEFAULT_LOSS_OPTIONS, WHOLE_BATCH } from './trainer.js';
export type { WarpLossOptions, WarpBatch, LossBreakdown, ImageLossKind, BatchShares } from './trainer.js';
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
import { phaseBudget } from './schedule.js';

export async function trainWarpModel(
  settings: Settings,
  reference: { image: FloatImage; label: LabelMap },
  tests: Iterable<{ id: string; image: FloatImage }>,
  opts: PhaseOpts = {},
): Promise<Model> {
  const model = new Model(settings, reference);
  for (const t of tests) model.addTest(t.id, t.image);
  await model.train('initial', phaseBudget(settings.schedule, 'initial'), opts);
  return model;
}

/** Eq. 4 (public API name): the reference label warped onto a test image, at its original size. */
export function warpReferenceLabel(model: Model, testImage: FloatImage): LabelMap {
  return model.warpLabel(testImage);
}
