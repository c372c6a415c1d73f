import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MedpersamUserError } from '../errors.js';

/**
 * Write a file atomically: write to a temporary file in the same folder, then rename over the target.
 * A reader never sees a half-written file; a crash leaves at most a stray `.tmp-*` file.
 * Creates the parent folder. Errors name the file.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    const code = (err as NodeJS.ErrnoException).code;
    throw new MedpersamUserError(
      'UNWRITABLE_OUTPUT',
      `cannot write output (${code ?? (err as Error).message}); check that the folder exists and is writable`,
      { file: path, cause: err },
    );
  }
}
