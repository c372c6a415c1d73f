/**
 * Finding and checking SAM ONNX files (Node-only: reads model files).
 *
 * `inspectOnnxFile` reads only the parts of a ModelProto it needs (graph inputs/outputs, opset, initializer
 * headers for external data) by walking the protobuf wire format with positioned reads, so a 350 MB encoder
 * is never loaded into memory just to be classified. `findSamModelFiles` classifies the `.onnx` files of a
 * folder by their graph interfaces (names only break ties) and validates the pair: the official decoder export
 * (segment-anything scripts/export_onnx_model.py) and a plain or samexporter `--use-preprocess` encoder.
 */
import { open, readdir, stat, access } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import { MedpersamUserError } from '../errors.js';
import { namesLookSam2, SAM2_EMBEDDING_OUTPUT, SAM2_ENCODER_INPUT, sam2DecoderProblem, sam2EncoderProblem } from './sam2-interface.js';
import type { EncoderVariant } from './types.js';

const { onnx } = onnxProto;

export interface OnnxValueInfo {
  name: string;
  /** ONNX TensorProto.DataType (1 = float32, 7 = int64), 0 when unknown. */
  elemType: number;
  /** Dimensions: a number, a symbolic name, or null when unknown. null shape = unknown rank. */
  shape: (number | string | null)[] | null;
}

export interface OnnxFileInfo {
  path: string;
  irVersion: number;
  /** Default-domain opset, null when not declared. */
  opset: number | null;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  /** External data files the initializers refer to (relative to the model's folder). */
  externalDataFiles: string[];
}

/** Inputs of the official decoder export (segment-anything `SamOnnxModel`). */
export const OFFICIAL_DECODER_INPUTS = [
  'image_embeddings',
  'point_coords',
  'point_labels',
  'mask_input',
  'has_mask_input',
  'orig_im_size',
] as const;
export const OFFICIAL_DECODER_OUTPUTS = ['masks', 'iou_predictions', 'low_res_masks'] as const;

// ------------------------------------------------------------------ protobuf walking

class NotOnnx extends Error {}

class FileWindow {
  private buf = Buffer.alloc(0);
  private start = 0;
  constructor(
    private readonly fh: import('node:fs/promises').FileHandle,
    readonly size: number,
  ) {}

  /** Bytes [pos, pos+n) (n small); reads a 64 KiB window when needed. */
  async bytes(pos: number, n: number): Promise<Buffer> {
    if (pos >= this.start && pos + n <= this.start + this.buf.length) {
      return this.buf.subarray(pos - this.start, pos - this.start + n);
    }
    const len = Math.min(Math.max(n, 65536), this.size - pos);
    const b = Buffer.alloc(Math.max(len, 0));
    const { bytesRead } = await this.fh.read(b, 0, b.length, pos);
    this.buf = b.subarray(0, bytesRead);
    this.start = pos;
    if (bytesRead < n) throw new NotOnnx('truncated');
    return this.buf.subarray(0, n);
  }
}

interface Field {
  no: number;
  wire: number;
  /** varint value (wire 0) */
  value: number;
  /** payload start / length (wire 2) */
  start: number;
  length: number;
}

async function readVarint(w: FileWindow, pos: number, end: number): Promise<{ value: number; next: number }> {
  const b = await w.bytes(pos, Math.min(10, end - pos));
  let value = 0;
  let mul = 1;
  for (let i = 0; i < b.length; i++) {
    const byte = b[i]!;
    value += (byte & 0x7f) * mul;
    mul *= 128;
    if ((byte & 0x80) === 0) return { value, next: pos + i + 1 };
  }
  throw new NotOnnx('bad varint');
}

