/**
 * One image in one round of Med-PerSAM (paper §3.2, §3.4, App. C.1): per class, prompts from the warped mask prompt
 * → SAM decoder → refinement passes; then the classes are combined. And the PerSAM baseline per class. Browser-safe:
 * SAM is reached through `SamModelLike` (onnxruntime-node in Node, onnxruntime-web in a browser).
 */
import { binaryOfClass, binaryOfClassCounted } from '../image/labels.js';
import { normalizeIntensity, toGrey } from '../image/normalize.js';
import type { BinaryMask, Box, FloatImage, LabelMap, LabeledPoint } from '../image/types.js';
import { boundingBox } from '../image/components.js';
import { enlargedBoundingBox, enlargedMask, resizeEnlargedNearest, type EnlargedMask } from '../image/enlarged.js';
import { resizeBinaryNearest } from '../image/resize.js';
import type { ReadImageResult } from '../io/read-image.js';
import {
  binaryFromLogits,
  binaryFromLogitsNearest,
  classPrototype,
  cosineSimilarityMap,
  featureMapFromEmbedding,
  featureSquaredNorms,
  generatePrompts,
  PERSAM_CASCADE,
  persamPrompts,
  samFrame as promptSamFrame,
  smoothMaskForNextPrompt,
  toSamPrompts,
  type ClassPrototype,
  type GeneratePromptsOptions,
  type PromptSet,
  type SmoothMaskOptions,
} from '../prompts/index.js';
import { promptSetParts } from '../prompts/prompt-set.js';
import type { SamDecodeOptions, SamDecodeResult, SamEmbedding, SamModelInfo, SamModelStats, SamPrompts } from '../sam/types.js';
import { normalizedToSam255 } from '../sam/preprocess.js';
import { combineClassLogits, type ClassLogits } from './multiclass.js';
import type { ClassRoundRecord, ImageRoundRecord } from './run-store.js';
import type { StageTimer } from './run-record.js';

/** The part of a loaded SAM model the loop uses (src/sam SamModel satisfies it; tests may wrap it). */
export interface SamModelLike {
  readonly info: SamModelInfo;
  encode(image: FloatImage): Promise<SamEmbedding>;
  decode(embedding: SamEmbedding, prompts: SamPrompts, opts?: SamDecodeOptions): Promise<SamDecodeResult>;
  stats(): SamModelStats;
  /**
   * Free the encoder once every image is encoded (src/sam SamModel has it). With it the core runs the encoder in the
   * background during the first warp training and releases it after the first SAM round; without it the encoder
   * stays loaded and images are encoded when first segmented.
   */
  releaseEncoder?(): Promise<void>;
  /**
   * The embedding of an image encoded before, by its key (`SamEmbedding.key`) and original size, while the cache
   * holds it (null otherwise): what `encode` of that image would return, without the image (src/sam SamModel has
   * it). With it the core reads and hashes a test image again only in the final round, where its pixels are used.
   */
  cachedEmbedding?(key: string, originalWidth: number, originalHeight: number): Promise<SamEmbedding | null>;
  /**
   * Decoder calls that can run at the same time (src/sam SamModel: its decoder worker threads). Above 1, the core keeps
   * one image more than that in segmentation at once, so one image's prompt work runs while others' decoder calls do.
   * Default 1 (one image at a time).
   */
  readonly decodeConcurrency?: number;
}

/** The image one round segments, as the per-image work sees it: its original size and its SAM embedding. */
export interface SegmentTarget {
  width: number;
  height: number;
  /** The image's SAM embedding (encoder or cache); called once, timed as 'sam-encode'. */
  embedding(): Promise<SamEmbedding>;
}

/** A loaded image as a segment target: encoded (or found in the embedding cache by its content) when asked. */
export function loadedTarget(read: ReadImageResult, sam: SamModelLike): SegmentTarget {
  return { width: read.image.width, height: read.image.height, embedding: () => sam.encode(samInputImage(read)) };
}

/** What a run remembers of an image it has encoded: its embedding's cache key and the image's original size. */
export interface KnownEmbedding {
  key: string;
  width: number;
  height: number;
}

