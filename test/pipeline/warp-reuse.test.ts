/**
 * The warp stage of both modes: the trained model kept in the output folder and applied to images without
 * training (warp-only and with SAM), and folders with unreadable images (all listed, or skipped and recorded).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runWarpOnlySegmentation, type WarpSegmentOptions } from '../../src/pipeline/warp-segment.js';
import { runMedPerSam } from '../../src/pipeline/medpersam.js';
import { readLabelMap } from '../../src/io/mask.js';
import { readWarpModelFile, WARP_MODEL_FILE } from '../../src/io/warp-model-file.js';
import { UnreadableInputsError } from '../../src/pipeline/input-check.js';
import { userError } from '../fixtures/user-error.js';
import { baseOptions, makeFixture, TINY_WARP, type Fixture } from './helpers.js';

let f: Fixture;
beforeAll(async () => {
  f = await makeFixture({ count: 5, size: 64 });
});
afterAll(async () => {
  await f?.cleanup();
});

/** The fixture's test images copied into a folder (plus extra files). */
async function folderOf(name: string, extra: Record<string, Uint8Array | string> = {}): Promise<string> {
  const dir = join(f.root, name);
  await mkdir(dir, { recursive: true });
  for (const t of f.data.items.slice(1)) await copyFile(t.imagePath, join(dir, `${t.id}.png`));
  for (const [file, bytes] of Object.entries(extra)) await writeFile(join(dir, file), bytes);
  return dir;
}

const warpOnly = (imagesDir: string, out: string, over: Partial<WarpSegmentOptions> = {}): WarpSegmentOptions => ({
  refImagePath: f.data.items[0]!.imagePath,
  refMaskPath: f.data.items[0]!.maskPath,
  imagesDir,
  outDir: f.out(out),
  backend: 'wasm',
  overrides: { ...TINY_WARP, schedule: { ...TINY_WARP.schedule, initialEpochs: undefined, initialSteps: 4 } },
  overlays: false,
  ...over,
});

async function masksOf(out: string, ids: string[]): Promise<Uint8Array[]> {
  return Promise.all(ids.map(async (id) => (await readLabelMap(join(f.out(out), 'masks', `${id}.png`))).data));
}

describe('saved warp model (warp-only)', () => {
  it('the run keeps its trained model; applying it to the same images trains nothing and gives identical masks', async () => {
    const images = await folderOf('images-a');
    const ids = f.data.items.slice(1).map((t) => t.id);
    const trained = await runWarpOnlySegmentation(warpOnly(images, 'train'));
    expect(trained.warpModelPath).toBe(join(f.out('train'), WARP_MODEL_FILE));
    expect(trained.warp.phases).toMatchObject([{ phase: 'initial', budget: '4 steps', phaseSteps: 4, stepsRunThisCall: 4 }]);
    const saved = await readWarpModelFile(trained.warpModelPath!);
    expect(saved.training).toMatchObject({ phase: 'initial', totalSteps: 4, testImages: ids.length });
    // The file records the settings the model was trained with: the run's, with loss 'auto' resolved on the reference.
    expect(trained.settings.loss.imageLoss).toBe('auto');
    expect(['ssim', 'ncc']).toContain(saved.settings.loss.imageLoss);
    expect(saved.settings).toEqual({ ...trained.settings, loss: { ...trained.settings.loss, imageLoss: saved.settings.loss.imageLoss } });

    const stages: string[] = [];
    const reused = await runWarpOnlySegmentation(
      warpOnly(images, 'reuse', { overrides: undefined, warpModelPath: trained.warpModelPath }),
      (e) => stages.push(e.stage),
    );
    expect(stages).not.toContain('warp-train');
    expect(reused.warp.phases).toEqual([]);
    expect(reused.warp.usedModel).toMatchObject({ name: trained.warpModelPath, trainedSteps: 4 });
    expect(reused.warpModelPath).toBeUndefined();
    expect(existsSync(join(f.out('reuse'), WARP_MODEL_FILE))).toBe(false);
    expect(reused.settings).toEqual(saved.settings);
    const a = await masksOf('train', ids);
    const b = await masksOf('reuse', ids);
    b.forEach((m, i) => expect(Array.from(m)).toEqual(Array.from(a[i]!)));
    const run = JSON.parse(await readFile(join(f.out('reuse'), 'run.json'), 'utf8'));
    expect(run.runKey.warpModel).toMatch(/^[0-9a-f]{64}$/);
    expect(run.training.usedModel.trainedSteps).toBe(4);
  }, 120_000);

  it('refuses another reference, training settings next to the model, and a damaged file — naming the file', async () => {
    const images = await folderOf('images-b');
    const trained = await runWarpOnlySegmentation(warpOnly(images, 'train-b'));
    const otherRef = f.data.items[1]!;
    let err = await userError(
      runWarpOnlySegmentation(warpOnly(images, 'reuse-b1', { overrides: undefined, warpModelPath: trained.warpModelPath, refImagePath: otherRef.imagePath, refMaskPath: otherRef.maskPath })),
    );
    expect(err.code).toBe('WARP_MODEL_REFERENCE_MISMATCH');
    expect(err.file).toBe(trained.warpModelPath);
    expect(err.message).toMatch(/trained with another reference image/);
    err = await userError(runWarpOnlySegmentation(warpOnly(images, 'reuse-b2', { warpModelPath: trained.warpModelPath })));
    expect(err.code).toBe('INVALID_OPTION');
    expect(err.message).toMatch(/settings come from the saved model/);
    const damaged = join(f.root, 'damaged.mpwarp');
    const bytes = new Uint8Array(await readFile(trained.warpModelPath!));
    bytes[bytes.length - 40]! ^= 1;
    await writeFile(damaged, bytes);
    err = await userError(runWarpOnlySegmentation(warpOnly(images, 'reuse-b3', { overrides: undefined, warpModelPath: damaged })));
    expect(err.code).toBe('WARP_MODEL_CORRUPT');
    expect(err.file).toBe(damaged);
    for (const out of ['reuse-b1', 'reuse-b2', 'reuse-b3']) expect(existsSync(f.out(out))).toBe(false);
  }, 120_000);
});

