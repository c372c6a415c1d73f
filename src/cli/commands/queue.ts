/**
 * `medpersam queue submit | worker | status | report`: the distributed apply over BullMQ on Redis (src/queue).
 * The Redis URL may hold a user and password (redis://user:pass@host:port/db, rediss:// for TLS); it is never
 * printed as given (redactRedisUrl).
 */
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { MedpersamUserError } from '../../errors.js';
import { folderItems, writeApplyReport } from '../../pipeline/apply-run.js';
import { BundleApplier } from '../../pipeline/apply.js';
import { DEFAULT_QUEUE_NAME, listItems, openQueue, queueStatus, submitImages, type QueueStatus } from '../../queue/apply-queue.js';
import { parseRedisUrl, redactRedisUrl } from '../../queue/redis-url.js';
import { startQueueWorker } from '../../queue/worker.js';
import type { TfBackendChoice } from '../../warp/backend.js';
import type { CliContext } from '../context.js';

interface RedisCliOptions {
  redis: string;
  queue: string;
}

const withRedis = (c: Command): Command =>
  c
    .requiredOption('--redis <url>', 'Redis URL: redis://[user:password@]host:port[/db], rediss:// for TLS')
    .option('--queue <name>', 'queue name (one per run or per team)', DEFAULT_QUEUE_NAME);

/** How often `worker --drain` checks whether the queue is empty. */
const DRAIN_POLL_MS = 2000;

function positiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1) throw new MedpersamUserError('BAD_OPTION', `${flag} must be an integer >= 1, got "${value}"`);
  return n;
}

function statusLine(s: QueueStatus): string {
  const rate = s.imagesPerSecond === null ? 'rate: not yet' : `${s.imagesPerSecond.toFixed(2)} images/s`;
  const eta = s.etaSeconds === null ? '' : `, ETA ${Math.ceil(s.etaSeconds)} s`;
  return `done ${s.done}, active ${s.active}, waiting ${s.waiting}, failed ${s.failed}, delayed ${s.delayed}; ${rate}${eta}`;
}

function registerSubmit(queueCmd: Command, ctx: CliContext): void {
  withRedis(queueCmd.command('submit').description('add one job per image (submitting the same images again adds nothing)'))
    .requiredOption('--bundle <dir>', 'run bundle (medpersam fit); workers must see it at this path')
    .option('--images <dir>', 'folder of images')
    .option('--list <file>', 'file with one image path a line (instead of --images)')
    .requiredOption('--out <dir>', 'shared output folder (masks/, overlays/, records/); workers must see it at this path')
    .action(async (o: RedisCliOptions & { bundle: string; images?: string; list?: string; out: string }) => {
      if ((o.images === undefined) === (o.list === undefined)) throw new MedpersamUserError('BAD_OPTION', 'give exactly one of --images and --list');
      const items = o.images !== undefined ? await folderItems(resolve(o.images)) : await listItems(resolve(o.list!));
      const queue = openQueue(parseRedisUrl(o.redis), o.queue);
      try {
        const r = await submitImages(queue, resolve(o.bundle), items, resolve(o.out));
        ctx.io.stdout.write(`${r.images} images: ${r.added} jobs added, ${r.existing} already queued (${redactRedisUrl(o.redis)}, queue ${o.queue})\n`);
      } finally {
        await queue.close();
      }
    });
}

