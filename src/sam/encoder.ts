/**
 * One SAM encoder run: preprocessing for the detected variant (preprocess.ts) + session.run.
 */
import { MedpersamUserError } from '../errors.js';
import type { FloatImage } from '../image/types.js';
import { buildInputImageEncoderInput, buildPlainEncoderInput } from './preprocess.js';
import { ort } from './session.js';
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

export async function runEncoder(
  session: ort.InferenceSession,
  variant: EncoderVariant,
  inputName: string,
  outputName: string,
  image: FloatImage,
): Promise<EncoderRunResult> {
  checkImage(image);
  const input = variant === 'plain' ? buildPlainEncoderInput(image) : buildInputImageEncoderInput(image);
  const tensor = new ort.Tensor('float32', input.data, input.dims);
  const t0 = performance.now();
  const out = await session.run({ [inputName]: tensor }, [outputName]);
  const runMs = performance.now() - t0;
  const emb = out[outputName]!;
  const dims = emb.dims.map(Number) as [number, number, number, number];
  const data = emb.data as Float32Array;
  tensor.dispose?.();
  return { data, dims, runMs };
}
