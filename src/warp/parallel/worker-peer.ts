/**
 * The main thread's handle on one warp worker: typed calls over a WorkerChannel (requests of protocol.ts, replies
 * matched by id). Weights travel only when they changed since the last call to this worker. If the worker fails,
 * every pending and later call rejects with an error that says so.
 */
import type { WorkerChannel } from './channel.js';
import type { GradientsResult, InitRequest, PreprocessorRequest, WorkerReply, WorkerRequest } from './protocol.js';
import type { ShardData } from './batch-data.js';
import type { FloatImage } from '../../image/types.js';
import type { PreparedImage } from '../preprocess.js';

/** The current weights, identified by a version that changes whenever they do; `flat()` is called only if needed. */
export interface WeightsSource {
  version: number;
  flat(): Float32Array;
}

export type WorkerInit = Omit<InitRequest, 'kind' | 'id'>;
export type PreprocessorSource = Omit<PreprocessorRequest, 'kind' | 'id'>;

/** A request without its id (Omit applied to each member of the union). */
type RequestBody = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

export class WarpWorkerPeer {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private failure: Error | null = null;
  private sentVersion = Number.NaN;

  constructor(
    private readonly channel: WorkerChannel,
    /** Names the worker in error messages, e.g. "warp worker 1". */
    readonly label: string,
  ) {
    channel.onMessage((message) => {
      const reply = message as WorkerReply;
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.result);
      else {
        const err = new Error(`${this.label}: ${reply.error.message}`);
        if (reply.error.stack) err.stack = `${err.message}\n(worker stack) ${reply.error.stack}`;
        p.reject(err);
      }
    });
    channel.onFailure((error) => this.fail(new Error(`${this.label} failed: ${error.message}`, { cause: error })));
  }

  private fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  private call<T>(request: RequestBody, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        this.channel.post({ ...request, id }, transfer);
      } catch (err) {
        this.pending.delete(id);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  private weightsFor(source: WeightsSource): { weightsVersion: number; weights?: Float32Array } {
    if (source.version === this.sentVersion) return { weightsVersion: source.version };
    this.sentVersion = source.version;
    return { weightsVersion: source.version, weights: source.flat() };
  }

  async init(init: WorkerInit): Promise<void> {
    this.sentVersion = Number.NaN;
    await this.call({ kind: 'init', ...init });
  }

  gradients(weights: WeightsSource, shard: ShardData): Promise<GradientsResult> {
    // The shard's arrays are copies made for this worker: hand them over instead of cloning them again.
    const transfer = [shard.tests, shard.pseudoOneHot, shard.augImages, shard.augOneHot].map((a) => a.buffer as ArrayBuffer);
    return this.call<GradientsResult>({ kind: 'gradients', shard, ...this.weightsFor(weights) }, transfer);
  }

  /** Flows (R×R×2 each) of working images (R×R each). */
  async flows(weights: WeightsSource, works: readonly Float32Array[], resolution: number): Promise<Float32Array[]> {
    const R = resolution;
    const packed = new Float32Array(works.length * R * R);
    works.forEach((w, i) => packed.set(w, i * R * R));
    const flat = await this.call<Float32Array>(
      { kind: 'flows', works: packed, count: works.length, ...this.weightsFor(weights) },
      [packed.buffer as ArrayBuffer],
    );
    return works.map((_, i) => flat.slice(i * R * R * 2, (i + 1) * R * R * 2));
  }

  /** Build the worker's WarpPreprocessor (from the arguments the main thread built its own from). */
  async preprocessor(source: PreprocessorSource): Promise<void> {
    const { reference, label } = source;
    await this.call({
      kind: 'preprocessor',
      ...source,
      reference: plainImage(reference),
      label: { width: label.width, height: label.height, data: wholeBuffer(label.data) },
    });
  }

  /**
   * WarpPreprocessor.prepare on the worker (after `preprocessor`). The image is copied, not transferred: the
   * caller's buffer stays usable (the copy costs a few milliseconds for a 1024² image, the preparation ~0.5 s).
   */
  prepare(image: FloatImage): Promise<PreparedImage> {
    return this.call<PreparedImage>({ kind: 'prepare', image: plainImage(image) });
  }

  /** Free the worker's network and end the worker. */
  async close(): Promise<void> {
    if (!this.failure) {
      try {
        await this.call({ kind: 'dispose' });
      } catch {
        // ending it anyway
      }
    }
    this.fail(new Error(`${this.label} was closed`));
    await this.channel.close();
  }
}

/** A view that spans its whole buffer (a structured clone copies a view's entire buffer, not only the view). */
function wholeBuffer<T extends Float32Array | Uint8Array>(a: T): T {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : (a.slice() as T);
}

/** The image's fields only (a class instance or extra fields would not survive the clone as such). */
function plainImage(image: FloatImage): FloatImage {
  return { width: image.width, height: image.height, channels: image.channels, data: wholeBuffer(image.data) };
}
