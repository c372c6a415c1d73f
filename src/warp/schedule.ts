/**
 * Training budgets and the order in which test images are drawn into batches (pure; runs in a browser).
 *
 * A training phase ('initial' or 'retrain-<round>', paper §3.1 and §3.3) has a budget in optimiser steps or in
 * epochs:
 *  - steps (the CPU default): a fixed number of optimiser steps whatever the folder size. Batches hold
 *    min(batchSize, n) distinct test images drawn from a stream of shuffled passes over the folder, so a small
 *    folder is cycled (every image about equally often; the Eq. 2 augmentation pairs stay fresh each step) and a
 *    large one is sampled without replacement until the budget is spent.
 *  - epochs (the paper's protocol, App. B.4): each epoch is one shuffled pass split into ceil(n / batchSize)
 *    batches, the last one partial, so a phase has epochs · ceil(n / batchSize) steps.
 *
 * The sampler's whole state (the current shuffled pass and the position in it) goes into checkpoints, so a
 * resumed phase draws exactly the batches the uninterrupted phase would have drawn.
 */
import type { SeededRng } from './seeded-rng.js';
import { describePlateauRule, type PlateauRule } from './stop-rule.js';

export type TrainBudget = { unit: 'steps'; steps: number } | { unit: 'epochs'; epochs: number };

/** The schedule fields that define the two phase budgets (see WarpScheduleOptions). */
export interface PhaseBudgetFields {
  initialSteps?: number;
  initialEpochs?: number;
  retrainSteps?: number;
  retrainEpochs?: number;
  /** Coarse to fine: the first coarseSteps steps of the initial phase run at half the working resolution. */
  coarseSteps?: number;
  /** Stopping when done (stop-rule.ts), initial phase only. */
  plateau?: PlateauRule;
}

/**
 * Whether step `stepInPhase` (0-based) of phase `phase` runs on the coarse grid (coarse.ts): the initial phase's
 * first `coarseSteps` steps do (a quarter of the pixels: the network learns the global, smooth part of the
 * deformation cheaply), every later step and every retraining step runs at the working resolution.
 */
export function isCoarseStep(schedule: PhaseBudgetFields, phase: string, stepInPhase: number): boolean {
  return phase === 'initial' && stepInPhase < coarseStepCount(schedule);
}

function coarseStepCount(schedule: PhaseBudgetFields): number {
  return schedule.coarseSteps === undefined ? 0 : checkCount('coarseSteps', schedule.coarseSteps);
}

/** The budget of the initial phase or of one retraining round: steps when set, else epochs. */
export function phaseBudget(schedule: PhaseBudgetFields, phase: 'initial' | 'retrain'): TrainBudget {
  const steps = phase === 'initial' ? schedule.initialSteps : schedule.retrainSteps;
  const epochs = phase === 'initial' ? schedule.initialEpochs : schedule.retrainEpochs;
  if (steps !== undefined) return { unit: 'steps', steps: checkCount(`${phase}Steps`, steps) };
  if (epochs !== undefined) return { unit: 'epochs', epochs: checkCount(`${phase}Epochs`, epochs) };
  throw new Error(`the warp schedule sets neither ${phase}Steps nor ${phase}Epochs`);
}

function checkCount(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw new Error(`${name} must be an integer >= 0, got ${v}`);
  return v;
}

/** Test images per batch: the schedule's batch size, or the whole folder when it is smaller (steps budgets). */
export function batchSizeFor(budget: TrainBudget, batchSize: number, nTests: number): number {
  return budget.unit === 'steps' ? Math.min(batchSize, nTests) : batchSize;
}

/** Optimiser steps of a phase with this budget on a folder of `nTests` images. */
export function stepsInPhase(budget: TrainBudget, batchSize: number, nTests: number): number {
  if (nTests <= 0) return 0;
  return budget.unit === 'steps' ? budget.steps : budget.epochs * Math.ceil(nTests / batchSize);
}

