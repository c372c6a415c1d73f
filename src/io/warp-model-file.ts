/**
 * File side of saved warp models (src/warp/saved-model.ts holds the byte format): atomic write, and a read whose
 * every error names the file.
 */
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { writeFileAtomic } from './atomic.js';
import { MedpersamUserError } from '../errors.js';
import { deserializeWarpModel, serializeWarpModel, type SavedWarpModel } from '../warp/saved-model.js';

/** File name of the trained warp model in a `segment` output folder. */
export const WARP_MODEL_FILE = 'warp-model.mpwarp';

export async function writeWarpModelFile(path: string, model: SavedWarpModel): Promise<void> {
  await writeFileAtomic(path, serializeWarpModel(model));
}

/** Read a warp model file; every problem is a MedpersamUserError naming the file. */
export async function readWarpModelFile(path: string): Promise<SavedWarpModel> {
  return (await readWarpModelFileWithId(path)).model;
}

/** The model and the sha256 (hex) of the file's bytes (its identity in a run's fingerprint). */
export async function readWarpModelFileWithId(path: string): Promise<{ model: SavedWarpModel; sha256: string }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new MedpersamUserError('FILE_NOT_FOUND', 'warp model file not found', { file: path, cause: err });
    if (code === 'EISDIR') throw new MedpersamUserError('WARP_MODEL_NOT_A_MODEL', `expected a warp model file but this is a folder (the file is <folder>/${WARP_MODEL_FILE})`, { file: path, cause: err });
    throw new MedpersamUserError('WARP_MODEL_UNREADABLE', `cannot read the warp model file (${code ?? (err as Error).message})`, { file: path, cause: err });
  }
  try {
    return { model: deserializeWarpModel(bytes), sha256: createHash('sha256').update(bytes).digest('hex') };
  } catch (err) {
    if (err instanceof MedpersamUserError) throw new MedpersamUserError(err.code, err.message, { file: path, cause: err });
    throw err;
  }
}
