/** SAM over ONNX Runtime (official segment-anything ONNX interfaces, and samexporter's SAM 2): public API of the runtime part. */
export { loadSamModel, SamModel, defaultEmbeddingCacheDir } from './model.js';
export { findSamModelFiles, inspectOnnxFile, validateDecoder, OFFICIAL_DECODER_INPUTS, OFFICIAL_DECODER_OUTPUTS } from './model-files.js';
export type { OnnxFileInfo, OnnxValueInfo, SamModelFiles } from './model-files.js';
export { samFrame, xyOriginalToXySam1024, xySam1024ToXyOriginal, SAM_LONG_SIDE, SAM_LOW_RES } from './frames.js';
export type { SamFrame, SamFrameOptions, XY } from './frames.js';
export {
  normalizedToSam255,
  resizeToSamFrame,
  buildPlainEncoderInput,
  buildInputImageEncoderInput,
  buildSam2EncoderInput,
  SAM_PIXEL_MEAN,
  SAM_PIXEL_STD,
} from './preprocess.js';
export {
  buildPointInputs,
  buildMaskInput,
  planeOriginalToSam256,
  validatePrompts,
  selectDecoderOutputs,
  DEFAULT_MASK_PROMPT_LOGIT,
} from './prompt-frames.js';
export { patchDecoderForTargetEmbedding, TARGET_EMBEDDING_INPUT } from './target-embedding.js';
export {
  SAM2_DECODER_INPUTS,
  SAM2_DECODER_OUTPUTS,
  SAM2_ENCODER_OUTPUTS,
  SAM2_ENCODER_DISABLED_OPTIMIZERS,
  IMAGENET_MEAN,
  IMAGENET_STD,
} from './sam2-interface.js';
export type { TargetEmbeddingPatchResult } from './target-embedding.js';
export { imageContentHash, encoderFileId, EmbeddingCache, PREPROCESS_VERSION } from './embedding-cache.js';
export { cudaListed } from './session.js';
export { encodeAhead } from './encode-ahead.js';
export type { EncodeAheadItem, EncodeAheadJob, EncodeAheadModel, EncodeAheadOptions, EncodeAheadResult } from './encode-ahead.js';
export { checkEmbeddingFits } from './model-files.js';
export type * from './types.js';
