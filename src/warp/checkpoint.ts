/**
 * Checkpoint (de)serialisation, pure (no file system): network weights + AdamW state + training progress + RNG
 * state → one byte array, and back. The file side (atomic writes) is src/io/checkpoint-store.ts.
 *
 * Layout: "MPSWARP1" (8 bytes) | uint32 LE header length | header JSON (UTF-8) | zero padding to a multiple of 4 |
 * float32 LE arrays back to back in the order the header lists them (weights, then Adam m, then Adam v).
 */
import type { NamedArray } from './params.js';
import type { SamplerState } from './schedule.js';

const MAGIC = 'MPSWARP1';
/** Header version: 2 counts optimiser steps and stores the batch sampler (1 counted epochs; no longer read). */
const VERSION = 2;

export interface CheckpointProgress {
  /** Phase being trained: 'initial' or 'retrain-<round>'. */
  phase: string;
  /** Optimiser steps completed in that phase. */
  stepInPhase: number;
  /** Optimiser steps completed in total (all phases). */
  totalSteps: number;
  /** SeededRng state after the last completed step. */
  rngState: number;
  /** AdamW step counter. */
  optimizerStep: number;
  /** The batch sampler's shuffled pass and position in it (schedule.ts). */
  sampler: SamplerState;
  /**
   * The stopping rule's state (stop-rule.ts): the phase's latest per-step losses on the current grid, and whether
   * the phase has converged (stopped before its budget). Absent: no losses yet, not converged.
   */
  recentLosses?: number[];
  converged?: boolean;
}

export interface CheckpointData {
  /** Free-form settings the checkpoint was trained with (compared on resume). */
  settings: unknown;
  progress: CheckpointProgress;
  weights: NamedArray[];
  adamM: NamedArray[];
  adamV: NamedArray[];
}

interface HeaderEntry {
  name: string;
  shape: number[];
}

interface Header {
  version: number;
  settings: unknown;
  progress: CheckpointProgress;
  weights: HeaderEntry[];
  adamM: HeaderEntry[];
  adamV: HeaderEntry[];
}

const entries = (arrays: NamedArray[]): HeaderEntry[] => arrays.map((a) => ({ name: a.name, shape: a.shape }));
const sizeOf = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

export function serializeCheckpoint(data: CheckpointData): Uint8Array {
  const header: Header = {
    version: VERSION,
    settings: data.settings,
    progress: data.progress,
    weights: entries(data.weights),
    adamM: entries(data.adamM),
    adamV: entries(data.adamV),
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = Math.ceil((12 + headerBytes.length) / 4) * 4;
  const all = [...data.weights, ...data.adamM, ...data.adamV];
  let floats = 0;
  for (const a of all) {
    if (a.data.length !== sizeOf(a.shape)) throw new Error(`checkpoint array ${a.name}: length does not match shape`);
    floats += a.data.length;
  }
  const out = new Uint8Array(dataStart + floats * 4);
  out.set(new TextEncoder().encode(MAGIC), 0);
  const view = new DataView(out.buffer);
  view.setUint32(8, headerBytes.length, true);
  out.set(headerBytes, 12);
  let off = dataStart;
  for (const a of all) {
    for (let i = 0; i < a.data.length; i++) view.setFloat32(off + i * 4, a.data[i]!, true);
    off += a.data.length * 4;
  }
  return out;
}

/** Parse bytes written by serializeCheckpoint; throws a plain Error describing what is wrong. */
export function deserializeCheckpoint(bytes: Uint8Array): CheckpointData {
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new Error('not a medpersam warp checkpoint (bad magic)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getUint32(8, true);
  if (12 + headerLen > bytes.length) throw new Error('truncated checkpoint header');
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLen))) as Header;
  if (header.version !== VERSION) {
    throw new Error(
      header.version === 1
        ? 'checkpoint version 1 (epoch counters) was written by an older medpersam; start the run in a new output folder'
        : `unsupported checkpoint version ${String(header.version)}`,
    );
  }
  let off = Math.ceil((12 + headerLen) / 4) * 4;
  const read = (list: HeaderEntry[]): NamedArray[] =>
    list.map((e) => {
      const n = sizeOf(e.shape);
      if (off + n * 4 > bytes.length) throw new Error(`truncated checkpoint data at ${e.name}`);
      const data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = view.getFloat32(off + i * 4, true);
      off += n * 4;
      return { name: e.name, shape: e.shape, data };
    });
  const weights = read(header.weights);
  const adamM = read(header.adamM);
  const adamV = read(header.adamV);
  if (off !== bytes.length) throw new Error('checkpoint has trailing bytes (corrupt?)');
  return { settings: header.settings, progress: header.progress, weights, adamM, adamV };
}
