/**
 * The SAM 2 / 2.1 ONNX interface medpersam speaks: samexporter's `export_sam2.py` (the files the SAM 2 browser demos
 * and AnyLabeling load; docs/sam-onnx.md §6). Pure data and checks (browser-safe).
 *
 *  encoder  `image` [1,3,1024,1024] (RGB squashed to 1024×1024, /255, ImageNet mean/std)
 *           → `high_res_feats_0` [1,32,256,256], `high_res_feats_1` [1,64,128,128], `image_embed` [1,256,64,64]
 *  decoder  `image_embed`, `high_res_feats_0`, `high_res_feats_1`, `point_coords` [1,N,2] (1024 frame),
 *           `point_labels` [1,N], `mask_input` [1,1,256,256], `has_mask_input` [1]
 *           → `masks` [1,3,256,256] (low-resolution logits, clamped to ±32), `iou_predictions` [1,3] (sigmoid-ed)
 *
 * Other SAM 2 interfaces exist and are refused with the input or output that differs (`sam2VariantProblem`):
 * onnxruntime's own export (`image_features_0/1`, `image_embeddings`, `input_masks`, `original_image_size`) and
 * ONNX-SAM2-Segment-Anything's (an 8th decoder input `orig_im_size`, full-size masks).
 */

export const SAM2_ENCODER_INPUT = 'image';
export const SAM2_EMBEDDING_OUTPUT = 'image_embed';
export const SAM2_HIGH_RES_OUTPUTS = ['high_res_feats_0', 'high_res_feats_1'] as const;
export const SAM2_ENCODER_OUTPUTS = [...SAM2_HIGH_RES_OUTPUTS, SAM2_EMBEDDING_OUTPUT] as const;
export const SAM2_DECODER_INPUTS = [
  SAM2_EMBEDDING_OUTPUT,
  ...SAM2_HIGH_RES_OUTPUTS,
  'point_coords',
  'point_labels',
  'mask_input',
  'has_mask_input',
] as const;
export const SAM2_DECODER_OUTPUTS = ['masks', 'iou_predictions'] as const;

/** Shapes of the two high-resolution feature maps (batch 1). */
export const SAM2_HIGH_RES_DIMS = [
  [1, 32, 256, 256],
  [1, 64, 128, 128],
] as const;
const HIGH_RES_0_LENGTH = 32 * 256 * 256;
/** Floats of both high-resolution maps together (`SamEmbedding.highResFeatures`). */
export const SAM2_HIGH_RES_LENGTH = HIGH_RES_0_LENGTH + 64 * 128 * 128;

/** ImageNet statistics on the 0..1 scale (SAM2Transforms' Normalize), RGB. */
export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/**
 * ONNX Runtime graph optimisers disabled for SAM 2 encoder sessions. onnxruntime 1.30's ReshapeFusion fails to
 * create a session for samexporter's encoder ("Attempting to get index by a name which does not exist:
 * /Concat_output_0 for node: /Reshape_new_reshape", on the `flatten(2)` Reshapes of its wrapper); with it disabled
 * the graph loads and runs at the same speed (measured with the real-architecture Hiera-Tiny, README). Disabled
 * ALWAYS for SAM 2 encoders rather than retried on that error: a retry repeats the 4–6 s session creation for every
 * exporter file, and the kind of a Node model folder is known from the file before any session is opened.
 */
export const SAM2_ENCODER_DISABLED_OPTIMIZERS = ['ReshapeFusion'] as const;

/**
 * What onnxruntime-web 1.30's wasm build needs disabled as well for samexporter's SAM 2 encoder: ConstantFolding
 * inlines the else-branch of the Hiera trunk's `If` nodes, after which the shape ONNX Runtime infers for
 * `/image_encoder/trunk/Concat_3_output_0` ([4]) disagrees with the one the file declares ([5]). onnxruntime-node
 * merges the two leniently (a warning: "Falling back to lenient merge"); the wasm build fails the session ("Can't
 * merge shape info. Both inferred and declared dimension have values but they differ"). With both optimisers off
 * every other graph optimisation still runs (measured with the real-architecture Hiera-Tiny, docs/sam-onnx.md §6).
 */
export const SAM2_WEB_ENCODER_DISABLED_OPTIMIZERS = [...SAM2_ENCODER_DISABLED_OPTIMIZERS, 'ConstantFolding'] as const;