/** Walk the fields of a message in [start, end). */
async function walk(w: FileWindow, start: number, end: number, visit: (f: Field) => Promise<void> | void): Promise<void> {
  let pos = start;
  while (pos < end) {
    const tag = await readVarint(w, pos, end);
    const no = Math.floor(tag.value / 8);
    const wire = tag.value % 8;
    pos = tag.next;
    if (no === 0) throw new NotOnnx('field 0');
    const f: Field = { no, wire, value: 0, start: pos, length: 0 };
    if (wire === 0) {
      const v = await readVarint(w, pos, end);
      f.value = v.value;
      pos = v.next;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else if (wire === 2) {
      const len = await readVarint(w, pos, end);
      f.start = len.next;
      f.length = len.value;
      pos = len.next + len.value;
    } else {
      throw new NotOnnx(`wire type ${wire}`);
    }
    if (pos > end) throw new NotOnnx('field past end');
    await visit(f);
  }
}

function valueInfoOf(bytes: Uint8Array): OnnxValueInfo {
  const vi = onnx.ValueInfoProto.decode(bytes);
  const tensor = vi.type?.tensorType;
  const dims = tensor?.shape?.dim;
  return {
    name: vi.name,
    elemType: tensor?.elemType ?? 0,
    shape: dims
      ? dims.map((d) => {
          if (d.dimParam) return d.dimParam;
          if (d.dimValue !== undefined && d.dimValue !== null) {
            const n = Number(d.dimValue);
            return n > 0 ? n : null;
          }
          return null;
        })
      : null,
  };
}

/**
 * Read the interface of an ONNX model file. Throws MedpersamUserError 'NOT_AN_ONNX_MODEL' when the file is not a
 * (non-empty) ONNX ModelProto, 'MODEL_FILE_UNREADABLE' when it cannot be read.
 */
export async function inspectOnnxFile(path: string): Promise<OnnxFileInfo> {
  let fh: import('node:fs/promises').FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new MedpersamUserError('MODEL_FILE_UNREADABLE', `cannot read the model file (${(err as NodeJS.ErrnoException).code ?? err})`, { file: path, cause: err });
  }
  try {
    const size = (await fh.stat()).size;
    const w = new FileWindow(fh, size);
    const info: OnnxFileInfo = { path, irVersion: 0, opset: null, inputs: [], outputs: [], externalDataFiles: [] };
    let graph: Field | null = null;
    await walk(w, 0, size, async (f) => {
      if (f.no === 1 && f.wire === 0) info.irVersion = f.value;
      else if (f.no === 7 && f.wire === 2) graph = f;
      else if (f.no === 8 && f.wire === 2) {
        const op = onnx.OperatorSetIdProto.decode(await w.bytes(f.start, f.length));
        if (!op.domain || op.domain === 'ai.onnx') info.opset = Number(op.version);
      }
    });
    const g = graph as Field | null;
    if (!g || info.irVersion <= 0) throw new NotOnnx('no graph');
    const initializerNames = new Set<string>();
    const external = new Set<string>();
    await walk(w, g.start, g.start + g.length, async (f) => {
      if (f.wire !== 2) return;
      if (f.no === 11) info.inputs.push(valueInfoOf(await readSmall(w, f)));
      else if (f.no === 12) info.outputs.push(valueInfoOf(await readSmall(w, f)));
      else if (f.no === 5) {
        // TensorProto header: name (8), external_data (13: key 1 / value 2); raw data skipped.
        await walk(w, f.start, f.start + f.length, async (t) => {
          if (t.no === 8 && t.wire === 2) initializerNames.add((await w.bytes(t.start, t.length)).toString('utf8'));
          else if (t.no === 13 && t.wire === 2) {
            const e = onnx.StringStringEntryProto.decode(await w.bytes(t.start, t.length));
            if (e.key === 'location' && e.value) external.add(e.value);
          }
        });
      }
    });
    // Old IR versions list initializers among the inputs too: they are not real inputs.
    info.inputs = info.inputs.filter((i) => !initializerNames.has(i.name));
    if (info.inputs.length === 0 || info.outputs.length === 0) throw new NotOnnx('no inputs/outputs');
    info.externalDataFiles = [...external];
    return info;
  } catch (err) {
    if (err instanceof MedpersamUserError) throw err;
    throw new MedpersamUserError(
      'NOT_AN_ONNX_MODEL',
      'is not an ONNX model (no readable ModelProto graph with inputs and outputs); the file may be damaged, ' +
        'a partial download, or another format — re-download or re-export it',
      { file: path, cause: err },
    );
  } finally {
    await fh.close();
  }
}

