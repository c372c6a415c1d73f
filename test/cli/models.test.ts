/**
 * `medpersam models list | pull | verify` end to end through runCli, against a 127.0.0.1 server that serves a
 * generated SAM model (tiny ONNX pair) zipped the way the mobile-sam source ships it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { strToU8, zipSync } from 'fflate';
import { runCli } from '../../src/cli/main.js';
import { writeTestSamModel } from '../fixtures/sam-models.js';
import { sha256Hex, startTestServer, type TestServer } from '../sam/download-server.js';
import { captureIo, makeTempDir } from './helpers.js';

const CONFIG = 'encoder_model_path: mobile_sam.encoder.onnx\ndecoder_model_path: sam_vit_h_4b8939.decoder.onnx\n';

let tmp: { dir: string; cleanup: () => Promise<void> };
let server: TestServer;
let home: string;
let zipBytes: Uint8Array;
const savedEnv = { home: process.env.MEDPERSAM_HOME, base: process.env.MEDPERSAM_MODEL_BASE_URL };

beforeAll(async () => {
  tmp = await makeTempDir('cli-models');
  const files = await writeTestSamModel(join(tmp.dir, 'src'), { encoder: 'input_image', k: 4, decoder: 'echo-mask' });
  zipBytes = zipSync({
    'config.yaml': strToU8(CONFIG),
    'mobile_sam.encoder.onnx': new Uint8Array(await readFile(files.encoderPath)),
    'sam_vit_h_4b8939.decoder.onnx': new Uint8Array(await readFile(files.decoderPath)),
  });
  server = await startTestServer();
  server.files.set('/mobile_sam_20230629.zip', { body: zipBytes });
  home = join(tmp.dir, 'home');
  process.env.MEDPERSAM_HOME = home;
  process.env.MEDPERSAM_MODEL_BASE_URL = server.baseUrl;
});

afterAll(async () => {
  if (savedEnv.home === undefined) delete process.env.MEDPERSAM_HOME;
  else process.env.MEDPERSAM_HOME = savedEnv.home;
  if (savedEnv.base === undefined) delete process.env.MEDPERSAM_MODEL_BASE_URL;
  else process.env.MEDPERSAM_MODEL_BASE_URL = savedEnv.base;
  await server?.close();
  await tmp?.cleanup();
});

/** The `models list` row of an id, split on runs of 2+ spaces. */
function rowOf(out: string, id: string): string[] {
  const line = out.split('\n').find((l) => l.startsWith(`${id} `));
  expect(line, `row for ${id}`).toBeDefined();
  return line!.split(/ {2,}/);
}

