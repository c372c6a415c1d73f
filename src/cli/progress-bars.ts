/**
 * Draws the library's ProgressCallback events as cli-progress bars with ETA on stderr.
 * One bar per stage: a new stage closes the previous bar. Draws nothing unless enabled
 * (the CLI enables it only when stderr is a terminal and --quiet is not set).
 */
import cliProgress from 'cli-progress';
import type { ProgressCallback, ProgressEvent } from '../progress.js';
import type { CliWritable } from './io.js';

export interface ProgressRenderer {
  /** Pass this to library calls. */
  readonly onProgress: ProgressCallback;
  /** Close the open bar (call before printing results, and on errors). */
  stop(): void;
}

export interface ProgressRendererOptions {
  stream: CliWritable;
  enabled: boolean;
  /** Redraws per second (default 10). */
  fps?: number;
}

const disabledRenderer: ProgressRenderer = { onProgress: () => {}, stop: () => {} };

export function createProgressRenderer(opts: ProgressRendererOptions): ProgressRenderer {
  if (!opts.enabled) return disabledRenderer;
  let bar: cliProgress.SingleBar | null = null;
  let stage: string | null = null;

  const stop = () => {
    if (bar) bar.stop();
    bar = null;
    stage = null;
  };

  const onProgress = (event: ProgressEvent) => {
    const total = Math.max(0, event.total);
    const payload = { stage: event.stage, message: event.message ?? '' };
    if (stage !== event.stage || !bar) {
      stop();
      stage = event.stage;
      bar = new cliProgress.SingleBar(
        {
          stream: opts.stream as NodeJS.WritableStream,
          format: '{stage} [{bar}] {value}/{total} {percentage}% | ETA {eta_formatted} | {message}',
          barsize: 24,
          hideCursor: true,
          clearOnComplete: false,
          stopOnComplete: false,
          etaBuffer: 20,
          fps: opts.fps ?? 10,
          noTTYOutput: false,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, event.done, payload);
      return;
    }
    if (bar.getTotal() !== total) bar.setTotal(total);
    bar.update(event.done, payload);
  };
  return { onProgress, stop };
}
