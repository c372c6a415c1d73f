/**
 * The run store: where a run keeps what it needs to resume (browser-safe interface and in-memory implementation).
 *
 * A store holds, for one run:
 *   - the run's fingerprint (every setting that changes results + the inputs' content ids); reopening with another
 *     fingerprint is refused (RUN_SETTINGS_MISMATCH names the first differing setting);
 *   - the warp model's latest checkpoint (src/warp/checkpoint.ts CheckpointData, saved every 25 steps, at phase ends and on a stop);
 *   - per (round, image) results: the label map, the warped mask prompts and the round record. Its presence means
 *     "done": a finished image is never recomputed, training continues from the last checkpoint's step.
 *
 * Implementations: `MemoryRunStore` (here: tests, one-off runs), `FileRunStore` (run-state.ts, Node: a folder
 * under the output folder), `WarpOnlyFolderStore` (run-state.ts, Node: the warp-only layout), and an IndexedDB
 * store in the browser app. The label codec below (run-length + deflate + base64) is shared by all that serialise.
 */
import { deflateSync, inflateSync } from 'fflate';
import { MedpersamUserError } from '../errors.js';
import type { Box, LabelMap, LabeledPoint } from '../image/types.js';
import { deserializeCheckpoint, serializeCheckpoint, type CheckpointData } from '../warp/checkpoint.js';

/** What the run did for one class of one image in one round (the last decoder pass). */
export interface ClassRoundRecord {
  cls: number;
  /** Final-pass prompts (original frame): positives then negatives; the box (null when no box was used). */
  points: LabeledPoint[];
  box: Box | null;
  /** Pixels of the round's first mask prompt (the warped reference class mask, perturbed when asked). */
  maskPromptPixels: number;
  /** IoU score of the chosen output per pass (empty when SAM was not called, e.g. an empty mask prompt). */
  iouScores: number[];
  /** Decoder calls made for this class. */
  decoderCalls: number;
  /** Why SAM was skipped or refinement stopped early, when it was. */
  notes: string[];
}

export interface ImageRoundRecord {
  id: string;
  round: number;
  width: number;
  height: number;
  classes: ClassRoundRecord[];
  /** Milliseconds spent on this image in this round, by stage. */
  timingsMs: Record<string, number>;
}

export interface ImageRoundResult {
  record: ImageRoundRecord;
  label: LabelMap;
  warped: LabelMap;
}

/** Resumable state of one run (see the module comment). Every method may throw MedpersamUserError naming `location`. */
export interface RunStore {
  /** Where the state lives, for messages: a folder, "browser storage (run …)", "memory". */
  readonly location: string;
  /** Where the checkpoint lives, for messages. */
  readonly checkpointLocation: string;
  /**
   * Open the run for this fingerprint: an existing run with another fingerprint → RUN_SETTINGS_MISMATCH (or the
   * store's own refusal, e.g. a folder holding files it did not write); a fresh run records the fingerprint.
   * `resumed`: the store already held a run with this fingerprint.
   */
  open(fingerprint: unknown): Promise<{ resumed: boolean }>;
  /** The latest checkpoint, or null. A corrupt one → BAD_CHECKPOINT. */
  loadCheckpoint(): Promise<CheckpointData | null>;
  saveCheckpoint(checkpoint: CheckpointData): Promise<void>;
  /**
   * Checkpoints of the run's other models by name (the region-of-interest stage's crop models: 'roi-0', 'roi-1',
   * ...; names match /^[a-z0-9-]+$/). Optional: a store without them still runs, but a resumed run then retrains
   * those models from their last round instead of continuing mid-phase.
   */
  loadExtraCheckpoint?(name: string): Promise<CheckpointData | null>;
  saveExtraCheckpoint?(name: string, checkpoint: CheckpointData): Promise<void>;
  hasRoundResult(round: number, id: string): Promise<boolean>;
  writeRoundResult(record: ImageRoundRecord, label: LabelMap, warped: LabelMap): Promise<void>;
  /** The stored result, or null when the image is not done in that round. */
  readRoundResult(round: number, id: string): Promise<ImageRoundResult | null>;
}

/** Checks an extra checkpoint's name (it becomes a file name): lower-case letters, digits and dashes. */
export function checkCheckpointName(name: string): string {
  if (!/^[a-z0-9-]+$/.test(name) || name === 'warp') throw new Error(`invalid extra checkpoint name "${name}"`);
  return name;
}

// ---------------------------------------------------------------------------------------------------- fingerprints

