import { MedpersamUserError } from '../../errors.js';

/** The error a command prints while its engine is not part of this build (exit code 1). */
export function notAvailable(what: string): MedpersamUserError {
  return new MedpersamUserError('NOT_AVAILABLE', `not available yet in this build: ${what}`);
}
