/**
 * Fit / apply (issue 22): a run bundle fitted on a folder no larger than the sample gives the masks `segment` gives
 * on that folder (same seed, same threads), warp-only and with a generated SAM model (the Med-PerSAM rounds in fit,
 * the final round in apply); the sample draw; bundles checked on read and never overwritten; a SAM model whose files
 * differ from the bundle's is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFile, copyFile, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runWarpOnlySegmentation } from '../../src/pipeline/warp-segment.js';
import { runMedPerSam } from '../../src/pipeline/medpersam.js';
import { describeBundleSam, findBundleSamModel } from '../../src/pipeline/bundle-sam.js';
import { sha256File } from '../../src/sam/download.js';
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

describe('fit → bundle → apply with SAM (generated official-interface model)', () => {
  // One retraining round and one refinement: fit runs both rounds, apply the final one. The 'discs' decoder answers
  // the point prompts, so the masks depend on the points (prototypes, similarity, warped mask), not on the mask prompt.
  const loop = { retrainRounds: 1, refinements: 1 };
  let samDir: string;
  beforeAll(async () => {
    samDir = await f.sam({ decoder: 'discs', k: 4 });
  });

  it('on a folder no larger than the sample, segment --bundle writes the masks segment --sam writes', async () => {
    await runMedPerSam({
      referenceImage: f.data.items[0]!.imagePath,
      referenceMask: f.data.items[0]!.maskPath,
      images,
      outDir: f.out('sam-segment'),
      sam: samDir,
      samLoad: { cacheDir: f.cacheDir, threads: 1 },
      warp: { overrides, backend: 'wasm', threads: 1 },
      ...loop,
      overlays: false,
    });
    const fitted = await fitBundle(fitOptions('sam-bundle', { sam: { model: samDir, loop, load: { cacheDir: f.cacheDir, threads: 1 } } }));
    const m = fitted.manifest;
    expect(m.sam).toMatchObject({ model: { kind: 'folder', ref: samDir }, retrainRounds: 1, loop: { refinements: 1, promptSet: 'P+B+M', method: 'med-persam' } });
    expect(m.sam!.files.map((x) => x.name).sort()).toEqual(['decoder.onnx', 'encoder.onnx']);
    for (const file of m.sam!.files) expect(file.sha256).toBe(await sha256File(join(samDir, file.name)));
    // The warp model after each round: round 0 (initial training) and round 1 (retrained), the last the one apply uses.
    expect(m.roundWarpModels!.map((r) => r.round)).toEqual([0, 1]);
    expect(m.roundWarpModels![1]).toEqual({ round: 1, file: m.warpModel.file, sha256: m.warpModel.sha256 });
    expect(m.roundWarpModels![0]!.sha256).not.toBe(m.warpModel.sha256);
    const applied = await applyBundleToFolder(f.out('sam-bundle'), images, f.out('sam-applied'), { backend: 'wasm', overlays: false, samLoad: { threads: 1 } });
    expect(applied.failed).toEqual([]);
    const want = await masksOf('sam-segment');
    expect(want.every((mask) => mask.some((v) => v > 0))).toBe(true);
    expect(await masksOf('sam-applied')).toEqual(want);
    // SAM made them (discs around the positive points), not the warp model alone (the first test's masks).
    expect(want).not.toEqual(await masksOf('segment'));
  }, 120_000);

  it('refuses a SAM model whose files differ from the bundle\'s, naming the file and both hashes', async () => {
    const { manifest } = await readBundle(f.out('sam-bundle'));
    const copy = join(f.root, 'sam-copy');
    await cp(samDir, copy, { recursive: true });
    expect(await findBundleSamModel({ ...manifest.sam!, model: { kind: 'folder', ref: copy } })).toBe(copy);
    await appendFile(join(copy, 'decoder.onnx'), 'x');
    const changed = await sha256File(join(copy, 'decoder.onnx'));
    const want = manifest.sam!.files.find((x) => x.name === 'decoder.onnx')!.sha256;
    const err = await expectUserError(findBundleSamModel({ ...manifest.sam!, model: { kind: 'folder', ref: copy } }), 'SAM_MODEL_MISMATCH');
    expect(err.message).toContain(join(copy, 'decoder.onnx'));
    expect(err.message).toContain(changed);
    expect(err.message).toContain(want);
  });
});

describe('the SAM model of a bundle by model-store id', () => {
  it('records an id when the model came from the store, and finds it again in this machine\'s store', async () => {
    const home = join(f.root, 'home');
    const storeDir = join(home, 'models', 'mobile-sam');
    await mkdir(join(home, 'models'), { recursive: true });
    await cp(await f.sam({ decoder: 'echo-mask', k: 4 }), storeDir, { recursive: true });
    const before = process.env.MEDPERSAM_HOME;
    process.env.MEDPERSAM_HOME = home;
    try {
      const settings = { refinements: 0, promptSet: 'P+B+M' as const, promptOptions: {}, smoothing: {}, useTargetEmbedding: true, promptWorkingSize: 256, method: 'med-persam' as const };
      const byId = await describeBundleSam('mobile-sam', storeDir, settings, 0);
      expect(byId.model).toEqual({ kind: 'id', ref: 'mobile-sam' });
      expect(await findBundleSamModel(byId)).toBe(storeDir);
      // The same files named by their folder: recorded as that folder.
      expect((await describeBundleSam(storeDir, storeDir, settings, 0)).model).toEqual({ kind: 'folder', ref: storeDir });
    } finally {
      if (before === undefined) delete process.env.MEDPERSAM_HOME;
      else process.env.MEDPERSAM_HOME = before;
    }
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