/** First differing top-level (or nested, dotted) key between two JSON values, for the mismatch message. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (JSON.stringify(a) === JSON.stringify(b)) return null;
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])].sort();
    for (const k of keys) {
      const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], path ? `${path}.${k}` : k);
      if (d) return d;
    }
  }
  return path || '(root)';
}

function brief(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? 'unset' : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function getPath(o: unknown, path: string): unknown {
  if (path === '(root)') return o;
  let cur: unknown = o;
  for (const k of path.split('.')) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
  return cur;
}

/** The fingerprint as stored (JSON round trip: undefined fields dropped, numbers as JSON keeps them). */
export function normalizeFingerprint(fingerprint: unknown): unknown {
  return JSON.parse(JSON.stringify(fingerprint)) as unknown;
}

/** Throws RUN_SETTINGS_MISMATCH when a stored fingerprint differs from the new one. */
export function checkFingerprint(stored: { version: number; fingerprint: unknown }, version: number, normalized: unknown, location: string): void {
  const diff = stored.version === version ? firstDifference(stored.fingerprint, normalized) : 'state version';
  if (diff) {
    throw new MedpersamUserError(
      'RUN_SETTINGS_MISMATCH',
      `this output folder holds a run with other settings (${diff}: was ${brief(getPath(stored.fingerprint, diff))}, now ` +
        `${brief(getPath(normalized, diff))}); rerun with the same settings to resume, or choose another output folder`,
      { file: location },
    );
  }
}

// ---------------------------------------------------------------------------------------------------- label codec

/** Version of the stored round results (label codec and record fields). */
export const STATE_VERSION = 2;

/**
 * Label maps are mostly long runs: run-length coded (value byte + LEB128 run length), then deflated (fast level).
 * About 5x cheaper than deflating the raw map at 1024 px, same size.
 * Runs are measured 4 pixels at a time where the map is word-aligned (same bytes as a pixel-by-pixel scan); the
 * output grows in one buffer (a run takes at most 1 + 5 bytes).
 */
export function runLengthEncode(data: Uint8Array): Uint8Array {
  const n = data.length;
  const words = data.byteOffset % 4 === 0 ? new Uint32Array(data.buffer, data.byteOffset, n >>> 2) : null;
  const wordCount = n >>> 2;
  let out = new Uint8Array(Math.max(64, n >>> 4));
  let o = 0;
  let i = 0;
  while (i < n) {
    const v = data[i]!;
    let j = i + 1;
    if (words !== null) {
      while (j < n && (j & 3) !== 0 && data[j] === v) j++;
      if (j < n && (j & 3) === 0 && data[j] === v) {
        const word = (v * 0x01010101) >>> 0;
        let w = j >>> 2;
        while (w < wordCount && words[w] === word) w++;
        j = w << 2;
        while (j < n && data[j] === v) j++;
      }
    } else {
      while (j < n && data[j] === v) j++;
    }
    if (o + 6 > out.length) {
      const grown = new Uint8Array(out.length * 2);
      grown.set(out);
      out = grown;
    }
    out[o++] = v;
    let run = j - i;
    while (run >= 0x80) {
      out[o++] = (run & 0x7f) | 0x80;
      run = Math.floor(run / 128);
    }
    out[o++] = run;
    i = j;
  }
  return out.slice(0, o);
}

export function runLengthDecode(bytes: Uint8Array, length: number, file: string): Uint8Array {
  const out = new Uint8Array(length);
  let o = 0;
  let i = 0;
  while (i < bytes.length) {
    const v = bytes[i++]!;
    let run = 0;
    let scale = 1;
    for (;;) {
      if (i >= bytes.length) throw new MedpersamUserError('BAD_RUN_STATE', 'stored label is truncated', { file });
      const b = bytes[i++]!;
      run += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 128;
    }
    if (o + run > length) throw new MedpersamUserError('BAD_RUN_STATE', 'stored label is longer than its size', { file });
    out.fill(v, o, o + run);
    o += run;
  }
  if (o !== length) throw new MedpersamUserError('BAD_RUN_STATE', `stored label has ${o} pixels, expected ${length}`, { file });
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[B64.charCodeAt(i)] = i;
  return t;
})();

const B64_CODES = Uint8Array.from(B64, (c) => c.charCodeAt(0));
const ascii = new TextDecoder();

/** Standard base64 with padding (no Buffer / btoa: runs anywhere); the characters are built as bytes, then decoded. */
export function toBase64(bytes: Uint8Array): string {
  const chars = new Uint8Array(Math.ceil(bytes.length / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    chars[o++] = B64_CODES[n >> 18]!;
    chars[o++] = B64_CODES[(n >> 12) & 63]!;
    chars[o++] = B64_CODES[(n >> 6) & 63]!;
    chars[o++] = B64_CODES[n & 63]!;
  }
  if (i < bytes.length) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8);
    chars[o++] = B64_CODES[n >> 18]!;
    chars[o++] = B64_CODES[(n >> 12) & 63]!;
    chars[o++] = i + 1 < bytes.length ? B64_CODES[(n >> 6) & 63]! : 61; // '='
    chars[o++] = 61;
  }
  return ascii.decode(chars);
}