async function readSmall(w: FileWindow, f: Field): Promise<Buffer> {
  if (f.length > 1 << 20) throw new NotOnnx('value info too large');
  return Buffer.from(await w.bytes(f.start, f.length));
}

// ------------------------------------------------------------------ classification

export interface SamModelFiles {
  dir: string;
  encoder: OnnxFileInfo;
  decoder: OnnxFileInfo;
  encoderVariant: EncoderVariant;
  /** Encoder input name. */
  encoderInputName: string;
  /** Encoder output that holds the image embedding. */
  embeddingOutputName: string;
  /**
   * Embedding shape [1,C,h,w]: the encoder's declared output shape when it is fixed, else the decoder's declared
   * `image_embeddings` input (torch's exporter writes a ViT encoder's output as [?,256,?,?]); null when neither
   * graph fixes it — then the first encoder run decides (`checkEmbeddingFits`).
   */
  embeddingDims: readonly [number, number, number, number] | null;
  /** Where `embeddingDims` came from. */
  embeddingDimsSource: 'encoder' | 'decoder' | 'first-run';
  /** The declared shapes, kept to check an actual embedding against both graphs after a run. */
  encoderEmbeddingShape: (number | string | null)[];
  decoderEmbeddingShape: (number | string | null)[] | null;
  /** K read from the decoder's `iou_predictions` shape; null when symbolic. */
  decoderOutputs: number | null;
  /** Whether the decoder already has a `target_embedding` input. */
  decoderHasTargetEmbedding: boolean;
}

const DECODER_HINTS = new Set([
  'point_coords',
  'point_labels',
  'mask_input',
  'has_mask_input',
  'input_points',
  'input_labels',
  'batched_point_coords',
  'batched_point_labels',
  'image_embed',
  'high_res_feats_0',
  'image_features_0',
]);

function isDecoderLike(info: OnnxFileInfo): boolean {
  return info.inputs.some((i) => DECODER_HINTS.has(i.name)) || (info.inputs.length > 1 && info.inputs.some((i) => i.name === 'image_embeddings'));
}

function encoderVariantOf(info: OnnxFileInfo): { variant: EncoderVariant; input: OnnxValueInfo } | null {
  if (info.inputs.length !== 1) return null;
  const input = info.inputs[0]!;
  const s = input.shape;
  if (!s) return input.name === 'input_image' ? { variant: 'input_image', input } : null;
  if (s.length === 4 && s[1] === 3) return { variant: 'plain', input };
  if (s.length === 3 && s[2] === 3) return { variant: 'input_image', input };
  return null;
}

const fmt = (s: (number | string | null)[] | null): string =>
  s ? `[${s.map((d) => (d === null ? '?' : d)).join(',')}]` : '[unknown]';

function byName(paths: OnnxFileInfo[], word: string): OnnxFileInfo[] {
  const hit = paths.filter((p) => basename(p.path).toLowerCase().includes(word));
  return hit.length > 0 ? hit : paths;
}

/**
 * Find the encoder and decoder `.onnx` files in `dir` and validate them as a Med-PerSAM-capable pair.
 * Errors (MedpersamUserError): NOT_A_MODEL_FOLDER, INCOMPLETE_MODEL_FOLDER, NOT_AN_ONNX_MODEL,
 * DECODER_WITHOUT_MASK_INPUT, DECODER_INPUTS_MISMATCH, UNSUPPORTED_ENCODER, MODEL_PAIR_MISMATCH, MODEL_KIND_MISMATCH,
 * UNSUPPORTED_SAM2_VARIANT,
 * AMBIGUOUS_MODEL_FOLDER, MISSING_EXTERNAL_DATA.
 */
