/**
 * File side of warp-model checkpoints: atomic save (temp file + rename, so a crash never leaves a half-written
 * checkpoint) and load. The byte format is src/warp/checkpoint.ts.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { deserializeCheckpoint, serializeCheckpoint, type CheckpointData } from '../warp/checkpoint.js';
import { MedpersamUserError } from '../errors.js';

export async function saveCheckpointFile(path: string, data: CheckpointData): Promise<void> {
  await writeFileAtomic(path, serializeCheckpoint(data));
}

/** The checkpoint at `path`, or null when there is none. A corrupt file → MedpersamUserError BAD_CHECKPOINT. */
export async function loadCheckpointFile(path: string): Promise<CheckpointData | null> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new MedpersamUserError('BAD_CHECKPOINT', `cannot read checkpoint: ${(err as Error).message}`, { file: path, cause: err });
  }
  try {
    return deserializeCheckpoint(bytes);
  } catch (err) {
    throw new MedpersamUserError(
      'BAD_CHECKPOINT',
      `checkpoint is unreadable (${(err as Error).message}); delete it to start training afresh`,
      { file: path, cause: err },
    );
  }
}

// ---- run-folder state (resumable runs: outDir/run.json, outDir/.state/) --------------------------------------

/** What is in an output folder before a run writes to it. */
export interface OutputFolderState {
  exists: boolean;
  /** No entries at all (or missing). */
  empty: boolean;
  /** Parsed outDir/run.json when present and valid JSON, else null. */
  runJson: Record<string, unknown> | null;
}

export async function inspectOutputFolder(outDir: string): Promise<OutputFolderState> {
  let names: string[];
  try {
    names = await readdir(outDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { exists: false, empty: true, runJson: null };
    throw new MedpersamUserError('UNWRITABLE_OUTPUT', `cannot read output folder (${code ?? (err as Error).message})`, { file: outDir, cause: err });
  }
  let runJson: Record<string, unknown> | null = null;
  if (names.includes('run.json')) {
    try {
      const parsed: unknown = JSON.parse(await readFile(join(outDir, 'run.json'), 'utf8'));
      if (parsed && typeof parsed === 'object') runJson = parsed as Record<string, unknown>;
    } catch {
      runJson = null;
    }
  }
  return { exists: true, empty: names.length === 0, runJson };
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
