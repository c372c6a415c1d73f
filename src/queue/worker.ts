/**
 * A queue worker (issue 22): takes apply jobs (apply-queue.ts) and runs them with a bundle loaded once per process
 * (BundleApplier: the warp model, the reference, and for a SAM bundle the SAM sessions and class prototypes),
 * writing into the shared output folder atomically.
 *
 *  - A bundle this machine cannot apply (its SAM model is missing or differs from the one the bundle was fitted
 *    with: SAM_MODEL_MISMATCH; an unreadable bundle): the job goes back to waiting, its tries uncounted, for a worker
 *    that can; this worker takes no more jobs and reports the error (`refused`; the CLI exits 1 with it).
 *
 *  - An unreadable image: its record says why (apply.ts) and the job fails without retries (UnrecoverableError).
 *  - A worker that dies mid-job: BullMQ's stalled-job check (every `stalledInterval` ms, on any live worker) puts
 *    the job back to waiting and another worker runs it; the outputs are written atomically and deterministically,
 *    so a job run twice leaves the same files. A job whose record already shows it done for this bundle is not
 *    computed again.
 *  - `stop()` (SIGINT / SIGTERM in the CLI): no new jobs; the current ones finish; then the connections close.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { MedpersamUserError } from '../errors.js';
import { BundleApplier, recordPath, type ApplyOptions, type ImageRecord } from '../pipeline/apply.js';
import type { TfBackendChoice } from '../warp/backend.js';
import { DEFAULT_QUEUE_NAME, type ApplyJobData } from './apply-queue.js';
import type { RedisConnection } from './redis-url.js';

export interface QueueWorkerOptions {
  connection: RedisConnection;
  queueName?: string;
  /** Jobs run at once in this process (default 1: the apply is CPU work on this thread). */
  concurrency?: number;
  backend?: TfBackendChoice;
  /** SAM session threads (a SAM bundle; they do not change a mask). */
  samLoad?: ApplyOptions['samLoad'];
  /** BullMQ's stalled-job check interval and lock duration (ms; defaults BullMQ's 30 s). */
  stalledIntervalMs?: number;
  lockDurationMs?: number;
  /** A pause before each job (fault-injection tests only: keeps a job active long enough to kill its worker). */
  jobDelayMs?: number;
  /** One line per event (never holds the Redis URL). */
  log?: (line: string) => void;
}

export interface QueueWorkerHandle {
  worker: Worker<ApplyJobData>;
  /** Jobs this process completed and failed. */
  counts: { completed: number; failed: number };
  /** Settles with the error when this worker refuses a bundle (see the module comment); it then takes no more jobs. */
  refused: Promise<MedpersamUserError>;
  stop(): Promise<void>;
}

async function recordedDone(data: ApplyJobData): Promise<boolean> {
  try {
    const record = JSON.parse(await readFile(recordPath(data.out, data.id), 'utf8')) as ImageRecord;
    return record.status === 'done' && record.bundleFingerprint === data.fingerprint;
  } catch {
    return false;
  }
}

export function startQueueWorker(opts: QueueWorkerOptions): QueueWorkerHandle {
  const appliers = new Map<string, Promise<BundleApplier>>();
  const applierFor = (bundle: string) => {
    let a = appliers.get(bundle);
    if (!a) {
      a = BundleApplier.open(bundle, { ...(opts.backend ? { backend: opts.backend } : {}), ...(opts.samLoad ? { samLoad: opts.samLoad } : {}) });
      appliers.set(bundle, a);
    }
    return a;
  };
  const log = opts.log ?? (() => {});
  let refuse: (err: MedpersamUserError) => void = () => {};
  const refused = new Promise<MedpersamUserError>((resolve) => (refuse = resolve));
  const processor = async (job: Job<ApplyJobData>, token?: string) => {
    const data = job.data;
    log(`start ${data.id}`);
    if (opts.jobDelayMs) await new Promise((r) => setTimeout(r, opts.jobDelayMs));
    if (await recordedDone(data)) return { id: data.id, status: 'already-done' };
    let applier: BundleApplier;
    try {
      applier = await applierFor(data.bundle);
    } catch (err) {
      if (!(err instanceof MedpersamUserError)) throw err;
      log(`refusing the bundle: ${err.message}`);
      void worker.pause(true).catch(() => {});
      refuse(err);
      await job.moveToWait(token);
      throw new WaitingError();
    }
    if (applier.fingerprint !== data.fingerprint) {
      throw new UnrecoverableError(`the bundle at ${data.bundle} changed since this job was submitted (fingerprint differs)`);
    }
    try {
      await applier.applyFile(data.id, data.image, data.out, basename(data.image));
    } catch (err) {
      if (err instanceof MedpersamUserError) throw new UnrecoverableError(`${err.code}: ${err.message}`);
      throw err;
    }
    return { id: data.id, status: 'done' };
  };
  const worker = new Worker<ApplyJobData>(opts.queueName ?? DEFAULT_QUEUE_NAME, processor, {
    connection: opts.connection,
    concurrency: opts.concurrency ?? 1,
    ...(opts.stalledIntervalMs !== undefined ? { stalledInterval: opts.stalledIntervalMs } : {}),
    ...(opts.lockDurationMs !== undefined ? { lockDuration: opts.lockDurationMs } : {}),
  });
  const counts = { completed: 0, failed: 0 };
  worker.on('completed', (job) => {
    counts.completed++;
    log(`done ${job.data.id}`);
  });
  worker.on('failed', (job, err) => {
    counts.failed++;
    log(`failed ${job?.data.id ?? '?'}: ${err.message}`);
  });
  // Connection errors while Redis is away: ioredis reconnects by itself; say so once per error kind.
  const seen = new Set<string>();
  worker.on('error', (err) => {
    const kind = (err as NodeJS.ErrnoException).code ?? err.name;
    if (!seen.has(kind)) log(`redis: ${kind} (reconnecting)`);
    seen.add(kind);
  });
  const stop = async () => {
    await worker.close();
    for (const a of appliers.values()) await (await a.catch(() => null))?.dispose();
  };
  return { worker, counts, refused, stop };
}
