/**
 * The distributed apply (issue 22) on BullMQ: one job per image, its id the image's content id within the bundle
 * (submitting a folder twice adds nothing: BullMQ ignores an add whose job id exists), job data = where the bundle,
 * the image and the shared output folder are. Completed jobs are kept (they are what makes a resubmission a no-op
 * and what `status` counts: about 1 KB of Redis per image). An unreadable image fails its job at once (BullMQ's
 * UnrecoverableError, worker.ts); other errors are retried `JOB_ATTEMPTS` times with a backoff.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { Queue } from 'bullmq';
import { MedpersamUserError } from '../errors.js';
import { readBundle } from '../pipeline/bundle.js';
import { checkUniqueIds, type ApplyItem } from '../pipeline/apply-run.js';
import { fileStem } from '../io/formats.js';
import type { RedisConnection } from './redis-url.js';

export const DEFAULT_QUEUE_NAME = 'medpersam-apply';
/** Tries of a job that failed for a reason other than its image (a full disk, a lost NFS mount). */
export const JOB_ATTEMPTS = 3;

export interface ApplyJobData {
  bundle: string;
  image: string;
  id: string;
  out: string;
  fingerprint: string;
}

export function openQueue(connection: RedisConnection, name = DEFAULT_QUEUE_NAME): Queue<ApplyJobData> {
  return new Queue<ApplyJobData>(name, { connection });
}

/** Images from a list file: one path a line (blank lines and # comments skipped; relative to the list's folder). */
export async function listItems(listFile: string): Promise<ApplyItem[]> {
  let text: string;
  try {
    text = await readFile(listFile, 'utf8');
  } catch (err) {
    throw new MedpersamUserError('FILE_NOT_FOUND', 'cannot read the image list', { file: listFile, cause: err });
  }
  const base = resolve(listFile, '..');
  const items = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const path = resolve(base, l);
      return { id: fileStem(basename(path)), path };
    });
  if (items.length === 0) throw new MedpersamUserError('NO_TEST_IMAGES', 'the image list names no images', { file: listFile });
  checkUniqueIds(items);
  return items;
}

export interface SubmitResult {
  images: number;
  added: number;
  /** Jobs that already existed (an earlier submission). */
  existing: number;
}

/** A job id: the bundle's fingerprint and the image's content (BullMQ job ids may not hold ':' nor be integers). */
export function jobIdFor(fingerprint: string, contentId: string): string {
  return `${fingerprint.slice(0, 16)}-${contentId}`;
}

/** Add one job per image (see the module comment). Unreadable files are still submitted: the worker records them. */
export async function submitImages(queue: Queue<ApplyJobData>, bundleDir: string, items: readonly ApplyItem[], outDir: string): Promise<SubmitResult> {
  const bundle = await readBundle(bundleDir);
  const fingerprint = bundle.manifest.fingerprint;
  const before = new Set<string>();
  const jobs = [];
  for (const item of items) {
    let content: Uint8Array;
    try {
      content = await readFile(item.path);
    } catch {
      content = new TextEncoder().encode(`unreadable:${resolve(item.path)}`);
    }
    const jobId = jobIdFor(fingerprint, createHash('sha256').update(content).digest('hex'));
    if (await queue.getJob(jobId)) before.add(jobId);
    jobs.push({
      name: 'apply',
      data: { bundle: bundle.dir, image: resolve(item.path), id: item.id, out: resolve(outDir), fingerprint },
      opts: { jobId, attempts: JOB_ATTEMPTS, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: false, removeOnFail: false },
    });
  }
  await queue.addBulk(jobs);
  const distinct = new Set(jobs.map((j) => j.opts.jobId)).size;
  return { images: items.length, added: distinct - before.size, existing: before.size };
}


export interface QueueStatus {
  done: number;
  active: number;
  waiting: number;
  failed: number;
  delayed: number;
  /** Images per second over the last completed jobs (null until two have finished). */
  imagesPerSecond: number | null;
  /** Seconds until waiting + active + delayed are done at that rate (null without a rate). */
  etaSeconds: number | null;
}

/** Jobs the rate is measured over (the most recent ones). */
const RATE_WINDOW = 200;

export async function queueStatus(queue: Queue<ApplyJobData>): Promise<QueueStatus> {
  const c = await queue.getJobCounts('completed', 'active', 'waiting', 'failed', 'delayed', 'prioritized');
  const recent = await queue.getJobs(['completed'], 0, RATE_WINDOW - 1, false);
  const finished = recent.map((j) => j.finishedOn).filter((t): t is number => typeof t === 'number');
  const started = recent.map((j) => j.processedOn).filter((t): t is number => typeof t === 'number');
  let rate: number | null = null;
  if (finished.length >= 2) {
    const spanS = (Math.max(...finished) - Math.min(...started)) / 1000;
    rate = spanS > 0 ? finished.length / spanS : null;
  }
  const left = (c.active ?? 0) + (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0);
  return {
    done: c.completed ?? 0,
    active: c.active ?? 0,
    waiting: (c.waiting ?? 0) + (c.prioritized ?? 0),
    failed: c.failed ?? 0,
    delayed: c.delayed ?? 0,
    imagesPerSecond: rate,
    etaSeconds: rate ? left / rate : null,
  };
}
