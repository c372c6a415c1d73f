/**
 * The per-image work of one SAM round, replayed on a finished run: for each image of round r, what the core loop
 * does per image in a round that is not the final one — get the image's SAM embedding, segmentOneImage on the
 * round's stored mask prompts (the warped labels), write the round result — timed per image. Each replayed label,
 * point, box and IoU score is compared with what the run stored, so a speed change that alters a result shows up
 * as a mismatch.
 *
 * Usage (a run made by `medpersam bench ... --out DIR`, whose run folder is DIR/run; the embeddings must be in the
 * cache, i.e. the same MEDPERSAM_HOME):
 *   MEDPERSAM_HOME=H nice -n 19 npx tsx bench/decode-round.ts --run DIR/run --dataset data/jsrt-scr \
 *       --sam models/real-arch-mobile-sam [--round 1] [--limit 10] [--reps 1] [--replay-reps 0] [--threads N]
 *       [--json out.json]
 * The reference is the dataset's first image (as the bench takes it); its content id must match the run's.
 *
 * Two measurements, per image (median and minimum over reps):
 *  - `--reps` passes with the real decoder: wall, the decoder's session.run, other wall = wall − session.run; CPU
 *    time of the process, CPU inside the decode calls, other CPU = the rest (with --threads 1 ONNX Runtime runs on
 *    the main thread); the stage timer's totals.
 *  - `--replay-reps` passes where each decode call returns what the real decoder returned in the first pass (the
 *    call's own JavaScript — prompt checks, point and mask inputs — still runs): the per-image work other than ONNX
 *    Runtime alone, wall and CPU. On a shared machine this is the steadier number for that work.
 * Exits 1 on any mismatch.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { samFrame } from '../src/sam/frames.js';
import { loadSamModel } from '../src/sam/model.js';
import { buildMaskInput, buildPointInputs, validatePrompts } from '../src/sam/prompt-frames.js';
import type { SamDecodeResult } from '../src/sam/types.js';
import { RunState } from '../src/pipeline/run-state.js';
import { StageTimer } from '../src/pipeline/run-record.js';
import {
  knownTarget,
  loadedTarget,
  referencePrototypes,
  samInputImage,
  segmentOneImage,
  type ImageSegmentSettings,
  type KnownEmbedding,
  type SamModelLike,
} from '../src/pipeline/segment-image.js';
import { fileImageSource, fileMaskSource } from '../src/pipeline/sources-node.js';
import { compareCodePoints } from '../src/io/dataset.js';
import type { ImageRoundRecord } from '../src/pipeline/run-store.js';
import { benchArgs } from './args.js';

const args = benchArgs();
const runDir = args.value('run');
const dataset = args.value('dataset');
const samDir = args.value('sam');
if (!runDir || !dataset || !samDir) throw new Error('--run, --dataset and --sam are required');
const round = args.num('round') ?? 1;
const limit = args.num('limit') ?? Infinity;
const reps = Math.max(1, args.num('reps') ?? 1);
const replayReps = args.num('replay-reps') ?? 0;
const threads = args.num('threads');
const jsonOut = args.value('json');

interface Fingerprint {
  reference: { image: string; mask: string };
  classes: number[];
  sam: { targetEmbedding: boolean };
  method: 'med-persam' | 'persam';
  refinements: number;
  promptSet: ImageSegmentSettings['promptSet'];
  prompts: ImageSegmentSettings['promptOptions'];
  smoothing: ImageSegmentSettings['smoothing'];
  promptWorkingSize: number;
}

const stateDir = join(runDir, '.medpersam-run');
const fp = (JSON.parse(await readFile(join(stateDir, 'settings.json'), 'utf8')) as { fingerprint: Fingerprint }).fingerprint;
const settings: ImageSegmentSettings = {
  refinements: fp.refinements,
  promptSet: fp.promptSet,
  promptOptions: fp.prompts,
  smoothing: fp.smoothing,
  useTargetEmbedding: fp.sam.targetEmbedding,
  promptWorkingSize: fp.promptWorkingSize,
  method: fp.method,
};

const imageFiles = (await readdir(join(dataset, 'images'))).filter((f) => !f.startsWith('.')).sort(compareCodePoints);
const refFile = imageFiles[0]!;
const reference = await fileImageSource('reference', join(dataset, 'images', refFile)).load();
if (reference.contentId !== fp.reference.image) throw new Error(`the dataset's first image ${refFile} is not this run's reference`);
const referenceLabel = (await fileMaskSource(join(dataset, 'masks', refFile)).load()).label;

const sam = await loadSamModel(samDir, { targetEmbedding: fp.sam.targetEmbedding, ...(threads ? { threads } : {}) });
// Opened with its own fingerprint: the stored run is only read.
const stored = await RunState.open(runDir, fp);
const ids = (await readdir(join(stateDir, 'rounds', String(round)))).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort(compareCodePoints).slice(0, limit);
const prototypes = await referencePrototypes(sam, reference, referenceLabel, fp.classes, new StageTimer());
const scratch = await mkdtemp(join(tmpdir(), 'decode-round-'));
// The embedding keys the core knows when a round starts (from encoding ahead of need): one untimed encode each.
const knownEmbeddings = new Map<string, KnownEmbedding>();
for (const id of ids) {
  const emb = await sam.encode(samInputImage(await fileImageSource(id, join(dataset, 'images', `${id}.png`)).load()));
  knownEmbeddings.set(id, { key: emb.key, width: emb.originalWidth, height: emb.originalHeight });
}

/** The parts of a round record a replay must reproduce exactly (not the timings). */
const resultOf = (r: ImageRoundRecord) => JSON.stringify(r.classes);

