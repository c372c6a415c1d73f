/**
 * Write warp stress datasets (issue 8 item 3): one folder per transform, test images and masks transformed with
 * known, recorded parameters (OUT/<transform>/transforms.json). Usage:
 *   npx tsx bench/stress-set.ts --source ../shared/data/jsrt-scr --out bench/results/stress/jsrt --limit 40
 *   npx tsx bench/stress-set.ts --source phantom --out bench/results/stress/phantom --limit 40 [--size 256]
 *   npx tsx bench/stress-set.ts --source stack|teeth --out bench/results/stress/stack --limit 40 --transforms identity
 *     (repeated structures, bench/stress/repeated.ts: the variation is in the phantoms themselves)
 *   options: --transforms rotate,scale,...  (default: every transform, see bench/stress/transforms.ts)
 *            --seed N (default 1)  --overwrite
 * Outputs derived from ../shared stay out of the repository (bench/results/ is git-ignored).
 */
import { join } from 'node:path';
import { benchArgs } from './args.js';
import { writeStressDataset, type StressSource } from './stress/generate.js';
import { STRESS_TRANSFORMS, type StressTransformName } from './stress/transforms.js';

const { flag, value, num } = benchArgs();
const sourceArg = value('source') ?? 'phantom';
const out = value('out') ?? join('bench/results/stress', sourceArg === 'phantom' ? 'phantom' : 'dataset');
const count = (num('limit') ?? 40) + 1;
const source: StressSource =
  sourceArg === 'phantom'
    ? { phantom: { size: num('size') ?? 256, count, seed: num('phantom-seed') ?? 1 } }
    : sourceArg === 'stack' || sourceArg === 'teeth'
      ? { repeated: { kind: sourceArg, size: num('size') ?? 256, count, seed: num('phantom-seed') ?? 1 } }
      : { dir: sourceArg };
const transforms = (value('transforms')?.split(',') ?? [...STRESS_TRANSFORMS]) as StressTransformName[];
for (const t of transforms) {
  if (!(STRESS_TRANSFORMS as readonly string[]).includes(t)) throw new Error(`unknown transform ${t} (known: ${STRESS_TRANSFORMS.join(', ')})`);
}
for (const transform of transforms) {
  const t0 = performance.now();
  const r = await writeStressDataset({
    source,
    transform,
    out: join(out, transform),
    limit: num('limit'),
    seed: num('seed') ?? 1,
    overwrite: flag('overwrite'),
  });
  process.stdout.write(`${transform}: ${Object.keys(r.manifest.images).length} images → ${r.out} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`);
}