function registerWorker(queueCmd: Command, ctx: CliContext): void {
  withRedis(queueCmd.command('worker').description('take jobs and segment their images until stopped (Ctrl-C / SIGTERM: finish the current job, then exit)'))
    .option('--concurrency <n>', 'jobs at once in this process', '1')
    .option('--threads <n>', "ONNX Runtime threads of a SAM bundle's model (default: every core)")
    .addOption(new Option('--backend <name>', 'tfjs backend (default: auto)').choices(['auto', 'wasm', 'tensorflow', 'cpu']))
    .option('--stalled-interval <ms>', 'how often this worker looks for jobs of dead workers (default 30000)')
    .option('--lock-duration <ms>', "how long this worker's job lock lasts without renewal: a dead worker's job is taken over after it (default 30000; keep it well above one image's time)")
    .option('--drain', 'exit once the queue has no waiting or active job')
    .action(async (o: RedisCliOptions & { concurrency: string; threads?: string; backend?: TfBackendChoice; stalledInterval?: string; lockDuration?: string; drain?: boolean }) => {
      const connection = parseRedisUrl(o.redis);
      const stalled = o.stalledInterval === undefined ? undefined : positiveInt('--stalled-interval', o.stalledInterval, 30_000);
      const lock = o.lockDuration === undefined ? undefined : positiveInt('--lock-duration', o.lockDuration, 30_000);
      const threads = o.threads === undefined ? undefined : positiveInt('--threads', o.threads, 1);
      const delay = Number(process.env.MEDPERSAM_QUEUE_JOB_DELAY_MS ?? 0);
      const log = (line: string) => ctx.io.stderr.write(`[worker ${process.pid}] ${line}\n`);
      const handle = startQueueWorker({
        connection,
        queueName: o.queue,
        concurrency: positiveInt('--concurrency', o.concurrency, 1),
        ...(o.backend ? { backend: o.backend } : {}),
        ...(stalled !== undefined ? { stalledIntervalMs: stalled } : {}),
        ...(lock !== undefined ? { lockDurationMs: lock } : {}),
        ...(threads !== undefined ? { samLoad: { threads } } : {}),
        ...(delay > 0 ? { jobDelayMs: delay } : {}),
        log,
      });
      log(`on ${redactRedisUrl(o.redis)}, queue ${o.queue}, concurrency ${o.concurrency}`);
      let refusal: MedpersamUserError | undefined;
      await new Promise<void>((done) => {
        const stop = (why: string) => {
          log(`${why}: finishing the current job, then exiting`);
          void handle.stop().then(done, done);
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
        // A bundle this machine cannot apply (e.g. another SAM model): its job went back to waiting; exit 1 with why.
        void handle.refused.then((err) => {
          refusal = err;
          stop('this machine cannot apply the bundle');
        });
        if (o.drain) {
          // Polled: BullMQ's 'drained' fires once, possibly while another worker's last job is still active.
          const queue = openQueue(connection, o.queue);
          const timer = setInterval(() => {
            void queueStatus(queue).then((s) => {
              if (s.waiting + s.active + s.delayed > 0) return;
              clearInterval(timer);
              void queue.close().then(() => stop('queue drained'));
            }, () => {});
          }, DRAIN_POLL_MS);
        }
      });
      log(`stopped (${handle.counts.completed} done, ${handle.counts.failed} failed)`);
      if (refusal) throw refusal;
    });
}

function registerStatus(queueCmd: Command, ctx: CliContext): void {
  withRedis(queueCmd.command('status').description('jobs done / active / waiting / failed, images per second, ETA'))
    .option('--json', 'print {"done","active","waiting","failed","delayed","imagesPerSecond","etaSeconds"}')
    .action(async (o: RedisCliOptions & { json?: boolean }) => {
      const queue = openQueue(parseRedisUrl(o.redis), o.queue);
      try {
        const s = await queueStatus(queue);
        ctx.io.stdout.write(o.json ? JSON.stringify(s) + '\n' : statusLine(s) + '\n');
      } finally {
        await queue.close();
      }
    });
}

function registerReport(queueCmd: Command, ctx: CliContext): void {
  queueCmd
    .command('report')
    .description('report.html and quality.csv of a queue run, from its per-image records (any time; again when more are done)')
    .requiredOption('--bundle <dir>', 'the run bundle the jobs used')
    .requiredOption('--out <dir>', 'the shared output folder')
    .action(async (o: { bundle: string; out: string }) => {
      const applier = await BundleApplier.open(resolve(o.bundle), { loadSam: false });
      try {
        const r = await writeApplyReport(applier, resolve(o.out));
        ctx.io.stdout.write(`${r.done} images segmented, ${r.failed.length} failed; report: ${resolve(o.out, 'report.html')}\n`);
        for (const f of r.failed) ctx.io.stdout.write(`  failed: ${f.file} (${f.error?.code ?? 'error'})\n`);
      } finally {
        await applier.dispose();
      }
    });
}

export function registerQueueCommand(program: Command, ctx: CliContext): void {
  const queueCmd = program.command('queue').description('apply a run bundle on many machines: a BullMQ queue on Redis (submit, worker, status, report)');
  registerSubmit(queueCmd, ctx);
  registerWorker(queueCmd, ctx);
  registerStatus(queueCmd, ctx);
  registerReport(queueCmd, ctx);
}
