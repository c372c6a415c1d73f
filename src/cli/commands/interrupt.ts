/**
 * Ctrl-C during a long run: the first SIGINT asks the pipeline to stop at its next checkpoint (AbortSignal) and
 * the command exits 1 saying how to resume; a second SIGINT ends the process the default way.
 */
import { MedpersamUserError } from '../../errors.js';

export async function runInterruptible<T>(outDir: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    return await run(controller.signal);
  } catch (err) {
    if (controller.signal.aborted) {
      throw new MedpersamUserError(
        'INTERRUPTED',
        'interrupted; run the same command again to resume (finished work is kept)',
        { file: outDir, cause: err },
      );
    }
    throw err;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}
