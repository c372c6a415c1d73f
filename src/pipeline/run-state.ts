/**
 * Run stores on disk (Node-only): the file-system implementations of run-store.ts `RunStore`.
 *
 * `FileRunStore` (Med-PerSAM runs) — layout under `<outDir>/.medpersam-run/`:
 *   settings.json                 the run's fingerprint (every setting that changes results + the inputs);
 *                                 a rerun with other settings → MedpersamUserError RUN_SETTINGS_MISMATCH
 *   warp.ckpt                     the warp model's latest checkpoint (written every 25 steps, at phase ends and on a stop, atomically)
 *   roi-<i>.ckpt                  the region-of-interest stage's crop models' latest checkpoints (same rules)
 *   rounds/<r>/<id>.json          the result of image <id> in round r (label map + final prompts), written
 *                                 atomically once the image is done; its presence means "done"
 * A fresh run refuses an output folder whose `masks/` or `overlays/` already hold files (OUTPUT_EXISTS).
 *
 * `WarpOnlyFolderStore` (warp-only runs) — `<outDir>/run.json` (kind, status, runKey = the fingerprint) and
 * `<outDir>/.state/warp.ckpt` (and `roi-<i>.ckpt`); masks already written mark finished images (the output sink tells). A non-empty
 * folder that is not a warp-only run → OUTPUT_NOT_MEDPERSAM; another runKey → SETTINGS_MISMATCH.
 *
 * Rounds: r = 0 is the initial warp model's round, r = k the round after the k-th retraining. Round r is complete
 * before retraining k = r + 1 starts, so one "latest" checkpoint plus the per-image results are enough to resume
 * at any point: a finished image is never recomputed, training continues from the last checkpoint's step.
 * The label maps are stored with run-store.ts's codec inside the JSON, so one file = one atomic write.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MedpersamUserError } from '../errors.js';
import type { LabelMap } from '../image/types.js';
import { writeFileAtomic } from '../io/atomic.js';
import { inspectOutputFolder, loadCheckpointFile, saveCheckpointFile } from '../io/checkpoint-store.js';
import { pathExists } from '../io/exists.js';
import type { CheckpointData } from '../warp/checkpoint.js';
import {
  checkCheckpointName,
  checkFingerprint,
  fromStoredRound,
  normalizeFingerprint,
  STATE_VERSION,
  toStoredRound,
  type ImageRoundRecord,
  type ImageRoundResult,
  type RunStore,
  type StoredImageRound,
} from './run-store.js';

export { firstDifference, type ClassRoundRecord, type ImageRoundRecord, type ImageRoundResult } from './run-store.js';

export const RUN_STATE_DIR = '.medpersam-run';

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

/** The round results and settings of a Med-PerSAM run folder (see the module comment). */
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
    const normalized = normalizeFingerprint(fingerprint);
    if (stored) {
      checkFingerprint(stored, STATE_VERSION, normalized, outDir);
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
    await writeFileAtomic(this.roundFile(record.round, record.id), JSON.stringify(toStoredRound(record, label, warped)));
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
    return fromStoredRound(s, file);
  }
}

/** `RunStore` over a Med-PerSAM output folder (`<outDir>/.medpersam-run/`, see the module comment). */
export class FileRunStore implements RunStore {
  private state: RunState | null = null;

  constructor(
    readonly outDir: string,
    private readonly opts: OpenRunStateOptions = {},
  ) {}

  get location(): string {
    return join(this.outDir, RUN_STATE_DIR);
  }

  get checkpointLocation(): string {
    return join(this.location, 'warp.ckpt');
  }

  private get opened(): RunState {
    if (!this.state) throw new Error('FileRunStore: open() first');
    return this.state;
  }

  async open(fingerprint: unknown): Promise<{ resumed: boolean }> {
    this.state = await RunState.open(this.outDir, fingerprint, this.opts);
    return { resumed: this.state.resumed };
  }

  loadCheckpoint(): Promise<CheckpointData | null> {
    return loadCheckpointFile(this.checkpointLocation);
  }

  saveCheckpoint(checkpoint: CheckpointData): Promise<void> {
    return saveCheckpointFile(this.checkpointLocation, checkpoint);
  }

  loadExtraCheckpoint(name: string): Promise<CheckpointData | null> {
    return loadCheckpointFile(join(this.location, `${checkCheckpointName(name)}.ckpt`));
  }

  saveExtraCheckpoint(name: string, checkpoint: CheckpointData): Promise<void> {
    return saveCheckpointFile(join(this.location, `${checkCheckpointName(name)}.ckpt`), checkpoint);
  }

  hasRoundResult(round: number, id: string): Promise<boolean> {
    return this.opened.hasRoundResult(round, id);
  }

  writeRoundResult(record: ImageRoundRecord, label: LabelMap, warped: LabelMap): Promise<void> {
    return this.opened.writeRoundResult(record, label, warped);
  }

  readRoundResult(round: number, id: string): Promise<ImageRoundResult | null> {
    return this.opened.readRoundResult(round, id);
  }
}

/** What identifies a warp-only run folder in its run.json. */
export const WARP_ONLY_RUN_KIND = 'medpersam-warp-segment';

/**
 * `RunStore` of a warp-only output folder (see the module comment). Keeps no round results: the warp-only mode of
 * the core never asks for them (its finished images are the masks already written).
 */
export class WarpOnlyFolderStore implements RunStore {
  constructor(readonly outDir: string) {}

  get location(): string {
    return this.outDir;
  }

  get checkpointLocation(): string {
    return join(this.outDir, '.state', 'warp.ckpt');
  }

  async open(fingerprint: unknown): Promise<{ resumed: boolean }> {
    const state = await inspectOutputFolder(this.outDir);
    if (state.exists && !state.empty) {
      if (!state.runJson || state.runJson['kind'] !== WARP_ONLY_RUN_KIND) {
        throw new MedpersamUserError(
          'OUTPUT_NOT_MEDPERSAM',
          'output folder exists, is not empty and is not a medpersam warp-only run; choose another --out (nothing was written)',
          { file: this.outDir },
        );
      }
      if (JSON.stringify(state.runJson['runKey']) !== JSON.stringify(fingerprint)) {
        throw new MedpersamUserError(
          'SETTINGS_MISMATCH',
          'output folder holds a run with different settings, reference or images; use another --out or delete the folder',
          { file: this.outDir },
        );
      }
      return { resumed: true };
    }
    return { resumed: false };
  }

  async loadCheckpoint(): Promise<CheckpointData | null> {
    return loadCheckpointFile(this.checkpointLocation);
  }

  saveCheckpoint(checkpoint: CheckpointData): Promise<void> {
    return saveCheckpointFile(this.checkpointLocation, checkpoint);
  }

  loadExtraCheckpoint(name: string): Promise<CheckpointData | null> {
    return loadCheckpointFile(join(this.outDir, '.state', `${checkCheckpointName(name)}.ckpt`));
  }

  saveExtraCheckpoint(name: string, checkpoint: CheckpointData): Promise<void> {
    return saveCheckpointFile(join(this.outDir, '.state', `${checkCheckpointName(name)}.ckpt`), checkpoint);
  }

  private noRounds(): never {
    throw new Error('WarpOnlyFolderStore keeps no round results (warp-only runs have one round: the masks)');
  }

  hasRoundResult(): Promise<boolean> {
    this.noRounds();
  }

  writeRoundResult(): Promise<void> {
    this.noRounds();
  }

  readRoundResult(): Promise<ImageRoundResult | null> {
    this.noRounds();
  }
}
