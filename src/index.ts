/**
 * medpersam library entry for browsers (and any JavaScript runtime): everything that runs without Node —
 * decoding from bytes, image operations, metrics and reports, prompts, the warp model (tfjs), the SAM frame and
 * prompt maths, and the one Med-PerSAM core loop with its seams (image sources, run store, output sink).
 * It reaches no `node:` module, no sharp and no onnxruntime-node (test/browser/import-graph.test.ts checks it).
 * Node gets index-node.ts (this plus files, sharp, onnxruntime-node, the CLI's adapters), chosen by the package's
 * export conditions ("browser" / "node").
 */
export * from './errors.js';
export * from './progress.js';
export * from './image/index.js';
export * from './eval/index.js';
export * from './io/index.js';
export * from './prompts/index.js';
export * from './warp/index.js';
export * from './pipeline/index.js';
export { samFrame, xyOriginalToXySam1024, xySam1024ToXyOriginal, SAM_LONG_SIDE, SAM_LOW_RES } from './sam/frames.js';
export type { SamFrame, SamFrameOptions, XY } from './sam/frames.js';
export {
  normalizedToSam255,
  resizeToSamFrame,
  buildPlainEncoderInput,
  buildInputImageEncoderInput,
  SAM_PIXEL_MEAN,
  SAM_PIXEL_STD,
} from './sam/preprocess.js';
export {
  buildPointInputs,
  buildMaskInput,
  planeOriginalToSam256,
  validatePrompts,
  selectDecoderOutputs,
  DEFAULT_MASK_PROMPT_LOGIT,
} from './sam/prompt-frames.js';
export { patchDecoderForTargetEmbedding, TARGET_EMBEDDING_INPUT, type TargetEmbeddingPatchResult } from './sam/target-embedding.js';
export { checkImage, runEncoder, type EncoderRunResult } from './sam/encoder.js';
export { runDecoder, type DecoderContext, type DecoderRunResult } from './sam/decoder.js';
export type { Float32TensorFactory, OrtSession, OrtTensor } from './sam/ort-types.js';
export type * from './sam/types.js';
