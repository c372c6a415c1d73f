/**
 * `loadSamModel(dir)`: a SAM encoder + decoder pair over ONNX Runtime, with the embedding cache.
 * Node-only (reads model files, on-disk cache).
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import type { FloatImage } from '../image/types.js';
import { runDecoder, type DecoderSessionLike } from './decoder.js';
import { DecoderWorkersOnFirstCall } from './decoder-workers.js';
import { EmbeddingCache, encoderFileId, imageContentHash } from './embedding-cache.js';
import { checkImage, embeddingFromStored, runEncoder, storedEmbeddingLength } from './encoder.js';
import { medpersamHome } from './home.js';
import { MedpersamUserError } from '../errors.js';
import { checkEmbeddingFits, findSamModelFiles, type SamModelFiles } from './model-files.js';
import { DEFAULT_MASK_PROMPT_LOGIT } from './prompt-frames.js';
import { SAM2_ENCODER_DISABLED_OPTIMIZERS } from './sam2-interface.js';
import { createSession, float32Tensor, type ort } from './session.js';
import { patchDecoderForTargetEmbedding } from './target-embedding.js';
import type {
  ExecutionProviderName,
  SamDecodeOptions,
  SamDecodeResult,
  SamEmbedding,
  SamLoadOptions,
  SamModelInfo,
  SamModelStats,
  SamPrompts,
} from './types.js';

/** Default embedding cache folder: `<medpersamHome()>/embeddings`. */
export function defaultEmbeddingCacheDir(): string {
  return join(medpersamHome(), 'embeddings');
}

const zeroStats = (): SamModelStats => ({
  encodeCalls: 0,
  encoderRuns: 0,
  encoderRunMs: 0,
  encoderReloads: 0,
  memoryCacheHits: 0,
  diskCacheHits: 0,
  decodeCalls: 0,
  decoderRunMs: 0,
  decodeTotalMs: 0,
});

export class SamModel {
  private counters = zeroStats();
  private readonly inFlight = new Map<string, Promise<SamEmbedding>>();
  /** The encoder session while it is held; null after `releaseEncoder()` (re-created by the next cache miss). */
  private encoderSession: ort.InferenceSession | null;
  private encoderOpening: Promise<ort.InferenceSession> | null = null;

  constructor(
    readonly info: SamModelInfo,
    private readonly files: SamModelFiles,
    encoderSession: ort.InferenceSession,
    private readonly openEncoder: () => Promise<ort.InferenceSession>,
    private readonly decoderSession: DecoderSessionLike & { release(): Promise<void>; readonly started?: boolean },
    private readonly cache: EmbeddingCache,
    private readonly maskPromptLogit: number,
    /** Decoder calls that run at the same time (the decoder workers; 1 with the decoder on the main thread). */
    readonly decodeConcurrency: number = 1,
  ) {
    this.encoderSession = encoderSession;
  }

