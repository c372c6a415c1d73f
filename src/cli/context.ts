/**
 * What every sub-command gets: the output streams, the global flags and a progress-bar factory.
 */
import type { Command } from 'commander';
import { evaluateFolders } from '../pipeline/evaluate.js';
import { writePhantomDataset } from '../io/phantom-dataset.js';
import type { CliIo } from './io.js';
import { createProgressRenderer, type ProgressRenderer } from './progress-bars.js';

/** Library entry points the commands call; replaceable in tests (e.g. to inject a failure). */
export interface CliDeps {
  evaluateFolders: typeof evaluateFolders;
  writePhantomDataset: typeof writePhantomDataset;
}

export const defaultDeps: CliDeps = { evaluateFolders, writePhantomDataset };

export interface GlobalFlags {
  quiet: boolean;
  debug: boolean;
}

export interface CliContext {
  io: CliIo;
  deps: CliDeps;
  /** Global flags as parsed for the running command. */
  flags(command: Command): GlobalFlags;
  /** A progress renderer on stderr: enabled only when stderr is a TTY and --quiet is not set. */
  progress(command: Command): ProgressRenderer;
  /** A note for the user on stderr (suppressed by --quiet). */
  note(command: Command, line: string): void;
}

export function createContext(io: CliIo, deps: CliDeps): CliContext {
  const flags = (command: Command): GlobalFlags => {
    const o = command.optsWithGlobals() as { quiet?: boolean; debug?: boolean };
    return { quiet: o.quiet === true, debug: o.debug === true };
  };
  return {
    io,
    deps,
    flags,
    progress: (command) =>
      createProgressRenderer({ stream: io.stderr, enabled: io.stderr.isTTY === true && !flags(command).quiet }),
    note: (command, line) => {
      if (!flags(command).quiet) io.stderr.write(`${line}\n`);
    },
  };
}
