import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { runWarpOnlySegmentation, type WarpSegmentOptions } from '../../src/pipeline/warp-segment.js';
import { describeSafetyNet } from '../../src/pipeline/warp-stage.js';
import { writeLabelPng } from '../../src/io/mask.js';
import { discPair } from './helpers.js';

// `segment --safety-net` (issue 20): the option reaches the warp stage, the run record lists what it did, the
// report's settings table counts the images that fell back, and a run with it is another run (fingerprint).

let root: string;

async function writeGreyPng(path: string, img: { width: number; height: number; data: Float32Array }): Promise<void> {
  const bytes = Uint8Array.from(img.data, (v) => Math.max(0, Math.min(255, Math.round(v))));
  await sharp(bytes, { raw: { width: img.width, height: img.height, channels: 1 } }).png().toFile(path);
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mps-safetynet-'));
  await mkdir(join(root, 'images'));
  const ref = discPair(64, 64, 32, 32, 12);
  await writeGreyPng(join(root, 'ref.png'), ref.image);
  await writeLabelPng(join(root, 'ref_mask.png'), ref.label);
  await writeGreyPng(join(root, 'images', 'a.png'), discPair(64, 64, 35, 31, 12).image);
  await writeGreyPng(join(root, 'images', 'b.png'), discPair(64, 64, 30, 34, 13).image);
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
  it('records and reports what the net did; off and on are different runs', async () => {
    const out = join(root, 'on');
    const r = await runWarpOnlySegmentation(opts(out, { safetyNet: true }));
    expect(r.warp.safetyNet.enabled).toBe(true);
    expect(r.warp.safetyNet.checked).toBe(2);
    const run = JSON.parse(await readFile(join(out, 'run.json'), 'utf8'));
    expect(run.training.safetyNet).toEqual(r.warp.safetyNet);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('safety net');
    expect(html).toContain(describeSafetyNet(r.warp.safetyNet));

    const off = await runWarpOnlySegmentation(opts(join(root, 'off')));
    expect(off.warp.safetyNet).toEqual({ enabled: false, checked: 0, fellBack: [] });
    expect(await readFile(join(root, 'off', 'report.html'), 'utf8')).toMatch(/safety net<\/t[dh]>\s*<td>off</);
    // The same folder without the net is not the same run: its state is not reused as if it were.
    await expect(runWarpOnlySegmentation(opts(out))).rejects.toMatchObject({ code: 'SETTINGS_MISMATCH' });
  }, 120_000);
});
