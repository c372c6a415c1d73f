import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatSamBenchmark, runSamBenchmark } from '../../src/pipeline/bench-sam.js';
import { readLabelMap } from '../../src/io/mask.js';
import { perturbTestSample } from '../../src/pipeline/perturb.js';
import { readImage } from '../../src/io/image.js';
import { makeFixture, TINY_WARP, type Fixture } from './helpers.js';

let f: Fixture;
let echoDir: string;

beforeAll(async () => {
  f = await makeFixture({ count: 4, size: 64 });
  echoDir = await f.sam({ decoder: 'echo-mask', k: 4 });
}, 60_000);
afterAll(async () => {
  await f?.cleanup();
});

describe('runSamBenchmark (paper protocol)', () => {
  it('reference = first image alphabetically, scores per class, point stats, timings and call counts', async () => {
    const res = await runSamBenchmark({
      dataset: f.data.root,
      outDir: f.out('bench'),
      sam: echoDir,
      samLoad: { cacheDir: f.cacheDir, threads: 1 },
      warp: { overrides: TINY_WARP, backend: 'wasm' },
      retrainRounds: 1,
      refinements: 1,
      limit: 2,
    });
    expect(res.reference).toBe('phantom_000');
    expect(res.tests).toBe(2);
    expect(res.classes.map((c) => c.name)).toEqual(['right_lung', 'left_lung', 'heart']);
    expect(res.meanDice).toBeGreaterThan(0.3);
    expect(res.meanDice).toBeLessThanOrEqual(1);
    expect(res.perRound.length).toBe(2);
    // images × classes × (1 + refinements) × (1 + rounds); encoder: 2 tests + the reference
    expect(res.counters.decoderCalls).toBe(2 * 3 * 2 * 2);
    expect(res.counters.encoderRuns).toBe(3);
    expect(res.pointStats.total).toBeGreaterThan(0.5);
    expect(res.breakdown.totalMs).toBeGreaterThan(0);
    const json = JSON.parse(await readFile(res.jsonPath, 'utf8'));
    expect(json.meanDice).toBe(res.meanDice);
    expect(formatSamBenchmark(res)).toContain('right_lung');
  }, 120_000);

  it('Appendix D perturbation: perturbed copies are written and used, with the GT moved alike', async () => {
    const res = await runSamBenchmark({
      dataset: f.data.root,
      outDir: f.out('bench-perturbed'),
      sam: echoDir,
      samLoad: { cacheDir: f.cacheDir, threads: 1 },
      warp: { overrides: TINY_WARP, backend: 'wasm' },
      retrainRounds: 0,
      refinements: 0,
      limit: 2,
      perturb: { seed: 4 },
    });
    expect(Object.keys(res.perturbation!.params)).toEqual(['phantom_001', 'phantom_002']);
    const item = f.data.items[1]!;
    const expected = perturbTestSample(item.id, (await readImage(item.imagePath)).image, await readLabelMap(item.maskPath), { seed: 4 });
    const gt = await readLabelMap(join(f.out('bench-perturbed'), 'perturbed', 'masks', `${item.id}.png`));
    expect(Buffer.from(gt.data).equals(Buffer.from(expected.mask!.data))).toBe(true);
    const img = await readImage(join(f.out('bench-perturbed'), 'perturbed', 'images', `${item.id}.png`));
    const rounded = expected.image.data.map((v) => Math.round(v));
    expect(Array.from(img.image.data)).toEqual(Array.from(rounded));
    // 2 new images → 2 encoder runs (the reference is cached from the first test)
    expect(res.counters.encoderRuns).toBe(2);
  }, 120_000);
});