/** CPU milliseconds of this process so far (every thread: with --threads 1 ONNX Runtime runs on the main thread). */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
/** The decoder's results of the first pass, per image, in call order (copies: ONNX Runtime's buffers are reused). */
const recorded = new Map<string, SamDecodeResult[]>();
let recording: SamDecodeResult[] | null = null;
let replaying: SamDecodeResult[] | null = null;
/** The model, with the CPU time inside its decode calls counted; recording or replaying the decoder's results. */
let decodeCpuMs = 0;
const timedSam: SamModelLike = {
  info: sam.info,
  encode: (image) => sam.encode(image),
  cachedEmbedding: (key, width, height) => sam.cachedEmbedding(key, width, height),
  stats: () => sam.stats(),
  async decode(embedding, prompts, opts) {
    if (replaying) {
      // What runDecoder does around session.run: check the prompts, build the point and mask inputs.
      const frame = samFrame(embedding.originalWidth, embedding.originalHeight);
      validatePrompts(prompts, embedding.originalWidth, embedding.originalHeight);
      buildPointInputs(prompts.pointsOriginal ?? [], prompts.boxOriginal, frame);
      if (prompts.maskPrompt) buildMaskInput(prompts.maskPrompt, frame);
      const next = replaying.shift();
      if (!next) throw new Error('replay: more decode calls than recorded');
      return next;
    }
    const c0 = cpuMs();
    try {
      const result = await sam.decode(embedding, prompts, opts);
      recording?.push({ ...result, logitsOriginal: result.logitsOriginal.map((p) => p.slice()), lowResLogits: result.lowResLogits.map((p) => p.slice()) });
      return result;
    } finally {
      decodeCpuMs += cpuMs() - c0;
    }
  },
};

