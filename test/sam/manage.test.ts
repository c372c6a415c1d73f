import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile, mkdir, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync, strToU8 } from 'fflate';
import { listModels, pullModel, resolveSamModel, readManifestSync, MANIFEST_FILE } from '../../src/sam/manage.js';
import { medpersamHome, modelDir, stagingDir } from '../../src/sam/home.js';
import { KNOWN_MODELS, MODEL_BASE_URL_ENV } from '../../src/sam/registry.js';
import { writeTestSamModel } from '../fixtures/sam-models.js';
import { buildDecoderWithoutMaskInput } from '../fixtures/sam-models.js';
import { expectUserError } from '../fixtures/user-error.js';
import { sha256Hex, useTestServer } from './download-server.js';

const server = useTestServer();
let home: string;
let scratch: string;
/** A real (tiny) SAM pair as AnyLabeling's MobileSAM zip names it. */
let encoderBytes: Uint8Array;
let decoderBytes: Uint8Array;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'medpersam-models-src-'));
  const files = await writeTestSamModel(scratch, { decoder: 'echo-mask', k: 4, encoder: 'input_image' });
  encoderBytes = new Uint8Array(await readFile(files.encoderPath));
  decoderBytes = new Uint8Array(await readFile(files.decoderPath));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'medpersam-home-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

function mobileSamZip(extra: Record<string, Uint8Array> = {}): Uint8Array {
  return zipSync({
    'config.yaml': strToU8('encoder_model_path: mobile_sam.encoder.onnx\ndecoder_model_path: sam_vit_h_4b8939.decoder.onnx\n'),
    'mobile_sam.encoder.onnx': encoderBytes,
    'sam_vit_h_4b8939.decoder.onnx': decoderBytes,
    ...extra,
  });
}

describe('medpersamHome', () => {
  it('honours MEDPERSAM_HOME, expands ~, and defaults to ~/.cache/medpersam', () => {
    expect(medpersamHome({ MEDPERSAM_HOME: '/data/mp' })).toBe('/data/mp');
    expect(medpersamHome({ MEDPERSAM_HOME: '~/mp' })).toBe(join(homedir(), 'mp'));
    expect(medpersamHome({ MEDPERSAM_HOME: '  ' })).toBe(join(homedir(), '.cache', 'medpersam'));
    expect(medpersamHome({})).toBe(join(homedir(), '.cache', 'medpersam'));
    expect(modelDir('sam-vit-b', '/data/mp')).toBe(join('/data/mp', 'models', 'sam-vit-b'));
  });

  it('is what pull uses when no home is given', async () => {
    server.files.set('/mobile_sam_20230629.zip', { body: mobileSamZip() });
    const saved = process.env.MEDPERSAM_HOME;
    process.env.MEDPERSAM_HOME = home;
    try {
      const r = await pullModel('mobile-sam', { baseUrl: server.baseUrl });
      expect(r.dir).toBe(join(home, 'models', 'mobile-sam'));
      expect(await resolveSamModel('mobile-sam')).toBe(r.dir);
    } finally {
      if (saved === undefined) delete process.env.MEDPERSAM_HOME;
      else process.env.MEDPERSAM_HOME = saved;
    }
  });
});

