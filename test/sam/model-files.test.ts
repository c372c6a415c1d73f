import { writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findSamModelFiles, inspectOnnxFile } from '../../src/sam/model-files.js';
import { loadSamModel } from '../../src/sam/model.js';
import {
  buildDecoder,
  buildDecoderWithoutMaskInput,
  buildPlainEncoder,
  buildInputImageEncoder,
  buildTransformersJsEncoder,
  garbageOnnxBytes,
  writeTestSamModel,
} from '../fixtures/sam-models.js';
import { useTempDir } from '../fixtures/temp-dir.js';
import { expectUserError } from '../fixtures/user-error.js';
import { constantImage } from './helpers.js';

const tmp = useTempDir({ prefix: 'medpersam-sam-', scope: 'each' });

describe('inspectOnnxFile', () => {
  it('reads inputs and outputs with shapes from the protobuf', async () => {
    const p = join(tmp.dir, 'd.onnx');
    await writeFile(p, buildDecoder({ behaviour: 'fill-box', k: 4 }));
    const info = await inspectOnnxFile(p);
    expect(info.opset).toBe(17);
    expect(info.inputs.map((i) => i.name)).toEqual(['image_embeddings', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input', 'orig_im_size']);
    expect(info.inputs[1]!.shape).toEqual([1, 'num_points', 2]);
    expect(info.outputs.find((o) => o.name === 'iou_predictions')!.shape).toEqual([1, 4]);
    expect(info.externalDataFiles).toEqual([]);
  });

  it('lists external data files', async () => {
    const f = await writeTestSamModel(tmp.dir, { externalData: true });
    const info = await inspectOnnxFile(f.encoderPath);
    expect(info.externalDataFiles).toEqual(['encoder_data.bin']);
  });

  it('rejects text, empty and random files as NOT_AN_ONNX_MODEL', async () => {
    const text = join(tmp.dir, 'text.onnx');
    await writeFile(text, garbageOnnxBytes());
    await expectUserError(inspectOnnxFile(text), 'NOT_AN_ONNX_MODEL', 'text.onnx');
    const empty = join(tmp.dir, 'empty.onnx');
    await writeFile(empty, new Uint8Array(0));
    await expectUserError(inspectOnnxFile(empty), 'NOT_AN_ONNX_MODEL');
    const random = join(tmp.dir, 'random.onnx');
    const bytes = new Uint8Array(5000);
    let s = 12345;
    for (let i = 0; i < bytes.length; i++) bytes[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
    await writeFile(random, bytes);
    await expectUserError(inspectOnnxFile(random), 'NOT_AN_ONNX_MODEL');
  });
});

describe('findSamModelFiles', () => {
  it('detects the plain encoder variant and reads K', async () => {
    await writeTestSamModel(tmp.dir, { k: 4 });
    const f = await findSamModelFiles(tmp.dir);
    expect(f.encoderVariant).toBe('plain');
    expect(f.encoderInputName).toBe('image');
    expect(f.embeddingDims).toEqual([1, 256, 64, 64]);
    expect(f.decoderOutputs).toBe(4);
  });

  it('detects the input_image variant and K = 1', async () => {
    await writeTestSamModel(tmp.dir, { encoder: 'input_image', k: 1 });
    const f = await findSamModelFiles(tmp.dir);
    expect(f.encoderVariant).toBe('input_image');
    expect(f.encoderInputName).toBe('input_image');
    expect(f.decoderOutputs).toBe(1);
  });

  it('classifies by graph interface, not by file name', async () => {
    await writeFile(join(tmp.dir, 'a.onnx'), buildDecoder({ behaviour: 'discs', k: 4 }));
    await writeFile(join(tmp.dir, 'b.onnx'), buildInputImageEncoder().model);
    const f = await findSamModelFiles(tmp.dir);
    expect(f.encoder.path).toBe(join(tmp.dir, 'b.onnx'));
    expect(f.decoder.path).toBe(join(tmp.dir, 'a.onnx'));
  });

  it('accepts common names (mobile_sam.encoder.onnx / mobile_sam.decoder.onnx) and ignores a stray broken file', async () => {
    await writeTestSamModel(tmp.dir, { encoderFile: 'mobile_sam.encoder.onnx', decoderFile: 'mobile_sam.decoder.onnx' });
    await writeFile(join(tmp.dir, 'notes.onnx'), garbageOnnxBytes());
    const f = await findSamModelFiles(tmp.dir);
    expect(f.encoder.path.endsWith('mobile_sam.encoder.onnx')).toBe(true);
    expect(f.decoder.path.endsWith('mobile_sam.decoder.onnx')).toBe(true);
  });

  it('INCOMPLETE_MODEL_FOLDER names the missing decoder', async () => {
    await writeFile(join(tmp.dir, 'encoder.onnx'), buildPlainEncoder().model);
    await expectUserError(findSamModelFiles(tmp.dir), 'INCOMPLETE_MODEL_FOLDER', 'mask decoder', 'encoder.onnx');
  });

  it('INCOMPLETE_MODEL_FOLDER names the missing encoder', async () => {
    await writeFile(join(tmp.dir, 'decoder.onnx'), buildDecoder({ behaviour: 'echo-mask', k: 4 }));
    await expectUserError(findSamModelFiles(tmp.dir), 'INCOMPLETE_MODEL_FOLDER', 'image encoder');
  });

  it('INCOMPLETE_MODEL_FOLDER for an empty folder; NOT_A_MODEL_FOLDER for a missing one or a file', async () => {
    await expectUserError(findSamModelFiles(tmp.dir), 'INCOMPLETE_MODEL_FOLDER', 'No .onnx files');
    await expectUserError(findSamModelFiles(join(tmp.dir, 'nope')), 'NOT_A_MODEL_FOLDER');
    await writeFile(join(tmp.dir, 'encoder.onnx'), buildPlainEncoder().model);
    await expectUserError(findSamModelFiles(join(tmp.dir, 'encoder.onnx')), 'NOT_A_MODEL_FOLDER', 'give the folder');
  });

  it('NOT_AN_ONNX_MODEL when the encoder file is garbage', async () => {
    await writeFile(join(tmp.dir, 'encoder.onnx'), garbageOnnxBytes());
    await writeFile(join(tmp.dir, 'decoder.onnx'), buildDecoder({ behaviour: 'echo-mask', k: 4 }));
    await expectUserError(findSamModelFiles(tmp.dir), 'NOT_AN_ONNX_MODEL', 'encoder.onnx');
  });

  it('DECODER_WITHOUT_MASK_INPUT for a transformers.js export, explaining what to use', async () => {
    await writeFile(join(tmp.dir, 'vision_encoder.onnx'), buildTransformersJsEncoder());
    await writeFile(join(tmp.dir, 'prompt_encoder_mask_decoder.onnx'), buildDecoderWithoutMaskInput('transformers.js'));
    const err = await expectUserError(findSamModelFiles(tmp.dir), 'DECODER_WITHOUT_MASK_INPUT', 'transformers.js', 'mask_input', 'export_onnx_model.py');
    expect(err.message).toContain('prompt_encoder_mask_decoder.onnx');
  });

  it('DECODER_WITHOUT_MASK_INPUT for an EfficientSAM-style export', async () => {
    await writeFile(join(tmp.dir, 'encoder.onnx'), buildPlainEncoder().model);
    await writeFile(join(tmp.dir, 'decoder.onnx'), buildDecoderWithoutMaskInput('efficientsam'));
    await expectUserError(findSamModelFiles(tmp.dir), 'DECODER_WITHOUT_MASK_INPUT', 'EfficientSAM');
  });

  it('MODEL_PAIR_MISMATCH with both shapes', async () => {
    await writeTestSamModel(tmp.dir, { encoderEmbedSize: 32 });
    await expectUserError(findSamModelFiles(tmp.dir), 'MODEL_PAIR_MISMATCH', '[1,256,32,32]', '[1,256,64,64]');
  });

  it('symbolic encoder output ([?,256,?,?], as torch exports ViT encoders): the shape comes from the decoder input', async () => {
    for (const encoderOutput of ['symbolic', 'unknown'] as const) {
      await writeTestSamModel(tmp.dir, { encoderOutput });
      const f = await findSamModelFiles(tmp.dir);
      expect(f.encoderEmbeddingShape[1]).toBe(256);
      expect(f.embeddingDims).toEqual([1, 256, 64, 64]);
      expect(f.embeddingDimsSource).toBe('decoder');
    }
  });

  it('symbolic on both sides: no shape until the first encoder run', async () => {
    await writeTestSamModel(tmp.dir, { encoderOutput: 'symbolic', decoderSymbolicEmbedding: true });
    const f = await findSamModelFiles(tmp.dir);
    expect(f.embeddingDims).toBeNull();
    expect(f.embeddingDimsSource).toBe('first-run');
  });

  it('a symbolic encoder that does not fit the decoder is refused at its first run: MODEL_PAIR_MISMATCH with both shapes', async () => {
    await writeTestSamModel(tmp.dir, { encoderOutput: 'symbolic', encoderEmbedSize: 32 });
    const f = await findSamModelFiles(tmp.dir); // nothing to compare yet: [?,256,?,?] vs [1,256,64,64]
    expect(f.embeddingDims).toEqual([1, 256, 64, 64]);
    const m = await loadSamModel(tmp.dir, { cacheDir: false, threads: 1 });
    try {
      await expectUserError(m.encode(constantImage(64, 64, 100)), 'MODEL_PAIR_MISMATCH', 'produces embeddings [1,256,32,32]', 'expects image_embeddings [1,256,64,64]');
    } finally {
      await m.release();
    }
  });

  it('MISSING_EXTERNAL_DATA when the *_data.bin is not beside the encoder', async () => {
    const f = await writeTestSamModel(tmp.dir, { externalData: true });
    await mkdir(join(tmp.dir, 'other'));
    const { rename } = await import('node:fs/promises');
    await rename(f.externalDataPath!, join(tmp.dir, 'other', 'encoder_data.bin'));
    await expectUserError(findSamModelFiles(tmp.dir), 'MISSING_EXTERNAL_DATA', 'encoder_data.bin');
  });

  it('loadSamModel surfaces the same errors', async () => {
    await writeFile(join(tmp.dir, 'encoder.onnx'), buildPlainEncoder().model);
    await expectUserError(loadSamModel(tmp.dir, { cacheDir: false }), 'INCOMPLETE_MODEL_FOLDER');
  });
});

describe('findSamModelFiles: decoder problems come first', () => {
  it('a lone transformers.js decoder reports DECODER_WITHOUT_MASK_INPUT, not just a missing encoder', async () => {
    await writeFile(join(tmp.dir, 'prompt_encoder_mask_decoder.onnx'), buildDecoderWithoutMaskInput('transformers.js'));
    await expectUserError(findSamModelFiles(tmp.dir), 'DECODER_WITHOUT_MASK_INPUT');
  });
});
