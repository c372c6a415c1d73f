/**
 * The run record (outDir/run-record.json): every setting, the SAM model files and their sha256, package / runtime /
 * backend versions, per-stage timings and the encoder/decoder call counts. Plus the stage timer used to fill it.
 * Pure (browser-safe): the runtime facts come from the environment (run-record-node.ts `nodeRuntimeInfo` in Node,
 * the app's own in the browser).
 */

/**
 * Exclusive wall time per stage: when a timed section starts inside another (e.g. a checkpoint write inside warp
 * training), the outer stage's clock pauses, so the stages add up to the timed total. Sections may also overlap
 * without nesting (two images in segmentation at once): the wall time always goes to the most recently started
 * section still running, and a section that ends while a later one runs just leaves (its clock was paused).
 */
export class StageTimer {
  private readonly acc = new Map<string, number>();
  /** Running sections, oldest first; only the last one's clock runs (from `start`). */
  private readonly stack: { stage: string; start: number }[] = [];

  private add(stage: string, ms: number): void {
    this.acc.set(stage, (this.acc.get(stage) ?? 0) + ms);
  }

  private begin(stage: string): { stage: string; start: number } {
    const now = performance.now();
    const top = this.stack[this.stack.length - 1];
    if (top) this.add(top.stage, now - top.start);
    const entry = { stage, start: now };
    this.stack.push(entry);
    return entry;
  }

  private end(entry: { stage: string; start: number }): void {
    const at = this.stack.lastIndexOf(entry);
    if (at < 0) return;
    this.stack.splice(at, 1);
    if (at < this.stack.length) return; // a later section runs: this one's clock was paused
    const now = performance.now();
    this.add(entry.stage, now - entry.start);
    const parent = this.stack[this.stack.length - 1];
    if (parent) parent.start = now;
  }

  /** Time `fn` under `stage` (sync or async: a returned promise is timed until it settles). */
  time<T>(stage: string, fn: () => T): T {
    const entry = this.begin(stage);
    let out: T;
    try {
      out = fn();
    } catch (err) {
      this.end(entry);
      throw err;
    }
    if (out instanceof Promise) return out.finally(() => this.end(entry)) as T;
    this.end(entry);
    return out;
  }

  timeAsync<T>(stage: string, fn: () => Promise<T>): Promise<T> {
    return this.time(stage, fn);
  }

  /** Milliseconds per stage so far. */
  totals(): Record<string, number> {
    return Object.fromEntries(this.acc);
  }
}

export interface SamModelRecord {
  /** What the user asked for (id or folder), when SAM was loaded by the pipeline. */
  requested?: string;
  encoderPath: string;
  decoderPath: string;
  encoderSha256: string;
  decoderSha256: string;
  encoderVariant: string;
  decoderOutputs: number | null;
  targetEmbedding: boolean;
  executionProvider: string;
  warnings: string[];
}

export interface RunCounters {
  /** Decoder calls made by this session. */
  decoderCalls: number;
  /** encode() calls and actual encoder runs (the rest were embedding-cache hits). */
  encodeCalls: number;
  encoderRuns: number;
  embeddingCacheHits: number;
  /** Time inside ONNX Runtime (session.run) for the encoder / decoder, and decode() wall time in total. */
  encoderRunMs: number;
  decoderRunMs: number;
  decodeTotalMs: number;
  /** (image, round) results computed now, and reused from an earlier session. */
  imagesProcessed: number;
  imageRoundsReused: number;
  /**
   * SAM's encoder run in the background while the warp model trained (src/sam/encode-ahead.ts): images encoded,
   * encoder session.run time among `encoderRunMs`, wall time of the background job, and how long the loop then
   * waited for it after training (stage `sam-encode-wait`). Hidden behind training = wallMs - waitMs.
   */
  encodeAhead?: { images: number; encoderRunMs: number; wallMs: number; waitMs: number };
}

/** Facts about the environment a run ran in (what the adapter at the edge knows). */
export interface RuntimeInfo {
  toolVersion: string;
  /** Node version, when in Node. */
  node?: string;
  /** Browser user agent, when in a browser. */
  userAgent?: string;
  platform: string;
  arch: string;
  cpus: number;
  tfjs?: string;
  /** The ONNX Runtime package and version (onnxruntime-node in Node, onnxruntime-web in a browser). */
  onnxruntime?: string;
  /** glibc's MALLOC_MMAP_THRESHOLD_ in this process (Node on Linux; bin/medpersam.js sets it for long runs). */
  mallocMmapThreshold?: string;
}

