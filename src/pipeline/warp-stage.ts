/**
 * The warping model's part of a run, shared by both modes of core.ts (browser-safe): build the model (fresh, or
 * from a saved model after checking it belongs to this reference), attach worker threads from the environment,
 * read every test image into it (input-check.ts: every unreadable image listed at once, or skipped on request),
 * and describe the training for the run record.
 */
import * as tf from '@tensorflow/tfjs';
import { MedpersamUserError } from '../errors.js';
import type { LabelMap } from '../image/types.js';
import type { ProgressCallback } from '../progress.js';
import { WarpModel, type PreprocessingReport, type SafetyNetReport, type TrainPhaseResult } from '../warp/model.js';
import type { WarpSettings } from '../warp/presets.js';
import { checkSavedReference, referenceHashes, type SavedWarpModel } from '../warp/saved-model.js';
import { describeBudget, type TrainBudget } from '../warp/schedule.js';
import type { WarpWorkerPeer } from '../warp/parallel/worker-peer.js';
import { readEveryInput, type UnreadableInput } from './input-check.js';
import type { ImageSource, LoadedImage } from './sources.js';

/** A saved warp model given to a run instead of training (its id goes into the run's fingerprint). */
export interface SavedModelInput {
  model: SavedWarpModel;
  /** Content id of the file (sha256 of its bytes). */
  id: string;
  /** For messages and the run record (a path in Node). */
  name: string;
}

/** What the core needs from the environment to use more than one thread for the warp model. */
export interface WarpThreadsEnvironment {
  /** Start `count` warp workers (Node: worker_threads, browser: Web Workers). Absent: this thread only. */
  startWarpWorkers?(count: number): WarpWorkerPeer[];
  /** Threads when the run does not say (Node: every core). Absent: 1. */
  defaultWarpThreads?(): number;
}

export interface WarpStage {
  model: WarpModel;
  /** The tests that could be read (in order), and those that could not (skipped; empty unless asked to skip). */
  readable: ImageSource[];
  unreadable: UnreadableInput[];
  threads: number;
  /** The warm start's model, when the training started from one (WarpStageInput.initial). */
  initialisedFrom?: InitialModelRecord;
  /** Detach and end the workers, free the model. */
  close(): Promise<void>;
}

export interface WarpStageInput {
  settings: WarpSettings;
  reference: { image: LoadedImage; label: LabelMap };
  tests: readonly ImageSource[];
  saved?: SavedModelInput;
  /**
   * Warm start: train from this model's weights instead of random ones (WarpModel.initialiseFrom: same network and
   * reference classes, else a MedpersamUserError naming the file). Not with `saved` (that one is not trained).
   */
  initial?: SavedModelInput;
  threads?: number;
  environment: WarpThreadsEnvironment;
  skipUnreadable?: boolean;
  progress: ProgressCallback;
  /** Called around each test image's read (the caller's stage timer). */
  timeRead?: <T>(fn: () => Promise<T>) => Promise<T>;
  /**
   * The per-image safety net (default on; false turns it off): an image falls back to the aligned copy only when the
   * copy's agreement beats the warp's by more than two standard errors of the image's own evidence (safety-net.ts),
   * so float noise between two engines computing the same run does not decide.
   */
  safetyNet?: boolean;
}

/** Number of threads for the warp model: the run's choice, else the environment's default (1 without workers). */
export function warpThreadsFor(threads: number | undefined, env: WarpThreadsEnvironment): number {
  const n = threads ?? env.defaultWarpThreads?.() ?? 1;
  if (!Number.isInteger(n) || n < 1) throw new MedpersamUserError('INVALID_OPTION', `threads must be an integer >= 1, got ${n}`);
  return env.startWarpWorkers ? n : 1;
}

export async function openWarpStage(input: WarpStageInput): Promise<WarpStage> {
  const { reference, saved } = input;
  let model: WarpModel;
  if (saved) {
    try {
      await checkSavedReference(saved.model, reference.image.image, reference.label);
      model = WarpModel.fromSavedModel(saved.model, { image: reference.image.image, label: reference.label });
    } catch (err) {
      if (err instanceof MedpersamUserError) throw new MedpersamUserError(err.code, err.message, { file: saved.name, cause: err });
      throw err;
    }
  } else {
    model = new WarpModel(input.settings, { image: reference.image.image, label: reference.label });
    if (input.initial) {
      try {
        model.initialiseFrom(input.initial.model, input.initial.name);
      } catch (err) {
        model.dispose();
        throw err;
      }
    }
  }
  // The per-image safety net (warp/safety-net.ts): an image whose warp is clearly less plausible than its aligned
  // copy falls back to the copy; the run record counts them (warpStageRecord). On unless the run turns it off.
  model.safetyNet = input.safetyNet !== false;
  // Worker threads run their own tfjs engines: wasm or cpu. Another backend (tfjs-node) uses its own threads.
  const backend = tf.getBackend();
  const threads = backend === 'wasm' || backend === 'cpu' ? warpThreadsFor(input.threads, input.environment) : 1;
  const workers = threads > 1 ? input.environment.startWarpWorkers!(threads - 1) : [];
  const close = async () => {
    model.detachWorkers();
    model.dispose();
    await Promise.all(workers.map((w) => w.close()));
  };
  try {
    // The workers load tfjs while this thread reads the images; the images are prepared (aligned) on every thread,
    // each added in reading order whichever thread prepares it (WarpModel.addTestAsync).
    const workersReady = model.useWorkers(workers);
    workersReady.catch(() => {});
    const readable: ImageSource[] = [];
    const time = input.timeRead ?? (<T>(fn: () => Promise<T>) => fn());
    const byId = new Map(input.tests.map((t) => [t.id, t]));
    const unreadable = await readEveryInput(
      input.tests.map((t) => ({ id: t.id, file: t.name })),
      (i) => time(() => byId.get(i.id)!.load()),
      async (i, image, index) => {
        await model.addTestAsync(i.id, image.image);
        readable.push(byId.get(i.id)!);
        input.progress({ stage: 'read', done: index + 1, total: input.tests.length, message: i.id });
      },
      { skipUnreadable: input.skipUnreadable },
    );
    await model.testsReady();
    await workersReady;
    const initialisedFrom = input.initial && !saved ? initialModelRecord(input.initial) : undefined;
    return { model, readable, unreadable, threads, close, ...(initialisedFrom ? { initialisedFrom } : {}) };
  } catch (err) {
    await close();
    throw err;
  }
}