export async function findSamModelFiles(dir: string): Promise<SamModelFiles> {
  let names: string[];
  try {
    const st = await stat(dir);
    if (!st.isDirectory()) {
      throw new MedpersamUserError('NOT_A_MODEL_FOLDER', `is a file; give the folder that holds the SAM encoder and decoder .onnx files (e.g. ${dirname(dir)})`, { file: dir });
    }
    names = (await readdir(dir)).filter((n) => n.toLowerCase().endsWith('.onnx')).sort();
  } catch (err) {
    if (err instanceof MedpersamUserError) throw err;
    throw new MedpersamUserError('NOT_A_MODEL_FOLDER', `SAM model folder not found (${(err as NodeJS.ErrnoException).code ?? err})`, { file: dir, cause: err });
  }
  const infos: OnnxFileInfo[] = [];
  const broken: MedpersamUserError[] = [];
  for (const n of names) {
    try {
      infos.push(await inspectOnnxFile(join(dir, n)));
    } catch (err) {
      if (err instanceof MedpersamUserError && err.code === 'NOT_AN_ONNX_MODEL') broken.push(err);
      else throw err;
    }
  }
  let decoders = infos.filter(isDecoderLike);
  let encoders = infos.filter((i) => !isDecoderLike(i) && encoderVariantOf(i) !== null);
  if (encoders.length > 1) encoders = byName(encoders, 'encoder');
  if (decoders.length > 1) decoders = byName(decoders, 'decoder');
  // A decoder that cannot serve Med-PerSAM is the more useful message, even when the encoder is missing too.
  if (decoders.length === 1) validateAnyDecoder(decoders[0]!);
  // A complete pair wins over stray broken files; otherwise the broken file is the problem to report.
  if ((encoders.length === 0 || decoders.length === 0) && broken.length > 0) throw broken[0]!;
  if (encoders.length === 0 || decoders.length === 0) {
    const missing =
      encoders.length === 0 && decoders.length === 0
        ? 'both the image encoder and the mask decoder'
        : encoders.length === 0
          ? 'the image encoder (an .onnx with one image input, e.g. *encoder*.onnx)'
          : 'the mask decoder (an .onnx with point_coords/point_labels/mask_input inputs, e.g. *decoder*.onnx)';
    const found = infos.length > 0 ? ` Found: ${infos.map((i) => basename(i.path)).join(', ')}.` : ' No .onnx files found.';
    throw new MedpersamUserError(
      'INCOMPLETE_MODEL_FOLDER',
      `SAM model folder is missing ${missing}.${found} A model folder needs both files; pull one with ` +
        '`medpersam models pull <id>` or export them (segment-anything scripts/export_onnx_model.py for the decoder, samexporter for the encoder).',
      { file: dir },
    );
  }
  if (encoders.length > 1 || decoders.length > 1) {
    const many = encoders.length > 1 ? encoders : decoders;
    throw new MedpersamUserError(
      'AMBIGUOUS_MODEL_FOLDER',
      `holds several candidate ${encoders.length > 1 ? 'encoders' : 'decoders'} (${many.map((i) => basename(i.path)).join(', ')}); keep one pair per folder`,
      { file: dir },
    );
  }
  const encoder = encoders[0]!;
  const decoder = decoders[0]!;
  validateAnyDecoder(decoder);
  checkSameKind(encoder, decoder, dir);
  if (isSam2Encoder(encoder)) return sam2ModelFiles(dir, encoder, decoder);
  const ev = encoderVariantOf(encoder)!;
  if (ev.variant === 'plain') {
    const s = ev.input.shape!;
    if ((s[2] !== null && typeof s[2] === 'number' && s[2] !== 1024) || (typeof s[3] === 'number' && s[3] !== 1024)) {
      throw new MedpersamUserError(
        'UNSUPPORTED_ENCODER',
        `encoder input ${ev.input.name} ${fmt(s)} is not SAM's 1024×1024 input (MedSAM/LiteMedSAM-style encoders are not supported)`,
        { file: encoder.path },
      );
    }
  }
  // The embedding output: named image_embeddings, else the one rank-4 (or rank-unknown) output. Its dims may be
  // symbolic ([?,256,?,?] from torch's exporter for ViT encoders): then the decoder's input, or the first run, fixes them.
  const embOut =
    encoder.outputs.find((o) => o.name === 'image_embeddings') ??
    encoder.outputs.find((o) => o.shape?.length === 4) ??
    (encoder.outputs.length === 1 && encoder.outputs[0]!.shape === null ? encoder.outputs[0] : undefined);
  const encShape = embOut?.shape ?? (embOut ? [null, null, null, null] : null);
  if (!embOut || !encShape || encShape.length !== 4 || (typeof encShape[0] === 'number' && encShape[0] !== 1)) {
    throw new MedpersamUserError(
      'UNSUPPORTED_ENCODER',
      `encoder has no image embedding output of shape [1,C,h,w] (outputs: ${encoder.outputs.map((o) => `${o.name} ${fmt(o.shape)}`).join(', ')})`,
      { file: encoder.path },
    );
  }
  const decEmb = decoder.inputs.find((i) => i.name === 'image_embeddings')!;
  const decShape = decEmb.shape;
  if (decShape && (decShape.length !== 4 || decShape.some((v, i) => typeof v === 'number' && typeof encShape[i] === 'number' && v !== encShape[i]))) {
    throw pairMismatch(basename(encoder.path), fmt(encShape), basename(decoder.path), fmt(decShape), dir);
  }
  const fromEncoder = fixedEmbeddingDims(encShape);
  const fromDecoder = fixedEmbeddingDims(decShape);
  const embeddingDims = fromEncoder ?? fromDecoder;
  const embeddingDimsSource = fromEncoder ? 'encoder' : fromDecoder ? 'decoder' : 'first-run';
  await checkExternalData([encoder, decoder]);
  const iou = decoder.outputs.find((o) => o.name === 'iou_predictions')!;
  const k = iou.shape && typeof iou.shape[1] === 'number' ? iou.shape[1] : null;
  return {
    dir,
    encoder,
    decoder,
    encoderVariant: ev.variant,
    encoderInputName: ev.input.name,
    embeddingOutputName: embOut.name,
    embeddingDims,
    embeddingDimsSource,
    encoderEmbeddingShape: encShape,
    decoderEmbeddingShape: decShape,
    decoderOutputs: k,
    decoderHasTargetEmbedding: decoder.inputs.some((i) => i.name === 'target_embedding'),
  };
}

