/**
 * One SAM encoder run: preprocessing for the detected variant (preprocess.ts) + session.run.
 */
import { MedpersamUserError } from '../errors.js';
import type { FloatImage } from '../image/types.js';
import { buildInputImageEncoderInput, buildPlainEncoderInput, buildSam2EncoderInput } from './preprocess.js';
import type { Float32TensorFactory, OrtSession } from './ort-types.js';
import { packSam2Features, SAM2_EMBEDDING_OUTPUT, SAM2_HIGH_RES_LENGTH, SAM2_HIGH_RES_OUTPUTS, unpackSam2Features } from './sam2-interface.js';
import type { EncoderVariant } from './types.js';

export interface EncoderRunResult {
  /** The image embedding (SAM 2: `image_embed`). */
  data: Float32Array;
  dims: [number, number, number, number];
  /** SAM 2: both high-resolution feature maps (SamEmbedding.highResFeatures). */
  highResFeatures?: Float32Array;
  /** What an embedding cache keeps: `data` (SAM 1), or `data` and `highResFeatures` in one array (SAM 2). */
  stored: Float32Array;
  /** Milliseconds inside session.run. */
  runMs: number;
}

export function checkImage(image: FloatImage): void {
  const ok =
    Number.isInteger(image.width) &&
    Number.isInteger(image.height) &&
    image.width > 0 &&
    image.height > 0 &&
    (image.channels === 1 || image.channels === 3) &&
    image.data.length === image.width * image.height * image.channels;
  if (!ok) {
    throw new MedpersamUserError(
      'INVALID_IMAGE',
      `image ${image.width}×${image.height}×${image.channels} with ${image.data.length} values cannot be encoded (need 1 or 3 channels and matching data)`,
    );
  }
}

/** `tensor` makes the input tensor with the caller's ONNX Runtime package (ort-types.ts). */
export async function runEncoder(
  session: OrtSession,
  variant: EncoderVariant,
  inputName: string,
  outputName: string,
  image: FloatImage,
  tensor: Float32TensorFactory,
): Promise<EncoderRunResult> {
  checkImage(image);
  if (variant === 'sam2') return runSam2Encoder(session, inputName, image, tensor);
  const input = variant === 'plain' ? buildPlainEncoderInput(image) : buildInputImageEncoderInput(image);
  const inputTensor = tensor(input.data, input.dims);
  const t0 = performance.now();
  const out = await session.run({ [inputName]: inputTensor }, [outputName]);
  const runMs = performance.now() - t0;
  const emb = out[outputName]!;
  const dims = emb.dims.map(Number) as [number, number, number, number];
  const data = emb.data as Float32Array;
  inputTensor.dispose?.();
  return { data, dims, runMs, stored: data };
}

/** SAM 2: squashed ImageNet-normalised input; the embedding and both high-resolution maps, packed for the cache. */
async function runSam2Encoder(session: OrtSession, inputName: string, image: FloatImage, tensor: Float32TensorFactory): Promise<EncoderRunResult> {
  const input = buildSam2EncoderInput(image);
  const inputTensor = tensor(input.data, input.dims);
  const t0 = performance.now();
  const out = await session.run({ [inputName]: inputTensor }, [SAM2_EMBEDDING_OUTPUT, ...SAM2_HIGH_RES_OUTPUTS]);
  const runMs = performance.now() - t0;
  inputTensor.dispose?.();
  const emb = out[SAM2_EMBEDDING_OUTPUT]!;
  const [hr0, hr1] = SAM2_HIGH_RES_OUTPUTS.map((n) => out[n]!.data as Float32Array) as [Float32Array, Float32Array];
  const stored = packSam2Features(emb.data as Float32Array, hr0, hr1);
  const parts = unpackSam2Features(stored, (emb.data as Float32Array).length);
  return { ...parts, dims: emb.dims.map(Number) as [number, number, number, number], runMs, stored };
}

/** Floats of one embedding cache entry: the embedding's, plus the high-resolution maps' for SAM 2. */
export function storedEmbeddingLength(dims: readonly number[], variant: EncoderVariant): number {
  return dims.reduce((a, b) => a * b, 1) + (variant === 'sam2' ? SAM2_HIGH_RES_LENGTH : 0);
}

/** An embedding cache entry (`EncoderRunResult.stored`) back as the embedding's arrays (views, no copy). */
export function embeddingFromStored(stored: Float32Array, variant: EncoderVariant, embedLength: number): { data: Float32Array; highResFeatures?: Float32Array } {
  return variant === 'sam2' ? unpackSam2Features(stored, embedLength) : { data: stored };
}
