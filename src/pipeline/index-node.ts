/** The pipeline, Node part: the file-system adapters of the core loop, benchmarks and folder evaluation. */
export {
  resolveTestInputs,
  runMedPerSam,
  samModelRecord,
  testSources,
  type ImageOutcome,
  type MedPerSamOptions,
  type MedPerSamResult,
  type TestImageInput,
  type WarpStageOptions,
} from './medpersam.js';
export { runWarpOnlySegmentation, type WarpSegmentOptions, type WarpSegmentResult } from './warp-segment.js';
export { FileRunStore, RunState, RUN_STATE_DIR, WarpOnlyFolderStore, WARP_ONLY_RUN_KIND, type OpenRunStateOptions } from './run-state.js';
export { FileOutputSink, type FileOutputSinkOptions } from './output-sink-node.js';
export { fileImageSource, fileMaskSource } from './sources-node.js';
export { nodeRuntimeInfo } from './run-record-node.js';
export * from './evaluate.js';
export { formatSamBenchmark, runSamBenchmark, type SamBenchmarkOptions, type SamBenchmarkResult } from './bench-sam.js';
export * from './bench-warp.js';