async function checkExternalData(infos: OnnxFileInfo[]): Promise<void> {
  for (const info of infos) {
    for (const f of info.externalDataFiles) {
      try {
        await access(join(dirname(info.path), f));
      } catch {
        throw new MedpersamUserError(
          'MISSING_EXTERNAL_DATA',
          `refers to external weight data "${f}", which is not beside it; copy that file into ${dirname(info.path)}`,
          { file: info.path },
        );
      }
    }
  }
}

const namesOf = (values: OnnxValueInfo[]): string[] => values.map((v) => v.name);

function isSam2Encoder(info: OnnxFileInfo): boolean {
  return namesLookSam2(namesOf(info.outputs));
}

function isSam2Decoder(info: OnnxFileInfo): boolean {
  return namesLookSam2(namesOf(info.inputs));
}

/** SAM 2 decoders: samexporter's interface (sam2-interface.ts), else the error names what differs; SAM 1: `validateDecoder`. */
export function validateAnyDecoder(decoder: OnnxFileInfo): void {
  if (!isSam2Decoder(decoder)) return validateDecoder(decoder);
  const problem = sam2DecoderProblem(namesOf(decoder.inputs), namesOf(decoder.outputs));
  if (problem) throw new MedpersamUserError('UNSUPPORTED_SAM2_VARIANT', problem, { file: decoder.path });
}

