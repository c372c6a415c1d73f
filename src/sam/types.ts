/**
 * Types of the SAM component (the official SAM ONNX interfaces; see model-files.ts).
 *
 * Coordinate frames met here:
 *  - original: the image's own pixels (what callers use: `pointsOriginal`, `boxOriginal`, masks at W×H);
 *  - sam1024:  the resized frame, longest side 1024 (`scale = 1024 / max(W,H)`, sides `floor(x*scale + 0.5)`),
 *              zero-padded bottom/right to 1024×1024 (what the encoder sees and `point_coords` is in); for SAM 2
 *              the image squashed to 1024×1024 without keeping its aspect ratio and without padding;
 *  - sam256:   the 1024 frame downsampled ×4 (`mask_input`, `low_res_masks`).
 * The frame maths lives only in `frames.ts` (used by `preprocess.ts` for images, `prompt-frames.ts` for prompts).
 */
import type { BinaryMask, Box, LabeledPoint } from '../image/types.js';
import type { EnlargedMask } from '../image/enlarged.js';

/** How the encoder wants its input (detected from the graph's input, never from the user). */
export type EncoderVariant =
  /** `[1,3,1024,1024]`: the caller resizes, normalises (SAM mean/std on 0..255) and zero-pads. */
  | 'plain'
  /** `input_image` `[H,W,3]` raw 0..255 (samexporter `--use-preprocess`); normalising and padding in-graph. */
  | 'input_image'
  /**
   * SAM 2 / 2.1 (samexporter `export_sam2.py`): `image` `[1,3,1024,1024]`, squashed to 1024×1024 (no padding),
   * ImageNet mean/std on 0..1; outputs `image_embed` and the two high-resolution feature maps (sam2-interface.ts).
   */
  | 'sam2';

/** 'cpu' / 'cuda': onnxruntime-node; 'wasm' / 'webgpu': onnxruntime-web in a browser. */
export type ExecutionProviderName = 'cpu' | 'cuda' | 'wasm' | 'webgpu';

export interface SamLoadOptions {
  /** ONNX Runtime intra-op threads (default: ONNX Runtime's own default, one per physical core). */
  threads?: number;
  /**
   * Intra-op threads of the encoder session alone (default `threads`): e.g. 1 while the encoder runs beside the warp
   * model's training (encode-ahead.ts), which has the other core.
   */
  encoderThreads?: number;
  /**
   * ONNX Runtime's memory arena for the encoder session (default false). With the arena the session keeps its
   * activation memory at the high-water mark (rounded up to powers of two) for its lifetime: measured with a
   * real-architecture SAM ViT-B, 7.0 GB RSS after encoding vs 3.9 GB peak / 1.2 GB after without it (MobileSAM:
   * 0.8 GB). The encoder runs once per image, so the arena's speed-up matters little there.
   */
  encoderMemoryArena?: boolean;
  /** 'cpu' (default) or 'cuda' (used only when this onnxruntime-node has it; otherwise CPU + a warning). */
  executionProvider?: ExecutionProviderName;
  /**
   * Worker threads running the decoder, one 1-thread ONNX Runtime session each, so that two images' decoder calls
   * run at the same time (Node; decoder-workers.ts). 0 = the decoder on the main thread with `threads`. Default: 2
   * on a CPU with 2 or more cores (or `threads` ≥ 2), else 0.
   */
  decoderWorkers?: number;
  /**
   * Folder of the on-disk embedding cache (default `<medpersamHome()>/embeddings`); `false` disables the disk
   * cache (embeddings are then kept only in the small in-memory LRU).
   */
  cacheDir?: string | false;
  /** Embeddings kept in memory (LRU; default 4 ≈ 16 MB for 256×64×64). Memory does not grow with image count. */
  memoryCacheEntries?: number;
  /**
   * Patch the decoder graph for PerSAM target-semantic prompting (paper App. C.1, target-embedding.ts; default false).
   * Fails safe: when the pattern is not found the model runs unpatched and `info.warnings` says so.
   */
  targetEmbedding?: boolean;
  /** Logit magnitude used to turn a binary mask prompt into `mask_input` (default 20: 1 → +20, 0 → -20). */
  maskPromptLogit?: number;
}

