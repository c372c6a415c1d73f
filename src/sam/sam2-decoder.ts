/**
 * One SAM 2 decoder run's inputs and outputs (samexporter's interface, sam2-interface.ts). Pure: runs in a browser.
 *
 *  inputs:  `image_embed` + both high-resolution maps (SamEmbedding), points/box in the squashed 1024 frame
 *           (prompt-frames.ts `buildSam2PointInputs`), `mask_input` [1,1,256,256] in that frame (a `logits256` prompt
 *           passes through), `has_mask_input` [1] (shape [1] only: the graph multiplies it with the [B,256,64,64]
 *           mask embedding, so a longer vector broadcasts wrongly);
 *  outputs: `masks` [1,3,256,256] low-resolution logits (clamped to ±32), `iou_predictions` [1,3] (sigmoid-ed). A
 *           full-size mask is the 256×256 logits resized bilinearly (align_corners=false) to H×W, threshold 0
 *           (SAM2Transforms.postprocess_masks; no padding to crop in the squashed frame).
 */
import { MedpersamUserError } from '../errors.js';
import { resizePlaneBilinear } from '../image/resize.js';
import type { SamFrame } from './frames.js';
import type { Float32TensorFactory, OrtTensor } from './ort-types.js';
import { buildMaskInput, buildSam2PointInputs, selectSam2DecoderOutputs } from './prompt-frames.js';
import { SAM2_EMBEDDING_OUTPUT, SAM2_HIGH_RES_DIMS, SAM2_HIGH_RES_OUTPUTS, splitHighResFeatures } from './sam2-interface.js';
import type { DecoderOutputTensor } from './decoder.js';
import type { SamDecodeResult, SamEmbedding, SamPrompts } from './types.js';

const LOW = 256;

export function sam2DecoderFeeds(
  embedding: SamEmbedding,
  prompts: SamPrompts,
  frame: SamFrame,
  maskPromptLogit: number,
  tensor: Float32TensorFactory,
): Record<string, OrtTensor> {
  if (!embedding.highResFeatures) {
    throw new MedpersamUserError('EMBEDDING_MODEL_MISMATCH', 'this SAM 2 decoder needs a SAM 2 embedding (with its high-resolution features); encode the image with the same model');
  }
  const [highRes0, highRes1] = splitHighResFeatures(embedding.highResFeatures);
  const pts = buildSam2PointInputs(prompts.pointsOriginal ?? [], prompts.boxOriginal, frame);
  const maskInput = prompts.maskPrompt ? buildMaskInput(prompts.maskPrompt, frame, maskPromptLogit) : new Float32Array(LOW * LOW);
  return {
    [SAM2_EMBEDDING_OUTPUT]: tensor(embedding.data, [...embedding.dims]),
    [SAM2_HIGH_RES_OUTPUTS[0]]: tensor(highRes0, SAM2_HIGH_RES_DIMS[0]),
    [SAM2_HIGH_RES_OUTPUTS[1]]: tensor(highRes1, SAM2_HIGH_RES_DIMS[1]),
    point_coords: tensor(pts.coordsSam1024, [1, pts.count, 2]),
    point_labels: tensor(pts.labels, [1, pts.count]),
    mask_input: tensor(maskInput, [1, 1, LOW, LOW]),
    has_mask_input: tensor(Float32Array.of(prompts.maskPrompt ? 1 : 0), [1]),
  };
}

/** The picked outputs: low-res views into ONNX Runtime's buffer, full-size logits resized from them. */
export function sam2DecodeResult(
  out: Readonly<Record<string, DecoderOutputTensor>>,
  width: number,
  height: number,
  multimask: boolean,
): SamDecodeResult {
  const masks = out['masks']!;
  const iou = out['iou_predictions']!;
  const [, k, mh, mw] = masks.dims.map(Number) as [number, number, number, number];
  if (mh !== LOW || mw !== LOW) {
    throw new MedpersamUserError('DECODER_OUTPUT_MISMATCH', `SAM 2 decoder returned masks ${mw}×${mh}, expected its 256×256 low-resolution logits`);
  }
  const maskData = masks.data as Float32Array;
  const iouData = iou.data as Float32Array;
  const picks = selectSam2DecoderOutputs(iouData, k, multimask);
  const lowRes = picks.map((i) => maskData.subarray(i * LOW * LOW, (i + 1) * LOW * LOW));
  return {
    logitsOriginal: lowRes.map((l) => resizePlaneBilinear(l, LOW, LOW, width, height)),
    lowResLogits: lowRes,
    iouScores: picks.map((i) => iouData[i]!),
    width,
    height,
    multimask: picks.length > 1,
  };
}
