/**
 * Region-of-interest stage benchmark (issue 12), the small-structure stress set. For each dataset and folder size N
 * (the first N test images; reference = first image with a mask, the paper's protocol), in one process:
 *   copy    the reference mask copied unchanged;
 *   global  the global warp alone (WarpModel, preset `cpu` unless overridden);
 *   local   global ∘ local: the region-of-interest stage (src/pipeline/bench-warp.ts runs both on the same flows);
 *   elastix affine + B-spline (../shared/tools/elastix-baseline/run.py) on the first `--elastix N` test images,
 *           compared with ours on the same images.
 * Dice per class, wall / CPU time per stage and the load average are written to bench/results/roi/<dataset>-n<N>.json
 * (elastix: bench/results/roi/elastix-<dataset>.json); `--report` prints the table of every result found.
 *
 * Usage:
 *   npx tsx bench/roi-data.ts                                             # the stress set (bench/results/roi-data)
 *   nice -n 19 npx tsx bench/roi.ts --sets phantom-tiny,phantom-small --sizes 8,24,64 [--elastix 24] [--epochs N]
 *                                   [--steps N] [--cost-ratio X] [--roi auto|force|off] [--tag T] [--skip-done]
 *   npx tsx bench/roi.ts --report [--tag T]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { runWarpBenchmark, type BenchWarpResult } from '../src/pipeline/bench-warp.js';
import { discoverDataset } from '../src/io/dataset.js';
import { readLabelMap } from '../src/io/mask.js';
import { readReferencePair } from '../src/io/reference.js';
import { diceIoUPerClass } from '../src/eval/metrics.js';
import { warpLabelNearest } from '../src/warp/spatial.js';
import type { WarpSettingsOverrides } from '../src/warp/presets.js';
import type { RoiMode } from '../src/warp/roi-trigger.js';
import { benchArgs } from './args.js';

const { flag, value, num } = benchArgs();
const DATA = value('data') ?? 'bench/results/roi-data';
const tag = value('tag') ?? 'default';
const OUT = join('bench/results/roi', tag);
mkdirSync(OUT, { recursive: true });
const ELASTIX = value('elastix-tool') ?? '../shared/tools/elastix-baseline/run.py';

interface RunFile {
  dataset: string;
  n: number;
  classes: string[];
  triggered: number[];
  copy: number[];
  global: number[];
  local: number[];
  perImage: { id: string; copy: number[]; global: number[]; local: number[] }[];
  bench: Omit<BenchWarpResult, 'perImage'>;
  cpuS: number;
  loadavg: { before: number[]; after: number[] };
}

/** Dice of the reference mask copied unchanged, per test image (same order as the bench's perImage). */
async function copyScores(datasetDir: string, ids: string[], classes: number[]): Promise<Map<string, number[]>> {
  const ds = await discoverDataset(datasetDir);
  const ref = await readReferencePair(ds.reference.imagePath, ds.reference.maskPath!, ds.classes);
  const out = new Map<string, number[]>();
  for (const t of ds.tests.filter((x) => ids.includes(x.id))) {
    const gt = await readLabelMap(t.maskPath!, { classes: ds.classes });
    const copy = warpLabelNearest(ref.label, new Float32Array(gt.width * gt.height * 2), gt.width, gt.height);
    out.set(t.id, diceIoUPerClass(copy, gt, classes).map((s) => s.dice));
  }
  return out;
}

