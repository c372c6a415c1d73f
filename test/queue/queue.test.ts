/**
 * The distributed apply on a real redis-server (issue 22): three workers give the masks `segment --bundle` gives;
 * a corrupt image is recorded and fails once; submitting twice adds nothing; status counts; a worker killed with
 * SIGKILL mid-job has its job taken over and every image is done exactly once; a Redis restart mid-run is survived;
 * with a SAM bundle (generated model) workers give the masks of `segment --bundle`, and a worker whose SAM model
 * files differ from the bundle's refuses (SAM_MODEL_MISMATCH) and hands its job back.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fitBundle } from '../../src/pipeline/fit.js';
import { applyBundleToFolder, folderItems, readRecords, writeApplyReport } from '../../src/pipeline/apply-run.js';
import { BundleApplier } from '../../src/pipeline/apply.js';
import { openQueue, queueStatus, submitImages, type QueueStatus } from '../../src/queue/apply-queue.js';
import { parseRedisUrl } from '../../src/queue/redis-url.js';
import { startQueueWorker, type QueueWorkerHandle } from '../../src/queue/worker.js';
import { readLabelMap } from '../../src/io/mask.js';
import { makeFixture, TINY_WARP, type Fixture } from '../pipeline/helpers.js';
import { describeWithRedis, PASSWORD, startRedis, type TestRedis } from './redis-server.js';

const BIN = fileURLToPath(new URL('../../bin/medpersam.js', import.meta.url));
let f: Fixture;
let redis: TestRedis;
let images: string;
let bundle: string;
let ids: string[];
let expected: Map<string, number[]>;
const logs: string[] = [];

async function masksOf(out: string): Promise<Map<string, number[]>> {
  return new Map(await Promise.all(ids.map(async (id) => [id, Array.from((await readLabelMap(join(out, 'masks', `${id}.png`))).data)] as const)));
}

async function waitFor(queueName: string, until: (s: QueueStatus) => boolean, timeoutMs = 90_000): Promise<QueueStatus> {
  const queue = openQueue(parseRedisUrl(redis.url), queueName);
  try {
    const t0 = Date.now();
    for (;;) {
      const s = await queueStatus(queue);
      if (until(s)) return s;
      if (Date.now() - t0 > timeoutMs) throw new Error(`queue ${queueName} not done in time: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await queue.close();
  }
}

async function submit(queueName: string, out: string, goodOnly = true, bundleDir = bundle) {
  const queue = openQueue(parseRedisUrl(redis.url), queueName);
  try {
    const items = (await folderItems(images)).filter((i) => !goodOnly || i.id !== 'broken');
    return await submitImages(queue, bundleDir, items, out);
  } finally {
    await queue.close();
  }
}

const worker = (queueName: string, extra: Partial<Parameters<typeof startQueueWorker>[0]> = {}): QueueWorkerHandle =>
  startQueueWorker({ connection: parseRedisUrl(redis.url), queueName, backend: 'wasm', log: (l) => logs.push(l), ...extra });

/**
 * A CLI worker process (each job held 3 s before its work) sent `signal` as soon as it starts its first job; the
 * id of that job's image, its stderr so far and its exit.
 */
async function childWorkerInJob(queueName: string, signal: NodeJS.Signals, extraArgs: string[] = []) {
  const child = spawn(process.execPath, [BIN, 'queue', 'worker', '--redis', redis.url, '--queue', queueName, '--backend', 'wasm', ...extraArgs], {
    env: { ...process.env, MEDPERSAM_QUEUE_JOB_DELAY_MS: '3000' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const jobImageId = await new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /start (\S+)/.exec(stderr);
      if (m && !child.killed) {
        child.kill(signal);
        resolve(m[1]!);
      }
    });
    void exit.then(() => reject(new Error(`worker exited before taking a job:\n${stderr}`)));
  });
  return { jobImageId, stderr: () => stderr, exit };
}