describe('medpersam models', () => {
  it('list → pull → list → verify --smoke → pull again / --force', async () => {
    const modelDir = join(home, 'models', 'mobile-sam');

    // list before: every known model, none installed, no checksum pinned
    const before = captureIo();
    expect(await runCli(['models', 'list'], before)).toBe(0);
    expect(before.out().split('\n')[0]).toMatch(/^id\s+size\s+installed\s+checksum pinned\s+description$/);
    expect(rowOf(before.out(), 'mobile-sam').slice(0, 4)).toEqual(['mobile-sam', '~37 MB', '-', 'no']);
    expect(rowOf(before.out(), 'sam-vit-h')[2]).toBe('-');
    expect(before.err()).toContain(`model folder: ${join(home, 'models')}`);

    // pull: from the server named by MEDPERSAM_MODEL_BASE_URL into MEDPERSAM_HOME, with the trust-on-first-use note
    const pull = captureIo();
    expect(await runCli(['models', 'pull', 'mobile-sam'], pull)).toBe(0);
    expect(pull.out()).toBe(`pulled mobile-sam into ${modelDir}\n`);
    expect(pull.err()).toContain(`note: no pinned checksum for mobile_sam_20230629.zip: recorded sha256 ${sha256Hex(zipBytes)}`);
    expect(server.requests.map((r) => r.path)).toEqual(['/mobile_sam_20230629.zip']);
    expect(existsSync(join(modelDir, 'mobile_sam.encoder.onnx'))).toBe(true);
    const manifest = JSON.parse(await readFile(join(modelDir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ id: 'mobile-sam', encoder: 'mobile_sam.encoder.onnx', decoder: 'sam_vit_h_4b8939.decoder.onnx' });

    // list after: installed path; --json agrees
    const after = captureIo();
    expect(await runCli(['models', 'list'], after)).toBe(0);
    expect(rowOf(after.out(), 'mobile-sam')[2]).toBe(modelDir);
    const json = captureIo();
    expect(await runCli(['models', 'list', '--json'], json)).toBe(0);
    const listed = JSON.parse(json.out()) as { id: string; installed?: string }[];
    expect(listed.find((m) => m.id === 'mobile-sam')!.installed).toBe(modelDir);
    expect(listed.filter((m) => m.installed !== undefined)).toHaveLength(1);

    // verify by id, with the smoke test: every input/output with shapes, variant, K, checksums, smoke result
    const verify = captureIo();
    expect(await runCli(['models', 'verify', 'mobile-sam', '--smoke', '--threads', '1'], verify)).toBe(0);
    const v = verify.out();
    expect(v).toContain(`model folder: ${modelDir}`);
    expect(v).toContain('encoder: mobile_sam.encoder.onnx (variant input_image, opset 17)');
    expect(v).toMatch(/input\s+input_image\s+float32\s+\[image_height,image_width,3\]/);
    expect(v).toMatch(/output\s+image_embeddings\s+float32\s+\[1,256,64,64\]/);
    expect(v).toContain('decoder: sam_vit_h_4b8939.decoder.onnx (K = 4 mask outputs');
    for (const name of ['point_coords', 'point_labels', 'has_mask_input', 'orig_im_size']) expect(v).toMatch(new RegExp(`input\\s+${name}\\s`));
    expect(v).toMatch(/input\s+mask_input\s+float32\s+\[1,1,256,256\]/);
    expect(v).toMatch(/output\s+iou_predictions\s/);
    expect(v).toContain('checksums: ok (3 files match manifest.json, trust-on-first-use)');
    // The test decoder has no PerSAM transformer to patch: said once, on its own line, with the reason.
    expect(v).toMatch(/target-semantic prompting \(PerSAM target embedding\): NOT available — the decoder graph does not show/);
    expect(v).not.toContain('warning: target-semantic prompting is off');
    expect(v).toMatch(/smoke test: ok: encoded 96x64, decoded 1 mask\(s\) \(encode \d+ ms, decode \d+ ms\)/);
    expect(v.trimEnd().split('\n').at(-1)).toBe('result: ok');

    // verify --json is the library report
    const vjson = captureIo();
    expect(await runCli(['models', 'verify', modelDir, '--json'], vjson)).toBe(0);
    expect(JSON.parse(vjson.out())).toMatchObject({ ok: true, dir: modelDir, decoder: { k: 4 }, encoder: { variant: 'input_image' } });

    // pull again: nothing fetched; --force fetches again
    const again = captureIo();
    expect(await runCli(['models', 'pull', 'mobile-sam'], again)).toBe(0);
    expect(again.out()).toBe(`mobile-sam is installed in ${modelDir}\n`);
    expect(server.requests).toHaveLength(1);
    const forced = captureIo();
    expect(await runCli(['models', 'pull', 'mobile-sam', '--force', '--quiet'], forced)).toBe(0);
    expect(forced.out()).toBe(`pulled mobile-sam into ${modelDir}\n`);
    expect(forced.err()).toBe('');
    expect(server.requests).toHaveLength(2);
    // On a terminal: a bar per stage (download, unzip) on stderr; stdout unchanged.
    const tty = captureIo({ tty: true });
    expect(await runCli(['models', 'pull', 'mobile-sam', '--force'], tty)).toBe(0);
    expect(tty.out()).toBe(`pulled mobile-sam into ${modelDir}\n`);
    expect(tty.err()).toMatch(/download \[[^\]]*\] \d+\/\d+ 100%/);
    expect(tty.err()).toMatch(/unzip \[[^\]]*\] \d+\/\d+ 100%/);

    // a file changed after the pull (same size): verify reports it and exits 1 naming the folder
    const config = join(modelDir, 'config.yaml');
    await writeFile(config, CONFIG.replace('encoder', 'ENCODER'));
    const bad = captureIo();
    expect(await runCli(['models', 'verify', modelDir], bad)).toBe(1);
    expect(bad.out()).toContain('checksums: MISMATCH (1 of 3 files differ from manifest.json)');
    expect(bad.out()).toContain('problem: config.yaml changed since it was pulled');
    expect(bad.out().trimEnd().split('\n').at(-1)).toBe('result: NOT OK');
    expect(bad.err()).toMatch(new RegExp(`^error: ${modelDir}: model check failed: config.yaml changed since it was pulled`));
  }, 60_000);

  it('user errors exit 1: unknown id, missing folder, unusable folder, not-installed model', async () => {
    const unknown = captureIo();
    expect(await runCli(['models', 'pull', 'sam-vit-z'], unknown)).toBe(1);
    expect(unknown.err()).toMatch(/^error: unknown SAM model id "sam-vit-z". Known ids: mobile-sam, sam-vit-b/);

    const missing = join(tmp.dir, 'no-such-model');
    const io = captureIo();
    expect(await runCli(['models', 'verify', missing], io)).toBe(1);
    expect(io.err()).toBe(`error: ${missing}: SAM model folder not found\n`);

    const empty = join(tmp.dir, 'src-copy');
    await writeTestSamModel(empty, {});
    await writeFile(join(empty, 'decoder.onnx'), 'not an onnx file');
    const broken = captureIo();
    expect(await runCli(['models', 'verify', empty], broken)).toBe(1);
    expect(broken.err()).toContain(join(empty, 'decoder.onnx'));

    const notInstalled = captureIo();
    expect(await runCli(['models', 'verify', 'sam-vit-b'], notInstalled)).toBe(1);
    expect(notInstalled.err()).toContain('SAM model "sam-vit-b" is not installed');
    expect(notInstalled.err()).toContain('medpersam models pull sam-vit-b');

    const threads = captureIo();
    expect(await runCli(['models', 'verify', empty, '--threads', 'two'], threads)).toBe(1);
    expect(threads.err()).toBe('error: --threads must be an integer from 1 to 1024, got "two"\n');
  }, 30_000);
});
