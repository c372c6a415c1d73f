import { describe, expect, it } from 'vitest';
import { writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { pullModel, verifyModelDir } from '../../src/sam/manage.js';
import { MedpersamUserError } from '../../src/errors.js';
import { ENC_W, buildDecoderWithoutMaskInput, buildTargetEmbeddingToyDecoder, writeTestSamModel } from '../fixtures/sam-models.js';
import { useTempDir } from '../fixtures/temp-dir.js';
import { expectUserError } from '../fixtures/user-error.js';
import { startTestServer } from './download-server.js';

const tmp = useTempDir({ prefix: 'medpersam-verify-', scope: 'each' });

describe('verifyModelDir', () => {
  it('reports every input and output, the plain encoder variant and K = 4', async () => {
    await writeTestSamModel(tmp.dir, { encoder: 'plain', k: 4 });
    const r = await verifyModelDir(tmp.dir);
    expect(r.ok).toBe(true);
    expect(r.encoder).toMatchObject({ file: 'encoder.onnx', variant: 'plain' });
    expect(r.encoder.inputs).toEqual([expect.objectContaining({ type: 'float32', shape: '[1,3,1024,1024]' })]);
    expect(r.encoder.outputs.map((o) => [o.name, o.shape])).toContainEqual(['image_embeddings', '[1,256,64,64]']);
    expect(r.decoder.k).toBe(4);
    expect(r.decoder.inputs.map((i) => i.name).sort()).toEqual(
      ['has_mask_input', 'image_embeddings', 'mask_input', 'orig_im_size', 'point_coords', 'point_labels'],
    );
    const byName = new Map(r.decoder.inputs.map((i) => [i.name, i]));
    expect(byName.get('mask_input')!.shape).toBe('[1,1,256,256]');
    expect(byName.get('image_embeddings')!.shape).toBe('[1,256,64,64]');
    expect(r.decoder.outputs.map((o) => o.name).sort()).toEqual(['iou_predictions', 'low_res_masks', 'masks']);
    expect(r.embeddingDims).toEqual([1, 256, 64, 64]);
    expect(r.checksums.status).toBe('no-manifest');
    expect(r.smokeTest).toBeUndefined();
  });

  it('detects the input_image encoder, K = 1 and external data, and runs the smoke test', async () => {
    await writeTestSamModel(tmp.dir, { encoder: 'input_image', k: 1, externalData: true, decoder: 'fill-box' });
    const r = await verifyModelDir(tmp.dir, { smokeTest: true, threads: 1 });
    expect(r.encoder.variant).toBe('input_image');
    expect(r.encoder.inputs[0]!.name).toBe('input_image');
    expect(r.encoder.externalData).toEqual(['encoder_data.bin']);
    expect(r.decoder.k).toBe(1);
    expect(r.smokeTest).toMatchObject({ ok: true, outputs: 1 });
    expect(r.ok).toBe(true);
  });

  it('accepts an encoder with symbolic output dims ([?,256,?,?]) and checks the pair with the smoke test', async () => {
    await writeTestSamModel(tmp.dir, { encoderOutput: 'symbolic', decoder: 'fill-box' });
    const r = await verifyModelDir(tmp.dir, { smokeTest: true, threads: 1 });
    expect(r.encoder.outputs.map((o) => o.shape)).toEqual(['[image_embeddings_dim_0,256,image_embeddings_dim_2,image_embeddings_dim_3]']);
    expect(r.embeddingDims).toEqual([1, 256, 64, 64]);
    expect(r.embeddingDimsSource).toBe('decoder');
    expect(r.smokeTest).toMatchObject({ ok: true });
    expect(r.ok).toBe(true);
  });

  it('refuses a symbolic encoder that does not fit the decoder (smoke test): MODEL_PAIR_MISMATCH', async () => {
    await writeTestSamModel(tmp.dir, { encoderOutput: 'symbolic', encoderEmbedSize: 32 });
    await expectUserError(verifyModelDir(tmp.dir, { smokeTest: true, threads: 1 }), 'MODEL_PAIR_MISMATCH', '[1,256,32,32]', '[1,256,64,64]');
  });

  it('says whether target-semantic prompting can be enabled by actually patching (and, with --smoke, running) the decoder', async () => {
    await writeTestSamModel(tmp.dir, { decoder: 'fill-box' });
    const plain = await verifyModelDir(tmp.dir, { smokeTest: true, threads: 1 });
    expect(plain.decoder.targetEmbedding).toBe(false);
    expect(plain.decoder.targetEmbeddingDetail).toMatch(/does not show the expected transformer node names/);
    expect(plain.ok).toBe(true); // an optional enhancement: its absence is not a failure

    await writeFile(join(tmp.dir, 'decoder.onnx'), buildTargetEmbeddingToyDecoder(4));
    const toy = await verifyModelDir(tmp.dir, { threads: 1 });
    expect(toy.decoder.targetEmbedding).toBe(true);
    expect(toy.decoder.targetEmbeddingDetail).toMatch(/patched.*not run \(add --smoke/);
    const smoked = await verifyModelDir(tmp.dir, { smokeTest: true, threads: 1 });
    expect(smoked.smokeTest).toMatchObject({ ok: true, targetEmbeddingOk: true });
    expect(smoked.decoder.targetEmbeddingDetail).toMatch(/the smoke test ran it/);
  });

  it('passes on the loader error for a decoder without mask_input', async () => {
    await writeTestSamModel(tmp.dir, {});
    await writeFile(join(tmp.dir, 'decoder.onnx'), buildDecoderWithoutMaskInput('transformers.js'));
    await expect(verifyModelDir(tmp.dir)).rejects.toMatchObject({ code: 'DECODER_WITHOUT_MASK_INPUT' });
    await expect(verifyModelDir(tmp.dir)).rejects.toBeInstanceOf(MedpersamUserError);
  });

  it('re-checks a pulled model against its manifest and flags a changed file', async () => {
    const src = join(tmp.dir, 'src');
    const files = await writeTestSamModel(src, { encoderFile: 'm.encoder.onnx', decoderFile: 'm.decoder.onnx' });
    const server = await startTestServer();
    try {
      server.files.set('/sam_vit_b_01ec64.zip', {
        body: zipSync({
          'm.encoder.onnx': new Uint8Array(await readFile(files.encoderPath)),
          'm.decoder.onnx': new Uint8Array(await readFile(files.decoderPath)),
        }),
      });
      const home = join(tmp.dir, 'home');
      const pulled = await pullModel('sam-vit-b', { home, baseUrl: server.baseUrl });
      const ok = await verifyModelDir(pulled.dir);
      expect(ok.checksums).toMatchObject({ status: 'ok', checked: 2, policy: 'trust-on-first-use' });
      expect(ok.ok).toBe(true);

      // Same size, one weight changed by one ulp: still a loadable model, but not the pulled bytes.
      const encPath = join(pulled.dir, 'm.encoder.onnx');
      const enc = Buffer.from(await readFile(encPath));
      const w = Buffer.alloc(4);
      w.writeFloatLE(ENC_W(0, 0));
      const at = enc.indexOf(w);
      expect(at).toBeGreaterThan(0);
      enc[at]! ^= 0x01;
      await writeFile(encPath, enc);
      const report = await verifyModelDir(pulled.dir);
      expect(report.ok).toBe(false);
      expect(report.checksums.status).toBe('mismatch');
      expect(report.checksums.mismatched.map((m) => m.path)).toEqual(['m.encoder.onnx']);
      expect(report.problems[0]).toContain('--force');

      // A damaged decoder that no longer parses: the error says the files changed since the pull.
      const decPath = join(pulled.dir, 'm.decoder.onnx');
      const dec = new Uint8Array(await readFile(decPath));
      await writeFile(decPath, dec.subarray(0, dec.length - 7));
      await expectUserError(verifyModelDir(pulled.dir), 'CHECKSUM_MISMATCH', 'm.decoder.onnx changed since it was pulled');
    } finally {
      await server.close();
    }
  });
});
