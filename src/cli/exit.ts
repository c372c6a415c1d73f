/**
 * Exit codes and error printing for the CLI:
 *   0 success, 1 user error (MedpersamUserError or a usage error: the message names the file and the problem),
 *   2 internal error (a bug: message + hint to report it; stack with --debug).
 */
import { CommanderError } from 'commander';
import { isUserError } from '../errors.js';
import { writeLine, type CliIo } from './io.js';

export const EXIT_OK = 0;
export const EXIT_USER_ERROR = 1;
export const EXIT_INTERNAL_ERROR = 2;

export const REPORT_HINT =
  'this is a bug in medpersam: please report it with the command you ran and the output of the same command with --debug';

/** Print `err` the way the user should see it and return the process exit code. */
export function handleCliError(err: unknown, io: CliIo, opts: { debug?: boolean } = {}): number {
  if (err instanceof CommanderError) {
    // commander has already printed its message (usage errors) or the help/version text; help shown because a
    // sub-command was missing carries exit code 1.
    return err.exitCode === 0 ? EXIT_OK : EXIT_USER_ERROR;
  }
  if (isUserError(err)) {
    writeLine(io.stderr, `error: ${err.message}`);
    if (opts.debug && err.stack) writeLine(io.stderr, err.stack);
    return EXIT_USER_ERROR;
  }
  const message = err instanceof Error ? err.message : String(err);
  writeLine(io.stderr, `internal error: ${message}`);
  writeLine(io.stderr, REPORT_HINT);
  if (opts.debug) {
    if (err instanceof Error && err.stack) writeLine(io.stderr, err.stack);
    let cause = err instanceof Error ? err.cause : undefined;
    while (cause instanceof Error) {
      writeLine(io.stderr, `caused by: ${cause.stack ?? cause.message}`);
      cause = cause.cause;
    }
  }
  return EXIT_INTERNAL_ERROR;
}
