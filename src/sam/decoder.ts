/**
 * One SAM decoder run: prompts (original frame) → official decoder inputs → outputs picked per `multimask`.
 * The frame maths lives in frames.ts (and nowhere else); prompt-frames.ts builds the decoder inputs with it.
 */
import { MedpersamUserError } from '../errors.js';
import { samFrame } from './frames.js';
import { buildMaskInput, buildPointInputs, selectDecoderOutputs, validatePrompts } from './prompt-frames.js';
import type { Float32TensorFactory, OrtTensor } from './ort-types.js';
import { sam2DecodeResult, sam2DecoderFeeds } from './sam2-decoder.js';
import { TARGET_EMBEDDING_INPUT } from './target-embedding.js';
import type { SamDecodeOptions, SamDecodeResult, SamEmbedding, SamPrompts } from './types.js';

/** An output as runDecoder reads it: its values and shape. */
export interface DecoderOutputTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}

/**
 * What runDecoder needs of a decoder session: one run. An ONNX Runtime session (Node or web), or the pool of
 * decoder worker threads (decoder-workers.ts).
 */
export interface DecoderSessionLike {
  run(feeds: Record<string, OrtTensor>): Promise<Readonly<Record<string, DecoderOutputTensor>>>;
}

export interface DecoderContext {
  session: DecoderSessionLike;
  /** Makes the input tensors with the caller's ONNX Runtime package (ort-types.ts). */
  tensor: Float32TensorFactory;
  /** The graph has a `target_embedding` [1,1,256] input. */
  hasTargetEmbedding: boolean;
  embeddingDims: readonly [number, number, number, number];
  maskPromptLogit: number;
  /** SAM 2's decoder interface (sam2-decoder.ts; squashed frame); default false: SAM 1's. */
  sam2?: boolean;
}

export interface DecoderRunResult {
  result: SamDecodeResult;
  /** Milliseconds inside session.run (with decoder workers: from posting the call to its result). */
  runMs: number;
}

const LOW = 256 * 256;

export async function runDecoder(
  ctx: DecoderContext,
  embedding: SamEmbedding,
  prompts: SamPrompts,
  opts: SamDecodeOptions = {},
): Promise<DecoderRunResult> {
  const width = embedding.originalWidth;
  const height = embedding.originalHeight;
  if (embedding.dims.some((d, i) => d !== ctx.embeddingDims[i]) || embedding.data.length !== embedding.dims.reduce((a, b) => a * b, 1)) {
    throw new MedpersamUserError(
      'EMBEDDING_MODEL_MISMATCH',
      `embedding [${embedding.dims.join(',')}] does not fit this decoder (expects [${ctx.embeddingDims.join(',')}]); encode the image with the same model`,
    );
  }
  validatePrompts(prompts, width, height);
  if (ctx.sam2) return runSam2Decoder(ctx, embedding, prompts, opts);
  const frame = samFrame(width, height);
  const pts = buildPointInputs(prompts.pointsOriginal ?? [], prompts.boxOriginal, frame);
  const maskInput = prompts.maskPrompt ? buildMaskInput(prompts.maskPrompt, frame, ctx.maskPromptLogit) : new Float32Array(LOW);
  const feeds: Record<string, OrtTensor> = {
    image_embeddings: ctx.tensor(embedding.data, [...embedding.dims]),
    point_coords: ctx.tensor(pts.coordsSam1024, [1, pts.count, 2]),
    point_labels: ctx.tensor(pts.labels, [1, pts.count]),
    mask_input: ctx.tensor(maskInput, [1, 1, 256, 256]),
    has_mask_input: ctx.tensor(Float32Array.of(prompts.maskPrompt ? 1 : 0), [1]),
    orig_im_size: ctx.tensor(Float32Array.of(height, width), [2]),
  };
  addTargetEmbedding(ctx, prompts, feeds);
  const t0 = performance.now();
  const out = await ctx.session.run(feeds);
  const runMs = performance.now() - t0;
  const masks = out['masks']!;
  const low = out['low_res_masks']!;
  const iou = out['iou_predictions']!;
  // K from the output shape (4 for the default export, 1 with --return-single-mask: never assume it).
  const k = Number(masks.dims[1]);
  const mh = Number(masks.dims[2]);
  const mw = Number(masks.dims[3]);
  if (mh !== height || mw !== width) {
    throw new MedpersamUserError('DECODER_OUTPUT_MISMATCH', `decoder returned masks ${mw}×${mh} for a ${width}×${height} image`);
  }
  const picks = selectDecoderOutputs(k, opts.multimask ?? false);
  const plane = width * height;
  const maskData = masks.data as Float32Array;
  const lowData = low.data as Float32Array;
  const iouData = iou.data as Float32Array;
  // Views into ONNX Runtime's output buffers (no copy: a copy of a 1024² plane costs as much as a small decoder
  // run under GC pressure). A kept result therefore pins all K planes of its call; copy what you keep long.
  const view = (data: Float32Array, i: number, n: number) => data.subarray(i * n, (i + 1) * n);
  const result: SamDecodeResult = {
    logitsOriginal: picks.map((i) => view(maskData, i, plane)),
    lowResLogits: picks.map((i) => view(lowData, i, LOW)),
    iouScores: picks.map((i) => iouData[i]!),
    width,
    height,
    multimask: picks.length > 1,
  };
  return { result, runMs };
}

/** The `target_embedding` feed of a patched decoder (zeros without a prompt's target embedding). */
function addTargetEmbedding(ctx: DecoderContext, prompts: SamPrompts, feeds: Record<string, OrtTensor>): void {
  if (!ctx.hasTargetEmbedding) return;
  const t = prompts.targetEmbedding ?? new Float32Array(256);
  if (t.length !== 256) {
    throw new MedpersamUserError('INVALID_PROMPT', `target embedding has ${t.length} values, expected 256`);
  }
  feeds[TARGET_EMBEDDING_INPUT] = ctx.tensor(t, [1, 1, 256]);
}

/** SAM 2: squashed frame, 7 inputs, K = 3 low-resolution outputs resized here (sam2-decoder.ts). */
async function runSam2Decoder(ctx: DecoderContext, embedding: SamEmbedding, prompts: SamPrompts, opts: SamDecodeOptions): Promise<DecoderRunResult> {
  const { originalWidth: width, originalHeight: height } = embedding;
  const frame = samFrame(width, height, { squash: true });
  const feeds = sam2DecoderFeeds(embedding, prompts, frame, ctx.maskPromptLogit, ctx.tensor);
  addTargetEmbedding(ctx, prompts, feeds);
  const t0 = performance.now();
  const out = await ctx.session.run(feeds);
  const runMs = performance.now() - t0;
  return { result: sam2DecodeResult(out, width, height, opts.multimask ?? false), runMs };
}
