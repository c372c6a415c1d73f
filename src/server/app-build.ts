/**
 * Where the built app lives and how to build it (Node): `dist/app` of this package; built with vite
 * (vite.app.config.ts, a dev dependency) when it is missing in a checkout. An installed package ships it built.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MedpersamUserError } from '../errors.js';

/** The package root: src/server/ and dist/server/ both sit two folders below it. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEFAULT_APP_DIR = fileURLToPath(new URL('../../dist/app/', import.meta.url));

export function appIsBuilt(dir = DEFAULT_APP_DIR): boolean {
  return existsSync(`${dir.replace(/\/$/, '')}/index.html`);
}

/** Build the app into `outDir` with vite (programmatic `vite build --config vite.app.config.ts`). */
export async function buildApp(outDir = DEFAULT_APP_DIR): Promise<void> {
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch (err) {
    throw new MedpersamUserError(
      'APP_NOT_BUILT',
      'the browser app is not built and vite is not installed: run `npm ci` then `npm run build:app` in the medpersam folder',
      { file: outDir, cause: err },
    );
  }
  const config = fileURLToPath(new URL('../../vite.app.config.ts', import.meta.url));
  const previous = process.env['MEDPERSAM_APP_OUT'];
  process.env['MEDPERSAM_APP_OUT'] = outDir;
  try {
    await vite.build({ configFile: config, logLevel: 'error' });
  } finally {
    if (previous === undefined) delete process.env['MEDPERSAM_APP_OUT'];
    else process.env['MEDPERSAM_APP_OUT'] = previous;
  }
}
