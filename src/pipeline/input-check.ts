/**
 * Folders as they come: read every input image before any training, collect every image that cannot be read
 * (instead of stopping at the first), then either stop with one error listing them all, or, when the user asked
 * to skip them, go on with the others and record what was skipped. The reader is passed in, so any image source
 * (files, browser File objects) works the same way.
 */
import { MedpersamUserError, isUserError } from '../errors.js';

export interface InputImage {
  id: string;
  /** File name or path, as the user knows it (used in messages). */
  file: string;
}

export interface UnreadableInput {
  id: string;
  file: string;
  /** The reader's error code (UNREADABLE_IMAGE, UNSUPPORTED_FORMAT, FILE_NOT_FOUND, ...) and message. */
  code: string;
  message: string;
}

/** One error for all unreadable inputs (code UNREADABLE_IMAGES); `unreadable` lists them. */
export class UnreadableInputsError extends MedpersamUserError {
  constructor(
    readonly unreadable: readonly UnreadableInput[],
    readonly total: number,
    folder?: string,
  ) {
    const lines = unreadable.map((u) => `  ${u.message} [${u.code}]`);
    const readable = total - unreadable.length;
    super(
      'UNREADABLE_IMAGES',
      `${unreadable.length} of ${total} images cannot be read (nothing was trained or written):\n${lines.join('\n')}\n` +
        (readable > 0
          ? `Fix or remove them, or rerun with --skip-unreadable to segment the other ${readable}.`
          : 'None of the images can be read.'),
      folder ? { file: folder } : {},
    );
    this.name = 'UnreadableInputsError';
  }
}

export interface ReadAllOptions {
  /** Go on without the unreadable images instead of stopping (they are returned in `unreadable`). */
  skipUnreadable?: boolean;
  /** The folder the images came from (named in the error). */
  folder?: string;
}

/**
 * Read every input with `read`, handing each readable one to `use` in order. Errors that are not user errors
 * (bugs) propagate at once. Returns the unreadable inputs (empty when all were read). Without skipUnreadable any
 * unreadable input ends in UnreadableInputsError after all inputs were tried; with it, the call fails only when
 * no input at all could be read.
 */
export async function readEveryInput<T>(
  inputs: readonly InputImage[],
  read: (input: InputImage) => Promise<T>,
  use: (input: InputImage, value: T, index: number) => void | Promise<void>,
  opts: ReadAllOptions = {},
): Promise<UnreadableInput[]> {
  const unreadable: UnreadableInput[] = [];
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i]!;
    let value: T;
    try {
      value = await read(input);
    } catch (err) {
      if (!isUserError(err)) throw err;
      unreadable.push({ id: input.id, file: input.file, code: err.code, message: err.file ? err.message : `${input.file}: ${err.message}` });
      continue;
    }
    await use(input, value, i);
  }
  if (unreadable.length > 0 && (!opts.skipUnreadable || unreadable.length === inputs.length)) {
    throw new UnreadableInputsError(unreadable, inputs.length, opts.folder);
  }
  return unreadable;
}