/** A mask prompt: binary at the original size, logits at the original size, or SAM low-res logits (256×256). */
export type SamMaskPrompt =
  | { kind: 'binary'; mask: BinaryMask }
  /**
   * Binary at the original size, given as a smaller mask and its nearest-neighbour enlargement (image/enlarged.ts):
   * the same decoder input as `binary` with the enlarged mask, without building it.
   */
  | { kind: 'binaryEnlarged'; mask: EnlargedMask }
  /** Soft logits at the original size (length W·H), e.g. a previous `logitsOriginal`. */
  | { kind: 'logitsOriginal'; logits: Float32Array }
  /** Already in the padded-1024 frame at 256×256 (a previous `lowResLogits`): passed through unchanged. */
  | { kind: 'logits256'; logits: Float32Array };

export interface SamPrompts {
  /** Clicks in original pixel coordinates (pixel centres at integer positions); must lie inside the image. */
  pointsOriginal?: LabeledPoint[];
  /** Box in original pixel coordinates (inclusive corners); must lie inside the image. */
  boxOriginal?: Box;
  maskPrompt?: SamMaskPrompt;
  /**
   * PerSAM target embedding (256 floats): the class prototype, i.e. the plain mean of the reference's SAM features
   * under its mask, not normalised (as PerSAM's code passes it). Used only when the decoder was patched
   * (`info.targetEmbedding`); ignored (zeros) otherwise.
   */
  targetEmbedding?: Float32Array;
}

export interface SamDecodeOptions {
  /**
   * false (default): the single-mask output (SAM 2, which has none: the output with the highest predicted IoU);
   * true: the 3 multimask outputs (K = 4 SAM 1 exports and SAM 2).
   */
  multimask?: boolean;
}

export interface SamDecodeResult {
  /** Per returned output: logits at the original size (W·H, row-major); threshold 0. */
  logitsOriginal: Float32Array[];
  /** Per returned output: low-res logits in the (padded, or SAM 2's squashed) 1024 frame at 256×256. */
  lowResLogits: Float32Array[];
  /** Per returned output: SAM's predicted IoU. */
  iouScores: number[];
  width: number;
  height: number;
  /** Whether the multimask outputs were returned (false also when the export has K = 1). */
  multimask: boolean;
}

export interface SamEmbedding {
  /** 256·64·64 floats (NCHW): SAM 1's `image_embeddings`, SAM 2's `image_embed`. */
  data: Float32Array;
  /**
   * SAM 2 only: `high_res_feats_0` [1,32,256,256] followed by `high_res_feats_1` [1,64,128,128] (NCHW, 3·2^20
   * floats), which its decoder takes beside `data`. Absent for SAM 1.
   */
  highResFeatures?: Float32Array;
  dims: readonly [number, number, number, number];
  originalWidth: number;
  originalHeight: number;
  /** Cache key (model id + image content hash). */
  key: string;
}

export interface SamModelInfo {
  encoderPath: string;
  decoderPath: string;
  encoderVariant: EncoderVariant;
  /**
   * Shape of the image embedding, e.g. [1,256,64,64]: declared by the encoder, else by the decoder's
   * `image_embeddings` input (ViT encoders exported by torch declare [?,256,?,?]); null until the first encoder run
   * when neither graph fixes it.
   */
  embeddingDims: readonly [number, number, number, number] | null;
  /** Number of decoder outputs K read from the graph (1 or 4), null when the graph leaves it dynamic. */
  decoderOutputs: number | null;
  /** sha256 of the encoder file(s): the model part of embedding cache keys. */
  encoderId: string;
  executionProvider: ExecutionProviderName;
  /** Whether the decoder accepts a target embedding (patched, or exported with one). */
  targetEmbedding: boolean;
  /** Things the user should know (CUDA fallback, target-embedding patch not applied, ...). */
  warnings: string[];
}

/** Counters for tests and benchmarks. Times in milliseconds. */
export interface SamModelStats {
  encodeCalls: number;
  encoderRuns: number;
  encoderRunMs: number;
  /** Encoder sessions created after the first (an encode after `releaseEncoder()` that missed the cache). */
  encoderReloads: number;
  memoryCacheHits: number;
  diskCacheHits: number;
  decodeCalls: number;
  decoderRunMs: number;
  decodeTotalMs: number;
}
