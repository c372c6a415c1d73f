/**
 * A trained warping model as a reusable file (pure; runs in a browser): the network weights, the settings that
 * build the network, and what it was trained from, so that new images of the same kind can be segmented later
 * without training again. The file side (atomic write, read with the file named in errors) is
 * src/io/warp-model-file.ts.
 *
 * Layout (little endian):
 *   "MPSWMDL1" (8 bytes) | uint32 header length | header JSON (UTF-8) | zero padding to a multiple of 4 |
 *   float32 weights back to back in the header's order | uint32 CRC-32 of every byte before it.
 *
 * The header records the format version, the medpersam version that wrote it, the full warp settings, the
 * reference (SHA-256 of its decoded pixels and of its label map, its size and classes: the model only fits that
 * reference, because the reference image is the network's moving input and its label is what gets warped) and
 * the training that produced it. Every problem reading a file is a MedpersamUserError with a WARP_MODEL_* code.
 */
import { MedpersamUserError } from '../errors.js';
import { crc32 } from '../io/crc32.js';
import type { NamedArray } from './params.js';
import type { WarpSettings } from './presets.js';

const MAGIC = 'MPSWMDL1';
/** Version of this layout and header; readers reject other versions with WARP_MODEL_VERSION. */
export const WARP_MODEL_FORMAT_VERSION = 1;
export const WARP_MODEL_KIND = 'medpersam-warp-model';

export interface SavedWarpReference {
  /** SHA-256 (hex) of the decoded reference image: width, height, channels, then its float32 samples. */
  imageSha256: string;
  /** SHA-256 (hex) of the reference label map: width, height, then its label bytes. */
  labelSha256: string;
  width: number;
  height: number;
  /** Foreground classes of the reference label (one-hot channel k+1 ↔ classes[k]). */
  classes: number[];
  /** File name the reference was read from (for messages only; not checked). */
  name?: string;
}

export interface SavedWarpTraining {
  /** Last phase trained ('initial' or 'retrain-<round>') and optimiser steps in all phases. */
  phase: string;
  totalSteps: number;
  /** Threads that trained it and the tfjs backend. */
  threads: number;
  backend: string;
  /** Test images it was trained on. */
  testImages: number;
}

export interface SavedWarpModel {
  kind: typeof WARP_MODEL_KIND;
  formatVersion: number;
  medpersamVersion: string;
  createdAt: string;
  settings: WarpSettings;
  reference: SavedWarpReference;
  training: SavedWarpTraining;
  weights: NamedArray[];
}

type Header = Omit<SavedWarpModel, 'weights'> & { weights: { name: string; shape: number[] }[] };

const sizeOf = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

export function serializeWarpModel(model: SavedWarpModel): Uint8Array {
  const header: Header = { ...model, weights: model.weights.map((w) => ({ name: w.name, shape: [...w.shape] })) };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = Math.ceil((12 + headerBytes.length) / 4) * 4;
  let floats = 0;
  for (const w of model.weights) {
    if (w.data.length !== sizeOf(w.shape)) throw new Error(`weight array ${w.name}: length does not match its shape`);
    floats += w.data.length;
  }
  const out = new Uint8Array(dataStart + floats * 4 + 4);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, headerBytes.length, true);
  out.set(headerBytes, 12);
  let off = dataStart;
  for (const w of model.weights) {
    for (let i = 0; i < w.data.length; i++) view.setFloat32(off + i * 4, w.data[i]!, true);
    off += w.data.length * 4;
  }
  view.setUint32(off, crc32(out.subarray(0, off)), true);
  return out;
}

function corrupt(problem: string): MedpersamUserError {
  return new MedpersamUserError('WARP_MODEL_CORRUPT', `the warp model file is damaged (${problem}); save it again from the run that trained it`);
}

