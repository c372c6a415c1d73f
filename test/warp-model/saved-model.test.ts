import { beforeAll, describe, expect, it } from 'vitest';
import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { initTf } from '../../src/warp/backend.js';
import { WarpModel } from '../../src/warp/model.js';
import { checkSavedReference, deserializeWarpModel, referenceHashes, serializeWarpModel, WARP_MODEL_FORMAT_VERSION, type SavedWarpModel } from '../../src/warp/saved-model.js';
import { readWarpModelFile, writeWarpModelFile, WARP_MODEL_FILE } from '../../src/io/warp-model-file.js';
import { useTempDir } from '../fixtures/temp-dir.js';
import { crc32 } from '../../src/io/crc32.js';
import { userError } from '../fixtures/user-error.js';
import { discPair, tinySettings } from './helpers.js';

beforeAll(async () => {
  await initTf({ backend: 'wasm' });
});

const tmp = useTempDir({ prefix: 'medpersam-saved-model-' });
const REF = discPair(64, 64, 32, 32, 12);
const TESTS = [[5, 0], [4, 2], [6, -1], [-3, 2]].map(([dx, dy], i) => ({ id: `t${i}`, ...discPair(64, 64, 32 + dx!, 32 + dy!, 12) }));

async function trainedModel(): Promise<{ model: WarpModel; saved: SavedWarpModel }> {
  const model = new WarpModel(tinySettings({ schedule: { initialSteps: 4 } }), REF);
  for (const t of TESTS) model.addTest(t.id, t.image);
  await model.train('initial', { unit: 'steps', steps: 4 });
  const hashes = await referenceHashes(REF.image, REF.label);
  return { model, saved: model.toSavedModel({ reference: { ...hashes, width: 64, height: 64, name: 'ref.png' }, medpersamVersion: '0.1.0' }) };
}

describe('crc32', () => {
  it('is the IEEE CRC-32 (check value of "123456789")', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe('saved warp model', () => {
  it('round trip: a model rebuilt from the file warps every image exactly like the model that trained it', async () => {
    const { model, saved } = await trainedModel();
    const path = join(tmp.dir, WARP_MODEL_FILE);
    await writeWarpModelFile(path, saved);
    const back = await readWarpModelFile(path);
    expect(back.formatVersion).toBe(WARP_MODEL_FORMAT_VERSION);
    expect(back.settings).toEqual(model.settings);
    expect(back.training).toMatchObject({ phase: 'initial', totalSteps: 4, threads: 1, backend: 'wasm', testImages: 4 });
    expect(back.reference).toMatchObject({ width: 64, height: 64, classes: [1], name: 'ref.png' });
    await checkSavedReference(back, REF.image, REF.label);
    const reused = WarpModel.fromSavedModel(back, REF);
    expect(reused.optimizer.steps).toBe(0); // nothing was trained
    for (const t of TESTS) {
      reused.addTest(t.id, t.image);
      const a = model.warpLabel(t.image);
      const b = reused.warpLabel(t.image);
      expect(Array.from(b.data)).toEqual(Array.from(a.data));
    }
    // A trained model differs from a fresh one (the test would be void otherwise).
    const fresh = new WarpModel(model.settings, REF);
    const moved = TESTS.some((t) => {
      const trained = model.warpLabel(t.image).data;
      const untrained = fresh.warpLabel(t.image).data;
      return trained.some((v, i) => v !== untrained[i]);
    });
    expect(moved).toBe(true);
    [model, reused, fresh].forEach((m) => m.dispose());
  });

  it('rejects a file that is not a model, damaged, truncated or of another format version, naming the file', async () => {
    const { model, saved } = await trainedModel();
    model.dispose();
    const good = serializeWarpModel(saved);
    const cases: [string, Uint8Array, string, RegExp][] = [
      ['png.mpwarp', Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0, 0]), 'WARP_MODEL_NOT_A_MODEL', /not a medpersam warp model/],
      ['flipped.mpwarp', (() => { const b = good.slice(); b[b.length - 100]! ^= 0x40; return b; })(), 'WARP_MODEL_CORRUPT', /checksum mismatch/],
      ['short.mpwarp', good.subarray(0, good.length - 10), 'WARP_MODEL_CORRUPT', /truncated/],
      ['header.mpwarp', (() => { const b = good.slice(); b[14] = 0xff; return b; })(), 'WARP_MODEL_CORRUPT', /unreadable header/],
      ['v99.mpwarp', serializeWarpModel({ ...saved, formatVersion: 99 }), 'WARP_MODEL_VERSION', /version 99.*update medpersam/],
    ];
    for (const [name, bytes, code, message] of cases) {
      const path = join(tmp.dir, name);
      await writeFile(path, bytes);
      const err = await userError(readWarpModelFile(path));
      expect(err.code, name).toBe(code);
      expect(err.message, name).toMatch(message);
      expect(err.file).toBe(path);
    }
    expect((await userError(readWarpModelFile(join(tmp.dir, 'absent.mpwarp')))).code).toBe('FILE_NOT_FOUND');
    await mkdir(join(tmp.dir, 'run-folder'));
    expect((await userError(readWarpModelFile(join(tmp.dir, 'run-folder')))).message).toMatch(/folder.*warp-model.mpwarp/);
    // deserialize alone (no file): the same typed errors
    expect(() => deserializeWarpModel(good.subarray(0, 5))).toThrow(/not a medpersam warp model/);
  });

  it('rejects another reference image or mask, and weights that do not fit the network', async () => {
    const { model, saved } = await trainedModel();
    model.dispose();
    const otherImage = discPair(64, 64, 30, 32, 12);
    let err = await userError(checkSavedReference(saved, otherImage.image, REF.label));
    expect(err.code).toBe('WARP_MODEL_REFERENCE_MISMATCH');
    expect(err.message).toMatch(/another reference image \(ref.png, 64x64\)/);
    err = await userError(checkSavedReference(saved, REF.image, otherImage.label));
    expect(err.message).toMatch(/another reference mask/);
    const twoClass = { ...REF.label, data: REF.label.data.map((v, i) => (v === 1 && i % 2 === 0 ? 2 : v)) };
    expect(() => WarpModel.fromSavedModel(saved, { image: REF.image, label: twoClass })).toThrow(/classes 1, this reference mask has 1, 2/);
    const wrongShape = { ...saved, weights: saved.weights.map((w, i) => (i === 0 ? { ...w, shape: [1, ...w.shape] } : w)) };
    expect(() => WarpModel.fromSavedModel(wrongShape, REF)).toThrow(expect.objectContaining({ code: 'WARP_MODEL_INCOMPATIBLE' }));
    const badSettings = { ...saved, settings: { ...saved.settings, network: { ...saved.settings.network, resolution: 20 } } };
    expect(() => WarpModel.fromSavedModel(badSettings, REF)).toThrow(expect.objectContaining({ code: 'WARP_MODEL_INCOMPATIBLE' }));
    // the file bytes of the good model are stable across a rewrite (nothing time-dependent besides createdAt)
    const bytes = serializeWarpModel(saved);
    expect(Array.from(serializeWarpModel(deserializeWarpModel(bytes)))).toEqual(Array.from(bytes));
  });
});