describeWithRedis('queue: BullMQ on a real redis-server', () => {
  beforeAll(async () => {
    f = await makeFixture({ count: 7, size: 64 });
    images = join(f.root, 'images');
    await mkdir(images, { recursive: true });
    for (const t of f.data.items.slice(1)) await copyFile(t.imagePath, join(images, `${t.id}.png`));
    await writeFile(join(images, 'broken.png'), 'not an image');
    ids = f.data.items.slice(1).map((t) => t.id);
    bundle = f.out('bundle');
    const overrides = { ...TINY_WARP, schedule: { ...TINY_WARP.schedule, initialEpochs: undefined, initialSteps: 4 } };
    await fitBundle({ refImagePath: f.data.items[0]!.imagePath, refMaskPath: f.data.items[0]!.maskPath, imagesDir: images, outDir: bundle, overrides, backend: 'wasm', threads: 1 });
    await applyBundleToFolder(bundle, images, f.out('in-process'), { backend: 'wasm', overlays: false });
    expected = await masksOf(f.out('in-process'));
    redis = await startRedis();
  }, 120_000);
  afterAll(async () => {
    await redis?.dispose();
    await f?.cleanup();
  });

  it('three workers: the masks of segment --bundle; the corrupt image failed once and reported; a second submit adds nothing', async () => {
    const out = f.out('three');
    expect(await submit('three', out, false)).toEqual({ images: ids.length + 1, added: ids.length + 1, existing: 0 });
    expect(await submit('three', out, false)).toEqual({ images: ids.length + 1, added: 0, existing: ids.length + 1 });
    expect(await waitFor('three', () => true)).toMatchObject({ done: 0, active: 0, waiting: ids.length + 1, failed: 0, imagesPerSecond: null, etaSeconds: null });
    const workers = [worker('three'), worker('three'), worker('three')];
    const s = await waitFor('three', (st) => st.done + st.failed === ids.length + 1);
    await Promise.all(workers.map((w) => w.stop()));
    expect(s).toMatchObject({ done: ids.length, active: 0, waiting: 0, failed: 1, delayed: 0, etaSeconds: 0 });
    expect(s.imagesPerSecond).toBeGreaterThan(0);
    expect(workers.reduce((n, w) => n + w.counts.completed, 0)).toBe(ids.length);
    expect(workers.reduce((n, w) => n + w.counts.failed, 0)).toBe(1); // not retried
    expect(await masksOf(out)).toEqual(expected);
    const broken = (await readRecords(out)).find((r) => r.id === 'broken')!;
    expect(broken).toMatchObject({ status: 'failed', file: 'broken.png', error: { code: 'UNSUPPORTED_FORMAT' } });
    const applier = await BundleApplier.open(bundle, { backend: 'wasm' });
    const report = await writeApplyReport(applier, out).finally(async () => applier.dispose());
    expect([report.done, report.failed.map((r) => r.file)]).toEqual([ids.length, ['broken.png']]);
    expect(await readFile(join(out, 'report.html'), 'utf8')).toContain('not segmented: broken.png');
    expect(logs.join('\n')).not.toContain(PASSWORD);
  }, 120_000);

  it('a worker killed with SIGKILL mid-job: another takes its job over; every image done exactly once', async () => {
    const out = f.out('kill');
    await submit('kill', out);
    // Its lock lapses 2 s after the kill (it renews it during the 3 s hold, whose event loop is idle).
    const child = await childWorkerInJob('kill', 'SIGKILL', ['--lock-duration', '2000']);
    const killedId = child.jobImageId;
    expect(child.stderr()).toContain('redis://***:***@127.0.0.1');
    expect(child.stderr()).not.toContain(PASSWORD);
    const stalled: string[] = [];
    // Its own lock keeps BullMQ's 30 s: loading the bundle and segmenting block its event loop for a while.
    const rescuer = worker('kill', { stalledIntervalMs: 1000 });
    rescuer.worker.on('stalled', (jobId) => stalled.push(jobId));
    const s = await waitFor('kill', (st) => st.done + st.failed === ids.length);
    await rescuer.stop();
    expect(s).toMatchObject({ done: ids.length, failed: 0, active: 0, waiting: 0 });
    const queue = openQueue(parseRedisUrl(redis.url), 'kill');
    const completed = await queue.getJobs(['completed']);
    await queue.close();
    expect(completed.map((j) => j.data.id).sort()).toEqual([...ids].sort());
    const killedJob = completed.find((j) => j.data.id === killedId)!;
    expect(stalled).toContain(killedJob.id);
    expect(await masksOf(out)).toEqual(expected);
  }, 120_000);

  it('SIGINT on a worker: it finishes its current job, takes no other, and exits 0', async () => {
    await submit('sigint', f.out('sigint'));
    const child = await childWorkerInJob('sigint', 'SIGINT');
    expect(await child.exit).toBe(0);
    expect(child.stderr()).toContain('SIGINT: finishing the current job, then exiting');
    const s = await waitFor('sigint', () => true);
    expect(s).toMatchObject({ done: 1, active: 0, waiting: ids.length - 1, failed: 0 });
    const queue = openQueue(parseRedisUrl(redis.url), 'sigint');
    const completed = await queue.getJobs(['completed']);
    await queue.close();
    expect(completed.map((j) => j.data.id)).toEqual([child.jobImageId]);
    expect(Array.from((await readLabelMap(join(f.out('sigint'), 'masks', `${child.jobImageId}.png`))).data)).toEqual(expected.get(child.jobImageId));
  }, 120_000);

  it('Redis restarted mid-run: the worker reconnects and finishes', async () => {
    const out = f.out('restart');
    await submit('restart', out);
    const w = worker('restart', { jobDelayMs: 150 });
    await waitFor('restart', (st) => st.done >= 2);
    await redis.stop();
    await new Promise((r) => setTimeout(r, 500));
    await redis.start();
    const s = await waitFor('restart', (st) => st.done + st.failed === ids.length);
    await w.stop();
    expect(s).toMatchObject({ done: ids.length, failed: 0 });
    expect(await masksOf(out)).toEqual(expected);
  }, 120_000);

  it('a SAM bundle: a worker with another SAM model hands its job back and stops; two workers then give the masks of segment --bundle', async () => {
    const samDir = await f.sam({ decoder: 'discs', k: 4 });
    const samBundle = f.out('sam-bundle');
    const overrides = { ...TINY_WARP, schedule: { ...TINY_WARP.schedule, initialEpochs: undefined, initialSteps: 4, retrainEpochs: undefined, retrainSteps: 4 } };
    const sam = { model: samDir, loop: { retrainRounds: 1, refinements: 1 }, load: { cacheDir: f.cacheDir, threads: 1 } };
    await fitBundle({ refImagePath: f.data.items[0]!.imagePath, refMaskPath: f.data.items[0]!.maskPath, imagesDir: images, outDir: samBundle, overrides, sam, backend: 'wasm', threads: 1 });
    await applyBundleToFolder(samBundle, images, f.out('sam-in-process'), { backend: 'wasm', overlays: false, samLoad: { threads: 1 } });
    const samExpected = await masksOf(f.out('sam-in-process'));
    expect(samExpected).not.toEqual(expected); // SAM made them, not the warp model alone
    const out = f.out('sam-queue');
    await submit('sam', out, true, samBundle);
    // This machine's copy of the model differs by one byte: the worker refuses it before loading it.
    const decoder = join(samDir, 'decoder.onnx');
    const original = await readFile(decoder);
    await appendFile(decoder, 'x');
    const wrong = worker('sam', { samLoad: { threads: 1 } });
    const err = await wrong.refused;
    await wrong.stop();
    expect(err.code).toBe('SAM_MODEL_MISMATCH');
    expect(err.message).toContain(decoder);
    const { sha256File } = await import('../../src/sam/download.js');
    expect(err.message).toContain(await sha256File(decoder));
    expect(err.message).toContain(createHash('sha256').update(original).digest('hex'));
    expect(await waitFor('sam', () => true)).toMatchObject({ done: 0, active: 0, waiting: ids.length, failed: 0 });
    // The CLI worker: the same refusal, then exit 1 with the error.
    const cli = spawn(process.execPath, [BIN, 'queue', 'worker', '--redis', redis.url, '--queue', 'sam', '--backend', 'wasm', '--threads', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let cliErr = '';
    cli.stderr!.on('data', (d: Buffer) => (cliErr += d.toString()));
    const hung = setTimeout(() => cli.kill('SIGKILL'), 60_000);
    const cliExit = await new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
    clearTimeout(hung);
    expect({ cliExit, cliErr }).toMatchObject({ cliExit: 1, cliErr: expect.stringContaining(`${decoder}: this SAM model file has sha256`) });
    expect(await waitFor('sam', () => true)).toMatchObject({ done: 0, active: 0, waiting: ids.length, failed: 0 });
    // The right model again: two workers do every job, the one handed back too, with the in-process masks.
    await writeFile(decoder, original);
    const workers = [worker('sam', { samLoad: { threads: 1 } }), worker('sam', { samLoad: { threads: 1 } })];
    const s = await waitFor('sam', (st) => st.done + st.failed === ids.length);
    await Promise.all(workers.map((w) => w.stop()));
    expect(s).toMatchObject({ done: ids.length, failed: 0 });
    expect(await masksOf(out)).toEqual(samExpected);
  }, 300_000);
});