export function fromBase64(text: string, file: string): Uint8Array {
  const clean = text.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < clean.length; i++) {
    const c = clean.charCodeAt(i);
    const v = c < 128 ? B64_INDEX[c]! : -1;
    if (v < 0) throw new MedpersamUserError('BAD_RUN_STATE', 'stored label is not base64', { file });
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, o);
}

export function encodeLabel(label: LabelMap): string {
  return toBase64(deflateSync(runLengthEncode(label.data), { level: 1 }));
}

export function decodeLabel(b64: string, width: number, height: number, file: string): LabelMap {
  let inflated: Uint8Array;
  try {
    inflated = inflateSync(fromBase64(b64, file));
  } catch (err) {
    if (err instanceof MedpersamUserError) throw err;
    throw new MedpersamUserError('BAD_RUN_STATE', `stored label does not inflate (${(err as Error).message})`, { file, cause: err });
  }
  return { width, height, data: runLengthDecode(inflated, width * height, file) };
}

/** One round result as one JSON document (what the file and IndexedDB stores keep). */
export interface StoredImageRound extends ImageRoundRecord {
  version: number;
  /** Run-length coded, deflated, base64 label map (width·height pixels). */
  label: string;
  /** Warp-only label (the round's mask prompts), same coding; kept for the warp-vs-SAM comparison. */
  warped: string;
}

export function toStoredRound(record: ImageRoundRecord, label: LabelMap, warped: LabelMap): StoredImageRound {
  return { version: STATE_VERSION, ...record, label: encodeLabel(label), warped: encodeLabel(warped) };
}

export function fromStoredRound(s: StoredImageRound, file: string): ImageRoundResult {
  const { label, warped, version: _v, ...record } = s;
  return { record, label: decodeLabel(label, s.width, s.height, file), warped: decodeLabel(warped, s.width, s.height, file) };
}

// ---------------------------------------------------------------------------------------------------- memory store

const cloneLabel = (l: LabelMap): LabelMap => ({ width: l.width, height: l.height, data: l.data.slice() });

/** A run store in memory (copies in and out, so callers cannot alter stored state). */
export class MemoryRunStore implements RunStore {
  readonly checkpointLocation: string;
  private fingerprint: unknown = undefined;
  /** Serialised (as the file store writes it), so a later change to the caller's arrays cannot reach it. */
  private checkpoint: Uint8Array | null = null;
  private readonly extraCheckpoints = new Map<string, Uint8Array>();
  private readonly rounds = new Map<string, ImageRoundResult>();

  constructor(readonly location = 'memory') {
    this.checkpointLocation = `${location} (checkpoint)`;
  }

  async open(fingerprint: unknown): Promise<{ resumed: boolean }> {
    const normalized = normalizeFingerprint(fingerprint);
    if (this.fingerprint !== undefined) {
      checkFingerprint({ version: STATE_VERSION, fingerprint: this.fingerprint }, STATE_VERSION, normalized, this.location);
      return { resumed: true };
    }
    this.fingerprint = normalized;
    return { resumed: false };
  }

  async loadCheckpoint(): Promise<CheckpointData | null> {
    return this.checkpoint ? deserializeCheckpoint(this.checkpoint) : null;
  }

  async saveCheckpoint(checkpoint: CheckpointData): Promise<void> {
    this.checkpoint = serializeCheckpoint(checkpoint);
  }

  async loadExtraCheckpoint(name: string): Promise<CheckpointData | null> {
    const bytes = this.extraCheckpoints.get(checkCheckpointName(name));
    return bytes ? deserializeCheckpoint(bytes) : null;
  }

  async saveExtraCheckpoint(name: string, checkpoint: CheckpointData): Promise<void> {
    this.extraCheckpoints.set(checkCheckpointName(name), serializeCheckpoint(checkpoint));
  }

  private key(round: number, id: string): string {
    return `${round}\u0000${id}`;
  }

  async hasRoundResult(round: number, id: string): Promise<boolean> {
    return this.rounds.has(this.key(round, id));
  }

  async writeRoundResult(record: ImageRoundRecord, label: LabelMap, warped: LabelMap): Promise<void> {
    this.rounds.set(this.key(record.round, record.id), { record: structuredClone(record), label: cloneLabel(label), warped: cloneLabel(warped) });
  }

  async readRoundResult(round: number, id: string): Promise<ImageRoundResult | null> {
    const r = this.rounds.get(this.key(round, id));
    return r ? { record: structuredClone(r.record), label: cloneLabel(r.label), warped: cloneLabel(r.warped) } : null;
  }
}
