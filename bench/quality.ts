/**
 * Validates the quality score (src/eval/quality-score.ts, as `segment` computes it) on signal files written by
 * bench/quality-signals.ts: per file, Spearman(score, Dice) over the images, the worst decile by Dice caught by the
 * `check` flag and the share flagged, and the failed registrations (Dice < 0.7 and < 0.5) caught. Usage:
 *   npx tsx bench/quality.ts bench/results/quality-signals-*.json [--ablate] [--perturbations] [--md FILE]
 * --ablate adds one row per relative signal left out (what each signal adds), and one with the absolute checks only.
 * The test-time perturbation signal is left out unless --perturbations (`segment` computes it only when asked).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { RELATIVE_SIGNALS, scoreQuality, type ImageSignalsInput, type QualityScoreOptions } from '../src/eval/quality-score.js';
import { spearman, validateQuality } from '../src/eval/quality-validation.js';
import { benchArgs } from './args.js';

const args = process.argv.slice(2);
const { flag, value } = benchArgs(args);
const files = args.filter((a, i) => a.endsWith('.json') && args[i - 1] !== '--md');

interface SignalFile {
  classes: number[];
  images: { id: string; dice: number[]; signals: ImageSignalsInput }[];
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
const f3 = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');

function row(name: string, variant: string, file: SignalFile, opts: QualityScoreOptions): string {
  const q = scoreQuality(file.images.map((i) => i.signals), opts);
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
  const file = JSON.parse(readFileSync(path, 'utf8')) as SignalFile;
  if (!flag('perturbations')) for (const i of file.images) for (const c of i.signals.perClass) delete c.perturbationAgreement;
  const name = basename(path).replace(/^quality-signals-/, '').replace(/\.json$/, '');
  lines.push(row(name, 'score', file, {}));
  if (flag('ablate')) {
    for (const s of RELATIVE_SIGNALS.filter((s) => file.images.some((i) => i.signals.perClass.some((c) => s.get(c, i.signals) !== undefined)))) {
      lines.push(row(name, `without ${s.name}`, file, { relativeSignals: RELATIVE_SIGNALS.filter((x) => x !== s) }));
    }
    lines.push(row(name, 'absolute checks only', file, { relativeSignals: [] }));
  }
}
const table = lines.join('\n') + '\n';
process.stdout.write(table);
const md = value('md');
if (md) writeFileSync(md, table);