export interface RunRecord {
  tool: { name: string; version: string };
  /** The environment's facts (without the tool version, which is `tool.version`) and the tfjs backend used. */
  runtime: Omit<RuntimeInfo, 'toolVersion'> & { tfBackend: string };
  startedAt: string;
  finishedAt: string;
  resumed: boolean;
  inputs: { referenceImage: string; referenceMask: string; tests: number; classes: number[] };
  sam: SamModelRecord;
  settings: unknown;
  timingsMs: Record<string, number>;
  /** Shares of the timed total: warp (train + apply + init, and the region-of-interest stage), SAM inside ONNX Runtime, everything else. */
  breakdown: { totalMs: number; warpMs: number; onnxRuntimeMs: number; otherMs: number };
  counters: RunCounters;
  /** The warp model: threads, phases trained (budget, steps), the saved model used, unreadable images skipped. */
  warp?: unknown;
  results?: unknown;
  /** The quality review: counts and every image's quality score and flag (pipeline/review.ts QualityRecord). */
  quality?: unknown;
  /** The region-of-interest stage's plan (objects, crops) when it ran (src/warp/roi-stage.ts summary). */
  roi?: unknown;
}

export interface BuildRunRecordInput {
  startedAt: Date;
  finishedAt: Date;
  settings: unknown;
  inputs: RunRecord['inputs'];
  sam: SamModelRecord;
  tfBackend: string;
  resumed: boolean;
  timingsMs: Record<string, number>;
  counters: RunCounters;
  warp?: unknown;
  results?: unknown;
  quality?: unknown;
  roi?: unknown;
  runtime: RuntimeInfo;
}

/** The split the issue asks for: warp vs ONNX Runtime vs our own code (prompts, IO, pre/post-processing). */
export function timeBreakdown(timingsMs: Record<string, number>, counters: Pick<RunCounters, 'encoderRunMs' | 'decoderRunMs' | 'encodeAhead'>): RunRecord['breakdown'] {
  const totalMs = Object.values(timingsMs).reduce((a, b) => a + b, 0);
  const warpMs = ['warp-init', 'warp-prepare', 'warp-train', 'warp-pseudolabels', 'warp-apply', 'roi-prepare', 'roi-train'].reduce((a, k) => a + (timingsMs[k] ?? 0), 0);
  // Encoder runs in the background (during warp-train) are not part of the foreground total. Decoder calls of two
  // images overlap on the decoder workers: then their summed call times exceed the wall time they take, and the
  // 'sam-decode' stage (wall time spent waiting for the decoder) is the foreground part.
  const decoderMs = Math.min(counters.decoderRunMs, timingsMs['sam-decode'] ?? counters.decoderRunMs);
  const onnxRuntimeMs = counters.encoderRunMs - (counters.encodeAhead?.encoderRunMs ?? 0) + decoderMs;
  return { totalMs, warpMs, onnxRuntimeMs, otherMs: totalMs - warpMs - onnxRuntimeMs };
}

export function buildRunRecord(input: BuildRunRecordInput): RunRecord {
  const rt = input.runtime;
  return {
    tool: { name: 'medpersam', version: rt.toolVersion },
    runtime: {
      ...(rt.node !== undefined ? { node: rt.node } : {}),
      ...(rt.userAgent !== undefined ? { userAgent: rt.userAgent } : {}),
      platform: rt.platform,
      arch: rt.arch,
      cpus: rt.cpus,
      tfjs: rt.tfjs,
      tfBackend: input.tfBackend,
      onnxruntime: rt.onnxruntime,
      ...(rt.mallocMmapThreshold !== undefined ? { mallocMmapThreshold: rt.mallocMmapThreshold } : {}),
    },
    startedAt: input.startedAt.toISOString(),
    finishedAt: input.finishedAt.toISOString(),
    resumed: input.resumed,
    inputs: input.inputs,
    sam: input.sam,
    settings: input.settings,
    timingsMs: input.timingsMs,
    breakdown: timeBreakdown(input.timingsMs, input.counters),
    counters: input.counters,
    ...(input.warp !== undefined ? { warp: input.warp } : {}),
    results: input.results,
    ...(input.quality !== undefined ? { quality: input.quality } : {}),
    ...(input.roi !== undefined ? { roi: input.roi } : {}),
  };
}
