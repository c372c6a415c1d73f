/**
 * `medpersam bench` through runCli on a 64 px phantom dataset (reference phantom_000 + 3 test images):
 * warp-only (cross-checked against `segment --sam none` with the same settings) and with a generated SAM model.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import type { PhantomDatasetResult } from '../../src/io/phantom-dataset.js';
import { writeTestSamModel } from '../fixtures/sam-models.js';
import { captureIo, makeTempDir } from './helpers.js';
import { FAST_WARP, phantomDataset, scoreFolder } from './pipeline-fixture.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let data: PhantomDatasetResult;
const savedHome = process.env.MEDPERSAM_HOME;

beforeAll(async () => {
  tmp = await makeTempDir('cli-bench');
  data = await phantomDataset(tmp.dir);
  process.env.MEDPERSAM_HOME = join(tmp.dir, 'home');
});

afterAll(async () => {
  if (savedHome === undefined) delete process.env.MEDPERSAM_HOME;
  else process.env.MEDPERSAM_HOME = savedHome;
  await tmp?.cleanup();
});

describe('medpersam bench --sam none', () => {
  it('prints the table, writes bench-warp.json, and agrees with segment --sam none on the same settings', async () => {
    const out = join(tmp.dir, 'bench-warp');
    const io = captureIo();
    expect(await runCli(['bench', '--dataset', data.root, '--sam', 'none', '--out', out, ...FAST_WARP], io)).toBe(0);
    const json = JSON.parse(await readFile(join(out, 'bench-warp.json'), 'utf8'));
    // 3 test images, batch 3: one step per epoch.
    expect(json).toMatchObject({ reference: 'phantom_000', nTest: 3, backend: 'wasm', steps: 8, budget: { unit: 'epochs', epochs: 8 } });
    expect(json.settings.network.resolution).toBe(32);
    expect(json.perClass.map((c: { name: string }) => c.name)).toEqual(['right_lung', 'left_lung', 'heart']);
    expect(io.out()).toContain(`warp-only benchmark: ${data.root} (reference phantom_000, 3 test images), backend wasm`);
    expect(io.out()).toContain(`| **mean** | **${(json.meanDice * 100).toFixed(1)}** | **${(json.meanIoU * 100).toFixed(1)}** |`);
    expect(io.err()).toBe(`wrote ${join(out, 'bench-warp.json')}\n`);
    // The safety net is on by default: every image checked; per image the network's own warp's Dice (the image's
    // Dice unless it fell back) and the aligned copy's, each a mean over the classes.
    expect(json.safetyNet).toMatchObject({ enabled: true, checked: 3 });
    for (const p of json.perImage as { dice: number[]; fellBack?: boolean; warpDice: number; alignedCopyDice: number }[]) {
      const meanDice = p.dice.reduce((a, b) => a + b, 0) / p.dice.length;
      expect(p.fellBack ? p.alignedCopyDice : p.warpDice).toBeCloseTo(meanDice, 12);
      expect(p.alignedCopyDice).toBeGreaterThan(0.5);
    }

    // The same protocol by hand: segment the test images with the same settings, score the written masks here.
    const seg = join(tmp.dir, 'seg-warp');
    const first = data.items[0]!;
    expect(
      await runCli(['segment', '--ref', first.imagePath, '--ref-mask', first.maskPath, '--images', data.imagesDir, '--out', seg, '--sam', 'none', '--no-overlays', ...FAST_WARP, '-q'], captureIo()),
    ).toBe(0);
    const { meanDice } = await scoreFolder(join(seg, 'masks'), data, data.items.slice(1).map((it) => it.id));
    expect(meanDice).toBeGreaterThan(0.85);
    // Same seed, same images, same training: equal up to float differences between the two warp batchings.
    expect(json.meanDice).toBeCloseTo(meanDice, 2);

    // --limit and --json
    const limited = captureIo();
    expect(await runCli(['bench', '--dataset', data.root, '--sam', 'none', '--out', out, '--limit', '2', '--no-safety-net', '--json', '-q', ...FAST_WARP], limited)).toBe(0);
    const lj = JSON.parse(limited.out());
    expect(lj.nTest).toBe(2);
    expect(lj.safetyNet).toMatchObject({ enabled: false, checked: 0, fellBack: [] });
    expect(lj.perImage.map((p: { id: string }) => p.id)).toEqual(['phantom_001', 'phantom_002']);
    expect(JSON.parse(await readFile(join(out, 'bench-warp.json'), 'utf8')).nTest).toBe(2);
  }, 120_000);
});

describe('medpersam bench --sam none --sizes', () => {
  it('trains a fresh model per folder size and compares with the baseline on the same images', async () => {
    const out = join(tmp.dir, 'bench-sizes');
    const baseline = join(tmp.dir, 'baseline.json');
    // A made-up baseline: 0.5 on every class of phantom_001, 0.7 on phantom_002 and phantom_003.
    const per = (d: number) => ({ 1: d, 2: d, 3: d });
    await writeFile(baseline, JSON.stringify({ per_image: { phantom_001: per(0.5), phantom_002: per(0.7), phantom_003: per(0.7) }, s_per_image_2jobs: 3 }));
    const io = captureIo();
    const argv = ['bench', '--dataset', data.root, '--sam', 'none', '--out', out, '--sizes', '1,all', '--baseline', baseline, '--threads', '2', '--res', '32', '--steps', '3', '--backend', 'wasm', '--seed', '1'];
    expect(await runCli(argv, io)).toBe(0);
    const json = JSON.parse(await readFile(join(out, 'bench-sizes.json'), 'utf8'));
    expect(json.rows.map((r: { nTest: number }) => r.nTest)).toEqual([1, 3]);
    expect(json.rows.map((r: { steps: number }) => r.steps)).toEqual([3, 3]);
    expect(json.rows.map((r: { threads: number }) => r.threads)).toEqual([2, 2]);
    expect(json.rows[0].baselineDice).toBeCloseTo(0.5, 10);
    expect(json.rows[1].baselineDice).toBeCloseTo((0.5 + 0.7 + 0.7) / 3, 10);
    expect(json.rows[1].baselineSeconds).toBe(9);
    for (const r of json.rows) {
      expect(r.meanDice).toBeGreaterThan(0.5);
      expect(r.referenceCopyDice).toBeGreaterThan(0.5);
    }
    expect(io.out()).toContain('| images | warp mean Dice % | elastix Dice % (same images) | reference copy % |');
    expect(io.out()).toContain(`| all (3) | **${(json.rows[1].meanDice * 100).toFixed(1)}** | 63.3 |`);

    const bad = captureIo();
    expect(await runCli(['bench', '--dataset', data.root, '--sam', 'none', '--out', out, '--sizes', '5,x'], bad)).toBe(1);
    expect(bad.err()).toBe('error: --sizes: "x" is not a positive integer or "all"\n');
  }, 120_000);
});

describe('medpersam bench with SAM', () => {
  it('runs the SAM benchmark, prints the summary and writes bench-sam.json consistent with the masks it wrote', async () => {
    const samDir = (await writeTestSamModel(join(tmp.dir, 'sam-echo'), { decoder: 'echo-mask' })).dir;
    const out = join(tmp.dir, 'bench-sam');
    const io = captureIo();
    const argv = ['bench', '--dataset', data.root, '--sam', samDir, '--out', out, '--limit', '2', ...FAST_WARP, '--rounds', '0', '--refinements', '0', '--threads', '1'];
    expect(await runCli(argv, io)).toBe(0);
    const json = JSON.parse(await readFile(join(out, 'bench-sam.json'), 'utf8'));
    expect(json).toMatchObject({ reference: 'phantom_000', tests: 2 });
    expect((await readdir(join(out, 'run', 'masks'))).sort()).toEqual(['phantom_001.png', 'phantom_002.png']);
    const { meanDice } = await scoreFolder(join(out, 'run', 'masks'), data, ['phantom_001', 'phantom_002']);
    expect(json.meanDice).toBeCloseTo(meanDice, 10);
    expect(meanDice).toBeGreaterThan(0.85);
    expect(io.out()).toContain(`dataset ${data.root}: reference phantom_000, 2 test images`);
    expect(io.out()).toMatch(new RegExp(`mean +Dice +${(json.meanDice * 100).toFixed(1)}%`));
    expect(io.err()).toContain(`wrote ${join(out, 'bench-sam.json')}`);
  }, 120_000);
});

describe('medpersam bench: errors exit 1', () => {
  it('a missing dataset, SAM-only flags with --sam none, a bad --limit, a missing default model', async () => {
    const missing = join(tmp.dir, 'no-dataset');
    const io = captureIo();
    expect(await runCli(['bench', '--dataset', missing, '--sam', 'none', '--out', join(tmp.dir, 'b1')], io)).toBe(1);
    expect(io.err()).toMatch(/^error: /);
    expect(io.err()).toContain(missing);

    const ref = captureIo();
    expect(await runCli(['bench', '--dataset', data.root, '--sam', 'none', '--reference', 'phantom_001'], ref)).toBe(1);
    expect(ref.err()).toBe('error: --reference needs a SAM model (it is not supported with --sam none)\n');

    const limit = captureIo();
    expect(await runCli(['bench', '--dataset', data.root, '--sam', 'none', '--limit', '0'], limit)).toBe(1);
    expect(limit.err()).toBe('error: --limit must be an integer from 1 to 1000000, got "0"\n');

    const noModel = captureIo();
    expect(await runCli(['bench', '--dataset', data.root, '--out', join(tmp.dir, 'b2')], noModel)).toBe(1);
    expect(noModel.err()).toContain('SAM model "mobile-sam" is not installed');
    expect(noModel.err()).toContain('--sam none');
    // A bad SAM option value is named first, even where the default model is not installed.
    const badThreads = captureIo();
    expect(await runCli(['bench', '--dataset', data.root, '--out', join(tmp.dir, 'b3'), '--encoder-threads', '0'], badThreads)).toBe(1);
    expect(badThreads.err()).toBe('error: --encoder-threads must be an integer from 1 to 1024, got "0"\n');

    // --init-model: warp-only, one training (not --sizes), and a file that is a warp model.
    const initSam = captureIo();
    expect(await runCli(['bench', '--dataset', data.root, '--out', join(tmp.dir, 'b4'), '--init-model', data.items[0]!.imagePath], initSam)).toBe(1);
    expect(initSam.err()).toBe('error: --init-model applies to --sam none only\n');
    const initSizes = captureIo();
    expect(await runCli(['bench', '--dataset', data.root, '--sam', 'none', '--sizes', '2,3', '--init-model', data.items[0]!.imagePath], initSizes)).toBe(1);
    expect(initSizes.err()).toBe('error: --init-model does not go with --sizes\n');
    const notModel = captureIo();
    expect(await runCli(['bench', '--dataset', data.root, '--sam', 'none', '--out', join(tmp.dir, 'b5'), '--init-model', data.items[0]!.imagePath], notModel)).toBe(1);
    expect(notModel.err()).toMatch(/^error: .*phantom_000\.png: not a medpersam warp model file/);
  });
});
