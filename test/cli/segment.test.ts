/**
 * `medpersam segment` through runCli on a 64 px phantom set (reference + 3 images): warp-only (--sam none) and
 * Med-PerSAM with a generated SAM model (echo-mask decoder), scores checked against a Dice computed here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../../src/cli/main.js';
import type { PhantomDatasetResult } from '../../src/io/phantom-dataset.js';
import { writeTestSamModel } from '../fixtures/sam-models.js';
import { captureIo, makeTempDir } from './helpers.js';
import { FAST_WARP, phantomDataset, referenceCopyDice, scoreFolder } from './pipeline-fixture.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let data: PhantomDatasetResult;
let testIds: string[];
const savedHome = process.env.MEDPERSAM_HOME;

beforeAll(async () => {
  tmp = await makeTempDir('cli-segment');
  data = await phantomDataset(tmp.dir);
  testIds = data.items.slice(1).map((it) => it.id);
  // SAM model lookups and the embedding cache stay inside the test folder.
  process.env.MEDPERSAM_HOME = join(tmp.dir, 'home');
});

afterAll(async () => {
  if (savedHome === undefined) delete process.env.MEDPERSAM_HOME;
  else process.env.MEDPERSAM_HOME = savedHome;
  await tmp?.cleanup();
});

const refArgs = () => ['--ref', data.items[0]!.imagePath, '--ref-mask', data.items[0]!.maskPath, '--images', data.imagesDir];

/** "mean Dice 91.84%" from the printed score line. */
function printedMeanDice(out: string): number {
  const m = /\d+ images: mean Dice (\d+\.\d+)%/.exec(out);
  expect(m, out).not.toBeNull();
  return Number(m![1]) / 100;
}

