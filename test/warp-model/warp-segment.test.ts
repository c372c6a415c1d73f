import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { runWarpOnlySegmentation, type WarpSegmentOptions } from '../../src/pipeline/warp-segment.js';
import { readLabelMap, writeLabelPng } from '../../src/io/mask.js';
import { saveCheckpointFile, loadCheckpointFile } from '../../src/io/checkpoint-store.js';
import { discPair } from './helpers.js';
import type { MedpersamUserError } from '../../src/errors.js';
import { describeSafetyNet } from '../../src/pipeline/warp-stage.js';

let root: string;

async function writeGreyPng(path: string, img: { width: number; height: number; data: Float32Array }): Promise<void> {
  const bytes = Uint8Array.from(img.data, (v) => Math.max(0, Math.min(255, Math.round(v))));
  await sharp(bytes, { raw: { width: img.width, height: img.height, channels: 1 } }).png().toFile(path);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mps-warpseg-'));
  await mkdir(join(root, 'images'));
  const ref = discPair(64, 64, 32, 32, 12);
  await writeGreyPng(join(root, 'ref.png'), ref.image);
  await writeLabelPng(join(root, 'ref_mask.png'), ref.label);
  await writeGreyPng(join(root, 'images', 'a.png'), discPair(64, 64, 35, 31, 12).image);
  await writeGreyPng(join(root, 'images', 'b.png'), discPair(80, 48, 40, 24, 10).image); // other size and aspect
  await writeGreyPng(join(root, 'images', 'c.png'), discPair(64, 64, 30, 34, 13).image);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const opts = (outDir: string, over: Partial<WarpSegmentOptions> = {}): WarpSegmentOptions => ({
  refImagePath: join(root, 'ref.png'),
  refMaskPath: join(root, 'ref_mask.png'),
  imagesDir: join(root, 'images'),
  outDir,
  backend: 'wasm',
  overrides: {
    network: { resolution: 32, encoderWidths: [8, 8, 8, 16, 16], decoderWidth: 16 },
    schedule: { initialEpochs: 2, batchSize: 2, augPerBatch: 1 },
  },
  ...over,
});

describe('runWarpOnlySegmentation', () => {
  it('writes masks at original size, overlays and run.json; a rerun skips finished work', async () => {
    const out = join(root, 'out1');
    const events: string[] = [];
    const r = await runWarpOnlySegmentation(opts(out), (e) => events.push(e.stage));
    expect(r.written.sort()).toEqual(['a', 'b', 'c']);
    expect(events).toContain('warp-train');
    const b = await readLabelMap(join(out, 'masks', 'b.png'));
    expect([b.width, b.height]).toEqual([80, 48]);
    expect(b.data[24 * 80 + 40]).toBe(1);
    expect((await readdir(join(out, 'overlays'))).sort()).toEqual(['a.png', 'b.png', 'c.png']);
    const run = JSON.parse(await readFile(join(out, 'run.json'), 'utf8'));
    expect(run.status).toBe('complete');
    expect(run.backend).toBe('wasm');
    expect(run.timings.trainS).toBeGreaterThan(0);
    const ckpt = await loadCheckpointFile(join(out, '.state', 'warp.ckpt'));
    // 3 images, batch 2, 2 epochs → 2 steps per epoch.
    expect(ckpt!.progress.stepInPhase).toBe(4);

    // rerun with the same settings: no training, nothing rewritten
    await rm(join(out, 'masks', 'c.png'));
    const r2 = await runWarpOnlySegmentation(opts(out));
    expect(r2.skipped.sort()).toEqual(['a', 'b']);
    expect(r2.written).toEqual(['c']);
    const run2 = JSON.parse(await readFile(join(out, 'run.json'), 'utf8'));
    expect(run2.training.phases).toMatchObject([{ phase: 'initial', budget: '2 epochs', phaseSteps: 4, stepsRunThisCall: 0 }]);
  }, 120_000);

  it('resumes an interrupted training from the checkpoint and ends where an uninterrupted run ends', async () => {
    const interrupted = join(root, 'out-int');
    const ac = new AbortController();
    // 3 images, batch 2 → 2 steps per epoch, 4 steps: abort after step 1, in the middle of epoch 1 (the stop
    // hands over the checkpoint of that step boundary).
    await expect(
      runWarpOnlySegmentation(opts(interrupted, { signal: ac.signal }), (e) => {
        if (e.stage === 'warp-train' && e.done === 1) ac.abort();
      }),
    ).rejects.toMatchObject({ code: 'ABORTED' });
    expect((await loadCheckpointFile(join(interrupted, '.state', 'warp.ckpt')))!.progress.stepInPhase).toBe(1);
    await runWarpOnlySegmentation(opts(interrupted));
    const run = JSON.parse(await readFile(join(interrupted, 'run.json'), 'utf8'));
    expect(run.training.phases[0].stepsRunThisCall).toBe(3);

    const straight = join(root, 'out-straight');
    await runWarpOnlySegmentation(opts(straight, { overlays: false }));
    const a = await loadCheckpointFile(join(interrupted, '.state', 'warp.ckpt'));
    const b = await loadCheckpointFile(join(straight, '.state', 'warp.ckpt'));
    expect(a!.progress).toEqual(b!.progress);
    b!.weights.forEach((w, i) => expect(Array.from(a!.weights[i]!.data)).toEqual(Array.from(w.data)));
    const ma = await readLabelMap(join(interrupted, 'masks', 'a.png'));
    const mb = await readLabelMap(join(straight, 'masks', 'a.png'));
    expect(Array.from(ma.data)).toEqual(Array.from(mb.data));
  }, 120_000);

  it('refuses a settings mismatch and a non-medpersam folder', async () => {
    const out = join(root, 'out1');
    await expect(
      runWarpOnlySegmentation(opts(out, { overrides: { network: { resolution: 48 }, schedule: { initialEpochs: 1 } } })),
    ).rejects.toMatchObject({ code: 'SETTINGS_MISMATCH' } satisfies Partial<MedpersamUserError>);
    const foreign = join(root, 'foreign');
    await mkdir(foreign);
    await writeFile(join(foreign, 'notes.txt'), 'mine');
    await expect(runWarpOnlySegmentation(opts(foreign))).rejects.toMatchObject({ code: 'OUTPUT_NOT_MEDPERSAM' });
    expect(await readdir(foreign)).toEqual(['notes.txt']);
  }, 60_000);

  it('checkpoint files: atomic save/load round trip; a corrupt file is a clear error', async () => {
    const p = join(root, 'x.ckpt');
    const data = {
      settings: { a: 1 },
      progress: { phase: 'initial', stepInPhase: 3, totalSteps: 3, rngState: 42, optimizerStep: 7, sampler: { pass: [2, 0, 1], position: 1 } },
      weights: [{ name: 'w', shape: [2, 2], data: Float32Array.from([1, 2, 3, 4]) }],
      adamM: [{ name: 'w', shape: [2, 2], data: Float32Array.from([0.1, 0.2, 0.3, 0.4]) }],
      adamV: [{ name: 'w', shape: [2, 2], data: Float32Array.from([5, 6, 7, 8]) }],
    };
    await saveCheckpointFile(p, data);
    const back = await loadCheckpointFile(p);
    expect(back!.progress).toEqual(data.progress);
    expect(Array.from(back!.adamV[0]!.data)).toEqual([5, 6, 7, 8]);
    expect(await loadCheckpointFile(join(root, 'missing.ckpt'))).toBeNull();
    const bytes = await readFile(p);
    await writeFile(p, bytes.subarray(0, bytes.length - 3));
    await expect(loadCheckpointFile(p)).rejects.toMatchObject({ code: 'BAD_CHECKPOINT' });
  });
});

// The safety net (issue 20; on by default, `segment --no-safety-net` turns it off): the run record lists what it did
// with each image's evidence, the report's settings table counts the images that fell back, and a run without it is
// another run (fingerprint).
describe('describeSafetyNet', () => {
  it('says off, or the count and the first five ids', () => {
    expect(describeSafetyNet({ enabled: false, checked: 0, fellBack: [] })).toBe('off');
    expect(describeSafetyNet({ enabled: true, checked: 40, fellBack: [] })).toBe('on: 0 of 40 images fell back to the aligned copy of the reference');
    expect(describeSafetyNet({ enabled: true, checked: 9, fellBack: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] })).toBe(
      'on: 7 of 9 images fell back to the aligned copy of the reference (a, b, c, d, e and 2 more)',
    );
  });
});

