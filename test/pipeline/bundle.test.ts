/**
 * Fit / apply (issue 22): a run bundle fitted on a folder no larger than the sample gives the masks `segment` gives
 * on that folder (same seed, same threads); the sample draw; bundles checked on read and never overwritten.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runWarpOnlySegmentation } from '../../src/pipeline/warp-segment.js';
import { drawSample, fitBundle, type FitOptions } from '../../src/pipeline/fit.js';
import { applyBundleToFolder, readRecords } from '../../src/pipeline/apply-run.js';
import { readBundle, BUNDLE_FILE } from '../../src/pipeline/bundle.js';
import { readLabelMap } from '../../src/io/mask.js';
import { expectUserError } from '../fixtures/user-error.js';
import { makeFixture, TINY_WARP, type Fixture } from './helpers.js';

let f: Fixture;
let images: string;
let ids: string[];
const overrides = { ...TINY_WARP, schedule: { ...TINY_WARP.schedule, initialEpochs: undefined, initialSteps: 4 } };

beforeAll(async () => {
  f = await makeFixture({ count: 5, size: 64 });
  images = join(f.root, 'images');
  await mkdir(images, { recursive: true });
  for (const t of f.data.items.slice(1)) await copyFile(t.imagePath, join(images, `${t.id}.png`));
  ids = f.data.items.slice(1).map((t) => t.id);
});
afterAll(async () => {
  await f?.cleanup();
});

const fitOptions = (out: string, over: Partial<FitOptions> = {}): FitOptions => ({
  refImagePath: f.data.items[0]!.imagePath,
  refMaskPath: f.data.items[0]!.maskPath,
  imagesDir: images,
  outDir: f.out(out),
  overrides,
  backend: 'wasm',
  threads: 1,
  ...over,
});

async function masksOf(out: string): Promise<number[][]> {
  return Promise.all(ids.map(async (id) => Array.from((await readLabelMap(join(f.out(out), 'masks', `${id}.png`))).data)));
}

describe('fit → bundle → apply', () => {
  it('on a folder no larger than the sample, segment --bundle writes the masks segment writes', async () => {
    await runWarpOnlySegmentation({
      refImagePath: f.data.items[0]!.imagePath,
      refMaskPath: f.data.items[0]!.maskPath,
      imagesDir: images,
      outDir: f.out('segment'),
      overrides,
      backend: 'wasm',
      threads: 1,
      overlays: false,
    });
    const fitted = await fitBundle(fitOptions('bundle'));
    expect(fitted.manifest.sample).toMatchObject({ folderImages: ids.length, size: ids.length });
    expect(fitted.manifest.sam).toBeNull();
    const applied = await applyBundleToFolder(f.out('bundle'), images, f.out('applied'), { backend: 'wasm' });
    expect(applied.written).toEqual(ids);
    expect(applied.failed).toEqual([]);
    const want = await masksOf('segment');
    expect(want.every((m) => m.some((v) => v > 0))).toBe(true);
    expect(await masksOf('applied')).toEqual(want);
    // The quality review over the records: one quality.csv row per image and class, as segment's.
    const csv = await readFile(join(f.out('applied'), 'quality.csv'), 'utf8');
    const segmentCsv = await readFile(join(f.out('segment'), 'quality.csv'), 'utf8');
    expect(csv.trim().split('\n').length).toBe(segmentCsv.trim().split('\n').length);
    const records = await readRecords(f.out('applied'));
    expect(records.map((r) => [r.id, r.status, r.bundleFingerprint])).toEqual(ids.map((id) => [id, 'done', fitted.manifest.fingerprint]));
  }, 120_000);

  it('refuses to write over an existing folder, and a bundle whose files were changed', async () => {
    await expectUserError(fitBundle(fitOptions('bundle')), 'OUTPUT_EXISTS');
    const manifestPath = join(f.out('bundle'), BUNDLE_FILE);
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    await writeFile(manifestPath, JSON.stringify({ ...manifest, labelWarp: 'argmax' }));
    await expectUserError(readBundle(f.out('bundle')), 'BUNDLE_INVALID');
    await writeFile(manifestPath, JSON.stringify(manifest));
    await writeFile(join(f.out('bundle'), manifest.reference.maskFile), 'not a mask');
    await expectUserError(readBundle(f.out('bundle')), 'BUNDLE_INVALID');
  });
});

describe('drawSample', () => {
  const folder = Array.from({ length: 10 }, (_, i) => ({ path: `/d/${i}.png`, contentId: `c${i}` }));
  it('keeps every image, in order, when the folder is no larger than the sample', () => {
    expect(drawSample(folder, 10, 1)).toEqual(folder);
  });
  it('draws by content: the same images whatever the listing order, kept in listing order', () => {
    const a = drawSample(folder, 4, 22);
    expect(a).toHaveLength(4);
    const b = drawSample([...folder].reverse(), 4, 22);
    expect(new Set(b.map((x) => x.contentId))).toEqual(new Set(a.map((x) => x.contentId)));
    expect(a.map((x) => x.path)).toEqual([...a.map((x) => x.path)].sort());
    expect(drawSample(folder, 4, 23).map((x) => x.contentId)).not.toEqual(a.map((x) => x.contentId));
  });
});