/**
 * An image whose embedding key is known, as a segment target: the embedding from the model's cache by key, else
 * (no `cachedEmbedding`, or no longer cached) the image loaded and encoded as `loadedTarget` does.
 */
export function knownTarget(known: KnownEmbedding, sam: SamModelLike, load: () => Promise<ReadImageResult>): SegmentTarget {
  return {
    width: known.width,
    height: known.height,
    async embedding() {
      const cached = sam.cachedEmbedding ? await sam.cachedEmbedding(known.key, known.width, known.height) : null;
      return cached ?? sam.encode(samInputImage(await load()));
    },
  };
}

/** The prompt and refinement settings one image needs (resolved by core.ts). */
export interface ImageSegmentSettings {
  refinements: number;
  promptSet: PromptSet;
  promptOptions: GeneratePromptsOptions;
  smoothing: SmoothMaskOptions;
  useTargetEmbedding: boolean;
  promptWorkingSize: number;
  method: 'med-persam' | 'persam';
}

/** What SAM's encoder gets: 8-bit images as they are (0..255), deeper ones normalised then mapped to 0..255. */
export function samInputImage(read: ReadImageResult): FloatImage {
  if (read.bitDepth <= 8 && (read.format === 'png' || read.format === 'jpeg' || read.format === 'bmp' || read.format === 'tiff')) {
    return read.image;
  }
  const grey = read.image.channels === 1 ? read.image : toGrey(read.image);
  return normalizedToSam255(normalizeIntensity(grey));
}

