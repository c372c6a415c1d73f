/**
 * One SAM encoder run: preprocessing for the detected variant (preprocess.ts) + session.run.
 */
import { MedpersamUserError } from '../errors.js';
import type { FloatImage } from '../image/types.js';
import { buildInputImageEncoderInput, buildPlainEncoderInput } from './preprocess.js';
import type { Float32TensorFactory, OrtSession } from './ort-types.js';
import type { EncoderVariant } from './types.js';

export interface EncoderRunResult {
  data: Float32Array;
  dims: [number, number, number, number];
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
  const input = variant === 'plain' ? buildPlainEncoderInput(image) : buildInputImageEncoderInput(image);
  const inputTensor = tensor(input.data, input.dims);
  const t0 = performance.now();
  const out = await session.run({ [inputName]: inputTensor }, [outputName]);
  const runMs = performance.now() - t0;
  const emb = out[outputName]!;
  const dims = emb.dims.map(Number) as [number, number, number, number];
  const data = emb.data as Float32Array;
  inputTensor.dispose?.();
  return { data, dims, runMs };
}
