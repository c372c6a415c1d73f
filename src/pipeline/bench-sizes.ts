/**
 * Warp-only quality and wall time as the folder grows (`medpersam bench --sizes 5,10,40,all`): for each size N the
 * warping model is trained afresh on the first N test images of the dataset (the paper's protocol otherwise:
 * reference = first image with a mask) and scored, next to a classical baseline's per-image Dice on the same N
 * images (e.g. elastix, from a JSON file of per-image scores) and the reference-copy floor. Library function: never
 * prints.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MedpersamUserError } from '../errors.js';
import { pathExists } from '../io/exists.js';
import { runWarpBenchmark, type BenchWarpOptions, type BenchWarpResult } from './bench-warp.js';

/** Default baseline file inside a dataset folder (written by the elastix baseline tool). */
export const DEFAULT_BASELINE = join('baselines', 'elastix-affine-bspline.json');

/** Per-image Dice of a baseline: image id → class value → Dice. */
export interface BaselineScores {
  name: string;
  file: string;
  perImage: Map<string, Map<number, number>>;
  /** Seconds per image as the baseline's file states it (when it does), for the wall-time comparison. */
  secondsPerImage?: number;
}

/**
 * Read a baseline file: JSON with `per_image: { <id>: { "<class>": dice, ... } }` (ids without extension), and
 * optionally `s_per_image_2jobs` or `mean_s_per_image`.
 */
export async function readBaselineScores(file: string): Promise<BaselineScores> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new MedpersamUserError('BAD_BASELINE', `cannot read the baseline scores (${(err as Error).message})`, { file, cause: err });
  }
  const perImageJson = (json as { per_image?: unknown }).per_image;
  if (!perImageJson || typeof perImageJson !== 'object') {
    throw new MedpersamUserError('BAD_BASELINE', 'baseline scores need a "per_image" object: { "<image id>": { "<class>": dice } }', { file });
  }
  const perImage = new Map<string, Map<number, number>>();
  for (const [id, scores] of Object.entries(perImageJson as Record<string, Record<string, number>>)) {
    perImage.set(id, new Map(Object.entries(scores).map(([c, d]) => [Number(c), Number(d)])));
  }
  const j = json as { s_per_image_2jobs?: number; mean_s_per_image?: number };
  const secondsPerImage = j.s_per_image_2jobs ?? j.mean_s_per_image;
  return { name: 'elastix', file, perImage, ...(secondsPerImage !== undefined ? { secondsPerImage } : {}) };
}

/** Parse "5,10,20,40,100,all" (ascending, distinct; "all" = every test image). */
export function parseSizes(text: string): (number | 'all')[] {
  const parts = text.split(',').map((p) => p.trim().toLowerCase()).filter((p) => p !== '');
  if (parts.length === 0) throw new MedpersamUserError('BAD_OPTION', `--sizes needs a list like 5,10,40,all, got "${text}"`);
  return parts.map((p) => {
    if (p === 'all') return 'all';
    const n = Number(p);
    if (!Number.isInteger(n) || n < 1) throw new MedpersamUserError('BAD_OPTION', `--sizes: "${p}" is not a positive integer or "all"`);
    return n;
  });
}

export interface SizeRow {
  /** Requested size and the number of test images actually used (all may be fewer than asked). */
  size: number | 'all';
  nTest: number;
  meanDice: number;
  perClassDice: number[];
  referenceCopyDice: number;
  /** Baseline's mean Dice on the same images (mean over classes, then images), and how many of them it scored. */
  baselineDice: number | null;
  baselineImages: number;
  /** Wall-time estimate of the baseline on these images (its seconds per image × N), when its file states it. */
  baselineSeconds: number | null;
  steps: number;
  threads: number;
  trainS: number;
  totalS: number;
  /** Peak RSS of the process so far (sizes run one after another in one process). */
  peakRssMB: number;
}

export interface BenchSizesResult {
  dataset: string;
  reference: string;
  baseline: { name: string; file: string } | null;
  rows: SizeRow[];
  /** The full benchmark result of each size. */
  runs: BenchWarpResult[];
}

