/**
 * Where medpersam keeps its on-disk data (downloaded SAM models).
 *
 *   <home>                = $MEDPERSAM_HOME, or ~/.cache/medpersam when unset/empty
 *   <home>/models/<id>/   = one pulled model (encoder + decoder + manifest.json)
 *   <home>/models/.staging/<id>/ = downloads in progress (`*.part` files kept for resume)
 *
 * Node-only (on-disk cache).
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Environment variable that moves the medpersam home folder. */
export const MEDPERSAM_HOME_ENV = 'MEDPERSAM_HOME';

/** The medpersam home folder (absolute). `~` at the start of $MEDPERSAM_HOME is expanded. */
export function medpersamHome(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[MEDPERSAM_HOME_ENV]?.trim();
  if (fromEnv) {
    if (fromEnv === '~') return homedir();
    if (fromEnv.startsWith('~/')) return join(homedir(), fromEnv.slice(2));
    return resolve(fromEnv);
  }
  return join(homedir(), '.cache', 'medpersam');
}

/** `<home>/models`. */
export function modelsRoot(home: string = medpersamHome()): string {
  return join(home, 'models');
}

/** `<home>/models/<id>`: where a pulled model lives. */
export function modelDir(id: string, home: string = medpersamHome()): string {
  return join(modelsRoot(home), id);
}

/** `<home>/models/.staging/<id>`: downloads of a pull in progress (partial files kept here for resume). */
export function stagingDir(id: string, home: string = medpersamHome()): string {
  return join(modelsRoot(home), '.staging', id);
}
