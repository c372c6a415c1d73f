/**
 * Errors that reach the user. The CLI maps them to exit codes:
 *  - MedpersamUserError → exit 1 (bad input: the message names the file and the problem)
 *  - anything else      → exit 2 (internal error)
 */
export class MedpersamUserError extends Error {
  /** The file or folder the problem is about, when there is one. */
  readonly file?: string;
  /** A stable machine-readable code, e.g. "UNREADABLE_IMAGE", "SIZE_MISMATCH". */
  readonly code: string;

  constructor(code: string, message: string, options: { file?: string; cause?: unknown } = {}) {
    super(options.file ? `${options.file}: ${message}` : message, { cause: options.cause });
    this.name = 'MedpersamUserError';
    this.code = code;
    this.file = options.file;
  }
}

export function isUserError(err: unknown): err is MedpersamUserError {
  return err instanceof MedpersamUserError;
}
