/**
 * Warp-only JSRT benchmark (paper protocol). Usage:
 *   npx tsx bench/warp.ts [--dataset DIR] [--arch conv|nice-trans] [--res N] [--steps N | --epochs N] [--coarse-steps N] [--plateau WINDOW,MIN_STEPS,MIN_FALL_PERCENT] [--batch N] [--aug-per-batch N]
 *                         [--lr X] [--cosine|--constant-lr] [--finest-width N] [--no-aug] [--no-affine] [--loss ssim|ncc] [--reg X] [--limit N] [--label-warp nearest|argmax]
 *                         [--preset cpu|paper] [--threads N] [--dice-every K] [--tag NAME]
 *                         [--init-model FILE|BUNDLE] (warm start) [--save-model FILE] (write the trained warp model)
 *   npx tsx bench/warp.ts --sizes 5,10,40,all [same options]      quality and time by folder size, vs elastix
 * Writes bench/results/warp-<tag>.json (sizes-<tag>.json) and prints a table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { formatWarpBenchTable, runWarpBenchmark } from '../src/pipeline/bench-warp.js';
import { formatSizesTable, parseSizes, runSizesBenchmark } from '../src/pipeline/bench-sizes.js';
import type { WarpSettingsOverrides } from '../src/warp/presets.js';
import { benchArgs } from './args.js';
import { readInitialWarpModel } from '../src/pipeline/init-model.js';

const { flag, value, num } = benchArgs();

const overrides: WarpSettingsOverrides = { network: {}, loss: {}, schedule: {} };
if (value('arch')) overrides.network!.arch = value('arch') as 'conv' | 'nice-trans';
if (num('res')) overrides.network!.resolution = num('res')!;
if (num('finest-width')) overrides.network!.finestDecoderWidth = num('finest-width')!;
if (flag('no-affine')) overrides.network!.affine = false;
if (flag('no-aug')) overrides.loss!.augmentation = false;
if (value('loss')) overrides.loss!.imageLoss = value('loss') as 'ssim' | 'ncc';
if (num('reg') !== undefined) overrides.loss!.lambdaReg = num('reg')!;
if (num('epochs') !== undefined) overrides.schedule!.initialEpochs = num('epochs')!;
if (num('steps') !== undefined) overrides.schedule!.initialSteps = num('steps')!;
if (num('coarse-steps') !== undefined) overrides.schedule!.coarseSteps = num('coarse-steps')!;
if (value('plateau')) {
  const [window, minSteps, minFallPercent] = value('plateau')!.split(',').map(Number);
  overrides.schedule!.plateau = { window: window!, minSteps: minSteps!, minImprovement: minFallPercent! / 100 };
}
if (num('batch')) overrides.schedule!.batchSize = num('batch')!;
if (num('aug-per-batch') !== undefined) overrides.schedule!.augPerBatch = num('aug-per-batch')!;
if (num('lr')) overrides.schedule!.learningRate = num('lr')!;
if (flag('cosine')) overrides.schedule!.lrSchedule = 'cosine';
if (flag('constant-lr')) overrides.schedule!.lrSchedule = 'constant';
if (num('seed') !== undefined) overrides.schedule!.seed = num('seed')!;

let lastPrint = 0;
const onProgress = (e: { stage: string; done: number; total: number; message?: string }) => {
  const now = Date.now();
  if (now - lastPrint > 10_000 || e.done === e.total) {
    lastPrint = now;
    process.stderr.write(`[${e.stage}] ${e.done}/${e.total} ${e.message ?? ''}\n`);
  }
};
const common = {
  datasetDir: value('dataset') ?? '../shared/data/jsrt-scr',
  preset: (value('preset') as 'cpu' | 'paper' | undefined) ?? 'cpu',
  overrides,
  labelWarp: (value('label-warp') as 'nearest' | 'argmax' | undefined) ?? 'nearest',
  ...(num('threads') !== undefined ? { threads: num('threads')! } : {}),
  ...(num('dice-every') !== undefined ? { diceEvery: num('dice-every')! } : {}),
  ...(value('init-model') ? { initModel: await readInitialWarpModel(value('init-model')!) } : {}),
  ...(value('save-model') ? { saveModelPath: value('save-model')! } : {}),
  onProgress,
};
const tag = value('tag') ?? new Date().toISOString().replace(/[:.]/g, '-');
mkdirSync('bench/results', { recursive: true });
if (value('sizes')) {
  const result = await runSizesBenchmark({
    ...common,
    sizes: parseSizes(value('sizes')!),
    onRow: (row) => process.stderr.write(`size ${row.nTest}: ${(row.meanDice * 100).toFixed(1)} % (baseline ${row.baselineDice === null ? '-' : (row.baselineDice * 100).toFixed(1)}), ${row.totalS.toFixed(0)} s\n`),
  });
  const table = formatSizesTable(result);
  writeFileSync(`bench/results/sizes-${tag}.json`, JSON.stringify(result, null, 1));
  writeFileSync(`bench/results/sizes-${tag}.md`, table + '\n');
  process.stdout.write(table + '\n');
  process.exit(0);
}
const result = await runWarpBenchmark({ ...common, limit: num('limit'), compareLabelWarps: true });
const table = formatWarpBenchTable(result);
writeFileSync(`bench/results/warp-${tag}.json`, JSON.stringify(result, null, 1));
writeFileSync(`bench/results/warp-${tag}.md`, table + '\n');
process.stdout.write(table + '\n');
if (result.curve) process.stdout.write(`Dice by step: ${result.curve.map((c) => `${c.step}: ${(c.meanDice * 100).toFixed(1)}`).join(', ')}\n`);
