/**
 * The starting weights of a warm start (`--init-model`, WarpModel.initialiseFrom): a saved warp model file
 * (warp-model.mpwarp of an earlier run) or a bundle folder (`medpersam fit --out`, its checked warp model).
 */
import { stat } from 'node:fs/promises';
import { readWarpModelFileWithId } from '../io/warp-model-file.js';
import type { SavedWarpModel } from '../warp/saved-model.js';
import { readBundle } from './bundle.js';

export interface InitialWarpModel {
  model: SavedWarpModel;
  /** sha256 of the model file's bytes (its identity in run records) and the path it was read from. */
  sha256: string;
  path: string;
}

/** Read the warp model a run starts from; every problem is a MedpersamUserError naming the file or folder. */
export async function readInitialWarpModel(path: string): Promise<InitialWarpModel> {
  const isFolder = await stat(path).then((s) => s.isDirectory(), () => false);
  const file = isFolder ? (await readBundle(path)).warpModelPath : path;
  const { model, sha256 } = await readWarpModelFileWithId(file);
  return { model, sha256, path: file };
}