/** Parse a warp model file's bytes; every problem is a MedpersamUserError (the caller adds the file name). */
export function deserializeWarpModel(bytes: Uint8Array): SavedWarpModel {
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new MedpersamUserError(
      'WARP_MODEL_NOT_A_MODEL',
      'not a medpersam warp model file (it should be the warp-model.mpwarp that `medpersam segment` writes in its output folder)',
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getUint32(8, true);
  if (12 + headerLen + 4 > bytes.length) throw corrupt('truncated header');
  let header: Header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + headerLen))) as Header;
  } catch {
    throw corrupt('unreadable header');
  }
  if (header === null || typeof header !== 'object' || header.kind !== WARP_MODEL_KIND) throw corrupt('header is not a warp model header');
  if (header.formatVersion !== WARP_MODEL_FORMAT_VERSION) {
    throw new MedpersamUserError(
      'WARP_MODEL_VERSION',
      `warp model format version ${String(header.formatVersion)} (written by medpersam ${String(header.medpersamVersion)}); this medpersam reads version ${WARP_MODEL_FORMAT_VERSION}: ` +
        (Number(header.formatVersion) > WARP_MODEL_FORMAT_VERSION ? 'update medpersam' : 'train the model again with this version'),
    );
  }
  if (!Array.isArray(header.weights) || !header.settings || !header.reference) throw corrupt('incomplete header');
  const dataStart = Math.ceil((12 + headerLen) / 4) * 4;
  let floats = 0;
  for (const w of header.weights) {
    if (!Array.isArray(w.shape) || w.shape.some((n) => !Number.isInteger(n) || n < 0)) throw corrupt(`bad shape for ${String(w.name)}`);
    floats += sizeOf(w.shape);
  }
  const end = dataStart + floats * 4;
  if (end + 4 !== bytes.length) throw corrupt(end + 4 > bytes.length ? 'truncated weights' : 'trailing bytes');
  if (view.getUint32(end, true) !== crc32(bytes.subarray(0, end))) throw corrupt('checksum mismatch');
  let off = dataStart;
  const weights: NamedArray[] = header.weights.map((w) => {
    const n = sizeOf(w.shape);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = view.getFloat32(off + i * 4, true);
    off += n * 4;
    return { name: w.name, shape: w.shape, data };
  });
  return { ...header, weights };
}

/** SHA-256 (hex) of bytes, with the platform's Web Crypto (Node ≥ 19 and browsers). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

function sizedBytes(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(dims.length * 4 + data.length);
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(i * 4, d, true));
  out.set(data, dims.length * 4);
  return out;
}

/** The reference identity recorded in (and checked against) a saved model: hashes of its decoded content. */
export async function referenceHashes(
  image: { width: number; height: number; channels: number; data: Float32Array },
  label: { width: number; height: number; data: Uint8Array },
): Promise<{ imageSha256: string; labelSha256: string }> {
  const imageBytes = new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return {
    imageSha256: await sha256Hex(sizedBytes([image.width, image.height, image.channels], imageBytes)),
    labelSha256: await sha256Hex(sizedBytes([label.width, label.height], label.data)),
  };
}

/**
 * Check that a saved model belongs to this reference pair (same decoded pixels, same label map); a mismatch is
 * WARP_MODEL_REFERENCE_MISMATCH naming what differs.
 */
export async function checkSavedReference(
  saved: SavedWarpModel,
  image: { width: number; height: number; channels: number; data: Float32Array },
  label: { width: number; height: number; data: Uint8Array },
): Promise<void> {
  const h = await referenceHashes(image, label);
  const trainedWith = saved.reference.name ? ` (${saved.reference.name}, ${saved.reference.width}x${saved.reference.height})` : '';
  if (h.imageSha256 !== saved.reference.imageSha256) {
    throw new MedpersamUserError(
      'WARP_MODEL_REFERENCE_MISMATCH',
      `the warp model was trained with another reference image${trainedWith}; pass the same --ref it was trained with (its pixels must match exactly)`,
    );
  }
  if (h.labelSha256 !== saved.reference.labelSha256) {
    throw new MedpersamUserError(
      'WARP_MODEL_REFERENCE_MISMATCH',
      `the warp model was trained with another reference mask${trainedWith}; pass the same --ref-mask it was trained with`,
    );
  }
}
