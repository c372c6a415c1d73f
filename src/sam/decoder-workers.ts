/**
 * SAM's decoder on worker threads (Node-only): `DecoderWorkerPool.start` opens one decoder session per worker, and
 * `run` sends each decoder run to a free worker, so the decoder calls of two images run at the same time.
 *
 * Why: onnxruntime-node's `session.run` executes on the calling thread (it only defers the call with setImmediate),
 * so on the main thread one image's decoder run blocks everything else, prompt work included. Measured on the
 * 2-core build machine with the real-architecture MobileSAM decoder (1024² output, 3 points): one session with 2
 * threads 61 ms per call; two workers with 1 thread each 46 ms per call in throughput (each call 90 ms).
 *
 * Results equal a 1-thread session's on the main thread (every worker runs the same graph with one thread; which
 * worker runs a call does not change its result). A worker keeps the last image embedding it was sent (matched by
 * the embedding's Float32Array: treat embeddings as read-only, as the cache does), so an image's later calls on the
 * same worker send only their prompts; calls go preferably to the worker already holding their embedding.
 */
import { Worker } from 'node:worker_threads';
import { MedpersamUserError } from '../errors.js';
import { nodeWorkerEntryUrl } from '../worker-entry-url.js';
import type { DecoderOutputTensor, DecoderSessionLike } from './decoder.js';
import type { DecoderWorkerData, DecoderWorkerReply, DecoderWorkerRequest, PlainTensor } from './decoder-workers-protocol.js';
import type { OrtTensor } from './ort-types.js';

export interface DecoderWorkerPoolOptions {
  /** The decoder graph: its path (external data found beside it), or its bytes. */
  model: string | Uint8Array;
  /** The file named in errors. */
  label: string;
  /** Worker threads (≥ 1). */
  workers: number;
  /** ONNX Runtime intra-op threads per worker (default 1). */
  threadsPerWorker?: number;
}

/** The graph inputs that hold the image (not the prompts): SAM 1's embedding; SAM 2's and its high-resolution maps. */
const EMBEDDING_INPUTS = new Set(['image_embeddings', 'image_embed', 'high_res_feats_0', 'high_res_feats_1']);
/** The input whose array identifies the image (the first of these present). */
const EMBEDDING_KEYS = ['image_embeddings', 'image_embed'];

interface Slot {
  worker: Worker;
  name: string;
  /** The job this worker runs now, null when idle. */
  job: Job | null;
  heldEmbeddingId: number | null;
}

interface Job {
  embeddingId: number;
  embedding: Record<string, PlainTensor>;
  feeds: Record<string, PlainTensor>;
  resolve: (outputs: Record<string, DecoderOutputTensor>) => void;
  reject: (err: Error) => void;
}

export class DecoderWorkerPool implements DecoderSessionLike {
  private readonly queue: Job[] = [];
  private readonly embeddingIds = new WeakMap<Float32Array, number>();
  private nextEmbeddingId = 1;
  private nextRequestId = 1;
  private failure: Error | null = null;
  private released = false;

  private constructor(private readonly slots: Slot[]) {
    for (const slot of slots) {
      slot.worker.on('message', (reply: DecoderWorkerReply) => this.onReply(slot, reply));
      slot.worker.on('error', (err) => this.fail(new Error(`${slot.name} failed: ${err.message}`)));
      slot.worker.on('exit', (code) => {
        if (!this.released) this.fail(new Error(`${slot.name} exited (code ${code})`));
      });
    }
  }

