/**
 * Stopping when done (pure; runs in a browser): a training phase may end before its budget once its loss has
 * stopped falling. Only signals available without ground truth are used: the per-step training loss (Eq. 3).
 *
 * The per-step loss is noisy (each step draws other test images and another augmented pair), so the rule compares
 * the means of two consecutive windows of `window` steps: the phase has converged when the later window's mean is
 * lower than the earlier one's by less than `minImprovement` (relative). It is checked only from `minSteps` on (the
 * floor; the phase budget is the ceiling), and only on steps of one grid: the coarse steps of a coarse-to-fine
 * schedule have another loss scale, so the windows start again at the working-grid steps.
 */

export interface PlateauRule {
  /** Steps per window (the two compared windows hold 2·window steps). */
  window: number;
  /** Never stop before this many steps of the phase. */
  minSteps: number;
  /** Relative fall of the windowed mean loss below which the phase counts as converged (0.01 = 1 %). */
  minImprovement: number;
}

export function checkPlateauRule(rule: PlateauRule): PlateauRule {
  if (!Number.isInteger(rule.window) || rule.window < 1) throw new Error(`plateau window must be an integer >= 1, got ${rule.window}`);
  if (!Number.isInteger(rule.minSteps) || rule.minSteps < 0) throw new Error(`plateau minSteps must be an integer >= 0, got ${rule.minSteps}`);
  if (!(rule.minImprovement >= 0 && rule.minImprovement < 1)) throw new Error(`plateau minImprovement must be in [0, 1), got ${rule.minImprovement}`);
  return rule;
}

/**
 * Whether the phase has converged after `stepsDone` steps, given the losses of the latest steps on one grid
 * (oldest first; only the last 2·window are read).
 */
export function plateauReached(rule: PlateauRule, stepsDone: number, losses: readonly number[]): boolean {
  const w = rule.window;
  if (stepsDone < rule.minSteps || losses.length < 2 * w) return false;
  const n = losses.length;
  let earlier = 0;
  let later = 0;
  for (let i = n - 2 * w; i < n - w; i++) earlier += losses[i]!;
  for (let i = n - w; i < n; i++) later += losses[i]!;
  if (earlier <= 0) return true; // nothing left to gain
  return (earlier - later) / earlier < rule.minImprovement;
}

/** "stops when the loss falls < 1 % over 50 steps, after at least 150". */
export function describePlateauRule(rule: PlateauRule): string {
  return `stops when the loss falls < ${+(rule.minImprovement * 100).toFixed(2)} % over ${rule.window} steps, after at least ${rule.minSteps}`;
}
