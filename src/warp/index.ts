/**
 * The warping model (paper §3.1, §3.3, §4.3, App. B): public API.
 *
 *   const model = new WarpModel(resolveWarpSettings('cpu'), { image: refImage, label: refLabel });
 *   for (const [id, img] of tests) model.addTest(id, img);      // keeps only R×R working copies
 *   await model.useWorkers(startNodeWarpWorkers(1)); // optional, Node: a second thread (parallel/node-workers.ts)
 *   // or, with workers attached first: await model.addTestAsync(id, img) per image, then await model.testsReady()
 *   await model.train('initial', phaseBudget(model.settings.schedule, 'initial'), { onProgress, onCheckpoint: save });
 *   const mask = model.warpLabel(testImage);                      // Eq. 4, at the test image's original size
 *   await model.retrain(1, pseudolabels);                         // §3.3, the schedule's retraining budget
 *
 *   // Small or thin objects: the region-of-interest stage (roi-stage.ts) refines them on crops.
 *   const roi = new LocalWarpStage(model.settings, { image: refImage, label: refLabel });   // plans by object size
 *   roi.holdOutFrom(ids);                                         // decide per object on held-out images
 *   for (const f of model.testFlows(ids)) roi.addTest(f.id, imageOf(f.id), f.flowXyWarp);  // full-size images
 *   await roi.train('initial', model.phaseSteps(phaseBudget(model.settings.schedule, 'initial')));
 *   roi.warpTests(ids, (id, mask) => ...);                        // Eq. 4 through global ∘ local (kept objects)
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
export type { LabelWarpMode, TrainPhaseOptions, TrainPhaseResult, PreprocessingReport } from './model.js';
export { estimatePrealignment, PrealignReference, equalizeHistogram } from './prealign.js';
export type { PrealignMethod, PolarityMode, PrealignOptions, Prealignment, SimilarityParams } from './prealign.js';
export { WarpPreprocessor, ROBUST_PREPROCESS, PAPER_PREPROCESS } from './preprocess.js';
export type { WarpPreprocessOptions, PreparedImage, PrealignRecord, WorkingFill } from './preprocess.js';
export { plainResizeMap, workingImage, workingOneHot, warpLabelThroughFrame } from './working-frame.js';
export type { WorkingFrame } from './working-frame.js';
export { chooseImageLoss, paddingFraction, noiseRatio } from './loss-choice.js';
export type { ImageLossChoice } from './loss-choice.js';
export { WarpNetwork, DEFAULT_NETWORK_CONFIG, affineToFlow, upsampleFlow2x } from './network.js';
export type { WarpArchitecture, WarpNetworkConfig, WarpForward } from './network.js';
export { batchLoss, batchGradients, trainStep, evaluateLoss, DEFAULT_LOSS_OPTIONS, WHOLE_BATCH } from './trainer.js';
export type { WarpLossOptions, WarpBatch, LossBreakdown, ImageLossKind, ImageLossMode, BatchShares } from './trainer.js';
export { resolveWarpSettings, PAPER_PRESET, CPU_PRESET, WARP_PRESETS } from './presets.js';
export type { WarpSettings, WarpSettingsOverrides, WarpScheduleOptions, WarpPresetName } from './presets.js';
export { serializeCheckpoint, deserializeCheckpoint } from './checkpoint.js';
export type { CheckpointData, CheckpointProgress } from './checkpoint.js';
export { AdamW, ParamStore } from './params.js';
export { SeededRng } from './seeded-rng.js';
export { warpShared } from './fast-warp.js';
export { initTf } from './backend.js';
export type { TfBackendChoice } from './backend.js';
// The region-of-interest stage for small and thin structures (roi-stage.ts and its parts).
export { LocalWarpStage, resolveLocalStageOptions, planSummary, DEFAULT_LOCAL_STAGE } from './roi-stage.js';
export type { LocalStageOptions, ResolvedLocalStageOptions, LocalStageSummary, LocalTrainOptions } from './roi-stage.js';
export { planRegions, measureObjects, DEFAULT_ROI_TRIGGER } from './roi-trigger.js';
export type { RoiMode, RoiTriggerOptions, RoiPlan, RoiObject, RoiCrop } from './roi-trigger.js';
export { GlobalWarpMap, cropImage, cropLabel, cropToRefOriginal, refOriginalToCrop } from './roi-frames.js';
export type { CropFrame } from './roi-frames.js';
export { composeGlobalAndLocal } from './roi-compose.js';
export type { LocalRefinement } from './roi-compose.js';
export { matchShift } from './roi-match.js';

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