  /** Start the workers and open their sessions; a graph ONNX Runtime cannot load is an ONNX_LOAD_FAILED error. */
  static async start(opts: DecoderWorkerPoolOptions): Promise<DecoderWorkerPool> {
    if (!Number.isInteger(opts.workers) || opts.workers < 1) {
      throw new MedpersamUserError('INVALID_OPTION', `decoder workers must be a positive integer, got ${opts.workers}`);
    }
    const url = nodeWorkerEntryUrl(import.meta.url, 'decoder-worker-entry');
    const data: DecoderWorkerData = { model: opts.model, label: opts.label, threads: opts.threadsPerWorker ?? 1 };
    const slots: Slot[] = Array.from({ length: opts.workers }, (_, i) => ({
      worker: new Worker(url, { workerData: data, name: `medpersam-decoder-${i + 1}` }),
      name: `SAM decoder worker ${i + 1}`,
      job: null,
      heldEmbeddingId: null,
    }));
    const ready = slots.map(
      (slot) =>
        new Promise<void>((resolve, reject) => {
          const onExit = (code: number) => reject(new Error(`${slot.name} exited (code ${code}) while loading`));
          slot.worker.once('error', reject);
          slot.worker.once('exit', onExit);
          slot.worker.once('message', (reply: DecoderWorkerReply) => {
            slot.worker.off('error', reject);
            slot.worker.off('exit', onExit);
            if (reply.type === 'ready') resolve();
            else reject(new Error(reply.type === 'load-error' ? reply.message : `unexpected first message ${reply.type}`));
          });
        }),
    );
    const settled = await Promise.allSettled(ready);
    const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await Promise.all(slots.map((s) => s.worker.terminate()));
      const message = String((failed.reason as Error)?.message ?? failed.reason).split('\n')[0]!.slice(0, 300);
      throw new MedpersamUserError('ONNX_LOAD_FAILED', `ONNX Runtime cannot load this model: ${message}`, { file: opts.label, cause: failed.reason });
    }
    // Idle workers do not keep the process alive (a worker is ref'd while it runs a call).
    for (const s of slots) s.worker.unref();
    return new DecoderWorkerPool(slots);
  }

  /** Workers in the pool: how many decoder calls run at the same time. */
  get size(): number {
    return this.slots.length;
  }

  /** One decoder run on a free worker (queued while all are busy). */
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, DecoderOutputTensor>> {
    if (this.released) return Promise.reject(releasedError());
    if (this.failure) return Promise.reject(this.failure);
    const rest: Record<string, PlainTensor> = {};
    const embedding: Record<string, PlainTensor> = {};
    for (const [name, t] of Object.entries(feeds)) {
      const plain = { data: t.data as Float32Array, dims: t.dims.map(Number) };
      if (EMBEDDING_INPUTS.has(name)) embedding[name] = plain;
      else rest[name] = plain;
    }
    const keyName = EMBEDDING_KEYS.find((n) => n in embedding);
    if (!keyName) return Promise.reject(new Error(`decoder feeds have no ${EMBEDDING_KEYS.join(' or ')}`));
    const key = embedding[keyName]!.data;
    let embeddingId = this.embeddingIds.get(key);
    if (embeddingId === undefined) {
      embeddingId = this.nextEmbeddingId++;
      this.embeddingIds.set(key, embeddingId);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ embeddingId: embeddingId!, embedding: embedding!, feeds: rest, resolve, reject });
      this.dispatch();
    });
  }

  /** Hand queued jobs to idle workers: a job goes preferably to the worker that holds its embedding. */
  private dispatch(): void {
    while (this.queue.length > 0) {
      const idle = this.slots.filter((s) => s.job === null);
      if (idle.length === 0) return;
      const job = this.queue[0]!;
      const slot = idle.find((s) => s.heldEmbeddingId === job.embeddingId) ?? idle.find((s) => !this.queue.some((j) => j.embeddingId === s.heldEmbeddingId)) ?? idle[0]!;
      this.queue.shift();
      slot.job = job;
      const req: DecoderWorkerRequest = { id: this.nextRequestId++, embeddingId: job.embeddingId, feeds: job.feeds };
      if (slot.heldEmbeddingId !== job.embeddingId) req.embedding = job.embedding;
      slot.heldEmbeddingId = job.embeddingId;
      slot.worker.ref();
      slot.worker.postMessage(req);
    }
  }

  private onReply(slot: Slot, reply: DecoderWorkerReply): void {
    const job = slot.job;
    if (!job || (reply.type !== 'result' && reply.type !== 'error')) return;
    slot.job = null;
    slot.worker.unref();
    if (reply.type === 'result') job.resolve(reply.outputs);
    else {
      // The worker may not have kept the embedding: send it again next time.
      slot.heldEmbeddingId = null;
      job.reject(new Error(reply.message));
    }
    this.dispatch();
  }

  /** A worker died: every pending and later call fails with the reason. */
  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.rejectPending(err);
  }

  /** Every call running or queued fails with `err`. */
  private rejectPending(err: Error): void {
    for (const s of this.slots) {
      s.job?.reject(err);
      s.job = null;
    }
    for (const j of this.queue.splice(0)) j.reject(err);
  }

  /** Stop the workers (pending calls fail). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.rejectPending(releasedError());
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/** The error of a call after `release()`. */
const releasedError = () => new Error('the SAM decoder workers were released');

/**
 * The pool started at the first decoder call, not before: a run encodes every image before it decodes any, and the
 * encoder session is freed before decoding starts, so the workers' sessions (≈85 MB each for the real-size decoder,
 * more once they have run) never add to the encoding stage's peak memory.
 */
export class DecoderWorkersOnFirstCall implements DecoderSessionLike {
  private pool: Promise<DecoderWorkerPool> | null = null;
  private released = false;

  constructor(private readonly opts: DecoderWorkerPoolOptions) {}

  /** Whether the workers have been started (by a first call). */
  get started(): boolean {
    return this.pool !== null;
  }

  async run(feeds: Record<string, OrtTensor>): Promise<Record<string, DecoderOutputTensor>> {
    if (this.released) throw releasedError();
    this.pool ??= DecoderWorkerPool.start(this.opts);
    return (await this.pool).run(feeds);
  }

  async release(): Promise<void> {
    this.released = true;
    const pool = await this.pool?.catch(() => null);
    this.pool = null;
    await pool?.release();
  }
}
