/**
 * The pipeline, browser-safe part: the one core loop (Med-PerSAM and warp-only) and its seams — image sources,
 * run store, output sink, environment (docs/architecture.md). The Node adapters are in index-node.ts.
 */
export {
  DEFAULTS,
  runCore,
  WARP_ONLY_KIND,
  type ClassPromptsOut,
  type CoreEnvironment,
  type CoreImageOutcome,
  type CoreResult,
  type CoreRunInput,
  type CoreSamResult,
  type CoreWarpOnlyResult,
  type ImageDoneEvent,
  type LoadedSam,
  type LoopOptions,
  type WarpStageSettings,
} from './core.js';
export {
  bytesImageSource,
  bytesMaskSource,
  labelMapSource,
  sha256Hex,
  type ByteLoader,
  type ImageSource,
  type LoadedImage,
  type LoadedMask,
  type MaskLoadOptions,
  type MaskSource,
  type ReferenceSource,
} from './sources.js';
export {
  checkFingerprint,
  decodeLabel,
  encodeLabel,
  firstDifference,
  fromStoredRound,
  MemoryRunStore,
  normalizeFingerprint,
  STATE_VERSION,
  toStoredRound,
  type ClassRoundRecord,
  type ImageRoundRecord,
  type ImageRoundResult,
  type RunStore,
  type StoredImageRound,
} from './run-store.js';
export { MemoryOutputSink, type OutputSink, type ReportFiles, type StoredPng } from './output-sink.js';
export {
  buildRunRecord,
  StageTimer,
  timeBreakdown,
  type RunCounters,
  type RunRecord,
  type RuntimeInfo,
  type SamModelRecord,
} from './run-record.js';
export {
  knownTarget,
  loadedTarget,
  overlayMarks,
  promptsFor,
  referencePrototypes,
  samInputImage,
  segmentOneImage,
  workingFrame,
  type ImageSegmentSettings,
  type KnownEmbedding,
  type SamModelLike,
  type SegmentTarget,
} from './segment-image.js';
export { evaluateRun, type PointStats, type RoundMetrics } from './evaluate-run.js';
export { combineClassLogits, type ClassLogits } from './multiclass.js';
export { imageQualitySignals, qualityContext, type ImageQualityInput, type QualityContext, type SamClassOutcome } from './quality.js';
export { classAreas, ReviewCollector, type FinishReviewOptions, type QualityRecord, type ReviewFiles, type ReviewImage, type ReviewResult } from './review.js';
