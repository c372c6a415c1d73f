/**
 * Validates the quality score (src/eval/quality-score.ts, as `segment` computes it) on signal files written by
 * bench/quality-signals.ts or on `bench --sam none` results (OUT/bench-warp.json, which keep every image's raw
 * signals), so the score can be recalibrated offline from one run per set: per file, Spearman(score, Dice) over the
 * images, the worst decile by Dice caught by the `check` flag and the share flagged, and the failed registrations
 * (Dice < 0.7 and < 0.5) caught. Usage:
 *   npx tsx bench/quality.ts bench/results/quality-signals-*.json OUT/bench-warp.json [--ablate] [--perturbations]
 *     [--signals] [--compare MODULE] [--md FILE]
 * --signals adds, per file and class, Spearman(raw signal, class Dice) of every per-class signal (which signals
 * carry information on this kind of scan).
 * --compare MODULE adds a row scored by another module's scoreQuality (e.g. an older quality-score.ts saved
 * outside the repository: `git show REV:src/eval/quality-score.ts`), for a before/after table.
 * --ablate adds one row per relative signal left out (what each signal adds), and one with the absolute checks only.
 * The test-time perturbation signal is left out unless --perturbations (`segment` computes it only when asked).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { RELATIVE_SIGNALS, scoreQuality, type ImageSignalsInput, type QualityScoreOptions } from '../src/eval/quality-score.js';
import { spearman, validateQuality } from '../src/eval/quality-validation.js';
import { benchArgs } from './args.js';

const args = process.argv.slice(2);
const { flag, value } = benchArgs(args);
const files = args.filter((a, i) => a.endsWith('.json') && args[i - 1] !== '--md');
const compareModule = value('compare');
const compareScore = compareModule ? ((await import(resolve(compareModule))) as { scoreQuality: typeof scoreQuality }).scoreQuality : null;

interface SignalFile {
  classes: number[];
  images: { id: string; dice: number[]; signals: ImageSignalsInput }[];
}

/** A `bench --sam none` result (pipeline/bench-warp.ts), as far as it is read here. */
interface WarpBenchFile {
  perClass: { cls: number }[];
  perImage: { id: string; dice: number[] }[];
  quality?: { signals?: ImageSignalsInput[] };
}

/** Either file kind as a SignalFile (a bench result must have been run with the quality score on). */
function readSignalFile(path: string): SignalFile {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as SignalFile | WarpBenchFile;
  if ('images' in raw) return raw;
  const signals = raw.quality?.signals;
  if (!signals) throw new Error(`${path}: no per-image quality signals (a bench run without the quality score, or from before they were kept)`);
  return { classes: raw.perClass.map((c) => c.cls), images: raw.perImage.map((p, i) => ({ id: p.id, dice: p.dice, signals: signals[i]! })) };
}

/** The file's name in the table: the signal file's tag, or the bench output folder's name. */
function tableName(path: string): string {
  return basename(path) === 'bench-warp.json' ? basename(dirname(path)) : basename(path).replace(/^quality-signals-/, '').replace(/\.json$/, '');
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');

function row(name: string, variant: string, file: SignalFile, opts: QualityScoreOptions, score = scoreQuality): string {
  const q = score(file.images.map((i) => i.signals), opts);
  const items = q.map((x, i) => ({ score: x.score, check: x.flag === 'check', dice: mean(file.images[i]!.dice) }));
  const v = validateQuality(items);
  const caught = (below: number) => {
    const bad = items.filter((x) => x.dice < below);
    return bad.length ? `${bad.filter((x) => x.check).length}/${bad.length}` : '–';
  };
  const perClass = file.classes.map((_, k) => f3(spearman(q.map((x) => x.perClass[k]!.score), file.images.map((i) => i.dice[k]!)))).join(' / ');
  return (
    `| ${name} | ${variant} | ${v.n} | ${pct(mean(items.map((x) => x.dice)))} | **${f3(v.spearman)}** | ${perClass} | ` +
    `${v.worstDecile.flagged}/${v.worstDecile.count} (≤ ${pct(v.worstDecile.maxDice)}) | ${v.flagged} (${pct(v.flaggedShare)}) | ${caught(0.7)} | ${caught(0.5)} |`
  );
}

const lines = [
  '| signals | variant | images | mean Dice | Spearman(score, Dice) | per class | worst 10 % caught | flagged | Dice < 0.7 caught | Dice < 0.5 caught |',
  '|---|---|---|---|---|---|---|---|---|---|',
];
for (const path of files) {
  const file = readSignalFile(path);
  if (!flag('perturbations')) for (const i of file.images) for (const c of i.signals.perClass) delete c.perturbationAgreement;
  const name = tableName(path);
  if (compareScore) lines.push(row(name, `score (${basename(compareModule!)})`, file, {}, compareScore));
  lines.push(row(name, 'score', file, {}));
  if (flag('ablate')) {
    for (const s of RELATIVE_SIGNALS.filter((s) => file.images.some((i) => i.signals.perClass.some((c) => s.get(c, i.signals) !== undefined)))) {
      lines.push(row(name, `without ${s.name}`, file, { relativeSignals: RELATIVE_SIGNALS.filter((x) => x !== s) }));
    }
    lines.push(row(name, 'absolute checks only', file, { relativeSignals: [] }));
  }
}
/** Per class, Spearman(signal, class Dice) of every numeric per-class signal (registration ones by their name). */
function signalLines(name: string, file: SignalFile): string[] {
  const out: string[] = [];
  file.classes.forEach((cls, k) => {
    const rows = file.images.map((i) => {
      const c = i.signals.perClass.find((x) => x.cls === cls);
      const flat: Record<string, number> = {};
      for (const [key, v] of Object.entries(c ?? {})) if (typeof v === 'number' && key !== 'cls') flat[key] = v;
      for (const [key, v] of Object.entries(c?.registration ?? {})) if (typeof v === 'number') flat[key] = v;
      return flat;
    });
    const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))].sort();
    const dice = file.images.map((i) => i.dice[k]!);
    const cells = keys.map((key) => {
      const pairs = rows.map((r, i) => [r[key], dice[i]!] as const).filter((p): p is readonly [number, number] => Number.isFinite(p[0]));
      const constant = pairs.every((p) => p[0] === pairs[0]![0]);
      return `${key} ${constant ? 'constant' : f3(spearman(pairs.map((p) => p[0]), pairs.map((p) => p[1])))}`;
    });
    out.push(`${name} class ${cls} (mean Dice ${pct(mean(dice))}): ${cells.join(', ')}`);
  });
  return out;
}

if (flag('signals')) {
  lines.push('');
  for (const path of files) lines.push(...signalLines(tableName(path), readSignalFile(path)));
}
const table = lines.join('\n') + '\n';
process.stdout.write(table);
const md = value('md');
if (md) writeFileSync(md, table);