/** The trained model as a saved model for this reference (hashes of its decoded pixels and label). */
export async function toSavedModel(model: WarpModel, reference: { image: LoadedImage; label: LabelMap; name: string }, toolVersion: string): Promise<SavedWarpModel> {
  const hashes = await referenceHashes(reference.image.image, reference.label);
  return model.toSavedModel({
    reference: { ...hashes, width: reference.label.width, height: reference.label.height, name: reference.name },
    medpersamVersion: toolVersion,
  });
}

/** One training phase as the run record lists it. */
export interface PhaseRecord {
  phase: string;
  budget: string;
  phaseSteps: number;
  stepsRunThisCall: number;
  /** Why the phase ended: its whole budget ran, or the stopping rule found it converged (warp/stop-rule.ts). */
  stoppedBy: TrainPhaseResult['stoppedBy'];
  /** Of stepsRunThisCall, the steps on the coarse grid of a coarse-to-fine schedule. */
  coarseStepsThisCall: number;
  seconds: number;
  /** Mean loss over the last steps of this call. */
  recentLoss: TrainPhaseResult['recentLoss'];
}

export function phaseRecord(result: TrainPhaseResult, budget: TrainBudget): PhaseRecord {
  return {
    phase: result.phase,
    budget: describeBudget(budget),
    phaseSteps: result.phaseSteps,
    stepsRunThisCall: result.stepsRun,
    stoppedBy: result.stoppedBy,
    coarseStepsThisCall: result.coarseStepsRun,
    seconds: result.seconds,
    recentLoss: result.recentLoss,
  };
}

/** The model a warm start began from, as the run record names it. */
export interface InitialModelRecord {
  id: string;
  name: string;
  /** Steps that model had trained (its own run's), before this run's. */
  trainedSteps: number;
}

/** The warm start in the report's "warping model" line: empty for random initialisation. */
export function describeWarmStart(initial: InitialModelRecord | undefined): string {
  return initial ? `, started from ${initial.name} (${initial.trainedSteps} steps trained there)` : '';
}

function initialModelRecord(initial: SavedModelInput): InitialModelRecord {
  return { id: initial.id, name: initial.name, trainedSteps: initial.model.training.totalSteps };
}

/** The warp model's section of a run record. */
export interface WarpStageRecord {
  /** Threads that computed it (this one + workers); results are bit-identical for the same count. */
  threads: number;
  /** Phases trained by this call (none when everything was already trained, or a saved model was used). */
  phases: PhaseRecord[];
  /** The saved model used instead of training. */
  usedModel?: { id: string; name: string; trainedSteps: number; createdAt: string; medpersamVersion: string };
  /** Warm start: the model whose weights the training started from (absent: random initialisation). */
  initialisedFrom?: InitialModelRecord;
  /** Test images skipped because they could not be read (--skip-unreadable). */
  unreadable: UnreadableInput[];
  /** What the per-image preprocessing chose: colour projection, image loss, alignment and polarity per image. */
  preprocessing: PreprocessingReport;
  /** The images whose warp fell back to the aligned copy of the reference (warp/safety-net.ts). */
  safetyNet: SafetyNetReport;
}

/** The safety net in one line (report settings, CLI summary): off, or how many images fell back and which. */
export function describeSafetyNet(n: SafetyNetReport): string {
  if (!n.enabled) return 'off';
  const shown = n.fellBack.slice(0, 5).join(', ');
  const more = n.fellBack.length > 5 ? ` and ${n.fellBack.length - 5} more` : '';
  return `on: ${n.fellBack.length} of ${n.checked} images fell back to the aligned copy of the reference${n.fellBack.length > 0 ? ` (${shown}${more})` : ''}`;
}

export function warpStageRecord(stage: WarpStage, phases: PhaseRecord[], saved: SavedModelInput | undefined): WarpStageRecord {
  return {
    threads: stage.threads,
    phases,
    ...(saved
      ? {
          usedModel: {
            id: saved.id,
            name: saved.name,
            trainedSteps: saved.model.training.totalSteps,
            createdAt: saved.model.createdAt,
            medpersamVersion: saved.model.medpersamVersion,
          },
        }
      : {}),
    ...(stage.initialisedFrom ? { initialisedFrom: stage.initialisedFrom } : {}),
    unreadable: stage.unreadable,
    preprocessing: stage.model.preprocessingReport(),
    safetyNet: stage.model.safetyNetReport(),
  };
}