async function runOne(set: string, n: number): Promise<void> {
  const file = join(OUT, `${set}-n${n}.json`);
  if (flag('skip-done') && existsSync(file)) return;
  const overrides: WarpSettingsOverrides = { schedule: {} };
  if (num('epochs') !== undefined) overrides.schedule!.initialEpochs = num('epochs')!;
  if (num('steps') !== undefined) (overrides.schedule as Record<string, number>)['initialSteps'] = num('steps')!;
  const load0 = loadavg();
  const cpu0 = process.cpuUsage();
  let last = 0;
  const bench = await runWarpBenchmark({
    datasetDir: join(DATA, set),
    overrides,
    limit: n,
    roi: { trigger: { mode: (value('roi') as RoiMode | undefined) ?? 'auto' }, ...(num('cost-ratio') ? { costRatio: num('cost-ratio')! } : {}) },
    onProgress: (e) => {
      if (Date.now() - last > 30_000 || e.done === e.total) {
        last = Date.now();
        process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${set} n=${n} [${e.stage}] ${e.done}/${e.total} ${e.message ?? ''}\n`);
      }
    },
  });
  const cpu = process.cpuUsage(cpu0);
  const classes = bench.perClass.map((c) => c.cls);
  const copies = await copyScores(join(DATA, set), bench.perImage.map((p) => p.id), classes);
  const globalById = new Map((bench.roi.globalOnly?.perImage ?? bench.perImage).map((p) => [p.id, p.dice]));
  const perImage = bench.perImage.map((p) => ({ id: p.id, copy: copies.get(p.id)!, global: globalById.get(p.id)!, local: p.dice }));
  const mean = (k: 'copy' | 'global' | 'local') => classes.map((_, i) => perImage.reduce((a, p) => a + p[k][i]!, 0) / perImage.length);
  const { perImage: _drop, ...rest } = bench;
  const run: RunFile = {
    dataset: set,
    n,
    classes: bench.perClass.map((c) => c.name),
    triggered: [...new Set(bench.roi.objects.filter((o) => o.triggered).map((o) => o.cls))],
    copy: mean('copy'),
    global: mean('global'),
    local: mean('local'),
    perImage,
    bench: rest,
    cpuS: (cpu.user + cpu.system) / 1e6,
    loadavg: { before: load0, after: loadavg() },
  };
  writeFileSync(file, JSON.stringify(run, null, 1));
  process.stderr.write(`wrote ${file}\n`);
}

/** elastix on the first n test images: per-image Dice per class from run.py's output lines. */
function runElastix(set: string, n: number): void {
  const file = join(OUT, `elastix-${set}.json`);
  if (existsSync(file)) {
    const have = JSON.parse(readFileSync(file, 'utf8')) as { n: number };
    if (have.n >= n) return;
  }
  const work = join(OUT, `elastix-work-${set}`);
  const t0 = Date.now();
  const text = execFileSync('python3', [ELASTIX, join(DATA, set), work, String(num('elastix-work') ?? 256), String(n), '1'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const perImage: { id: string; dice: number[] }[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+) ((?:\d+:[\d.]+ ?)+) ([\d.]+)s$/.exec(line.trim());
    if (!m) continue;
    perImage.push({ id: m[1]!, dice: m[2]!.trim().split(' ').map((kv) => Number(kv.split(':')[1])) });
  }
  rmSync(work, { recursive: true, force: true });
  writeFileSync(file, JSON.stringify({ dataset: set, n, workPx: num('elastix-work') ?? 256, wallS: (Date.now() - t0) / 1000, perImage }, null, 1));
  process.stderr.write(`wrote ${file} (${perImage.length} images)\n`);
}

const pct = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? '—' : (100 * v).toFixed(1));

/** The report table: per dataset and size, Dice of the triggered (small) classes and their mean. */
function report(): void {
  const files = readdirSync(OUT).filter((f) => f.endsWith('.json') && !f.startsWith('elastix-')).sort();
  const lines = [
    '| set | N | class | copy | global | global + local | Δ (local − global) | elastix (same images) | ours on those images |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const timing = ['| set | N | global warp stage s (train + warp) | local stage s (prepare + train + warp) | local / global | crops | load avg before → after |', '|---|---|---|---|---|---|---|'];
  for (const f of files) {
    const r = JSON.parse(readFileSync(join(OUT, f), 'utf8')) as RunFile;
    const elxFile = join(OUT, `elastix-${r.dataset}.json`);
    const elx = existsSync(elxFile) ? (JSON.parse(readFileSync(elxFile, 'utf8')) as { perImage: { id: string; dice: number[] }[] }) : null;
    const classIdx = r.bench.perClass.map((c) => c.cls);
    const shown = r.triggered.length > 0 ? r.triggered : classIdx;
    const common = elx ? r.perImage.filter((p) => elx.perImage.some((e) => e.id === p.id)) : [];
    const rows: number[][] = [];
    for (const cls of shown) {
      const i = classIdx.indexOf(cls);
      const elxMean = common.length ? common.reduce((a, p) => a + elx!.perImage.find((e) => e.id === p.id)!.dice[cls - 1]!, 0) / common.length : undefined;
      const oursMean = common.length ? common.reduce((a, p) => a + p.local[i]!, 0) / common.length : undefined;
      rows.push([r.copy[i]!, r.global[i]!, r.local[i]!, elxMean ?? NaN, oursMean ?? NaN]);
      lines.push(
        `| ${r.dataset} | ${r.n} | ${r.classes[i]} | ${pct(r.copy[i])} | ${pct(r.global[i])} | ${pct(r.local[i])} | ${((r.local[i]! - r.global[i]!) * 100).toFixed(1)} | ${pct(elxMean)} (${common.length}) | ${pct(oursMean)} |`,
      );
    }
    const m = (k: number) => rows.reduce((a, row) => a + row[k]!, 0) / rows.length;
    lines.push(`| ${r.dataset} | ${r.n} | **mean** | ${pct(m(0))} | ${pct(m(1))} | **${pct(m(2))}** | ${((m(2) - m(1)) * 100).toFixed(1)} | ${pct(m(3))} | ${pct(m(4))} |`);
    const t = r.bench.timings;
    const g = t.trainS + t.warpS;
    const l = r.bench.roi.timings?.totalS ?? 0;
    timing.push(
      `| ${r.dataset} | ${r.n} | ${g.toFixed(1)} | ${l.toFixed(1)} | ${(l / g).toFixed(2)} | ${r.bench.roi.crops.map((c) => `${c.frame.width}x${c.frame.height}@${c.resolution}`).join(' ') || 'none'} | ${r.loadavg.before[0]!.toFixed(1)} → ${r.loadavg.after[0]!.toFixed(1)} |`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n\n' + timing.join('\n') + '\n');
}

if (flag('report')) {
  report();
} else {
  const sets = (value('sets') ?? 'phantom-tiny,phantom-small,phantom-medium').split(',');
  const sizes = (value('sizes') ?? '8,24,64').split(',').map(Number);
  process.stderr.write(`roi bench: ${sets.join(', ')} × N ${sizes.join(', ')}, ${cpus().length} cpus, load ${loadavg().map((l) => l.toFixed(1)).join('/')}\n`);
  for (const set of sets) {
    for (const n of sizes) await runOne(set, n);
    if (num('elastix')) runElastix(set, num('elastix')!);
  }
  report();
}
