import type { CliIo } from '../../src/cli/io.js';
import { makeTempDir as makeSharedTempDir } from '../fixtures/temp-dir.js';

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

/** The shared temp-folder helper, with the CLI tests' `medpersam-<prefix>-` naming. */
export function makeTempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  return makeSharedTempDir(`medpersam-${prefix}-`);
}