describe('medpersam segment --sam none (warp model alone)', () => {
  it('writes a mask per image at its size and overlays, scores them like an independent Dice, resumes', async () => {
    const out = join(tmp.dir, 'warp');
    const io = captureIo();
    const argv = ['segment', ...refArgs(), '--out', out, '--sam', 'none', '--gt', data.masksDir, '--classes', data.classesPath, ...FAST_WARP];
    expect(await runCli(argv, io)).toBe(0);
    expect(io.err()).toBe('');
    expect((await readdir(join(out, 'masks'))).sort()).toEqual(testIds.map((id) => `${id}.png`));
    expect((await readdir(join(out, 'overlays'))).sort()).toEqual(testIds.map((id) => `${id}.png`));
    const run = JSON.parse(await readFile(join(out, 'run.json'), 'utf8'));
    expect(run).toMatchObject({ status: 'complete', backend: 'wasm' });
    expect(run.runKey.settings.network.resolution).toBe(32);
    expect(run.runKey.settings.schedule).toMatchObject({ initialEpochs: 8, seed: 1 });

    const { meanDice, sizes } = await scoreFolder(join(out, 'masks'), data, testIds);
    expect(sizes).toEqual(testIds.map(() => [64, 64]));
    // Bounds: the reference mask copied unchanged scores 0.90 on these phantoms and the 8-epoch warp at 32 px
    // measured 0.96 (2 epochs, 2 optimiser steps, left the barely trained network's flow: 0.86, below the copy):
    // the warp must beat the copy, and 0.85 fails a broken warp or a wrong label mapping.
    expect(meanDice).toBeGreaterThan(0.85);
    expect(meanDice).toBeGreaterThan(await referenceCopyDice(data));
    // The printed mean is over the 3 test images only (the reference has no prediction and is not scored).
    expect(printedMeanDice(io.out())).toBeCloseTo(meanDice, 4);
    expect(io.out()).toContain(`segmented 3 images with the warp model alone (backend wasm): 3 masks written`);
    expect(io.out()).toContain(`  masks:    ${join(out, 'masks')}`);
    expect(io.out()).toMatch(/time: read \d+\.\d s, train \d+\.\d s \(8 epochs at 32 px, \d+ threads?\), warp \d+\.\d s, review \d+\.\d s, total \d+\.\d s/);
    expect(io.out()).toContain(`  model:    ${join(out, 'warp-model.mpwarp')} (segment new images with it: --warp-model ${join(out, 'warp-model.mpwarp')})`);
    expect(io.out()).not.toContain(data.items[0]!.id);
    // The review: report.html with Dice (ground truth given), quality.csv, the quality summary in run.json.
    expect(io.out()).toContain(`  report:   ${join(out, 'report.html')}`);
    // Below 8 images only the absolute checks score, so the scores tie and Spearman is undefined.
    expect(io.out()).toMatch(/quality: \d of 3 images flagged "check" \(review them first in the report\); against the ground truth: Spearman\(score, Dice\) n\/a, \d of the 1 worst by Dice flagged/);
    const report = await readFile(join(out, 'report.html'), 'utf8');
    expect(report.match(/<article class="card"/g)).toHaveLength(3);
    expect(report).toContain('<th>Dice</th>');
    const qualityCsv = await readFile(join(out, 'quality.csv'), 'utf8');
    expect(qualityCsv.trimEnd().split('\n').map((l) => l.split(',')[0]).slice(1).sort()).toEqual(testIds);
    expect(run.quality).toMatchObject({ method: 'medpersam-quality', images: 3 });
    expect(run.quality.validation.n).toBe(3);

    // Rerun with the same settings: nothing recomputed; --json gives the library result.
    const again = captureIo();
    expect(await runCli([...argv, '--json'], again)).toBe(0);
    const json = JSON.parse(again.out());
    expect(json).toMatchObject({ mode: 'warp-only', written: [], outDir: out });
    expect(json.skipped.sort()).toEqual(testIds);
    expect(json.evaluation.meanDice).toBeCloseTo(meanDice, 10);
    // The review of the rerun recomputes the finished images from the same model: the same scores.
    expect(await readFile(join(out, 'quality.csv'), 'utf8')).toBe(qualityCsv);

    // Other settings in the same folder: refused (exit 1) naming the folder.
    const other = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', out, '--sam', 'none', ...FAST_WARP, '--epochs', '3'], other)).toBe(1);
    expect(other.err()).toMatch(new RegExp(`^error: ${out}: output folder holds a run with different settings`));
  }, 120_000);

  it('--no-overlays, --no-affine and --preset pass through; without --gt it prints how to score', async () => {
    const out = join(tmp.dir, 'warp-noaffine');
    const io = captureIo({ tty: true });
    expect(await runCli(['segment', ...refArgs(), '--out', out, '--sam', 'none', '--no-overlays', '--no-affine', '--no-aug', '--preset', 'cpu', '--lr', '0.0005', '--lr-schedule', 'cosine', ...FAST_WARP], io)).toBe(0);
    expect(existsSync(join(out, 'overlays'))).toBe(false);
    expect((await readdir(join(out, 'masks'))).length).toBe(3);
    // Every run has its review; without ground truth the page has no Dice.
    const report = await readFile(join(out, 'report.html'), 'utf8');
    expect(report.match(/<article class="card"/g)).toHaveLength(3);
    expect(report).not.toContain('<th>Dice</th>');
    expect(existsSync(join(out, 'quality.csv'))).toBe(true);
    const run = JSON.parse(await readFile(join(out, 'run.json'), 'utf8'));
    expect(run.runKey.settings.network.affine).toBe(false);
    expect(run.runKey.settings.loss.augmentation).toBe(false);
    expect(run.runKey.settings.schedule).toMatchObject({ learningRate: 0.0005, lrSchedule: 'cosine' });
    // On a terminal: progress bars per stage on stderr, then the hint.
    expect(io.err()).toMatch(/read \[[^\]]*\] 3\/3 100%/);
    expect(io.err()).toMatch(/warp-train \[[^\]]*\] \d+\/\d+ 100%/);
    expect(io.err()).toMatch(/warp-apply \[[^\]]*\] 3\/3 100%/);
    expect(io.err().endsWith(`score it: medpersam eval --pred ${join(out, 'masks')} --gt <ground-truth folder>\n`)).toBe(true);
  }, 120_000);
});

