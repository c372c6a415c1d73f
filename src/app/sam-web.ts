/**
 * SAM in the browser: an encoder + decoder pair over onnxruntime-web behind the loop's `SamModelLike` (the app's
 * twin of src/sam/model.ts `loadSamModel`). The encoder and decoder runs are src/sam's own (encoder.ts, decoder.ts:
 * the same pre-processing, prompt frames and output selection as the CLI), given onnxruntime-web's tensors.
 *
 * Which file is which is read from the sessions' inputs (docs/sam-onnx.md §1–2, §6): the decoder takes
 * `image_embeddings` and `mask_input` (SAM 2: `image_embed` and the high-resolution maps), the encoder one image
 * (`input_image` → the in-graph pre-processing variant; SAM 2's three outputs → the SAM 2 kind).
 * A decoder without `mask_input` (transformers.js / EfficientSAM exports) is refused: Med-PerSAM needs mask prompts.
 * Embeddings are cached by image content (sha256, Web Crypto) + encoder: a few in memory, all in IndexedDB, so the
 * encoder runs once per image per run and not again on a later visit.
 */
import type * as OrtWeb from 'onnxruntime-web';
import { MedpersamUserError } from '../errors.js';
import type { FloatImage } from '../image/types.js';
import type { LoadedSam } from '../pipeline/core.js';
import type { SamModelLike } from '../pipeline/segment-image.js';
import { sha256Hex } from '../pipeline/sources.js';
import { runDecoder } from '../sam/decoder.js';
import { checkImage, embeddingFromStored, runEncoder, storedEmbeddingLength } from '../sam/encoder.js';
import type { Float32TensorFactory, OrtSession } from '../sam/ort-types.js';
import { DEFAULT_MASK_PROMPT_LOGIT } from '../sam/prompt-frames.js';
import { namesLookSam2, SAM2_EMBEDDING_OUTPUT, SAM2_WEB_ENCODER_DISABLED_OPTIMIZERS, sam2DecoderProblem, sam2EncoderProblem } from '../sam/sam2-interface.js';
import { patchDecoderForTargetEmbedding, TARGET_EMBEDDING_INPUT } from '../sam/target-embedding.js';
import type { EncoderVariant, ExecutionProviderName, SamDecodeOptions, SamDecodeResult, SamEmbedding, SamModelInfo, SamModelStats, SamPrompts } from '../sam/types.js';
import type { Idb } from './idb.js';

/** A model file as the page has it (picked from disk or fetched from a URL). */
export interface ModelFile {
  name: string;
  bytes: Uint8Array;
}

export interface WebSamOptions {
  /** Execution providers in order of preference (default ['webgpu', 'wasm']). */
  providers?: ('webgpu' | 'wasm')[];
  /** PerSAM target-semantic prompting when the decoder can be patched (default true). */
  targetEmbedding?: boolean;
  /** IndexedDB for the embedding cache (memory only without). */
  db?: Idb;
}

