/**
 * The Node side of warp-stage.ts: worker_threads for the warp model (every core by default) and saved warp models
 * read from files.
 */
import { resolve } from 'node:path';
import { readWarpModelFileWithId } from '../io/warp-model-file.js';
import { readInitialWarpModel } from './init-model.js';
import { defaultWarpThreads, startNodeWarpWorkers } from '../warp/parallel/node-workers.js';
import type { SavedModelInput, WarpThreadsEnvironment } from './warp-stage.js';

export const nodeWarpThreads: WarpThreadsEnvironment = {
  startWarpWorkers: (count) => startNodeWarpWorkers(count),
  defaultWarpThreads,
};

/** A saved warp model file as the core takes it (errors name the file). */
export async function savedModelFromFile(path: string): Promise<SavedModelInput> {
  const file = resolve(path);
  const { model, sha256 } = await readWarpModelFileWithId(file);
  return { model, id: sha256, name: file };
}

/** A warm start's model (`--init-model`): a warp-model.mpwarp file or a bundle folder (its warp model). */
export async function initialModelFromPath(path: string): Promise<SavedModelInput> {
  const { model, sha256, path: file } = await readInitialWarpModel(resolve(path));
  return { model, id: sha256, name: file };
}
