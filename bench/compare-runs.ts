/**
 * Two finished Med-PerSAM runs of the same inputs and settings (e.g. `medpersam bench ... --out A` before a change
 * and `--out B` after it): their decode phase per image per round, and whether their results are the same bits —
 * final masks, every round's stored labels, mask prompts and round records (points, boxes, IoU scores), the scores
 * and the quality scores.
 *
 * Usage:
 *   npx tsx bench/compare-runs.ts <runA> <runB>       (run folders: the bench's <out>/run)
 * Decode phase = the stages of the SAM rounds' per-image work in the run record (SAM encode/decode, prompts,
 * combining, run state and pseudolabels, outputs, review, warp apply, reads), divided by images × rounds. Warp
 * training, the encoder's wait, model loading and the evaluation are left out. Exits 1 when the results differ.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

const [runA, runB] = process.argv.slice(2);
if (!runA || !runB) throw new Error('usage: compare-runs.ts <runA> <runB>');

// 'warp-pseudolabels' (the pseudolabels brought to the warp grid before a retraining) is counted because runs made
// before it had its own stage timed it inside 'state-io'; 'read' holds the first reading of every image too.
const DECODE_PHASE = [
  'sam-encode',
  'prompts-similarity',
  'prompts-points',
  'prompts-smooth',
  'sam-decode',
  'combine',
  'state-io',
  'warp-pseudolabels',
  'outputs',
  'review',
  'warp-apply',
  'read',
];

interface RunRecordLike {
  timingsMs: Record<string, number>;
  inputs: { tests: number };
  settings: { retrainRounds: number };
  counters: { decoderRunMs: number };
  results?: unknown;
  quality?: { perImage: unknown[] };
}

async function decodePhase(run: string) {
  const rec = JSON.parse(await readFile(join(run, 'run-record.json'), 'utf8')) as RunRecordLike;
  const imageRounds = rec.inputs.tests * (rec.settings.retrainRounds + 1);
  const stages = Object.fromEntries(DECODE_PHASE.map((k) => [k, (rec.timingsMs[k] ?? 0) / imageRounds / 1000]));
  const total = Object.values(stages).reduce((a, b) => a + b, 0);
  return { rec, imageRounds, perImageRoundS: total, decoderRunS: rec.counters.decoderRunMs / imageRounds / 1000, stages };
}

/** Every file under `dir` (relative paths, sorted). */
async function filesUnder(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const rel = join(prefix, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(dir, rel)));
    else out.push(rel);
  }
  return out.sort();
}

/** The parts of a stored round result that are results (not the timings). */
function roundResult(text: string): string {
  const s = JSON.parse(text) as { label: string; warped: string; classes: unknown; width: number; height: number };
  return JSON.stringify({ label: s.label, warped: s.warped, classes: s.classes, width: s.width, height: s.height });
}

const a = await decodePhase(runA);
const b = await decodePhase(runB);
const differences: string[] = [];
for (const folder of ['masks']) {
  const fa = await filesUnder(join(runA, folder));
  const fb = await filesUnder(join(runB, folder));
  if (JSON.stringify(fa) !== JSON.stringify(fb)) differences.push(`${folder}: other files`);
  for (const f of fa) {
    if (!fb.includes(f)) continue;
    const [x, y] = [await readFile(join(runA, folder, f)), await readFile(join(runB, folder, f))];
    if (!x.equals(y)) differences.push(`${folder}/${f}`);
  }
}
const rounds = join('.medpersam-run', 'rounds');
for (const f of await filesUnder(join(runA, rounds))) {
  const [x, y] = [await readFile(join(runA, rounds, f), 'utf8'), await readFile(join(runB, rounds, f), 'utf8').catch(() => '')];
  if (!y || roundResult(x) !== roundResult(y)) differences.push(`rounds/${f}`);
}
for (const f of ['scores.json', 'quality.csv']) {
  const [x, y] = [await readFile(join(runA, f), 'utf8').catch(() => null), await readFile(join(runB, f), 'utf8').catch(() => null)];
  if (x !== y) differences.push(f);
}
if (JSON.stringify(a.rec.results) !== JSON.stringify(b.rec.results)) differences.push('run record results');
if (JSON.stringify(a.rec.quality?.perImage) !== JSON.stringify(b.rec.quality?.perImage)) differences.push('run record quality');

const r3 = (x: number) => Math.round(x * 1000) / 1000;
const view = (d: Awaited<ReturnType<typeof decodePhase>>) => ({
  imageRounds: d.imageRounds,
  decodePhaseSPerImageRound: r3(d.perImageRoundS),
  decoderRunSPerImageRound: r3(d.decoderRunS),
  otherSPerImageRound: r3(d.perImageRoundS - d.decoderRunS),
  stages: Object.fromEntries(Object.entries(d.stages).map(([k, v]) => [k, r3(v)])),
});
console.log(
  JSON.stringify({
    a: { run: runA, ...view(a) },
    b: { run: runB, ...view(b) },
    ratioBOverA: r3(b.perImageRoundS / a.perImageRoundS),
    otherRatioBOverA: r3((b.perImageRoundS - b.decoderRunS) / (a.perImageRoundS - a.decoderRunS)),
    sameResults: differences.length === 0,
    differences: differences.slice(0, 20),
  }),
);
process.exitCode = differences.length === 0 ? 0 : 1;
