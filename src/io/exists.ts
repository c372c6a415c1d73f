import { stat } from 'node:fs/promises';

/** Whether something (file or folder) exists at `path`; any error reading it counts as "no". */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