/** The two high-resolution maps as views into `SamEmbedding.highResFeatures` (no copy). */
export function splitHighResFeatures(highRes: Float32Array): [Float32Array, Float32Array] {
  if (highRes.length !== SAM2_HIGH_RES_LENGTH) {
    throw new RangeError(`SAM 2 high-resolution features have ${highRes.length} values, expected ${SAM2_HIGH_RES_LENGTH}`);
  }
  return [highRes.subarray(0, HIGH_RES_0_LENGTH), highRes.subarray(HIGH_RES_0_LENGTH)];
}

/** Names of other SAM 2 interfaces, each with what it is (for the error naming it). */
const OTHER_SAM2_NAMES: Record<string, string> = {
  image_features_0: "onnxruntime's SAM 2 export (convert_to_onnx.py)",
  image_features_1: "onnxruntime's SAM 2 export (convert_to_onnx.py)",
  original_image_size: "onnxruntime's SAM 2 export (convert_to_onnx.py)",
  input_masks: "onnxruntime's SAM 2 export (convert_to_onnx.py)",
  has_input_masks: "onnxruntime's SAM 2 export (convert_to_onnx.py)",
};

/** Whether a graph's input or output names say SAM 2 (any interface). */
export function namesLookSam2(names: readonly string[]): boolean {
  return names.some((n) => n === SAM2_EMBEDDING_OUTPUT || n.startsWith('high_res_feats') || n in OTHER_SAM2_NAMES);
}

/**
 * Why a SAM 2-looking decoder is not samexporter's interface, naming the inputs/outputs that differ; null when it is.
 */
export function sam2DecoderProblem(inputs: readonly string[], outputs: readonly string[]): string | null {
  return interfaceProblem('decoder', inputs, SAM2_DECODER_INPUTS, outputs, SAM2_DECODER_OUTPUTS, {
    orig_im_size: 'ONNX-SAM2-Segment-Anything style (full-size masks)',
  });
}

/** Why a SAM 2-looking encoder is not samexporter's interface; null when it is. */
export function sam2EncoderProblem(inputs: readonly string[], outputs: readonly string[]): string | null {
  return interfaceProblem('encoder', inputs, [SAM2_ENCODER_INPUT], outputs, SAM2_ENCODER_OUTPUTS, {});
}

function interfaceProblem(
  what: string,
  inputs: readonly string[],
  wantInputs: readonly string[],
  outputs: readonly string[],
  wantOutputs: readonly string[],
  extraKnown: Record<string, string>,
): string | null {
  const diffs: string[] = [];
  for (const n of wantInputs) if (!inputs.includes(n)) diffs.push(`no input ${n}`);
  for (const n of inputs) if (!wantInputs.includes(n) && n !== 'target_embedding') diffs.push(`extra input ${n}`);
  for (const n of wantOutputs) if (!outputs.includes(n)) diffs.push(`no output ${n}`);
  for (const n of outputs) if (!wantOutputs.includes(n)) diffs.push(`extra output ${n}`);
  if (diffs.length === 0) return null;
  const known = { ...OTHER_SAM2_NAMES, ...extraKnown };
  const styles = [...new Set([...inputs, ...outputs].filter((n) => n in known).map((n) => known[n]!))];
  const style = styles.length > 0 ? ` This looks like ${styles.join(' / ')}.` : '';
  return (
    `the SAM 2 ${what} differs from samexporter's SAM 2 interface (export_sam2.py), the one medpersam supports: ` +
    `${diffs.join(', ')}.${style}`
  );
}

/** Floats of `image_embed` [1,256,64,64]. */
export const SAM2_EMBED_LENGTH = 256 * 64 * 64;

/**
 * One SAM 2 embedding as one array (what the embedding caches store): `image_embed`, then `high_res_feats_0`, then
 * `high_res_feats_1`.
 */
export function packSam2Features(embed: Float32Array, highRes0: Float32Array, highRes1: Float32Array): Float32Array {
  const packed = new Float32Array(embed.length + highRes0.length + highRes1.length);
  packed.set(embed, 0);
  packed.set(highRes0, embed.length);
  packed.set(highRes1, embed.length + highRes0.length);
  return packed;
}

/** The parts of a packed SAM 2 embedding (views, no copy); `embedLength` = floats of `image_embed`. */
export function unpackSam2Features(packed: Float32Array, embedLength: number): { data: Float32Array; highResFeatures: Float32Array } {
  if (packed.length !== embedLength + SAM2_HIGH_RES_LENGTH) {
    throw new RangeError(`packed SAM 2 embedding has ${packed.length} values, expected ${embedLength + SAM2_HIGH_RES_LENGTH}`);
  }
  return { data: packed.subarray(0, embedLength), highResFeatures: packed.subarray(embedLength) };
}
