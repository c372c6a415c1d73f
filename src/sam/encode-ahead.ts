/**
 * Encode a list of images ahead of need, one at a time, in the background: SAM's encoder (ONNX Runtime, on its
 * own threads) then runs while the caller keeps the main thread busy with something else — in Med-PerSAM, while
 * the warp model trains (§3.1) — instead of after it. Every embedding lands in the model's cache (memory + disk),
 * so the later `encode()` of the same image is a cache hit. When every image is encoded the encoder session is
 * released (`SamModel.releaseEncoder`): the decoding stage then holds only the decoder.
 *
 * Browser-safe (no Node APIs): the core loop runs it in Node and in the browser app.
 *
 * Never rejects: an image that fails to load or encode is recorded and skipped (the caller's own `encode()` of it
 * later raises the error where it belongs, with the file named). Cancelling stops after the current image.
 */
import type { FloatImage } from '../image/types.js';
import type { ProgressCallback } from '../progress.js';
import type { SamEmbedding, SamModelStats } from './types.js';

/** What encode-ahead needs of a SAM model (SamModel has it). */
export interface EncodeAheadModel {
  encode(image: FloatImage): Promise<SamEmbedding>;
  releaseEncoder(): Promise<void>;
  stats(): SamModelStats;
}

export interface EncodeAheadItem {
  id: string;
  /** The image as the encoder takes it (0..255 scale); called when its turn comes, so only one is held at a time. */
  load: () => Promise<FloatImage>;
}

export interface EncodeAheadOptions {
  signal?: AbortSignal;
  /** Called after each image (stage 'sam-encode-ahead'). */
  onProgress?: ProgressCallback;
  /** Release the encoder session once every item is encoded without error (default true). */
  releaseEncoder?: boolean;
}

export interface EncodeAheadResult {
  /** Items whose embedding is now cached (encoded now or found in the cache). */
  encoded: number;
  /**
   * Those items' embedding keys and original image sizes, with their position in the item list (a caller may fetch
   * the embeddings by key later).
   */
  embeddings: { index: number; id: string; key: string; width: number; height: number }[];
  /** Of those, found in the cache (no encoder run). */
  alreadyCached: number;
  failed: { id: string; error: unknown }[];
  cancelled: boolean;
  /** Whether the encoder session was released at the end. */
  encoderReleased: boolean;
  /** Milliseconds inside the encoder's session.run, and wall time of the whole job. */
  encoderRunMs: number;
  wallMs: number;
}

export interface EncodeAheadJob {
  done: Promise<EncodeAheadResult>;
  /** Stop after the image being encoded now (`done` then resolves with `cancelled: true`). */
  cancel(): void;
}

export function encodeAhead(model: EncodeAheadModel, items: readonly EncodeAheadItem[], opts: EncodeAheadOptions = {}): EncodeAheadJob {
  let cancelled = false;
  const run = async (): Promise<EncodeAheadResult> => {
    const t0 = performance.now();
    const statsAtStart = model.stats();
    const result: EncodeAheadResult = {
      encoded: 0,
      embeddings: [],
      alreadyCached: 0,
      failed: [],
      cancelled: false,
      encoderReleased: false,
      encoderRunMs: 0,
      wallMs: 0,
    };
    // Start on a later turn of the event loop: the caller's synchronous set-up (and the first training step) go first.
    await new Promise<void>((resolve) => setTimeout(resolve, 0));
    for (let i = 0; i < items.length; i++) {
      if (cancelled || opts.signal?.aborted) {
        result.cancelled = true;
        break;
      }
      const item = items[i]!;
      try {
        const runsBefore = model.stats().encoderRuns;
        const embedding = await model.encode(await item.load());
        result.encoded++;
        result.embeddings.push({ index: i, id: item.id, key: embedding.key, width: embedding.originalWidth, height: embedding.originalHeight });
        if (model.stats().encoderRuns === runsBefore) result.alreadyCached++;
      } catch (error) {
        result.failed.push({ id: item.id, error });
      }
      opts.onProgress?.({ stage: 'sam-encode-ahead', done: i + 1, total: items.length, message: item.id });
    }
    if ((opts.releaseEncoder ?? true) && !result.cancelled && result.failed.length === 0) {
      await model.releaseEncoder();
      result.encoderReleased = true;
    }
    result.encoderRunMs = model.stats().encoderRunMs - statsAtStart.encoderRunMs;
    result.wallMs = performance.now() - t0;
    return result;
  };
  const done = run().catch((error: unknown) => ({
    encoded: 0,
    embeddings: [],
    alreadyCached: 0,
    failed: [{ id: '(encode-ahead)', error }],
    cancelled: false,
    encoderReleased: false,
    encoderRunMs: 0,
    wallMs: 0,
  }));
  return {
    done,
    cancel: () => {
      cancelled = true;
    },
  };
}
