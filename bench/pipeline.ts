/**
 * Med-PerSAM pipeline benchmark (paper protocol: reference = first image alphabetically). Usage:
 *   npx tsx bench/pipeline.ts [--dataset DIR] [--sam DIR|gen:echo-mask|gen:fill-box|gen:discs] [--out DIR]
 *        [--rounds N] [--refinements N] [--prompt-set P|B|P+B|P+B+M] [--points subregions|candidate-region|persam-topk]
 *        [--limit N] [--preset cpu|paper] [--steps N | --epochs N] [--retrain-steps N | --retrain-epochs N] [--res N] [--flow-scale X]
 *        [--perturb] [--threads N] [--tag NAME] [--phantoms N --size PX]
 * `gen:<behaviour>` writes a generated SAM model (test/fixtures/sam-models.ts) into OUT/sam-model first: the SAM
 * stage then measures the pipeline's own overhead around ONNX Runtime, not SAM's quality.
 * `--phantoms N` benchmarks a fresh phantom dataset of N images instead of --dataset.
 * Writes bench/results/pipeline-<tag>.json and .md and prints a table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { formatSamBenchmark, runSamBenchmark } from '../src/pipeline/bench-sam.js';
import { writePhantomDataset } from '../src/io/phantom-dataset.js';
import type { WarpSettingsOverrides } from '../src/warp/presets.js';
import { writeTestSamModel, type TestDecoderBehaviour } from '../test/fixtures/sam-models.js';
import { benchArgs } from './args.js';

const { flag, value, num } = benchArgs();

const tag = value('tag') ?? new Date().toISOString().replace(/[:.]/g, '-');
const outDir = value('out') ?? join(tmpdir(), `medpersam-bench-pipeline-${tag}`);
await rm(outDir, { recursive: true, force: true });

let dataset = value('dataset') ?? '../shared/data/jsrt-scr';
if (num('phantoms')) {
  dataset = join(outDir, 'phantoms');
  await writePhantomDataset(dataset, { count: num('phantoms')!, width: num('size') ?? 256, seed: 1 });
}

let sam = value('sam') ?? 'gen:echo-mask';
if (sam.startsWith('gen:')) {
  const dir = join(outDir, 'sam-model');
  await writeTestSamModel(dir, { decoder: sam.slice(4) as TestDecoderBehaviour, k: 4 });
  sam = dir;
}

const overrides: WarpSettingsOverrides = { network: {}, loss: {}, schedule: {} };
if (num('res')) overrides.network!.resolution = num('res')!;
if (num('epochs') !== undefined) overrides.schedule!.initialEpochs = num('epochs')!;
if (num('retrain-epochs') !== undefined) overrides.schedule!.retrainEpochs = num('retrain-epochs')!;
if (num('steps') !== undefined) overrides.schedule!.initialSteps = num('steps')!;
if (num('retrain-steps') !== undefined) overrides.schedule!.retrainSteps = num('retrain-steps')!;

let lastPrint = 0;
const t0 = performance.now();
const result = await runSamBenchmark(
  {
    dataset,
    outDir,
    sam,
    samLoad: { cacheDir: join(outDir, 'embeddings'), threads: num('threads') },
    warp: { preset: (value('preset') as 'cpu' | 'paper' | undefined) ?? 'cpu', overrides, ...(num('threads') !== undefined ? { threads: num('threads') } : {}) },
    retrainRounds: num('rounds'),
    refinements: num('refinements'),
    promptSet: value('prompt-set') as 'P+B+M' | undefined,
    pointStrategy: value('points') as 'subregions' | undefined,
    flowScale: num('flow-scale'),
    limit: num('limit'),
    perturb: flag('perturb') ? {} : null,
  },
  (e) => {
    const now = Date.now();
    if (now - lastPrint > 10_000 || e.done === e.total) {
      lastPrint = now;
      process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0)} s] [${e.stage}] ${e.done}/${e.total} ${e.message ?? ''}\n`);
    }
  },
);
const table = formatSamBenchmark(result);
const rss = process.resourceUsage().maxRSS / 1024;
mkdirSync('bench/results', { recursive: true });
writeFileSync(`bench/results/pipeline-${tag}.json`, JSON.stringify({ ...result, peakRssMiB: rss, command: process.argv.slice(1).join(' ') }, null, 2));
writeFileSync(
  `bench/results/pipeline-${tag}.md`,
  `# pipeline benchmark ${tag}\n\n\`npx tsx bench/pipeline.ts ${process.argv.slice(2).join(' ')}\`\n\n\`\`\`\n${table}\npeak RSS ${rss.toFixed(0)} MiB\n\`\`\`\n`,
);
process.stdout.write(`${table}\npeak RSS ${rss.toFixed(0)} MiB\noutput: ${outDir}\n`);