/** Inputs of the official decoder export (docs/sam-onnx.md §1). */
const DECODER_INPUTS = ['image_embeddings', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input', 'orig_im_size'];
const PREPROCESS_VERSION = 'sam-pre-v1';
const MEMORY_ENTRIES = 4;

async function imageHash(image: FloatImage): Promise<string> {
  const head = new TextEncoder().encode(`${PREPROCESS_VERSION}:${image.width}x${image.height}x${image.channels}:`);
  const body = new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  const all = new Uint8Array(head.length + body.length);
  all.set(head);
  all.set(body, head.length);
  return sha256Hex(all);
}

class WebSamModel implements SamModelLike {
  private readonly counters: SamModelStats = {
    encodeCalls: 0,
    encoderRuns: 0,
    encoderRunMs: 0,
    encoderReloads: 0,
    memoryCacheHits: 0,
    diskCacheHits: 0,
    decodeCalls: 0,
    decoderRunMs: 0,
    decodeTotalMs: 0,
  };
  private readonly memory = new Map<string, Float32Array>();

  constructor(
    readonly info: SamModelInfo,
    private readonly encoder: OrtSession,
    private readonly decoder: OrtSession,
    private readonly encoderInput: string,
    private readonly embeddingOutput: string,
    private readonly tensor: Float32TensorFactory,
    private readonly db: Idb | undefined,
  ) {}

  private remember(key: string, data: Float32Array): void {
    this.memory.delete(key);
    this.memory.set(key, data);
    while (this.memory.size > MEMORY_ENTRIES) this.memory.delete(this.memory.keys().next().value as string);
  }

  async encode(image: FloatImage): Promise<SamEmbedding> {
    this.counters.encodeCalls++;
    checkImage(image);
    const key = `${this.info.encoderId.slice(0, 16)}/${await imageHash(image)}`;
    const base = { originalWidth: image.width, originalHeight: image.height, key };
    const dims = this.info.embeddingDims;
    const variant = this.info.encoderVariant;
    if (dims) {
      const embedLength = dims.reduce((a, b) => a * b, 1);
      const m = this.memory.get(key);
      if (m) {
        this.counters.memoryCacheHits++;
        this.remember(key, m);
        return { ...base, dims, ...embeddingFromStored(m, variant, embedLength) };
      }
      const stored = await this.db?.get<Float32Array>('embeddings', key);
      if (stored && stored.length === storedEmbeddingLength(dims, variant)) {
        this.counters.diskCacheHits++;
        this.remember(key, stored);
        return { ...base, dims, ...embeddingFromStored(stored, variant, embedLength) };
      }
    }
    const r = await runEncoder(this.encoder, this.info.encoderVariant, this.encoderInput, this.embeddingOutput, image, this.tensor);
    this.counters.encoderRuns++;
    this.counters.encoderRunMs += r.runMs;
    if (dims && dims.some((d, i) => d !== r.dims[i])) {
      throw new MedpersamUserError('MODEL_PAIR_MISMATCH', `encoder produced an embedding [${r.dims.join(',')}] but [${dims.join(',')}] was expected`, {
        file: this.info.encoderPath,
      });
    }
    this.info.embeddingDims ??= r.dims;
    // A copy: ONNX Runtime may reuse its output buffer (SAM 2's `stored` is a fresh packed array already).
    const stored = variant === 'sam2' ? r.stored : r.stored.slice();
    this.remember(key, stored);
    try {
      await this.db?.put('embeddings', key, stored);
    } catch (err) {
      const w = `embedding cache not written (${(err as Error).message}); embeddings will be recomputed next time`;
      if (!this.info.warnings.includes(w)) this.info.warnings.push(w);
    }
    return { ...base, dims: r.dims, ...embeddingFromStored(stored, variant, r.data.length) };
  }

  async decode(embedding: SamEmbedding, prompts: SamPrompts, opts: SamDecodeOptions = {}): Promise<SamDecodeResult> {
    const t0 = performance.now();
    this.counters.decodeCalls++;
    const { result, runMs } = await runDecoder(
      {
        session: this.decoder,
        tensor: this.tensor,
        hasTargetEmbedding: this.info.targetEmbedding,
        embeddingDims: this.info.embeddingDims ?? embedding.dims,
        maskPromptLogit: DEFAULT_MASK_PROMPT_LOGIT,
        sam2: this.info.encoderVariant === 'sam2',
      },
      embedding,
      prompts,
      opts,
    );
    this.counters.decoderRunMs += runMs;
    this.counters.decodeTotalMs += performance.now() - t0;
    return result;
  }

  stats(): SamModelStats {
    return { ...this.counters };
  }

  async release(): Promise<void> {
    await this.encoder.release();
    await this.decoder.release();
  }
}

async function createSession(
  ort: typeof OrtWeb,
  file: ModelFile,
  providers: ('webgpu' | 'wasm')[],
): Promise<{ session: OrtSession; provider: ExecutionProviderName; warnings: string[] }> {
  const warnings: string[] = [];
  for (const provider of providers) {
    try {
      if (provider === 'webgpu' && !(navigator as { gpu?: unknown }).gpu) {
        warnings.push(`${file.name}: WebGPU not available in this browser`);
        continue;
      }
      const session = await createWithOptimiserRetry(ort, file, provider, warnings);
      return { session: session as unknown as OrtSession, provider, warnings };
    } catch (err) {
      warnings.push(`${file.name}: ${provider} failed (${firstLine(err)})`);
    }
  }
  throw new MedpersamUserError('ONNX_LOAD_FAILED', `ONNX Runtime (web) cannot load this model: ${warnings.join('; ')}`, { file: file.name });
}

const firstLine = (err: unknown) => String((err as Error)?.message ?? err).split('\n')[0];

/**
 * A session with default options; if that fails, once more with the optimisers that onnxruntime-web's wasm build
 * fails on for samexporter's SAM 2 encoders disabled (ReshapeFusion and ConstantFolding, sam2-interface.ts), then
 * with graph optimisations off, saying in `warnings` (the run record) which one loaded. Here, unlike in Node, the
 * kind of a file is known only from its session, so the app retries rather than deciding up front; and any failure
 * is retried, because in a browser tab onnxruntime-web 1.30 reports that one with an empty message ("Can't create a
 * session. ERROR_CODE: 0, ERROR_MESSAGE: ").
 */
export async function createWithOptimiserRetry(
  ort: typeof OrtWeb,
  file: ModelFile,
  provider: 'webgpu' | 'wasm',
  warnings: string[],
): Promise<OrtWeb.InferenceSession> {
  const options: OrtWeb.InferenceSession.SessionOptions = { executionProviders: [provider], graphOptimizationLevel: 'all' };
  try {
    return await ort.InferenceSession.create(file.bytes, options);
  } catch (err) {
    const disabled = SAM2_WEB_ENCODER_DISABLED_OPTIMIZERS.join(';');
    for (const [how, retry] of [
      [`ONNX Runtime's ${disabled} disabled`, { ...options, extra: { optimization: { disable_specified_optimizers: disabled } } }],
      ["ONNX Runtime's graph optimisations off", { ...options, graphOptimizationLevel: 'disabled' }],
    ] as [string, OrtWeb.InferenceSession.SessionOptions][]) {
      try {
        const session = await ort.InferenceSession.create(file.bytes, retry);
        warnings.push(`${file.name}: loaded with ${how} (default options failed: ${firstLine(err).slice(0, 160)})`);
        return session;
      } catch {
        // try the next way; the first failure is the one reported
      }
    }
    throw err;
  }
}

/**
 * Why the two sessions are not a pair the app can run (model-files.ts's checks, from the sessions' names): a SAM 1
 * decoder without the official inputs, SAM 1 mixed with SAM 2, or another SAM 2 interface; null when they are.
 */
function pairProblem(encoder: OrtSession, encoderName: string, decoder: OrtSession, decoderName: string): MedpersamUserError | null {
  const encoderSam2 = namesLookSam2(encoder.outputNames);
  const decoderSam2 = namesLookSam2(decoder.inputNames);
  if (encoderSam2 !== decoderSam2) {
    const kind = (sam2: boolean) => (sam2 ? 'SAM 2' : 'SAM 1');
    return new MedpersamUserError(
      'MODEL_KIND_MISMATCH',
      `encoder ${encoderName} is ${kind(encoderSam2)} (outputs ${encoder.outputNames.join(', ')}) but decoder ${decoderName} is ${kind(decoderSam2)}; pick one model's encoder and decoder`,
      { file: `${encoderName}, ${decoderName}` },
    );
  }
  if (decoderSam2) {
    const d = sam2DecoderProblem(decoder.inputNames, decoder.outputNames);
    if (d) return new MedpersamUserError('UNSUPPORTED_SAM2_VARIANT', d, { file: decoderName });
    const e = sam2EncoderProblem(encoder.inputNames, encoder.outputNames);
    return e ? new MedpersamUserError('UNSUPPORTED_SAM2_VARIANT', e, { file: encoderName }) : null;
  }
  const missing = DECODER_INPUTS.filter((n) => !decoder.inputNames.includes(n));
  if (missing.length === 0) return null;
  return new MedpersamUserError(
    'UNSUPPORTED_DECODER',
    `decoder lacks the official inputs ${missing.join(', ')}: Med-PerSAM needs a mask prompt (export it with segment-anything's scripts/export_onnx_model.py)`,
    { file: decoderName },
  );
}

/**
 * Load a SAM pair from two model files (in either order). The record's sha256 are of the files' bytes, as the CLI
 * records them, so a model identical to a CLI one gives the same run fingerprint.
 */
export async function loadWebSam(ort: typeof OrtWeb, files: [ModelFile, ModelFile], opts: WebSamOptions = {}): Promise<LoadedSam> {
  const providers = opts.providers ?? ['webgpu', 'wasm'];
  const opened = await Promise.all(files.map((f) => createSession(ort, f, providers)));
  const isDecoder = (s: OrtSession) => s.inputNames.includes('image_embeddings') || namesLookSam2(s.inputNames);
  const decIndex = opened.findIndex((o) => isDecoder(o.session));
  if (decIndex < 0 || isDecoder(opened[1 - decIndex]!.session)) {
    await Promise.all(opened.map((o) => o.session.release()));
    throw new MedpersamUserError(
      'NOT_A_SAM_PAIR',
      'need one SAM encoder and one decoder: exactly one of the two files must take image_embeddings (the decoder)',
      { file: files.map((f) => f.name).join(', ') },
    );
  }
  let decoderFile = files[decIndex]!;
  const encoderFile = files[1 - decIndex]!;
  let decoder = opened[decIndex]!;
  const encoder = opened[1 - decIndex]!;
  const problem = pairProblem(encoder.session, encoderFile.name, decoder.session, decoderFile.name);
  if (problem) {
    await Promise.all(opened.map((o) => o.session.release()));
    throw problem;
  }
  const sam2 = namesLookSam2(encoder.session.outputNames);
  const warnings = [...encoder.warnings, ...decoder.warnings];
  let targetEmbedding = decoder.session.inputNames.includes(TARGET_EMBEDDING_INPUT);
  if ((opts.targetEmbedding ?? true) && !targetEmbedding) {
    const patch = patchDecoderForTargetEmbedding(decoderFile.bytes);
    if (patch.patched) {
      await decoder.session.release();
      decoderFile = { name: decoderFile.name, bytes: patch.bytes };
      decoder = await createSession(ort, decoderFile, [decoder.provider === 'webgpu' ? 'webgpu' : 'wasm']);
      targetEmbedding = true;
    } else if (patch.warning) {
      warnings.push(patch.warning);
    }
  }
  const encoderInput = encoder.session.inputNames[0]!;
  const variant: EncoderVariant = sam2 ? 'sam2' : encoderInput === 'input_image' ? 'input_image' : 'plain';
  const outputs = encoder.session.outputNames;
  const embeddingOutput = sam2 ? SAM2_EMBEDDING_OUTPUT : outputs.includes('image_embeddings') ? 'image_embeddings' : outputs[0]!;
  const encoderSha = await sha256Hex(encoderFile.bytes);
  const decoderSha = await sha256Hex(files[decIndex]!.bytes);
  const info: SamModelInfo = {
    encoderPath: encoderFile.name,
    decoderPath: files[decIndex]!.name,
    encoderVariant: variant,
    embeddingDims: null,
    decoderOutputs: null,
    encoderId: encoderSha,
    executionProvider: encoder.provider === 'webgpu' && decoder.provider === 'webgpu' ? 'webgpu' : 'wasm',
    targetEmbedding,
    warnings,
  };
  const tensor: Float32TensorFactory = (data, dims) => new ort.Tensor('float32', data, dims) as never;
  const model = new WebSamModel(info, encoder.session, decoder.session, encoderInput, embeddingOutput, tensor, opts.db);
  return {
    model,
    record: {
      requested: `${encoderFile.name} + ${files[decIndex]!.name}`,
      encoderPath: encoderFile.name,
      decoderPath: files[decIndex]!.name,
      encoderSha256: encoderSha,
      decoderSha256: decoderSha,
      encoderVariant: variant,
      decoderOutputs: null,
      targetEmbedding,
      executionProvider: info.executionProvider,
      warnings: [...warnings],
    },
    release: () => model.release(),
  };
}
