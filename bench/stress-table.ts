/**
 * The stress table (issue 8 item 3): per transform, the reference-copy floor, the warp before and after a change
 * (two bench/stress-bench.ts runs) and elastix (bench/stress/elastix.py summaries), mean Dice in %. Usage:
 *   npx tsx bench/stress-table.ts --before bench/results/stress-before-jsrt.json --after bench/results/stress-after-jsrt.json \
 *        --elastix /work/team/results/robust/elastix --dataset jsrt [--extra NAME=path.json ...]
 * elastix summaries are read from ELASTIX/<dataset>-<transform>/summary.json (mixed-size: the best of the
 * <dataset>-mixed-size* folders, the frame named). Prints a markdown table; "Δ elastix" = after − elastix.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const value = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const extras = args.flatMap((a, i) => (a === '--extra' ? [args[i + 1]!] : [])).map((e) => e.split('=') as [string, string]);

interface StressRun {
  transforms: Record<string, { copyFloor: { meanDice: number }; warp?: { meanDice: number; preprocessing?: { imageLoss?: { kind: string }; colour?: { name: string }; prealign?: { aligned: number; inverted: number } } } }>;
}
const load = (p: string | undefined): StressRun | null => (p && existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as StressRun) : null);
const before = load(value('before'));
const after = load(value('after'));
const extraRuns = extras.map(([name, path]) => [name, load(path)] as const);
const elastixDir = value('elastix');
const dataset = value('dataset') ?? 'jsrt';

function elastix(transform: string): { dice: number; note: string } | null {
  if (!elastixDir) return null;
  const dirs = readdirSync(elastixDir).filter((d) => d === `${dataset}-${transform}` || d.startsWith(`${dataset}-${transform}-`));
  let best: { dice: number; note: string } | null = null;
  for (const d of dirs) {
    const p = join(elastixDir, d, 'summary.json');
    if (!existsSync(p)) continue;
    const s = JSON.parse(readFileSync(p, 'utf8')) as { mDice: number; frame?: string; failed: number };
    const note = `${s.frame ?? 'pixels'}${s.failed ? `, ${s.failed} failed` : ''}`;
    if (!best || s.mDice > best.dice) best = { dice: s.mDice, note };
  }
  return best;
}

const pct = (v: number | undefined): string => (v === undefined ? '—' : (100 * v).toFixed(1));
const transforms = Object.keys(after?.transforms ?? before?.transforms ?? {});
const header = ['transform', 'copy floor', 'warp before', ...extraRuns.map(([n]) => n), 'warp after', 'elastix', 'after − elastix', 'after − copy', 'chosen (loss, colour, aligned/inverted)'];
const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
for (const t of transforms) {
  const a = after?.transforms[t];
  const b = before?.transforms[t];
  const e = elastix(t);
  const floor = (a ?? b)!.copyFloor.meanDice;
  const w = a?.warp?.meanDice;
  const p = a?.warp?.preprocessing;
  const chosen = p ? `${p.imageLoss?.kind ?? '?'}, ${p.colour?.name ?? '?'}, ${p.prealign?.aligned ?? 0}/${p.prealign?.inverted ?? 0}` : '';
  lines.push(
    `| ${t} | ${pct(floor)} | ${pct(b?.warp?.meanDice)} | ${extraRuns.map(([, r]) => pct(r?.transforms[t]?.warp?.meanDice)).join(' | ')}${extraRuns.length ? ' | ' : ''}` +
      `**${pct(w)}** | ${e ? `${pct(e.dice)} (${e.note})` : '—'} | ${w !== undefined && e ? ((w - e.dice) * 100).toFixed(1) : '—'} | ${w !== undefined ? ((w - floor) * 100).toFixed(1) : '—'} | ${chosen} |`,
  );
}
process.stdout.write(lines.join('\n') + '\n');