  /**
   * Image embedding (cached by image content + encoder). The image must be on the 0..255 intensity scale
   * (see preprocess.ts `normalizedToSam255`); grey images are replicated to RGB. The returned `data` may be
   * shared with the cache: treat it as read-only.
   */
  async encode(image: FloatImage): Promise<SamEmbedding> {
    this.counters.encodeCalls++;
    checkImage(image);
    const key = `${this.info.encoderId}:${imageContentHash(image)}`;
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const p = this.encodeUncached(image, key).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  /**
   * The embedding of an image encoded before (by this model or, through the disk cache, an earlier one), by its key
   * (`SamEmbedding.key`) and the image's original size; null when the cache no longer holds it. Equal to what
   * `encode` of that image returns from the cache, without the image: no read, no content hash.
   */
  async cachedEmbedding(key: string, originalWidth: number, originalHeight: number): Promise<SamEmbedding | null> {
    const dims = this.info.embeddingDims;
    if (!dims || !key.startsWith(`${this.info.encoderId}:`)) return null;
    const hit = await this.cache.get(key);
    if (!hit) return null;
    if (hit.where === 'memory') this.counters.memoryCacheHits++;
    else this.counters.diskCacheHits++;
    return { originalWidth, originalHeight, key, dims, ...this.fromStored(hit.data, dims) };
  }

  /** A cache entry as the embedding's arrays (SAM 2 entries hold the high-resolution maps too). */
  private fromStored(stored: Float32Array, dims: readonly number[]): { data: Float32Array; highResFeatures?: Float32Array } {
    return embeddingFromStored(stored, this.files.encoderVariant, dims.reduce((a, b) => a * b, 1));
  }

  private async encodeUncached(image: FloatImage, key: string): Promise<SamEmbedding> {
    const base = { originalWidth: image.width, originalHeight: image.height, key };
    const hit = this.info.embeddingDims ? await this.cache.get(key) : null;
    if (hit && this.info.embeddingDims) {
      if (hit.where === 'memory') this.counters.memoryCacheHits++;
      else this.counters.diskCacheHits++;
      return { ...base, dims: this.info.embeddingDims, ...this.fromStored(hit.data, this.info.embeddingDims) };
    }
    const session = await this.heldEncoder();
    const r = await runEncoder(session, this.files.encoderVariant, this.files.encoderInputName, this.files.embeddingOutputName, image, float32Tensor);
    this.counters.encoderRuns++;
    this.counters.encoderRunMs += r.runMs;
    this.acceptEmbeddingDims(r.dims);
    try {
      await this.cache.put(key, r.stored);
    } catch (err) {
      // An unwritable cache folder costs re-encoding in later runs, not this run.
      const w = `embedding cache not written (${(err as Error).message}); embeddings will be recomputed next run`;
      if (!this.info.warnings.some((x) => x.startsWith('embedding cache not written'))) this.info.warnings.push(w);
    }
    return { ...base, dims: r.dims, data: r.data, ...(r.highResFeatures ? { highResFeatures: r.highResFeatures } : {}) };
  }

  /**
   * Every run's embedding must fit both graphs (declared dims may be symbolic) and the shape fixed so far; the first
   * run fixes `info.embeddingDims` when neither graph did.
   */
  private acceptEmbeddingDims(dims: [number, number, number, number]): void {
    checkEmbeddingFits(dims, this.files);
    const known = this.info.embeddingDims;
    if (known && known.some((d, i) => d !== dims[i])) {
      throw new MedpersamUserError(
        'MODEL_PAIR_MISMATCH',
        `encoder produced an embedding [${dims.join(',')}] but [${known.join(',')}] was expected; use an encoder and decoder exported from the same SAM model`,
        { file: this.files.encoder.path },
      );
    }
    if (!known) {
      this.info.embeddingDims = dims;
      this.cache.setLength(storedEmbeddingLength(dims, this.files.encoderVariant));
    }
  }

  private async heldEncoder(): Promise<ort.InferenceSession> {
    if (this.encoderSession) return this.encoderSession;
    this.encoderOpening ??= this.openEncoder().then((s) => {
      this.encoderSession = s;
      this.encoderOpening = null;
      this.counters.encoderReloads++;
      return s;
    });
    return this.encoderOpening;
  }

  /** Whether decoder worker threads are running (they start at the first decoder call; false without workers). */
  get decoderWorkersStarted(): boolean {
    return this.decoderSession.started ?? false;
  }

  /** Whether the encoder session is held now (false after `releaseEncoder()` until the next cache miss). */
  get encoderLoaded(): boolean {
    return this.encoderSession !== null;
  }

  /**
   * Free the encoder session (its weights and ONNX Runtime arena) once every image needed is encoded and cached:
   * the decoding stage then holds only the decoder, so peak memory is the larger stage, not the sum. Cached
   * embeddings keep being served; an image not in the cache re-creates the session (counted in `encoderReloads`).
   */
  async releaseEncoder(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()]);
    const s = this.encoderSession ?? (this.encoderOpening ? await this.encoderOpening.catch(() => null) : null);
    this.encoderSession = null;
    if (s) await s.release();
  }

  /** Masks from any mix of points, a box and a mask prompt, all in original pixel coordinates. */
  async decode(embedding: SamEmbedding, prompts: SamPrompts, opts: SamDecodeOptions = {}): Promise<SamDecodeResult> {
    const t0 = performance.now();
    this.counters.decodeCalls++;
    const { result, runMs } = await runDecoder(
      {
        session: this.decoderSession,
        tensor: float32Tensor,
        hasTargetEmbedding: this.info.targetEmbedding,
        embeddingDims: this.info.embeddingDims ?? embedding.dims,
        maskPromptLogit: this.maskPromptLogit,
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

  /** A copy of the counters (calls, session.run time vs total time). */
  stats(): SamModelStats {
    return { ...this.counters };
  }

  resetStats(): void {
    this.counters = zeroStats();
  }

  async release(): Promise<void> {
    await this.releaseEncoder();
    await this.decoderSession.release();
  }
}

/**
 * Load a SAM model folder (encoder + official-format decoder .onnx). See model-files.ts for the checks and
 * their error codes.
 */
export async function loadSamModel(dir: string, opts: SamLoadOptions = {}): Promise<SamModel> {
  const files = await findSamModelFiles(dir);
  const warnings: string[] = [];
  const sessionOpts = { threads: opts.threads, executionProvider: opts.executionProvider };
  // From the path: ONNX Runtime then finds external data files beside the model.
  const openEncoder = () =>
    createSession(files.encoder.path, files.encoder.path, {
      ...sessionOpts,
      threads: opts.encoderThreads ?? opts.threads,
      memoryArena: opts.encoderMemoryArena ?? false,
      disabledOptimizers: files.encoderVariant === 'sam2' ? SAM2_ENCODER_DISABLED_OPTIMIZERS : undefined,
    });
  const enc = await openEncoder();
  warnings.push(...enc.warnings);

  let targetEmbedding = files.decoderHasTargetEmbedding;
  let decoderSource: string | Uint8Array = files.decoder.path;
  if (opts.targetEmbedding && !targetEmbedding) {
    if (files.decoder.externalDataFiles.length > 0) {
      warnings.push('target-semantic prompting is off: the decoder uses external data and cannot be patched in memory');
    } else {
      const patch = patchDecoderForTargetEmbedding(new Uint8Array(await readFile(files.decoder.path)));
      if (patch.patched) {
        decoderSource = patch.bytes;
        targetEmbedding = true;
      } else if (patch.warning) {
        warnings.push(patch.warning);
      }
    }
  }
  const workers = decoderWorkerCount(opts);
  let decoder: DecoderSessionLike & { release(): Promise<void> };
  let decoderProvider: ExecutionProviderName = 'cpu';
  try {
    // Opened here either way, so that a decoder ONNX Runtime cannot load is an error now, not after training. The
    // workers' sessions run on the CPU with one thread each, so the check opens it that way.
    const dec = await createSession(decoderSource, files.decoder.path, workers > 0 ? { threads: 1 } : sessionOpts);
    for (const w of dec.warnings) if (!warnings.includes(w)) warnings.push(w);
    decoderProvider = dec.provider;
    if (workers > 0) {
      await dec.session.release();
      decoder = new DecoderWorkersOnFirstCall({ model: decoderSource, label: files.decoder.path, workers, threadsPerWorker: 1 });
    } else {
      decoder = dec.session;
    }
  } catch (err) {
    await enc.session.release().catch(() => {});
    throw err;
  }

  const cacheDir = opts.cacheDir === false ? undefined : (opts.cacheDir ?? defaultEmbeddingCacheDir());
  const encoderId = await encoderFileId(
    [files.encoder.path, ...files.encoder.externalDataFiles.map((f) => join(dirname(files.encoder.path), f))],
    cacheDir,
  );
  const info: SamModelInfo = {
    encoderPath: files.encoder.path,
    decoderPath: files.decoder.path,
    encoderVariant: files.encoderVariant,
    embeddingDims: files.embeddingDims,
    decoderOutputs: files.decoderOutputs,
    encoderId,
    // 'cuda' only when both sessions got it (otherwise the warnings say which fell back).
    executionProvider: enc.provider === 'cuda' && decoderProvider === 'cuda' ? 'cuda' : 'cpu',
    targetEmbedding,
    warnings,
  };
  const length = files.embeddingDims ? storedEmbeddingLength(files.embeddingDims, files.encoderVariant) : null;
  const cache = new EmbeddingCache({ dir: cacheDir, memoryEntries: opts.memoryCacheEntries }, length);
  return new SamModel(
    info,
    files,
    enc.session,
    async () => (await openEncoder()).session,
    decoder,
    cache,
    opts.maskPromptLogit ?? DEFAULT_MASK_PROMPT_LOGIT,
    Math.max(1, workers),
  );
}

/**
 * Decoder worker threads (decoder-workers.ts): `decoderWorkers` when given; none with CUDA (the GPU runs one call at
 * a time) or a single thread (`threads` 1 or a 1-core machine); else 2, each with one ONNX Runtime thread (measured
 * on the 2-core build machine, see decoder-workers.ts; more workers were not measured).
 */
export function decoderWorkerCount(opts: Pick<SamLoadOptions, 'decoderWorkers' | 'threads' | 'executionProvider'>): number {
  if (opts.decoderWorkers !== undefined) {
    if (!Number.isInteger(opts.decoderWorkers) || opts.decoderWorkers < 0) {
      throw new MedpersamUserError('INVALID_OPTION', `decoder workers must be 0 or a positive integer, got ${opts.decoderWorkers}`);
    }
    return opts.decoderWorkers;
  }
  if (opts.executionProvider === 'cuda') return 0;
  const cores = opts.threads ?? availableParallelism();
  return cores >= 2 ? 2 : 0;
}