describe('medpersam segment: the region-of-interest stage', () => {
  it('--roi force refines every object of the phantoms (none is small), --roi-cost is recorded; the summary gives its time', async () => {
    const out = join(tmp.dir, 'warp-roi-force');
    const io = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', out, '--sam', 'none', '--no-overlays', '--roi', 'force', '--roi-cost', '0.5', '--threads', '1', ...FAST_WARP], io)).toBe(0);
    const run = JSON.parse(await readFile(join(out, 'run.json'), 'utf8'));
    expect(run.runKey.roi).toMatchObject({ costRatio: 0.5, trigger: { mode: 'force' } });
    expect(run.roi.objects.map((o: { triggered: boolean }) => o.triggered)).toEqual([true, true, true]);
    expect(run.roi.crops.length).toBeGreaterThan(0);
    expect(run.roi.crops.every((c: { steps: number }) => c.steps > 0)).toBe(true);
    expect(existsSync(join(out, '.state', 'roi-0.ckpt'))).toBe(true);
    expect(run.timings.roiS).toBeGreaterThan(0);
    expect(io.out()).toMatch(/region-of-interest stage \S+/);
    // the default (auto) on the same phantoms: nothing is small or thin, so no stage and no time
    const auto = join(tmp.dir, 'warp-roi-auto');
    expect(await runCli(['segment', ...refArgs(), '--out', auto, '--sam', 'none', '--no-overlays', '--threads', '1', ...FAST_WARP, '-q'], captureIo())).toBe(0);
    const autoRun = JSON.parse(await readFile(join(auto, 'run.json'), 'utf8'));
    expect(autoRun.roi.crops).toEqual([]);
    expect(autoRun.runKey.roi.trigger.mode).toBe('auto');
  }, 180_000);
});

describe('medpersam segment: Ctrl-C', () => {
  it('the first SIGINT stops the run at a checkpoint, exit 1 says how to resume; the rerun finishes', async () => {
    const out = join(tmp.dir, 'interrupted');
    let sent = false;
    let err = '';
    // A terminal stderr that sends SIGINT (to this process's listeners) once the training bar appears.
    const io = {
      stdout: { write: () => true, isTTY: true },
      stderr: {
        isTTY: true,
        columns: 120,
        write: (chunk: string) => {
          err += chunk;
          if (!sent && chunk.includes('warp-train')) {
            sent = true;
            process.emit('SIGINT');
          }
          return true;
        },
      },
    };
    const argv = ['segment', ...refArgs(), '--out', out, '--sam', 'none', ...FAST_WARP, '--epochs', '6'];
    const listeners = process.listenerCount('SIGINT');
    expect(await runCli(argv, io)).toBe(1);
    expect(sent).toBe(true);
    expect(err).toContain(`error: ${out}: interrupted; run the same command again to resume (finished work is kept)`);
    expect(existsSync(join(out, 'masks'))).toBe(false);
    expect(process.listenerCount('SIGINT')).toBe(listeners);

    const rerun = captureIo();
    expect(await runCli([...argv, '--json'], rerun)).toBe(0);
    expect(JSON.parse(rerun.out()).written.sort()).toEqual(testIds);
    const run = JSON.parse(await readFile(join(out, 'run.json'), 'utf8'));
    // 3 images, batch 3, 6 epochs = 6 steps; the interrupted call saved its step, the rerun did the rest
    expect(run.training.phases[0].stepsRunThisCall).toBeLessThan(6);
  }, 120_000);
});