/** A SAM 1 encoder with a SAM 2 decoder (or the reverse) is refused, naming what tells each apart. */
function checkSameKind(encoder: OnnxFileInfo, decoder: OnnxFileInfo, dir: string): void {
  const encoderSam2 = isSam2Encoder(encoder);
  if (encoderSam2 === isSam2Decoder(decoder)) return;
  const kind = (sam2: boolean) => (sam2 ? 'SAM 2' : 'SAM 1');
  const list = (vs: OnnxValueInfo[]) => vs.map((v) => v.name).join(', ');
  throw new MedpersamUserError(
    'MODEL_KIND_MISMATCH',
    `the folder mixes SAM 1 and SAM 2 files: encoder ${basename(encoder.path)} is ${kind(encoderSam2)} (outputs ${list(encoder.outputs)}) ` +
      `but decoder ${basename(decoder.path)} is ${kind(!encoderSam2)} (inputs ${list(decoder.inputs)}); keep one model's encoder and decoder per folder`,
    { file: dir },
  );
}

/** The SAM 2 pair (samexporter's interface; decoder already checked): shapes and the files' facts. */
async function sam2ModelFiles(dir: string, encoder: OnnxFileInfo, decoder: OnnxFileInfo): Promise<SamModelFiles> {
  const problem = sam2EncoderProblem(namesOf(encoder.inputs), namesOf(encoder.outputs));
  if (problem) throw new MedpersamUserError('UNSUPPORTED_SAM2_VARIANT', problem, { file: encoder.path });
  const input = encoder.inputs.find((i) => i.name === SAM2_ENCODER_INPUT)!;
  const s = input.shape;
  if (s && (s.length !== 4 || [1, 3, 1024, 1024].some((v, i) => typeof s[i] === 'number' && s[i] !== v))) {
    throw new MedpersamUserError('UNSUPPORTED_ENCODER', `SAM 2 encoder input ${input.name} ${fmt(s)} is not [1,3,1024,1024]`, { file: encoder.path });
  }
  const encShape = encoder.outputs.find((o) => o.name === SAM2_EMBEDDING_OUTPUT)!.shape ?? [null, null, null, null];
  const decShape = decoder.inputs.find((i) => i.name === SAM2_EMBEDDING_OUTPUT)!.shape;
  if (decShape && (decShape.length !== 4 || decShape.some((v, i) => typeof v === 'number' && typeof encShape[i] === 'number' && v !== encShape[i]))) {
    throw pairMismatch(basename(encoder.path), fmt(encShape), basename(decoder.path), fmt(decShape), dir);
  }
  await checkExternalData([encoder, decoder]);
  const fromEncoder = fixedEmbeddingDims(encShape);
  const fromDecoder = fixedEmbeddingDims(decShape);
  const iou = decoder.outputs.find((o) => o.name === 'iou_predictions')!;
  return {
    dir,
    encoder,
    decoder,
    encoderVariant: 'sam2',
    encoderInputName: SAM2_ENCODER_INPUT,
    embeddingOutputName: SAM2_EMBEDDING_OUTPUT,
    embeddingDims: fromEncoder ?? fromDecoder,
    embeddingDimsSource: fromEncoder ? 'encoder' : fromDecoder ? 'decoder' : 'first-run',
    encoderEmbeddingShape: encShape,
    decoderEmbeddingShape: decShape,
    decoderOutputs: iou.shape && typeof iou.shape[1] === 'number' ? iou.shape[1] : null,
    decoderHasTargetEmbedding: decoder.inputs.some((i) => i.name === 'target_embedding'),
  };
}

/** [1,C,h,w] when C, h and w are numbers, else null. */
function fixedEmbeddingDims(shape: (number | string | null)[] | null): [number, number, number, number] | null {
  return shape && shape.length === 4 && shape.slice(1).every((d) => typeof d === 'number')
    ? [1, shape[1] as number, shape[2] as number, shape[3] as number]
    : null;
}