describe('pullModel', () => {
  it('downloads and unpacks a zip into <home>/models/<id>, records trust-on-first-use checksums, and is idempotent', async () => {
    const zip = mobileSamZip();
    server.files.set('/mobile_sam_20230629.zip', { body: zip });
    const r = await pullModel('mobile-sam', { home, baseUrl: `${server.baseUrl}/` });
    const dir = join(home, 'models', 'mobile-sam');
    expect(r).toMatchObject({ id: 'mobile-sam', dir, downloaded: true });
    expect(r.manifest).toMatchObject({
      id: 'mobile-sam',
      source: 'huggingface',
      urls: [`${server.baseUrl}/mobile_sam_20230629.zip`],
      encoder: 'mobile_sam.encoder.onnx',
      decoder: 'sam_vit_h_4b8939.decoder.onnx',
      checksumPolicy: 'trust-on-first-use',
      archive: { path: 'mobile_sam_20230629.zip', bytes: zip.length, sha256: sha256Hex(zip), pinned: false },
    });
    expect(Buffer.compare(await readFile(join(dir, 'mobile_sam.encoder.onnx')), Buffer.from(encoderBytes))).toBe(0);
    expect(Buffer.compare(await readFile(join(dir, 'sam_vit_h_4b8939.decoder.onnx')), Buffer.from(decoderBytes))).toBe(0);
    const enc = r.manifest.files.find((f) => f.path === 'mobile_sam.encoder.onnx');
    expect(enc).toEqual({ path: 'mobile_sam.encoder.onnx', bytes: encoderBytes.length, sha256: sha256Hex(encoderBytes), pinned: false });
    // The manifest on disk is the one returned; the user is told the checksum was trusted on first use.
    expect(JSON.parse(await readFile(join(dir, MANIFEST_FILE), 'utf8'))).toEqual(r.manifest);
    expect(r.notes.join('\n')).toContain(sha256Hex(zip));
    expect(r.notes.join('\n')).toMatch(/trust on first use/);
    // Staging and temp folders are gone.
    expect((await readdir(join(home, 'models'))).sort()).toEqual(['mobile-sam']);

    const before = server.requests.length;
    const again = await pullModel('mobile-sam', { home, baseUrl: server.baseUrl });
    expect(again.downloaded).toBe(false);
    expect(again.dir).toBe(dir);
    expect(server.requests.length).toBe(before);
  });

  it('uses MEDPERSAM_MODEL_BASE_URL when no baseUrl option is given', async () => {
    server.files.set('/mirror/mobile_sam_20230629.zip', { body: mobileSamZip() });
    const saved = process.env[MODEL_BASE_URL_ENV];
    process.env[MODEL_BASE_URL_ENV] = `${server.baseUrl}/mirror`;
    try {
      const r = await pullModel('mobile-sam', { home });
      expect(r.manifest.urls).toEqual([`${server.baseUrl}/mirror/mobile_sam_20230629.zip`]);
      expect(listModels({ home }).find((m) => m.id === 'mobile-sam')!.sources[0]!.urls[0]).toBe(
        `${server.baseUrl}/mirror/mobile_sam_20230629.zip`,
      );
    } finally {
      if (saved === undefined) delete process.env[MODEL_BASE_URL_ENV];
      else process.env[MODEL_BASE_URL_ENV] = saved;
    }
  });

  it('falls back to the next source (loose files) when the first is missing', async () => {
    server.files.set('/mobile_sam.encoder.onnx', { body: encoderBytes });
    server.files.set('/mobile_sam.decoder.onnx', { body: decoderBytes });
    const r = await pullModel('mobile-sam', { home, baseUrl: server.baseUrl });
    expect(r.manifest.source).toBe('github-release');
    expect(r.manifest).toMatchObject({ encoder: 'mobile_sam.encoder.onnx', decoder: 'mobile_sam.decoder.onnx' });
    expect(r.manifest.archive).toBeUndefined();
    expect(r.notes[0]).toMatch(/mirror "github-release" because huggingface failed/);
    expect(server.requests.map((q) => q.path)).toEqual([
      '/mobile_sam_20230629.zip',
      '/mobile_sam.encoder.onnx',
      '/mobile_sam.decoder.onnx',
    ]);
  });

  it('reports every source when all fail, and installs nothing', async () => {
    const err = await expectUserError(pullModel('mobile-sam', { home, baseUrl: server.baseUrl }), 'DOWNLOAD_NOT_FOUND');
    expect(err.message).toContain('could not pull mobile-sam from any source');
    expect(err.message).toContain('huggingface');
    expect(err.message).toContain('github-release');
    expect(existsSync(modelDir('mobile-sam', home))).toBe(false);
  });

  it('resumes an interrupted pull from the partial archive', async () => {
    const zip = mobileSamZip();
    server.files.set('/sam_vit_b_01ec64.zip', { body: zip, cutFirstResponseAfter: Math.floor(zip.length / 2) });
    await expectUserError(pullModel('sam-vit-b', { home, baseUrl: server.baseUrl, retries: 0 }), 'DOWNLOAD_FAILED');
    expect(existsSync(modelDir('sam-vit-b', home))).toBe(false);
    expect(existsSync(join(stagingDir('sam-vit-b', home), 'sam_vit_b_01ec64.zip.part'))).toBe(true);
    expect(listModels({ home }).find((m) => m.id === 'sam-vit-b')).toMatchObject({ partialDownload: true });
    await expectUserError(resolveSamModel('sam-vit-b', { home }), 'MODEL_NOT_PRESENT').then((e) =>
      expect(e.message).toContain('interrupted download'),
    );

    const r = await pullModel('sam-vit-b', { home, baseUrl: server.baseUrl, retries: 0 });
    expect(r.downloaded).toBe(true);
    expect(server.requests[1]!.range).toMatch(/^bytes=\d+-$/);
    expect(r.manifest.archive!.sha256).toBe(sha256Hex(zip));
  });

  it('rejects an archive with a path-traversal entry and installs nothing', async () => {
    server.files.set('/sam_vit_b_01ec64.zip', { body: mobileSamZip({ '../../escape.onnx': new Uint8Array([1, 2, 3]) }) });
    const err = await expectUserError(pullModel('sam-vit-b', { home, baseUrl: server.baseUrl }), 'ARCHIVE_UNSAFE_PATH');
    expect(err.message).toContain('../../escape.onnx');
    expect(existsSync(modelDir('sam-vit-b', home))).toBe(false);
    expect(existsSync(join(home, 'escape.onnx'))).toBe(false);
    expect(existsSync(join(home, 'models', 'escape.onnx'))).toBe(false);
    expect(existsSync(stagingDir('sam-vit-b', home))).toBe(false); // a bad archive is not kept for reuse
  });

  it('refuses a download whose decoder cannot take mask prompts', async () => {
    server.files.set(
      '/sam_vit_b_01ec64.zip',
      { body: zipSync({ 'enc.encoder.onnx': encoderBytes, 'dec.decoder.onnx': buildDecoderWithoutMaskInput('transformers.js') }) },
    );
    const err = await expectUserError(pullModel('sam-vit-b', { home, baseUrl: server.baseUrl }), 'DECODER_WITHOUT_MASK_INPUT');
    expect(err.message).toContain('mask_input');
    expect(existsSync(modelDir('sam-vit-b', home))).toBe(false);
  });

  it('does not touch a model folder holding files it did not download', async () => {
    const dir = modelDir('sam-vit-b', home);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'my-notes.txt'), 'mine');
    await expectUserError(pullModel('sam-vit-b', { home, baseUrl: server.baseUrl }), 'MODEL_DIR_OCCUPIED');
    expect(await readFile(join(dir, 'my-notes.txt'), 'utf8')).toBe('mine');
    expect(server.requests).toHaveLength(0);
  });

  it('replaces an incomplete pulled folder, and re-pulls with force', async () => {
    server.files.set('/sam_vit_b_01ec64.zip', { body: mobileSamZip() });
    const first = await pullModel('sam-vit-b', { home, baseUrl: server.baseUrl });
    await rm(join(first.dir, 'mobile_sam.encoder.onnx')); // damaged install
    expect(readManifestSync(first.dir)).toBeUndefined();
    const second = await pullModel('sam-vit-b', { home, baseUrl: server.baseUrl });
    expect(second.downloaded).toBe(true);
    expect(existsSync(join(second.dir, 'mobile_sam.encoder.onnx'))).toBe(true);
    const forced = await pullModel('sam-vit-b', { home, baseUrl: server.baseUrl, force: true });
    expect(forced.downloaded).toBe(true);
    expect(server.requests).toHaveLength(3);
  });

  it('rejects unknown ids with the list of known ones', async () => {
    const err = await expectUserError(pullModel('sam-vit-x', { home }), 'UNKNOWN_MODEL');
    for (const m of KNOWN_MODELS) expect(err.message).toContain(m.id);
  });
});