describe('medpersam segment --warp-model, --skip-unreadable, --threads', () => {
  it('applies a saved model without training (same masks), refuses training flags with it, skips unreadable images on request', async () => {
    const first = join(tmp.dir, 'wm-train');
    expect(await runCli(['segment', ...refArgs(), '--out', first, '--sam', 'none', '--no-overlays', '--threads', '1', ...FAST_WARP, '-q'], captureIo())).toBe(0);
    const model = join(first, 'warp-model.mpwarp');
    const reuse = join(tmp.dir, 'wm-reuse');
    const io = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', reuse, '--sam', 'none', '--no-overlays', '--warp-model', model, '--backend', 'wasm'], io)).toBe(0);
    expect(io.out()).toMatch(new RegExp(`warp model: ${model.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(trained 8 steps, .*\\), applied without training`));
    expect(io.out()).toMatch(/time: read \d+\.\d s, no training \(saved model\), warp/);
    for (const id of testIds) {
      expect(await readFile(join(reuse, 'masks', `${id}.png`))).toEqual(await readFile(join(first, 'masks', `${id}.png`)));
    }
    const run = JSON.parse(await readFile(join(first, 'run.json'), 'utf8'));
    expect(run.training.threads).toBe(1);

    const flags = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', join(tmp.dir, 'wm-bad'), '--sam', 'none', '--warp-model', model, '--steps', '5', '--res', '32'], flags)).toBe(1);
    expect(flags.err()).toBe('error: --steps, --res train or define the warp model; with --warp-model it is used as saved (leave them out)\n');
    const notModel = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', join(tmp.dir, 'wm-bad2'), '--sam', 'none', '--warp-model', data.items[0]!.imagePath], notModel)).toBe(1);
    expect(notModel.err()).toMatch(/^error: .*phantom_000\.png: not a medpersam warp model file/);

    // A folder with an unreadable file: stop listing it, or skip it with --skip-unreadable.
    const images = join(tmp.dir, 'with-bad');
    await mkdir(images);
    for (const it of data.items.slice(1)) await writeFile(join(images, `${it.id}.png`), await readFile(it.imagePath));
    await writeFile(join(images, 'notes.png'), 'these are notes, not an image');
    const base = ['segment', '--ref', data.items[0]!.imagePath, '--ref-mask', data.items[0]!.maskPath, '--images', images, '--sam', 'none', '--no-overlays', ...FAST_WARP];
    const stop = captureIo();
    expect(await runCli([...base, '--out', join(tmp.dir, 'bad-stop')], stop)).toBe(1);
    expect(stop.err()).toContain('1 of 4 images cannot be read (nothing was trained or written):');
    expect(stop.err()).toContain(`${join(images, 'notes.png')}:`);
    expect(stop.err()).toContain('--skip-unreadable to segment the other 3');
    const skip = captureIo();
    expect(await runCli([...base, '--out', join(tmp.dir, 'bad-skip'), '--skip-unreadable'], skip)).toBe(0);
    expect(skip.out()).toContain('skipped 1 unreadable image (--skip-unreadable; listed in the run record):');
    expect((await readdir(join(tmp.dir, 'bad-skip', 'masks'))).sort()).toEqual(testIds.map((id) => `${id}.png`));
  }, 120_000);

  it('--init-model starts the training from a saved model: with 0 more steps its masks are that model\'s; records and reports it', async () => {
    const first = join(tmp.dir, 'wm-train'); // trained by the test above (8 steps)
    const model = join(first, 'warp-model.mpwarp');
    const warm = join(tmp.dir, 'warm-0');
    const io = captureIo();
    const fast = FAST_WARP.filter((a, i) => a !== '--epochs' && FAST_WARP[i - 1] !== '--epochs');
    expect(await runCli(['segment', ...refArgs(), '--out', warm, '--sam', 'none', '--no-overlays', '--init-model', model, '--steps', '0', ...fast], io)).toBe(0);
    for (const id of testIds) {
      expect(await readFile(join(warm, 'masks', `${id}.png`))).toEqual(await readFile(join(first, 'masks', `${id}.png`)));
    }
    expect(io.out()).toContain(`warm start: training began from ${model} (8 steps already trained there)`);
    const run = JSON.parse(await readFile(join(warm, 'run.json'), 'utf8'));
    expect(run.training.initialisedFrom).toMatchObject({ name: model, trainedSteps: 8 });
    expect(run.training.initialisedFrom.id).toMatch(/^[0-9a-f]{64}$/);
    expect(run.runKey.initialWarpModel).toBe(run.training.initialisedFrom.id);
    expect(await readFile(join(warm, 'report.html'), 'utf8')).toContain(`started from ${model} (8 steps trained there)`);

    const both = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', join(tmp.dir, 'warm-both'), '--sam', 'none', '--warp-model', model, '--init-model', model], both)).toBe(1);
    expect(both.err()).toBe('error: --warp-model applies a model without training; --init-model starts a training from one: give one of the two\n');
    // Another network (a 64 px grid against the model's 32 px): refused by name before anything is written.
    const other = captureIo();
    const otherOut = join(tmp.dir, 'warm-other');
    expect(await runCli(['segment', ...refArgs(), '--out', otherOut, '--sam', 'none', '--init-model', model, ...fast, '--res', '64', '--steps', '1'], other)).toBe(1);
    expect(other.err()).toContain(`${model}: the initial warp model has another network: resolution 32 (this run: 64)`);
    expect(existsSync(join(otherOut, 'masks'))).toBe(false);
  }, 120_000);
});

