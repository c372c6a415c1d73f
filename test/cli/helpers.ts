import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIo } from '../../src/cli/io.js';

/** In-memory stdout/stderr for runCli. */
export interface CapturedIo extends CliIo {
  out(): string;
  err(): string;
}

export function captureIo(opts: { tty?: boolean } = {}): CapturedIo {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => ((out += s), true), isTTY: opts.tty ?? false },
    stderr: { write: (s: string) => ((err += s), true), isTTY: opts.tty ?? false, columns: 120 },
    out: () => out,
    err: () => err,
  };
}

export async function makeTempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `medpersam-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