export interface BenchSizesOptions extends Omit<BenchWarpOptions, 'limit'> {
  sizes: (number | 'all')[];
  /** Baseline scores file (default DEFAULT_BASELINE inside the dataset when it exists; null = none). */
  baselineFile?: string | null;
  /** Called after each size with its row (e.g. to print it at once). */
  onRow?: (row: SizeRow) => void;
}

export async function runSizesBenchmark(opts: BenchSizesOptions): Promise<BenchSizesResult> {
  let baselineFile = opts.baselineFile;
  if (baselineFile === undefined) {
    const candidate = join(opts.datasetDir, DEFAULT_BASELINE);
    baselineFile = (await pathExists(candidate)) ? candidate : null;
  }
  const baseline = baselineFile ? await readBaselineScores(baselineFile) : null;
  const rows: SizeRow[] = [];
  const runs: BenchWarpResult[] = [];
  for (const size of opts.sizes) {
    // Each row times a whole run: the quality score's validation stays out unless asked for (bench without --sizes).
    const r = await runWarpBenchmark({ ...opts, quality: opts.quality ?? false, ...(size === 'all' ? {} : { limit: size }) });
    runs.push(r);
    const classes = r.perClass.map((c) => c.cls);
    let baseSum = 0;
    let baseN = 0;
    if (baseline) {
      for (const img of r.perImage) {
        const scores = baseline.perImage.get(img.id);
        if (!scores || classes.some((c) => scores.get(c) === undefined)) continue;
        baseSum += classes.reduce((a, c) => a + scores.get(c)!, 0) / classes.length;
        baseN++;
      }
    }
    const row: SizeRow = {
      size,
      nTest: r.nTest,
      meanDice: r.meanDice,
      perClassDice: r.perClass.map((c) => c.dice),
      referenceCopyDice: r.referenceCopyDice,
      baselineDice: baseN > 0 ? baseSum / baseN : null,
      baselineImages: baseN,
      baselineSeconds: baseline?.secondsPerImage !== undefined ? baseline.secondsPerImage * r.nTest : null,
      steps: r.steps,
      threads: r.threads,
      trainS: r.timings.trainS,
      totalS: r.timings.totalS,
      peakRssMB: r.peakRssMB,
    };
    rows.push(row);
    opts.onRow?.(row);
  }
  return {
    dataset: opts.datasetDir,
    reference: runs[0]?.reference ?? '',
    baseline: baseline ? { name: baseline.name, file: baseline.file } : null,
    rows,
    runs,
  };
}

/** A Markdown table of the sizes benchmark (Dice in %). */
export function formatSizesTable(r: BenchSizesResult): string {
  const pct = (v: number | null) => (v === null ? '—' : (v * 100).toFixed(1));
  const base = r.baseline?.name ?? 'baseline';
  const lines = [
    `warp-only quality by folder size: ${r.dataset} (reference ${r.reference})${r.baseline ? `, ${base} scores from ${r.baseline.file}` : ''}`,
    '',
    `| images | warp mean Dice % | ${base} Dice % (same images) | reference copy % | steps | threads | train s | total s | ${base} s (est.) | peak RSS MB |`,
    '|---|---|---|---|---|---|---|---|---|---|',
    ...r.rows.map(
      (w) =>
        `| ${w.size === 'all' ? `all (${w.nTest})` : w.nTest} | **${pct(w.meanDice)}** | ${pct(w.baselineDice)}${w.baselineDice !== null && w.baselineImages !== w.nTest ? ` (${w.baselineImages} scored)` : ''} | ${pct(w.referenceCopyDice)} | ` +
        `${w.steps} | ${w.threads} | ${w.trainS.toFixed(0)} | ${w.totalS.toFixed(0)} | ${w.baselineSeconds === null ? '—' : w.baselineSeconds.toFixed(0)} | ${w.peakRssMB.toFixed(0)} |`,
    ),
  ];
  return lines.join('\n');
}