describe('saved warp model with SAM', () => {
  it('the final model after the retraining rounds is kept; reusing it (no rounds) reproduces the final masks', async () => {
    const sam = await f.sam({ decoder: 'echo-mask' });
    const trained = await runMedPerSam(baseOptions(f, sam, 'sam-train', { retrainRounds: 1 }));
    expect(trained.warpModelPath).toBe(join(f.out('sam-train'), WARP_MODEL_FILE));
    expect(trained.warp.phases.map((p) => p.phase)).toEqual(['initial', 'retrain-1']);
    expect((await readWarpModelFile(trained.warpModelPath!)).training.phase).toBe('retrain-1');
    const base = baseOptions(f, sam, 'sam-reuse');
    const reused = await runMedPerSam({ ...base, warp: { backend: 'wasm' }, retrainRounds: undefined, warpModelPath: trained.warpModelPath });
    expect(reused.warp.phases).toEqual([]);
    expect(reused.record.counters.decoderCalls).toBe(trained.images.length * 3);
    for (const img of trained.images) {
      const a = await readLabelMap(img.maskPath);
      const b = await readLabelMap(join(f.out('sam-reuse'), 'masks', `${img.id}.png`));
      expect(Array.from(b.data)).toEqual(Array.from(a.data));
    }
    const err = await userError(runMedPerSam({ ...base, outDir: f.out('sam-reuse2'), warp: { backend: 'wasm' }, retrainRounds: 2, warpModelPath: trained.warpModelPath }));
    expect(err.message).toMatch(/retraining rounds would train the saved warp model/);
  }, 120_000);
});

describe('folders with unreadable images', () => {
  it('lists every unreadable image in one error before training, or skips them and records them', async () => {
    const images = await folderOf('images-bad', { 'broken.png': 'not a png at all', 'empty.jpg': new Uint8Array(0) });
    const err = await userError(runWarpOnlySegmentation(warpOnly(images, 'bad-stop')));
    expect(err).toBeInstanceOf(UnreadableInputsError);
    expect((err as UnreadableInputsError).unreadable.map((u) => u.id)).toEqual(['broken', 'empty']);
    expect(err.message).toMatch(/2 of 6 images cannot be read/);
    expect(existsSync(f.out('bad-stop'))).toBe(false);

    const stages: string[] = [];
    const r = await runWarpOnlySegmentation(warpOnly(images, 'bad-skip', { skipUnreadable: true }), (e) => stages.push(e.stage));
    expect(r.written.sort()).toEqual(f.data.items.slice(1).map((t) => t.id).sort());
    expect(r.warp.unreadable.map((u) => [u.id, u.code])).toEqual([['broken', 'UNSUPPORTED_FORMAT'], ['empty', 'UNREADABLE_IMAGE']]);
    const run = JSON.parse(await readFile(join(f.out('bad-skip'), 'run.json'), 'utf8'));
    expect(run.runKey.unreadable).toEqual(['broken', 'empty']);
    expect(run.training.unreadable.map((u: { file: string }) => u.file)).toEqual([join(images, 'broken.png'), join(images, 'empty.jpg')]);
    expect(stages).toContain('warp-train');

    // with SAM too (the run record lists them)
    const sam = await f.sam({ decoder: 'echo-mask' });
    const tests = [...baseOptions(f, sam, 'x').images as { id: string; imagePath: string }[], { id: 'broken', imagePath: join(images, 'broken.png') }];
    const samErr = await userError(runMedPerSam(baseOptions(f, sam, 'sam-bad', { images: tests })));
    expect(samErr.code).toBe('UNREADABLE_IMAGES');
    const samRun = await runMedPerSam(baseOptions(f, sam, 'sam-bad-skip', { images: tests, skipUnreadable: true }));
    expect(samRun.images.map((i) => i.id)).not.toContain('broken');
    expect((samRun.record.warp as { unreadable: { id: string }[] }).unreadable.map((u) => u.id)).toEqual(['broken']);
  }, 120_000);
});