function pairMismatch(encoderName: string, produced: string, decoderName: string, expected: string, dir: string): MedpersamUserError {
  return new MedpersamUserError(
    'MODEL_PAIR_MISMATCH',
    `encoder ${encoderName} produces embeddings ${produced} but decoder ${decoderName} expects image_embeddings ${expected}; ` +
      'use an encoder and decoder exported from the same SAM model',
    { file: dir },
  );
}

/**
 * After an encoder run: check the embedding it actually produced against both graphs' declared shapes (numeric
 * dims must agree; batch 1, rank 4). Throws MODEL_PAIR_MISMATCH naming both files.
 */
export function checkEmbeddingFits(dims: readonly number[], files: SamModelFiles): void {
  const produced = `[${dims.join(',')}]`;
  const agrees = (shape: (number | string | null)[] | null) =>
    !shape || (shape.length === dims.length && shape.every((d, i) => typeof d !== 'number' || d === dims[i]));
  if (dims.length !== 4 || dims[0] !== 1 || !agrees(files.encoderEmbeddingShape)) {
    throw new MedpersamUserError(
      'UNSUPPORTED_ENCODER',
      `encoder produced an embedding ${produced}, expected one image embedding [1,C,h,w] (declared ${fmt(files.encoderEmbeddingShape)})`,
      { file: files.encoder.path },
    );
  }
  if (!agrees(files.decoderEmbeddingShape)) {
    throw pairMismatch(basename(files.encoder.path), produced, basename(files.decoder.path), fmt(files.decoderEmbeddingShape), files.dir);
  }
}

/** Check the decoder speaks the official format, with `mask_input` (transformers.js / EfficientSAM exports have none). */
export function validateDecoder(decoder: OnnxFileInfo): void {
  const names = new Set(decoder.inputs.map((i) => i.name));
  if (!names.has('mask_input')) {
    const style = names.has('input_points')
      ? 'This looks like a transformers.js / Xenova SAM export (prompt_encoder_mask_decoder.onnx with input_points/input_labels). '
      : names.has('batched_point_coords')
        ? 'This looks like an EfficientSAM export. '
        : '';
    throw new MedpersamUserError(
      'DECODER_WITHOUT_MASK_INPUT',
      `the decoder has no mask_input (inputs: ${[...names].join(', ')}). ${style}Med-PerSAM prompts SAM with points, a box AND a mask ` +
        '(the warped reference mask, refined each round), so it needs a decoder that accepts a mask prompt. Use the official ' +
        'segment-anything export (scripts/export_onnx_model.py: inputs image_embeddings, point_coords, point_labels, mask_input, ' +
        'has_mask_input, orig_im_size), e.g. the MobileSAM / SAM ViT-B decoders from `medpersam models list`.',
      { file: decoder.path },
    );
  }
  const missing = OFFICIAL_DECODER_INPUTS.filter((n) => !names.has(n));
  const outs = new Set(decoder.outputs.map((o) => o.name));
  const missingOut = OFFICIAL_DECODER_OUTPUTS.filter((n) => !outs.has(n));
  if (missing.length > 0 || missingOut.length > 0) {
    throw new MedpersamUserError(
      'DECODER_INPUTS_MISMATCH',
      `the decoder is not in the official SAM ONNX format: missing ${[...missing.map((m) => `input ${m}`), ...missingOut.map((m) => `output ${m}`)].join(', ')}`,
      { file: decoder.path },
    );
  }
  const mi = decoder.inputs.find((i) => i.name === 'mask_input')!;
  if (mi.shape && (mi.shape.length !== 4 || [1, 1, 256, 256].some((v, i) => typeof mi.shape![i] === 'number' && mi.shape![i] !== v))) {
    throw new MedpersamUserError('DECODER_INPUTS_MISMATCH', `mask_input has shape ${fmt(mi.shape)}, expected [1,1,256,256]`, { file: decoder.path });
  }
}