describe('listModels', () => {
  it('lists every known model with size, sources, unpinned checksums and install state', async () => {
    server.files.set('/mobile_sam_20230629.zip', { body: mobileSamZip() });
    const before = listModels({ home });
    expect(before.map((m) => m.id)).toEqual(KNOWN_MODELS.map((m) => m.id));
    for (const m of before) {
      expect(m.installed).toBeUndefined();
      expect(m.checksumsPinned).toBe(false);
      expect(m.urlsVerified).toBe(false);
      expect(m.sizeText).toMatch(/^~\d+(\.\d)? (MB|GB)$/);
      expect(m.sources.length).toBeGreaterThan(0);
    }
    expect(before.find((m) => m.id === 'mobile-sam')!.sources[0]!.urls[0]).toBe(
      'https://huggingface.co/vietanhdev/segment-anything-onnx-models/resolve/main/mobile_sam_20230629.zip',
    );
    await pullModel('mobile-sam', { home, baseUrl: server.baseUrl });
    const after = listModels({ home });
    expect(after.find((m) => m.id === 'mobile-sam')!.installed).toBe(modelDir('mobile-sam', home));
    expect(after.filter((m) => m.installed)).toHaveLength(1);
  });
});

describe('resolveSamModel', () => {
  it('returns a folder given as a path', async () => {
    const dir = join(home, 'my-model');
    await mkdir(dir);
    expect(await resolveSamModel(dir, { home })).toBe(dir);
  });

  it('explains exactly how to get a known model that is not installed', async () => {
    const err = await expectUserError(resolveSamModel('sam-vit-b', { home }), 'MODEL_NOT_PRESENT');
    const dir = modelDir('sam-vit-b', home);
    expect(err.message).toContain('medpersam models pull sam-vit-b');
    expect(err.message).toContain('scripts/export_onnx_model.py');
    expect(err.message).toContain('mask_input');
    expect(err.message).toContain('samexporter');
    expect(err.message).toContain('sam_vit_b_01ec64.pth');
    expect(err.message).toContain(dir);
    expect(err.message).toContain('--sam');
    expect(err.message).toContain('MEDPERSAM_HOME');
  });

  it('accepts files a user exported into <home>/models/<id>/ by hand', async () => {
    const dir = modelDir('sam-vit-h', home);
    await writeTestSamModel(dir, {});
    expect(await resolveSamModel('sam-vit-h', { home })).toBe(dir);
  });

  it('rejects unknown ids, missing folders and files with specific errors', async () => {
    const unknown = await expectUserError(resolveSamModel('vit-b', { home }), 'UNKNOWN_MODEL');
    expect(unknown.message).toContain('mobile-sam, sam-vit-b');
    await expectUserError(resolveSamModel(join(home, 'nope'), { home }), 'MODEL_DIR_NOT_FOUND');
    await expectUserError(resolveSamModel('./nope-folder', { home }), 'MODEL_DIR_NOT_FOUND');
    const file = join(home, 'encoder.onnx');
    await writeFile(file, 'x');
    await expectUserError(resolveSamModel(file, { home }), 'MODEL_NOT_A_FOLDER');
  });
});