describe('medpersam segment with SAM', () => {
  it('runs Med-PerSAM with a model folder and scores the result', async () => {
    const samDir = (await writeTestSamModel(join(tmp.dir, 'sam-echo'), { decoder: 'echo-mask' })).dir;
    const out = join(tmp.dir, 'sam');
    const io = captureIo();
    const argv = [
      'segment', ...refArgs(), '--out', out, '--sam', samDir, '--gt', data.masksDir, '--classes', data.classesPath,
      ...FAST_WARP, '--rounds', '1', '--retrain-epochs', '1', '--refinements', '0', '--threads', '1', '--prompts', 'P+B+M',
    ];
    expect(await runCli(argv, io)).toBe(0);
    expect((await readdir(join(out, 'masks'))).sort()).toEqual(testIds.map((id) => `${id}.png`));
    // The settings table gives both budgets in the unit each is counted in (it said "undefined epochs" for steps).
    expect(await readFile(join(out, 'report.html'), 'utf8')).toContain('8 epochs, then 1 epoch per retraining round');
    const record = JSON.parse(await readFile(join(out, 'run-record.json'), 'utf8'));
    expect(record.sam.encoderPath).toBe(join(samDir, 'encoder.onnx'));
    expect(record.counters.decoderCalls).toBeGreaterThan(0);
    const { meanDice, sizes } = await scoreFolder(join(out, 'masks'), data, testIds);
    expect(sizes).toEqual(testIds.map(() => [64, 64]));
    // The echo-mask decoder returns its mask prompt, so SAM's labels are the warped masks: same bound as warp-only.
    expect(meanDice).toBeGreaterThan(0.85);
    expect(printedMeanDice(io.out())).toBeCloseTo(meanDice, 4);
    expect(io.out()).toContain(`segmented 3 images with SAM (${join(samDir, 'encoder.onnx')} + ${join(samDir, 'decoder.onnx')})`);
    expect(io.out()).toContain(`  report:   ${join(out, 'report.html')}`);
    expect(io.out()).toMatch(/per round \(SAM \/ warped mask prompts, mean Dice\): 0: \d+\.\d% \/ \d+\.\d%, 1: /);
    expect(io.out()).toMatch(/time: total (\d+ min )?\d+(\.\d)? s = warp model/);
  }, 120_000);

  it('without --sam, a missing default model fails with how to get it and the --sam none hint', async () => {
    const io = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', join(tmp.dir, 'no-model')], io)).toBe(1);
    expect(io.err()).toMatch(/^error: SAM model "mobile-sam" is not installed \(looked in /);
    expect(io.err()).toContain('medpersam models pull mobile-sam');
    expect(io.err()).toContain('--sam none');
    expect(existsSync(join(tmp.dir, 'no-model'))).toBe(false);

    const unknown = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', join(tmp.dir, 'x'), '--sam', 'sam-vit-zz'], unknown)).toBe(1);
    expect(unknown.err()).toMatch(/^error: "sam-vit-zz" is neither a known SAM model id nor an existing folder/);

    // Once the default model's files are in $MEDPERSAM_HOME/models/mobile-sam, the same command runs with it.
    const installed = join(process.env.MEDPERSAM_HOME!, 'models', 'mobile-sam');
    await writeTestSamModel(installed, { decoder: 'echo-mask' });
    const out = join(tmp.dir, 'default-model');
    const io2 = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', out, ...FAST_WARP, '--rounds', '0', '--refinements', '0', '--threads', '1', '-q'], io2)).toBe(0);
    const record = JSON.parse(await readFile(join(out, 'run-record.json'), 'utf8'));
    expect(record.sam.encoderPath).toBe(join(installed, 'encoder.onnx'));
    expect((await readdir(join(out, 'masks'))).length).toBe(3);
  }, 120_000);
});

describe('medpersam segment: input errors exit 1 and name the file', () => {
  it('a missing reference mask, a bad option value, a foreign output folder', async () => {
    const missing = join(tmp.dir, 'nope_mask.png');
    const io = captureIo();
    expect(await runCli(['segment', '--ref', data.items[0]!.imagePath, '--ref-mask', missing, '--images', data.imagesDir, '--out', join(tmp.dir, 'o1'), '--sam', 'none'], io)).toBe(1);
    expect(io.err()).toMatch(/^error: /);
    expect(io.err()).toContain(missing);

    const res = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', join(tmp.dir, 'o2'), '--sam', 'none', '--res', '40'], res)).toBe(1);
    expect(res.err()).toBe('error: --res must be a multiple of 16, got "40"\n');

    const samOnly = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', join(tmp.dir, 'o4'), '--sam', 'none', '--rounds', '2', '--threads', '1'], samOnly)).toBe(1);
    expect(samOnly.err()).toBe('error: --rounds needs a SAM model (not used with --sam none)\n');

    const both = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', join(tmp.dir, 'o6'), '--sam', 'none', '--steps', '10', '--epochs', '2'], both)).toBe(1);
    expect(both.err()).toBe('error: give --steps or --epochs, not both\n');
    const encThreads = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', join(tmp.dir, 'o8'), '--sam', 'none', '--encoder-threads', '1'], encThreads)).toBe(1);
    expect(encThreads.err()).toBe('error: --encoder-threads needs a SAM model (not used with --sam none)\n');
    const encZero = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', join(tmp.dir, 'o7'), '--encoder-threads', '0'], encZero)).toBe(1);
    expect(encZero.err()).toBe('error: --encoder-threads must be an integer from 1 to 1024, got "0"\n');
    const decWorkers = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', join(tmp.dir, 'o12'), '--sam', 'none', '--decoder-workers', '2'], decWorkers)).toBe(1);
    expect(decWorkers.err()).toBe('error: --decoder-workers needs a SAM model (not used with --sam none)\n');
    const decNegative = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', join(tmp.dir, 'o11'), '--decoder-workers', '-1'], decNegative)).toBe(1);
    expect(decNegative.err()).toBe('error: --decoder-workers must be an integer from 0 to 64, got "-1"\n');

    const roiCost = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', join(tmp.dir, 'o9'), '--sam', 'none', '--roi-cost', '0'], roiCost)).toBe(1);
    expect(roiCost.err()).toBe('error: --roi-cost must be a number in (0, 100], got "0"\n');
    const roiMode = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', join(tmp.dir, 'o10'), '--sam', 'none', '--roi', 'sometimes'], roiMode)).toBe(1);
    expect(roiMode.err()).toMatch(/--roi.*sometimes.*(auto, force, off|auto, force|choices)/s);

    const lr = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', join(tmp.dir, 'o5'), '--sam', 'none', '--lr', 'fast'], lr)).toBe(1);
    expect(lr.err()).toBe('error: --lr must be a number in (0, 1], got "fast"\n');

    const choice = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', join(tmp.dir, 'o3'), '--prompts', 'P+M'], choice)).toBe(1);
    expect(choice.err()).toContain("argument 'P+M' is invalid. Allowed choices are P, B, P+B, P+B+M");

    const foreign = join(tmp.dir, 'foreign');
    await mkdir(foreign);
    await writeFile(join(foreign, 'notes.txt'), 'mine');
    const f = captureIo();
    expect(await runCli(['segment', ...refArgs(), '--out', foreign, '--sam', 'none', ...FAST_WARP], f)).toBe(1);
    expect(f.err()).toMatch(new RegExp(`^error: ${foreign}: output folder exists, is not empty and is not a medpersam`));
    expect(await readFile(join(foreign, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('bin/medpersam.js with MEDPERSAM_MALLOC_TUNING=1 runs a long command in a child with glibc’s mmap threshold fixed (Linux); a Ctrl-C is passed on once', async () => {
    const { spawn, spawnSync } = await import('node:child_process');
    const bin = new URL('../../bin/medpersam.js', import.meta.url).pathname;
    const envWithout = (extra: Record<string, string> = {}) => {
      const env: Record<string, string | undefined> = { ...process.env, ...extra };
      if (!('MALLOC_MMAP_THRESHOLD_' in extra)) delete env.MALLOC_MMAP_THRESHOLD_;
      if (!('MEDPERSAM_MALLOC_TUNING' in extra)) delete env.MEDPERSAM_MALLOC_TUNING;
      return env;
    };
    const glibc = process.platform === 'linux' && Boolean((process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header.glibcVersionRuntime);
    // A SAM run writes the run record (with the runtime facts); the generated echo model keeps it fast.
    const samDir = (await writeTestSamModel(join(tmp.dir, 'bin-sam'), { decoder: 'echo-mask' })).dir;
    const samArgs = ['--sam', samDir, '--rounds', '0', '--refinements', '0'];
    const out = join(tmp.dir, 'bin-run');
    const run = spawnSync(process.execPath, [bin, 'segment', ...refArgs(), '--out', out, ...samArgs, ...FAST_WARP], { encoding: 'utf8', env: envWithout({ MEDPERSAM_MALLOC_TUNING: '1' }) });
    expect(run.status, run.stderr).toBe(0);
    const record = JSON.parse(await readFile(join(out, 'run-record.json'), 'utf8'));
    expect(record.runtime.mallocMmapThreshold).toBe(glibc ? '1048576' : undefined);
    // The user's own setting wins; by default (auto) a small encoder such as this generated one is left alone
    // (test/cli/malloc-tuning.test.ts covers the decision for large ones).
    const own = join(tmp.dir, 'bin-run-own');
    const mine = spawnSync(process.execPath, [bin, 'segment', ...refArgs(), '--out', own, ...samArgs, ...FAST_WARP], { encoding: 'utf8', env: envWithout({ MALLOC_MMAP_THRESHOLD_: '65536', MEDPERSAM_MALLOC_TUNING: '1' }) });
    expect(mine.status, mine.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(own, 'run-record.json'), 'utf8')).runtime.mallocMmapThreshold).toBe('65536');
    const off = join(tmp.dir, 'bin-run-off');
    const untuned = spawnSync(process.execPath, [bin, 'segment', ...refArgs(), '--out', off, ...samArgs, ...FAST_WARP], { encoding: 'utf8', env: envWithout() });
    expect(untuned.status, untuned.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(off, 'run-record.json'), 'utf8')).runtime.mallocMmapThreshold).toBeUndefined();
    if (!glibc) return;
    // SIGINT to the launcher (as a terminal's Ctrl-C reaches it) stops the child's run at a checkpoint, once.
    const stopped = join(tmp.dir, 'bin-run-stopped');
    const child = spawn(process.execPath, [bin, 'segment', ...refArgs(), '--out', stopped, '--sam', 'none', '--res', '32', '--steps', '100000', '--backend', 'wasm', '--threads', '1'], {
      env: envWithout({ MEDPERSAM_MALLOC_TUNING: '1' }),
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // Wait for the training's first checkpoint (the run state is written then), then interrupt.
    const ckpt = join(stopped, '.state', 'warp.ckpt'); // a warp-only run's state
    for (let i = 0; i < 600 && !existsSync(ckpt); i++) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(ckpt)).toBe(true);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code, stderr).toBe(1);
    expect(stderr).toContain('interrupted; run the same command again to resume');
  }, 300_000);
});
