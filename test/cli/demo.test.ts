/**
 * `medpersam demo` end to end: the phantom dataset, then (by default) the warp-only segmentation of it from its
 * first image and the scores, checked against a Dice computed here from the written files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import { readLabelMap } from '../../src/io/mask.js';
import type { PhantomDatasetResult } from '../../src/io/phantom-dataset.js';
import { captureIo, makeTempDir } from './helpers.js';
import { referenceCopyDice, scoreFolder } from './pipeline-fixture.js';

let tmp: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  tmp = await makeTempDir('cli-demo');
});

afterAll(async () => {
  await tmp?.cleanup();
});

/** The dataset as the demo wrote it (ids phantom_000.., alphabetical = patient order). */
function datasetOf(out: string, count: number): PhantomDatasetResult {
  const ids = Array.from({ length: count }, (_, i) => `phantom_${String(i).padStart(3, '0')}`);
  return {
    root: out,
    imagesDir: join(out, 'images'),
    masksDir: join(out, 'masks'),
    classesPath: join(out, 'classes.json'),
    items: ids.map((id) => ({ id, imagePath: join(out, 'images', `${id}.png`), maskPath: join(out, 'masks', `${id}.png`), width: 64, height: 64 })),
  };
}

describe('medpersam demo', () => {
  it('writes the phantoms, segments them from the first one and prints the scores', async () => {
    const out = join(tmp.dir, 'demo');
    const io = captureIo();
    const started = performance.now();
    expect(await runCli(['demo', '--out', out, '--count', '4', '--size', '64', '--seed', '3'], io)).toBe(0);
    const seconds = (performance.now() - started) / 1000;
    const data = datasetOf(out, 4);
    const testIds = data.items.slice(1).map((it) => it.id);
    expect((await readdir(join(out, 'results', 'masks'))).sort()).toEqual(testIds.map((id) => `${id}.png`));
    expect((await readdir(join(out, 'results', 'overlays'))).sort()).toEqual(testIds.map((id) => `${id}.png`));
    const run = JSON.parse(await readFile(join(out, 'results', 'run.json'), 'utf8'));
    expect(run.runKey.settings.network.resolution).toBe(64);
    expect(run.runKey.settings.schedule).toMatchObject({ initialEpochs: 10, learningRate: 3e-4 });

    const { meanDice, sizes } = await scoreFolder(join(out, 'results', 'masks'), data, testIds);
    expect(sizes).toEqual(testIds.map(() => [64, 64]));
    // The demo's warp (64 px, 10 epochs, lr 3e-4) must beat copying the reference mask (0.90 here) and score above 0.85.
    expect(meanDice).toBeGreaterThan(0.85);
    expect(meanDice).toBeGreaterThan(await referenceCopyDice(data));
    const printed = /3 images: mean Dice (\d+\.\d+)%/.exec(io.out());
    expect(printed, io.out()).not.toBeNull();
    expect(Number(printed![1]) / 100).toBeCloseTo(meanDice, 4);
    expect(io.out()).toContain(`segmenting the other 3 images from phantom_000 (warp model alone, no SAM needed)`);
    expect(io.out()).toContain('medpersam models pull mobile-sam');
    expect(seconds).toBeLessThan(60);

    // Again without --force: refused, nothing changed. With --force and another seed: dataset and results replaced.
    const again = captureIo();
    expect(await runCli(['demo', '--out', out, '--count', '4', '--size', '64'], again)).toBe(1);
    expect(again.err()).toContain(`error: ${join(out, 'images')}: folder already holds files`);
    const before = await readLabelMap(join(out, 'results', 'masks', 'phantom_001.png'));
    const forced = captureIo();
    const forcedArgs = ['demo', '--out', out, '--count', '4', '--size', '64', '--seed', '4', '--force', '--quiet', '--epochs', '3'];
    expect(await runCli(forcedArgs, forced)).toBe(0);
    expect(JSON.parse(await readFile(join(out, 'results', 'run.json'), 'utf8')).runKey.settings.schedule.initialEpochs).toBe(3);
    const after = await readLabelMap(join(out, 'results', 'masks', 'phantom_001.png'));
    expect(Buffer.from(after.data).equals(Buffer.from(before.data))).toBe(false);
    const rescored = await scoreFolder(join(out, 'results', 'masks'), data, testIds);
    expect(rescored.meanDice).toBeGreaterThan(0.85);
    expect(forced.out()).not.toContain('next:');
  }, 120_000);

  it('--no-run writes only the dataset; --count 1 cannot be segmented', async () => {
    const out = join(tmp.dir, 'norun');
    const io = captureIo();
    expect(await runCli(['demo', '--out', out, '--count', '2', '--size', '32', '--no-run'], io)).toBe(0);
    expect(existsSync(join(out, 'results'))).toBe(false);
    expect(io.out()).toContain(`--out ${join(out, 'results')} --sam none`);

    const one = captureIo();
    expect(await runCli(['demo', '--out', join(tmp.dir, 'one'), '--count', '1'], one)).toBe(1);
    expect(one.err()).toBe('error: --count must be at least 2 to segment (one reference + images), or use --no-run\n');
  });
});
