/**
 * Where the CLI writes. runCli takes these so tests can run commands in-process and capture the output.
 */

/** The part of a writable stream the CLI uses (process.stdout / process.stderr fit). */
export interface CliWritable {
  write(chunk: string): unknown;
  /** True when the stream is a terminal: progress bars are drawn only then. */
  isTTY?: boolean;
  /** Terminal width in characters, when known. */
  columns?: number;
}

export interface CliIo {
  /** Results: tables, JSON, next-step hints. */
  stdout: CliWritable;
  /** Progress bars, notes ("wrote …"), warnings and errors. */
  stderr: CliWritable;
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr };
}

/** Write one line (adds "\n"). */
export function writeLine(stream: CliWritable, line = ''): void {
  stream.write(`${line}\n`);
}