/** The sampler's state, stored in checkpoints: the shuffled pass being consumed and the next position in it. */
export interface SamplerState {
  pass: number[];
  position: number;
}

/**
 * Draws batches of test indices. `epochs` mode: consecutive slices of shuffled passes, the last slice of a pass
 * partial (the epoch boundary is a batch boundary). `steps` mode: full batches that run on across pass boundaries;
 * an index already in the batch is pushed later in the new pass (swapped with the next one that is not), so a
 * batch never holds an image twice.
 *
 * Random draws (one Fisher–Yates shuffle per pass, taken from the model's RNG when the pass starts) happen in the
 * same order as the original epoch loop, so epoch budgets reproduce it exactly.
 */
export class BatchSampler {
  private pass: number[] = [];
  private position = 0;

  constructor(
    readonly nTests: number,
    readonly batchSize: number,
    readonly mode: TrainBudget['unit'],
  ) {
    if (!Number.isInteger(nTests) || nTests < 1) throw new Error(`BatchSampler: need at least one test image, got ${nTests}`);
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`BatchSampler: batch size must be >= 1, got ${batchSize}`);
  }

  private newPass(rng: SeededRng): void {
    this.pass = rng.shuffle(Array.from({ length: this.nTests }, (_, i) => i));
    this.position = 0;
  }

  /** The next batch of test indices. */
  next(rng: SeededRng): number[] {
    if (this.mode === 'epochs') {
      if (this.position >= this.pass.length) this.newPass(rng);
      const batch = this.pass.slice(this.position, this.position + this.batchSize);
      this.position += batch.length;
      return batch;
    }
    const size = Math.min(this.batchSize, this.nTests);
    const batch: number[] = [];
    const inBatch = new Set<number>();
    while (batch.length < size) {
      if (this.position >= this.pass.length) this.newPass(rng);
      // Next index of the pass that is not in the batch yet (only possible right after a new pass started).
      let j = this.position;
      while (inBatch.has(this.pass[j]!)) j++;
      if (j !== this.position) {
        const t = this.pass[j]!;
        this.pass[j] = this.pass[this.position]!;
        this.pass[this.position] = t;
      }
      const idx = this.pass[this.position++]!;
      batch.push(idx);
      inBatch.add(idx);
    }
    return batch;
  }

  getState(): SamplerState {
    return { pass: [...this.pass], position: this.position };
  }

  setState(state: SamplerState): void {
    if (state.pass.length !== 0 && state.pass.length !== this.nTests) {
      throw new Error(`sampler state holds a pass over ${state.pass.length} images, this folder has ${this.nTests}`);
    }
    this.pass = [...state.pass];
    this.position = state.position;
  }
}

/** "600 steps" / "10 epochs" / "1 step". */
export function describeBudget(budget: TrainBudget): string {
  return budget.unit === 'steps' ? `${budget.steps} step${budget.steps === 1 ? '' : 's'}` : `${budget.epochs} epoch${budget.epochs === 1 ? '' : 's'}`;
}

/**
 * Both phase budgets in the unit each is counted in: "500 steps, then 100 steps per retraining round", with the
 * initial phase's coarse-to-fine start and stopping rule when set: "300 steps (the first 200 at half resolution;
 * stops when the loss falls < 1 % over 50 steps, after at least 250), then 100 steps per retraining round".
 */
export function describeSchedule(schedule: PhaseBudgetFields): string {
  const coarse = coarseStepCount(schedule);
  const notes: string[] = [];
  if (coarse > 0) notes.push(`the first ${coarse === 1 ? 'step' : `${coarse}`} at half resolution`);
  if (schedule.plateau) notes.push(describePlateauRule(schedule.plateau));
  const initialNotes = notes.length > 0 ? ` (${notes.join('; ')})` : '';
  return `${describeBudget(phaseBudget(schedule, 'initial'))}${initialNotes}, then ${describeBudget(phaseBudget(schedule, 'retrain'))} per retraining round`;
}