describe('segment with the safety net', () => {
  it('on by default: records and reports what the net did; off and on are different runs', async () => {
    const out = join(root, 'net-on');
    const r = await runWarpOnlySegmentation(opts(out));
    expect(r.warp.safetyNet.enabled).toBe(true);
    expect(r.warp.safetyNet.checked).toBe(3);
    const evidence = Object.values(r.warp.safetyNet.evidence ?? {});
    expect(evidence).toHaveLength(3);
    for (const e of evidence) expect(e.margin).toBeGreaterThanOrEqual(0);
    const run = JSON.parse(await readFile(join(out, 'run.json'), 'utf8'));
    expect(run.training.safetyNet).toEqual(r.warp.safetyNet);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('safety net');
    expect(html).toContain(describeSafetyNet(r.warp.safetyNet));

    const off = await runWarpOnlySegmentation(opts(join(root, 'net-off'), { safetyNet: false }));
    expect(off.warp.safetyNet).toEqual({ enabled: false, checked: 0, fellBack: [], evidence: {} });
    expect(await readFile(join(root, 'net-off', 'report.html'), 'utf8')).toMatch(/safety net<\/t[dh]>\s*<td>off</);
    // The same folder without the net is not the same run: its state is not reused as if it were.
    await expect(runWarpOnlySegmentation(opts(out, { safetyNet: false }))).rejects.toMatchObject({ code: 'SETTINGS_MISMATCH' });
  }, 120_000);
});