interface Rep {
  wallMs: number;
  decoderRunMs: number;
  cpuMs: number;
  decodeCpuMs: number;
  stagesMs: Record<string, number>;
}
const measured: Rep[] = [];
const replayed: Rep[] = [];
let mismatches = 0;
try {
  const out = await RunState.open(scratch, { replay: runDir }, {});
  for (let rep = 0; rep < reps + replayReps; rep++) {
    const replay = rep >= reps;
    const timer = new StageTimer();
    const before = sam.stats();
    const d0 = decodeCpuMs;
    // The per-image work only (reading the stored result and comparing are the replay's own work).
    let wall = 0;
    let cpu = 0;
    for (const id of ids) {
      const expected = await stored.readRoundResult(round, id);
      if (!expected) throw new Error(`round ${round} result of ${id} is missing`);
      recording = rep === 0 && replayReps > 0 ? [] : null;
      replaying = replay ? [...recorded.get(id)!] : null;
      const c1 = cpuMs();
      const t1 = performance.now();
      const source = fileImageSource(id, join(dataset, 'images', `${id}.png`));
      // As the core does in a round that is not the final one: an image whose embedding key is known (encoded
      // ahead of need, or in an earlier round) is not read again.
      const known = knownEmbeddings.get(id);
      const target = known
        ? knownTarget(known, timedSam, () => timer.time('read', () => source.load()))
        : loadedTarget(await timer.time('read', () => source.load()), timedSam);
      const got = await segmentOneImage(id, round, target, expected.warped, fp.classes, prototypes, timedSam, settings, timer, { decoderCalls: 0 });
      await timer.time('state-io', () => out.writeRoundResult(got.record, got.label, expected.warped));
      wall += performance.now() - t1;
      cpu += cpuMs() - c1;
      if (recording) recorded.set(id, recording);
      if (rep === 0 || rep === reps) {
        const sameLabel = Buffer.compare(Buffer.from(got.label.data), Buffer.from(expected.label.data)) === 0;
        const sameRecord = resultOf(got.record) === resultOf(expected.record);
        if (!sameLabel || !sameRecord) {
          mismatches++;
          console.error(`MISMATCH ${id}${replay ? ' (replay)' : ''}: label ${sameLabel ? 'same' : 'differs'}, prompts/scores ${sameRecord ? 'same' : 'differ'}`);
        }
      }
    }
    const after = sam.stats();
    const n = ids.length;
    const stages: Record<string, number> = {};
    for (const [k, v] of Object.entries(timer.totals())) stages[k] = v / n;
    (replay ? replayed : measured).push({
      wallMs: wall / n,
      cpuMs: cpu / n,
      decoderRunMs: (after.decoderRunMs - before.decoderRunMs) / n,
      decodeCpuMs: (decodeCpuMs - d0) / n,
      stagesMs: stages,
    });
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
  await sam.release();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round1 = (x: number) => Math.round(x * 10) / 10;
const stat = (runs: Rep[], f: (r: Rep) => number) => ({ median: round1(median(runs.map(f))), min: round1(Math.min(...runs.map(f))) });
const stages = (runs: Rep[]) =>
  Object.fromEntries(Object.keys(runs[0]!.stagesMs).map((k) => [k, round1(median(runs.map((r) => r.stagesMs[k] ?? 0)))]));
const result = {
  run: runDir,
  round,
  images: ids.length,
  reps,
  replayReps,
  threads: threads ?? 'default',
  load1: loadavg()[0],
  perImageMs: {
    wall: stat(measured, (r) => r.wallMs),
    decoderRun: stat(measured, (r) => r.decoderRunMs),
    otherWall: stat(measured, (r) => r.wallMs - r.decoderRunMs),
    cpu: stat(measured, (r) => r.cpuMs),
    decodeCallCpu: stat(measured, (r) => r.decodeCpuMs),
    otherCpu: stat(measured, (r) => r.cpuMs - r.decodeCpuMs),
  },
  stagesMsPerImage: stages(measured),
  ...(replayed.length > 0
    ? { withoutOrtMsPerImage: { wall: stat(replayed, (r) => r.wallMs), cpu: stat(replayed, (r) => r.cpuMs) }, withoutOrtStagesMsPerImage: stages(replayed) }
    : {}),
  mismatches,
};
console.log(JSON.stringify(result));
if (jsonOut) await writeFile(jsonOut, JSON.stringify(result, null, 1));
process.exitCode = mismatches > 0 ? 1 : 0;
