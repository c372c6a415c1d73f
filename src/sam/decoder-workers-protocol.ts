/** Messages between decoder-workers.ts (the pool, main thread) and decoder-worker-entry.ts (one worker). */

/** A float32 tensor as posted between threads. */
export interface PlainTensor {
  data: Float32Array;
  dims: number[];
}

/** What a worker is started with. */
export interface DecoderWorkerData {
  /** The decoder graph: its path, or its bytes (e.g. patched for target-semantic prompting). */
  model: string | Uint8Array;
  /** The file named in errors. */
  label: string;
  /** ONNX Runtime intra-op threads of the worker's session. */
  threads: number;
}

/** One decoder run; `embedding` only when the worker does not hold `embeddingId` yet. */
export interface DecoderWorkerRequest {
  id: number;
  embeddingId: number;
  /**
   * The image's inputs, by graph input name: `image_embeddings` (SAM 1), or `image_embed` and the two
   * `high_res_feats_*` (SAM 2).
   */
  embedding?: Record<string, PlainTensor>;
  /** Every other input. */
  feeds: Record<string, PlainTensor>;
}

export type DecoderWorkerReply =
  | { type: 'ready' }
  | { type: 'load-error'; message: string }
  | { type: 'result'; id: number; outputs: Record<string, PlainTensor> }
  | { type: 'error'; id: number; message: string };
