/**
 * runWarpBenchmark's wall-time split with a Dice curve during training (diceEvery): the curve's scoring is left out
 * of every part and of the total alike, so the parts add up to the total and none is negative.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWarpBenchmark } from '../../src/pipeline/bench-warp.js';
import type { PhantomDatasetResult } from '../../src/io/phantom-dataset.js';
import { makeTempDir } from '../cli/helpers.js';
import { phantomDataset } from '../cli/pipeline-fixture.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let data: PhantomDatasetResult;

beforeAll(async () => {
  tmp = await makeTempDir('bench-timings');
  data = await phantomDataset(tmp.dir);
});

afterAll(async () => {
  await tmp?.cleanup();
});

describe('runWarpBenchmark timings with diceEvery', () => {
  it('leaves the Dice curve out of the warp time and the total alike', async () => {
    const r = await runWarpBenchmark({
      datasetDir: data.root,
      backend: 'wasm',
      threads: 1,
      quality: false,
      diceEvery: 1,
      overrides: { network: { resolution: 32 }, schedule: { initialEpochs: 4, seed: 1 } },
    });
    expect(r.curve).toHaveLength(4);
    // Four full scorings of the test set during training: together longer than the one warp after it.
    expect(r.curveS).toBeGreaterThan(0);
    const t = r.timings;
    expect(t.warpS).toBeGreaterThanOrEqual(0);
    const parts = t.readS + t.trainS + t.warpS + t.qualityS + (r.roi.timings?.totalS ?? 0);
    // What no part counts: saving nothing, planning the region-of-interest stage (a few ms here).
    expect(Math.abs(t.totalS - parts)).toBeLessThan(0.25);
  });
});