function argMax(values: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** The class prototypes of the reference (§3.2): its SAM features averaged under each class's mask. */
export async function referencePrototypes(
  sam: SamModelLike,
  image: ReadImageResult,
  label: LabelMap,
  classes: readonly number[],
  timer: StageTimer,
): Promise<Map<number, ClassPrototype>> {
  const emb = await timer.time('sam-encode', () => sam.encode(samInputImage(image)));
  return timer.time('prompts', () => {
    const features = featureMapFromEmbedding(emb);
    const frame = promptSamFrame(emb.originalWidth, emb.originalHeight, { gridSize: emb.dims[3], squash: sam.info.encoderVariant === 'sam2' });
    const m = new Map<number, ClassPrototype>();
    for (const c of classes) m.set(c, classPrototype(features, frame, binaryOfClass(label, c)));
    return m;
  });
}

/** The final prompts of an image's classes, as overlay marks. */
export function overlayMarks(classesOut: readonly ClassRoundRecord[]): { points: LabeledPoint[]; box: Box[] } {
  const points: LabeledPoint[] = [];
  const box: Box[] = [];
  for (const c of classesOut) {
    points.push(...c.points);
    if (c.box) box.push(c.box);
  }
  return { points, box };
}

export interface ImageOut {
  label: LabelMap;
  record: ImageRoundRecord;
  /** The image's embedding key and size (a later round may get the embedding by key: `knownTarget`). */
  embedding: KnownEmbedding;
}

/**
 * §3.2 + §3.4 for one image in one round: per class, prompts from the warped mask → SAM → refinement passes;
 * then the classes are combined.
 */
export async function segmentOneImage(
  id: string,
  round: number,
  target: SegmentTarget,
  warped: LabelMap,
  classes: readonly number[],
  prototypes: Map<number, ClassPrototype>,
  sam: SamModelLike,
  r: ImageSegmentSettings,
  timer: StageTimer,
  counters: { decoderCalls: number },
): Promise<ImageOut> {
  const { width, height } = target;
  const t0 = performance.now();
  const before = timer.totals();
  const emb = await timer.time('sam-encode', () => target.embedding());
  if (emb.originalWidth !== width || emb.originalHeight !== height) {
    throw new Error(`segmentOneImage: embedding of a ${emb.originalWidth}x${emb.originalHeight} image for a ${width}x${height} target`);
  }
  const features = featureMapFromEmbedding(emb);
  const frame = promptSamFrame(width, height, { gridSize: emb.dims[3], squash: sam.info.encoderVariant === 'sam2' });
  const work = workingFrame(width, height, r.promptWorkingSize);
  const classLogits: ClassLogits[] = [];
  const records: ClassRoundRecord[] = [];
  // The features' squared norms, shared by the classes' similarity maps (computed when the first class needs them).
  let squaredNorms: Float64Array | undefined;
  for (const cls of classes) {
    const proto = prototypes.get(cls)!;
    const rec: ClassRoundRecord = { cls, points: [], box: null, maskPromptPixels: 0, iouScores: [], decoderCalls: 0, notes: [] };
    records.push(rec);
    if (r.method === 'persam') {
      classLogits.push({ cls, logits: await persamClass(rec, emb, features, frame, proto, sam, r, timer, counters, width, height) });
      continue;
    }
    const { mask: maskPrompt, pixels: maskPromptPixels } = binaryOfClassCounted(warped, cls);
    rec.maskPromptPixels = maskPromptPixels;
    if (rec.maskPromptPixels === 0) {
      rec.notes.push('empty mask prompt: class not predicted');
      classLogits.push({ cls, logits: null });
      continue;
    }
    // Points are chosen in the working frame (workW × workH); box and mask come from the original-size mask.
    const similarity = timer.time('prompts-similarity', () => {
      squaredNorms ??= featureSquaredNorms(features);
      return cosineSimilarityMap(features, proto.prototypeUnit, frame, work.width, work.height, squaredNorms).map;
    });
    let mask: BinaryMask | EnlargedMask = maskPrompt;
    let logits: Float32Array | null = null;
    for (let pass = 0; pass <= r.refinements; pass++) {
      if (pass > 0) {
        // Smoothing is a morphological operation too: done in the working frame (App. C.1), then brought back to
        // the original size (nearest) for the box and the mask prompt.
        const smoothed = timer.time('prompts-smooth', () => {
          if (work.width === width && work.height === height) return smoothMaskForNextPrompt(binaryFromLogits(logits!, width, height), r.smoothing);
          // The SAM output in the working frame: thresholded only where the nearest resize samples it. The smoothed
          // mask goes back to the original size as its nearest enlargement, not built: the prompts read its box, its
          // runs and its working-frame resize from the small mask (image/enlarged.ts).
          const sm = smoothMaskForNextPrompt(binaryFromLogitsNearest(logits!, width, height, work.width, work.height), r.smoothing);
          return { ...sm, mask: enlargedMask(sm.mask, width, height) };
        });
        if (smoothed.pixelsAfter === 0) {
          rec.notes.push(`refinement ${pass}: SAM output empty, refinement stopped`);
          break;
        }
        mask = smoothed.mask;
      }
      const prompts = timer.time('prompts-points', () => promptsFor(mask, similarity, work, r));
      if (!prompts) {
        rec.notes.push(`pass ${pass}: no prompt of set ${r.promptSet} could be made`);
        break;
      }
      if (r.useTargetEmbedding && sam.info.targetEmbedding) prompts.targetEmbedding = proto.prototype;
      // First pass: single-mask output; later passes: multimask, highest predicted IoU (App. C.1).
      const result = await timer.time('sam-decode', () => sam.decode(emb, prompts, { multimask: pass > 0 }));
      counters.decoderCalls++;
      rec.decoderCalls++;
      const k = argMax(result.iouScores);
      logits = result.logitsOriginal[k]!;
      rec.iouScores.push(result.iouScores[k]!);
      rec.points = prompts.pointsOriginal ?? [];
      rec.box = prompts.boxOriginal ?? null;
    }
    classLogits.push({ cls, logits });
  }
  const label = timer.time('combine', () => combineClassLogits(classLogits, width, height));
  const after = timer.totals();
  const timingsMs: Record<string, number> = {};
  for (const k of Object.keys(after)) {
    const d = after[k]! - (before[k] ?? 0);
    if (d > 0) timingsMs[k] = d;
  }
  timingsMs.total = performance.now() - t0;
  return { label, record: { id, round, width, height, classes: records, timingsMs }, embedding: { key: emb.key, width, height } };
}

/**
 * PerSAM baseline for one class (src/prompts persam.ts): top-k / bottom-k similarity points, then the cascade
 * PERSAM_CASCADE (each step: points; + previous low-res logits as mask input; + box of the previous mask).
 */
async function persamClass(
  rec: ClassRoundRecord,
  emb: SamEmbedding,
  features: ReturnType<typeof featureMapFromEmbedding>,
  frame: ReturnType<typeof promptSamFrame>,
  proto: ClassPrototype,
  sam: SamModelLike,
  r: ImageSegmentSettings,
  timer: StageTimer,
  counters: { decoderCalls: number },
  width: number,
  height: number,
): Promise<Float32Array | null> {
  const points = timer.time('prompts', () => {
    const sim = cosineSimilarityMap(features, proto.prototypeUnit, frame, width, height).map;
    return persamPrompts(sim, width, height, { topK: r.promptOptions.persamTopK ?? 1 }).points;
  });
  let logits: Float32Array | null = null;
  let lowRes: Float32Array | null = null;
  for (const step of PERSAM_CASCADE) {
    const prompts: SamPrompts = { pointsOriginal: points };
    if (step.maskInputFromPrevious && lowRes) prompts.maskPrompt = { kind: 'logits256', logits: lowRes };
    if (step.boxFromPrevious && logits) {
      const box = boundingBox(binaryFromLogits(logits, width, height));
      if (box) prompts.boxOriginal = box;
    }
    if (step.targetEmbedding && r.useTargetEmbedding && sam.info.targetEmbedding) prompts.targetEmbedding = proto.prototype;
    const result = await timer.time('sam-decode', () => sam.decode(emb, prompts, { multimask: step.multimask }));
    counters.decoderCalls++;
    rec.decoderCalls++;
    const k = argMax(result.iouScores);
    logits = result.logitsOriginal[k]!;
    lowRes = result.lowResLogits[k]!;
    rec.iouScores.push(result.iouScores[k]!);
    rec.points = points;
    rec.box = prompts.boxOriginal ?? null;
  }
  return logits;
}

/** The frame in which points are chosen: longest side `size` (never enlarged; 0 = original). */
export function workingFrame(width: number, height: number, size: number): { width: number; height: number } {
  const longest = Math.max(width, height);
  if (size === 0 || longest <= size) return { width, height };
  const scale = size / longest;
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * SAM prompts of the prompt set from one original-size mask prompt (a mask, or a smaller mask's nearest
 * enlargement): points from generatePrompts in the working frame (mapped back to pixel centres of the original
 * frame), the tight box and the mask at the original size. Null when the set yields nothing (e.g. 'P' on a mask
 * with no candidate pixel).
 */
export function promptsFor(
  maskOriginal: BinaryMask | EnlargedMask,
  similarityWork: Float32Array,
  work: { width: number; height: number },
  r: Pick<ImageSegmentSettings, 'promptSet' | 'promptOptions'>,
): SamPrompts | null {
  const { width, height } = maskOriginal;
  const enlarged = 'small' in maskOriginal ? maskOriginal : null;
  const full = 'small' in maskOriginal ? null : maskOriginal;
  const same = work.width === width && work.height === height;
  const parts = promptSetParts(r.promptSet);
  const prompts: SamPrompts = {};
  if (parts.points) {
    const maskWork = enlarged
      ? resizeEnlargedNearest(enlarged, work.width, work.height)
      : same
        ? full!
        : resizeBinaryNearest(full!, work.width, work.height);
    const generated = generatePrompts(maskWork, similarityWork, r.promptOptions);
    // toSamPrompts with set 'P' maps the points from the working frame to pixel centres of the original frame.
    const mapped = toSamPrompts(generated, 'P', width, height);
    if (mapped.pointsOriginal) prompts.pointsOriginal = mapped.pointsOriginal;
  }
  if (parts.box) {
    const box = enlarged ? enlargedBoundingBox(enlarged) : boundingBox(full!);
    if (box) prompts.boxOriginal = box;
  }
  if (parts.mask) prompts.maskPrompt = enlarged ? { kind: 'binaryEnlarged', mask: enlarged } : { kind: 'binary', mask: full! };
  if (!prompts.pointsOriginal && !prompts.boxOriginal && !prompts.maskPrompt) return null;
  return prompts;
}
