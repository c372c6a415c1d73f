/**
 * Resumable on-disk state of one Med-PerSAM run (Node-only: this is the run's on-disk cache).
 *
 * Layout under `<outDir>/.medpersam-run/`:
 *   settings.json                 the run's fingerprint (every setting that changes results + the inputs);
 *                                 a rerun with other settings → MedpersamUserError RUN_SETTINGS_MISMATCH
 *   warp.ckpt                     the warp model's latest checkpoint (written after every epoch, atomically)
 *   rounds/<r>/<id>.json          the result of image <id> in round r (label map + final prompts), written
 *                                 atomically once the image is done; its presence means "done"
 *
 * Rounds: r = 0 is the initial warp model's round, r = k the round after the k-th retraining. Round r is complete
 * before retraining k = r + 1 starts, so one "latest" checkpoint plus the per-image results are enough to resume
 * at any point: a finished image is never recomputed, a partial epoch is redone from the last epoch checkpoint.
 *
 * The label maps are stored run-length coded + deflated (fflate) and base64-encoded inside the JSON, so one file =
 * one atomic write.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'fflate';
import { MedpersamUserError } from '../errors.js';
import type { Box, LabelMap, LabeledPoint } from '../image/types.js';
import { writeFileAtomic } from '../io/atomic.js';
import { pathExists } from '../io/exists.js';

export const RUN_STATE_DIR = '.medpersam-run';
const STATE_VERSION = 2;

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

interface StoredImageRound extends ImageRoundRecord {
  version: number;
  /** Run-length coded, deflated, base64 label map (width·height pixels). */
  label: string;
  /** Warp-only label (the round's mask prompts), deflated base64; kept for the warp-vs-SAM comparison. */
  warped: string;
}

export interface ImageRoundResult {
  record: ImageRoundRecord;
  label: LabelMap;
  warped: LabelMap;
}

/**
 * Label maps are mostly long runs: run-length coded (value byte + LEB128 run length), then deflated (fast level).
 * About 5x cheaper than deflating the raw map at 1024 px, same size.
 */
function runLengthEncode(data: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < data.length) {
    const v = data[i]!;
    let j = i + 1;
    while (j < data.length && data[j] === v) j++;
    out.push(v);
    let run = j - i;
    while (run >= 0x80) {
      out.push((run & 0x7f) | 0x80);
      run = Math.floor(run / 128);
    }
    out.push(run);
    i = j;
  }
  return Uint8Array.from(out);
}

function runLengthDecode(bytes: Uint8Array, length: number, file: string): Uint8Array {
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

function encodeLabel(label: LabelMap): string {
  return Buffer.from(deflateSync(runLengthEncode(label.data), { level: 1 })).toString('base64');
}

function decodeLabel(b64: string, width: number, height: number, file: string): LabelMap {
  const data = runLengthDecode(inflateSync(new Uint8Array(Buffer.from(b64, 'base64'))), width * height, file);
  return { width, height, data };
}

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


async function hasVisibleFiles(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).some((n) => !n.startsWith('.'));
  } catch {
    return false;
  }
}

export interface OpenRunStateOptions {
  /** Folders under outDir that a fresh run must find empty (never overwrite a user's files). */
  outputFolders?: string[];
}

export class RunState {
  private constructor(
    readonly outDir: string,
    readonly dir: string,
    /** True when settings.json was already there (a resumed run). */
    readonly resumed: boolean,
  ) {}

  /**
   * Open (or create) the run state in `outDir` for these settings. A different fingerprint on disk →
   * RUN_SETTINGS_MISMATCH naming the first differing setting; a fresh run whose output folders already hold
   * files → OUTPUT_EXISTS.
   */
  static async open(outDir: string, fingerprint: unknown, opts: OpenRunStateOptions = {}): Promise<RunState> {
    const dir = join(outDir, RUN_STATE_DIR);
    const settingsPath = join(dir, 'settings.json');
    let stored: { version: number; fingerprint: unknown } | null = null;
    try {
      stored = JSON.parse(await readFile(settingsPath, 'utf8')) as { version: number; fingerprint: unknown };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new MedpersamUserError('BAD_RUN_STATE', `cannot read the run settings (${(err as Error).message}); use a new output folder`, {
          file: settingsPath,
          cause: err,
        });
      }
    }
    const normalized = JSON.parse(JSON.stringify(fingerprint)) as unknown;
    if (stored) {
      const diff = stored.version === STATE_VERSION ? firstDifference(stored.fingerprint, normalized) : 'state version';
      if (diff) {
        throw new MedpersamUserError(
          'RUN_SETTINGS_MISMATCH',
          `this output folder holds a run with other settings (${diff}: was ${brief(getPath(stored.fingerprint, diff))}, now ` +
            `${brief(getPath(normalized, diff))}); rerun with the same settings to resume, or choose another output folder`,
          { file: outDir },
        );
      }
      return new RunState(outDir, dir, true);
    }
    for (const f of opts.outputFolders ?? []) {
      if (await hasVisibleFiles(join(outDir, f))) {
        throw new MedpersamUserError(
          'OUTPUT_EXISTS',
          `${f}/ already holds files that this run did not write; choose an empty output folder`,
          { file: join(outDir, f) },
        );
      }
    }
    await writeFileAtomic(settingsPath, JSON.stringify({ version: STATE_VERSION, fingerprint: normalized }, null, 1));
    return new RunState(outDir, dir, false);
  }

  get checkpointPath(): string {
    return join(this.dir, 'warp.ckpt');
  }

  private roundFile(round: number, id: string): string {
    return join(this.dir, 'rounds', String(round), `${id}.json`);
  }

  async hasRoundResult(round: number, id: string): Promise<boolean> {
    return pathExists(this.roundFile(round, id));
  }

  async writeRoundResult(record: ImageRoundRecord, label: LabelMap, warped: LabelMap): Promise<void> {
    const stored: StoredImageRound = { version: STATE_VERSION, ...record, label: encodeLabel(label), warped: encodeLabel(warped) };
    await writeFileAtomic(this.roundFile(record.round, record.id), JSON.stringify(stored));
  }

  /** The stored result, or null when the image is not done in that round. */
  async readRoundResult(round: number, id: string): Promise<ImageRoundResult | null> {
    const file = this.roundFile(round, id);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    let s: StoredImageRound;
    try {
      s = JSON.parse(text) as StoredImageRound;
    } catch (err) {
      throw new MedpersamUserError('BAD_RUN_STATE', `corrupt run state file (${(err as Error).message}); delete it to redo this image`, { file, cause: err });
    }
    const { label, warped, version: _v, ...record } = s;
    return {
      record,
      label: decodeLabel(label, s.width, s.height, file),
      warped: decodeLabel(warped, s.width, s.height, file),
    };
  }
}
