/**
 * The per-image work of one SAM round, replayed on a finished run: for each image of round r, what the core loop
 * does per image in a round that is not the final one — load the image, segmentOneImage on the round's stored mask
 * prompts (the warped labels), write the round result — timed per image, with the decoder's own time (ONNX
 * Runtime's session.run) separated from the rest. Each replayed label, point, box and IoU score is compared with
 * what the run stored, so a speed change that alters a result shows up as a mismatch.
 *
 * Usage (a run made by `medpersam bench ... --out DIR`, whose run folder is DIR/run; the embeddings must be in the
 * cache, i.e. the same MEDPERSAM_HOME):
 *   MEDPERSAM_HOME=H nice -n 19 npx tsx bench/decode-round.ts --run DIR/run --dataset data/jsrt-scr \
 *       --sam models/real-arch-mobile-sam [--round 1] [--limit 10] [--reps 2] [--threads N] [--json out.json]
 * The reference is the dataset's first image (as the bench takes it); its content id must match the run's.
 * Prints per-image milliseconds (median over reps): wall, decoder session.run, other = wall − session.run, and the
 * stage timer's totals per image; exits 1 on any mismatch.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSamModel } from '../src/sam/model.js';
import { RunState } from '../src/pipeline/run-state.js';
import { StageTimer } from '../src/pipeline/run-record.js';
import { referencePrototypes, segmentOneImage, type ImageSegmentSettings } from '../src/pipeline/segment-image.js';
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
const reps = args.num('reps') ?? 2;
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

/** The parts of a round record a replay must reproduce exactly (not the timings). */
const resultOf = (r: ImageRoundRecord) => JSON.stringify(r.classes);

const perImage: { wallMs: number[]; decoderRunMs: number[]; stagesMs: Record<string, number>[] } = { wallMs: [], decoderRunMs: [], stagesMs: [] };
let mismatches = 0;
try {
  const out = await RunState.open(scratch, { replay: runDir }, {});
  for (let rep = 0; rep < reps; rep++) {
    const timer = new StageTimer();
    const before = sam.stats();
    const t0 = performance.now();
    for (const id of ids) {
      const expected = await stored.readRoundResult(round, id);
      if (!expected) throw new Error(`round ${round} result of ${id} is missing`);
      const source = fileImageSource(id, join(dataset, 'images', `${id}.png`));
      const read = await timer.time('read', () => source.load());
      const got = await segmentOneImage(id, round, read, expected.warped, fp.classes, prototypes, sam, settings, timer, { decoderCalls: 0 });
      await timer.time('state-io', () => out.writeRoundResult(got.record, got.label, expected.warped));
      if (rep === 0) {
        const sameLabel = Buffer.compare(Buffer.from(got.label.data), Buffer.from(expected.label.data)) === 0;
        const sameRecord = resultOf(got.record) === resultOf(expected.record);
        if (!sameLabel || !sameRecord) {
          mismatches++;
          console.error(`MISMATCH ${id}: label ${sameLabel ? 'same' : 'differs'}, prompts/scores ${sameRecord ? 'same' : 'differ'}`);
        }
      }
    }
    const wall = performance.now() - t0;
    const after = sam.stats();
    perImage.wallMs.push(wall / ids.length);
    perImage.decoderRunMs.push((after.decoderRunMs - before.decoderRunMs) / ids.length);
    const stages: Record<string, number> = {};
    for (const [k, v] of Object.entries(timer.totals())) stages[k] = v / ids.length;
    perImage.stagesMs.push(stages);
  }
} finally {
  await rm(scratch, { recursive: true, force: true });
  await sam.release();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const best = perImage.wallMs.indexOf(median(perImage.wallMs));
const result = {
  run: runDir,
  round,
  images: ids.length,
  reps,
  load1: loadavg()[0],
  wallMsPerImage: median(perImage.wallMs),
  decoderRunMsPerImage: median(perImage.decoderRunMs),
  otherMsPerImage: median(perImage.wallMs.map((w, i) => w - perImage.decoderRunMs[i]!)),
  allWallMs: perImage.wallMs.map((x) => Math.round(x)),
  stagesMsPerImage: Object.fromEntries(Object.entries(perImage.stagesMs[best]!).map(([k, v]) => [k, Math.round(v)])),
  mismatches,
};
console.log(JSON.stringify(result));
if (jsonOut) await writeFile(jsonOut, JSON.stringify(result, null, 1));
process.exitCode = mismatches > 0 ? 1 : 0;
