/**
 * Test-image preparation (WarpPreprocessor.prepare: colour, alignment, working copy) on this thread and on the
 * warp workers at once. Every worker builds its own WarpPreprocessor from the same arguments as this thread's, and
 * the preparation is plain deterministic JavaScript, so an image gives the same PreparedImage, bit for bit, on any
 * thread; which thread prepares which image does not change any result.
 *
 * Backpressure: a worker holds at most MAX_HELD_PER_WORKER images (the one it prepares and the next, so it never
 * waits for this thread to finish an image before it gets another). An image goes to the least loaded worker with
 * room (the call returns at once), else it is prepared here (the call returns when it is done), so at most
 * 2·workers + 1 images are held and the caller reads the next image only when a thread has room for it.
 *
 * Workers answer their requests in order: preparations sent before a worker's init (tfjs loading) are answered
 * after it. The worker is busy meanwhile, so this thread takes the next images until it answers.
 */
import type { FloatImage } from '../../image/types.js';
import type { PreparedImage, WarpPreprocessor } from '../preprocess.js';
import type { PreprocessorSource, WarpWorkerPeer } from './worker-peer.js';

interface Helper {
  peer: WarpWorkerPeer;
  /**
   * The worker's 'preprocessor' request, sent with its first image (a worker never given an image never builds
   * one); its failure is the failure of every preparation sent to that worker.
   */
  built: Promise<void> | null;
  /** Images sent and not answered yet. */
  held: number;
}

/**
 * Images a worker may hold. With 1, a worker that finished waited for this thread's current image (~0.5 s) before
 * it got the next: it took 12–13 of 30 JSRT images instead of about half.
 */
const MAX_HELD_PER_WORKER = 2;

export class PreparationPool {
  private helpers: Helper[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: Error | null = null;

  constructor(
    private readonly local: WarpPreprocessor,
    /** What `local` was built from (sent to each worker). */
    private readonly source: PreprocessorSource,
    /** The error to report for a failed preparation of image `id`. */
    private readonly describeFailure: (id: string, error: unknown) => Error,
  ) {}

  /** Prepare on these workers too from now on. */
  attach(peers: readonly WarpWorkerPeer[]): void {
    this.helpers = peers.map((peer) => ({ peer, built: null, held: 0 }));
  }

  /** Stop sending images to the workers (preparations already sent still complete). */
  detach(): void {
    this.helpers = [];
  }

  /** Preparations sent to workers and not answered yet. */
  get pending(): number {
    return this.inFlight.size;
  }

  /** The first failed preparation's error, if any. */
  get failed(): Error | null {
    return this.failure;
  }

  /**
   * Prepare image `id`; `place` receives the result (on this thread before returning, or when the worker answers).
   * Resolves once the image is handed over; rejects at once when an earlier preparation failed, or when this one
   * failed here. A worker's failure is reported by the next `submit` or by `settled`.
   */
  async submit(id: string, image: FloatImage, place: (prepared: PreparedImage) => void): Promise<void> {
    if (this.failure) throw this.failure;
    const helper = this.helpers.reduce<Helper | null>((best, h) => (h.held < MAX_HELD_PER_WORKER && (!best || h.held < best.held) ? h : best), null);
    if (!helper) {
      let prepared: PreparedImage;
      try {
        prepared = this.local.prepare(image);
      } catch (err) {
        throw this.fail(id, err);
      }
      place(prepared);
      return;
    }
    helper.held++;
    if (!helper.built) {
      helper.built = helper.peer.preprocessor(this.source);
      helper.built.catch(() => {}); // reported through the preparations (Promise.all below)
    }
    const done = Promise.all([helper.built, helper.peer.prepare(image)])
      .then(([, prepared]) => place(prepared))
      .catch((err: unknown) => void this.fail(id, err));
    const tracked = done.finally(() => {
      helper.held--;
      this.inFlight.delete(tracked);
    });
    this.inFlight.add(tracked);
  }

  /** Resolves when no preparation is in flight; rejects with the first failure (with its image id). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }

  private fail(id: string, err: unknown): Error {
    this.failure ??= this.describeFailure(id, err);
    return this.failure;
  }
}
