/**
 * Library code never prints: long operations report through this callback and the CLI draws the bars.
 */
export interface ProgressEvent {
  /** Stage name, e.g. "read", "warp-train", "warp-apply", "sam-encode", "eval". */
  stage: string;
  /** Units done so far in this stage. */
  done: number;
  /** Total units in this stage (0 when unknown). */
  total: number;
  /** Optional short status text (e.g. current file, loss value). */
  message?: string;
}

export type ProgressCallback = (event: ProgressEvent) => void;

export const noProgress: ProgressCallback = () => {};
