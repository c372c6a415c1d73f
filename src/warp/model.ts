/**
 * WarpModel: the library face of the warping model — train once on (reference → test set), warp many, retrain
 * with pseudolabels (paper §3.1, §3.3, Eq. 4). Pure (no file system): runs in a browser.
 *
 * Frames:
 *  - xyOriginal: a test image's (or the reference's) own pixel grid, any size / aspect ratio.
 *  - xyWarp: the square R×R working grid. The reference is resized to R×R on its own (normalised: percentile clip +
 *    min-max; area averaging), x_warp = (x_orig + 0.5)·R/W − 0.5. A test image is either resized the same way (the
 *    paper's way, `prealign: 'none'`) or resampled onto the reference's working grid through the similarity found
 *    by the initial alignment (prealign.ts); each test keeps its WorkingFrame (working-frame.ts). Colour images
 *    are reduced to grey by the projection chosen on the reference (image/colour.ts); see preprocess.ts.
 *  - The network's flow maps the *test* working grid to the *reference* working grid (see network.ts). To label a
 *    test pixel (xyOriginal of the test) we go test-original → test-working (the frame) → + flow →
 *    reference-working → reference-original, and read the reference label there (nearest, or argmax of the
 *    bilinearly weighted one-hot labels).
 *
 * Memory: only working-resolution copies of the test images are kept (R²·4 bytes each), plus the reference label at
 * its original size; pseudolabels are stored as soft one-hot planes at working resolution.
 */
import * as tf from '@tensorflow/tfjs';
import type { FloatImage, LabelMap } from '../image/types.js';
import { toGrey, normalizeIntensity } from '../image/normalize.js';
import { resizeImage } from '../image/resize.js';
import { WarpNetwork } from './network.js';
import { chooseImageLoss, type ImageLossChoice } from './loss-choice.js';
import { safetyNetDecision, type SafetyNetDecision } from './safety-net.js';
import { prealignRecord, WarpPreprocessor, type DenoiseChoice, type PrealignRecord, type PreparedImage, type WarpPreprocessOptions } from './preprocess.js';
import { warpLabelThroughFrame, workingOneHot, type LabelWarpMode, type WorkingFrame } from './working-frame.js';
import type { ColourProjection } from '../image/colour.js';
import type { Prealignment } from './prealign.js';
import { AdamW, ParamStore } from './params.js';
import { SeededRng } from './seeded-rng.js';
import { applyFlatGradients, evaluateLoss, type LossBreakdown } from './trainer.js';
import type { WarpSettings } from './presets.js';
import type { CheckpointData } from './checkpoint.js';
import { augmentOneHot } from './augment.js';
import { halveBatch } from './coarse.js';
import { checkPlateauRule, plateauReached, type PlateauRule } from './stop-rule.js';
import { BatchSampler, batchSizeFor, isCoarseStep, phaseBudget, stepsInPhase, type SamplerState, type TrainBudget } from './schedule.js';
import { disposeWarpBatch, shardSizes, shardTensors, splitBatch, wholeBatch, type BatchData } from './parallel/batch-data.js';
import { flatWeights, predictFlows, shardGradients } from './parallel/engine.js';
import type { WarpWorkerPeer, WeightsSource } from './parallel/worker-peer.js';
import { PreparationPool } from './parallel/preparation-pool.js';
import { WARP_MODEL_FORMAT_VERSION, WARP_MODEL_KIND, type SavedWarpModel, type SavedWarpReference } from './saved-model.js';
import { isUserError, MedpersamUserError } from '../errors.js';
import type { RepeatPeriod } from './periodic.js';
import type { ProgressCallback } from '../progress.js';

export type { LabelWarpMode } from './working-frame.js';

export interface TrainPhaseOptions {
  onProgress?: ProgressCallback;
  /**
   * Called with the full state (save it to resume later) every `checkpointEvery` steps, at the end of the phase,
   * and when `signal` stops the phase. A phase resumed from any of these checkpoints ends with the same weights,
   * bit for bit, as the uninterrupted phase (same thread count).
   */
  onCheckpoint?: (checkpoint: CheckpointData) => Promise<void> | void;
  /** Steps between checkpoints (default 25: a few seconds of work on a CPU). */
  checkpointEvery?: number;
  /**
   * Stop between steps: the state at that step boundary goes to onCheckpoint, then train throws
   * (`TrainingAborted`). The model itself stays usable and consistent.
   */
  signal?: AbortSignal;
}

export interface TrainPhaseResult {
  phase: string;
  /** Optimiser steps run by this call, and the phase's whole budget in steps. */
  stepsRun: number;
  phaseSteps: number;
  /** Why the phase ended: its whole budget ran, or the stopping rule found it converged (stop-rule.ts). */
  stoppedBy: 'budget' | 'plateau';
  /** The total loss (Eq. 3) of every step run by this call, in order (for choosing stopping rules). */
  lossPerStep: number[];
  /** Of stepsRun, the coarse-grid steps (coarse to fine, schedule.ts) and their seconds. */
  coarseStepsRun: number;
  coarseSeconds: number;
  /** Mean loss breakdown over the last `recentLossSteps` steps run by this call (null when nothing ran). */
  recentLoss: LossBreakdown | null;
  recentLossSteps: number;
  seconds: number;
}

/** Thrown by `train` when its signal stopped it (after the checkpoint of the step boundary was handed over). */
export class TrainingAborted extends Error {
  constructor(readonly phase: string, readonly stepInPhase: number) {
    super(`training aborted at step ${stepInPhase} of phase ${phase}`);
    this.name = 'TrainingAborted';
  }
}

/** Steps averaged for TrainPhaseResult.recentLoss. */
const RECENT_LOSS_STEPS = 25;

interface TestEntry {
  id: string;
  width: number;
  height: number;
  /** How the working copy relates to the image's pixels (plain resize or aligned). */
  frame: WorkingFrame;
  prealignment: Prealignment | null;
  /** R×R normalised working image. */
  work: Float32Array;
  /** Soft one-hot pseudolabel at working resolution, R×R×K, or null. */
  pseudo: Float32Array | null;
}

/** Normalised grey (luminance) R×R working copy of an image, plain resize (percentile clip + min-max, area averaging). */
export function toWorkingImage(image: FloatImage, resolution: number): Float32Array {
  const grey = image.channels === 1 ? image : toGrey(image);
  return resizeImage(normalizeIntensity(grey), resolution, resolution, 'area').data;
}

/**
 * Soft one-hot of a label map at working resolution (plain resize): channel 0 = background, channel k =
 * classes[k-1]; pixels with other values count as background. Area averaging, so channels sum to 1. Layout R×R×K
 * interleaved.
 */
export function toWorkingOneHot(label: LabelMap, classes: readonly number[], resolution: number): Float32Array {
  return workingOneHot(label, classes, { width: label.width, height: label.height, warpToOriginal: null }, resolution);
}

/** What the preprocessing chose (for run records): colour projection, image loss, denoising, per-image alignment. */
export interface PreprocessingReport {
  options: WarpPreprocessOptions;
  colour: ColourProjection;
  imageLoss: ImageLossChoice;
  denoise: DenoiseChoice;
  prealign: {
    aligned: number;
    keptResize: number;
    inverted: number;
    /** The reference's repeat (periodic.ts; reference pixels), null when its pattern does not repeat or no search ran. */
    repeat: RepeatPeriod | null;
    images: Record<string, PrealignRecord>;
  };
}

/** What the safety net did (run records): the images it checked and those that fell back to the aligned copy. */
export interface SafetyNetReport {
  enabled: boolean;
  checked: number;
  fellBack: string[];
  /** Per checked image: its evidence (safety-net.ts SafetyNetDecision, numbers rounded to 4 decimals). */
  evidence?: Record<string, { warpAgreement: number; copyAgreement: number; margin: number; maxDisplacementPx: number }>;
}

export function labelClasses(label: LabelMap): number[] {
  const seen = new Uint8Array(256);
  for (let i = 0; i < label.data.length; i++) seen[label.data[i]!] = 1;
  const out: number[] = [];
  for (let c = 1; c < 256; c++) if (seen[c]) out.push(c);
  return out;
}

/** The error of a failed test-image preparation: names the image, keeps a user error's code. */
function preparationError(id: string, err: unknown): Error {
  const message = `preparing test image ${id} failed: ${err instanceof Error ? err.message : String(err)}`;
  return isUserError(err) ? new MedpersamUserError(err.code, message, { cause: err }) : new Error(message, { cause: err });
}

const PHASE_INITIAL = 'initial';
const phaseRank = (phase: string): number => (phase === PHASE_INITIAL ? 0 : Number(phase.replace('retrain-', '')));

export class WarpModel {
  readonly settings: WarpSettings;
  readonly network: WarpNetwork;
  readonly optimizer: AdamW;
  readonly rng: SeededRng;
  /** Foreground classes of the reference label (one-hot channel k+1 ↔ classes[k]). */
  readonly classes: number[];
  private readonly refLabel: LabelMap;
  private readonly refWork: Float32Array;
  private readonly refOneHotWork: Float32Array;
  /** The tests in the order they were added; a slot is empty while its image is being prepared (addTestAsync). */
  private readonly testSlots: (TestEntry | undefined)[] = [];
  private readonly testIndex = new Map<string, number>();
  /** Prepares the images of addTestAsync here and on the workers. */
  private readonly preparation: PreparationPool;
  private phase = PHASE_INITIAL;
  private stepInPhase = 0;
  private totalSteps = 0;
  /** The batch sampler's state within the current phase (empty pass: the phase has not drawn a batch yet). */
  private samplerState: SamplerState = { pass: [], position: 0 };
  /** The stopping rule's state in the current phase: latest per-step losses on the current grid; converged. */
  private recentLosses: number[] = [];
  private converged = false;
  /** Workers that compute shards of each step and chunks of flows (useWorkers); none = this thread alone. */
  private peers: WarpWorkerPeer[] = [];
  /** Changes whenever the weights do, so workers get new weights only when needed. */
  private weightsVersion = 0;
  private weightsCache: { version: number; flat: Float32Array } | null = null;

  /**
   * The per-image safety net (safety-net.ts) on the flows of test images (testFlows, testFlowsParallel, and so
   * every label made from them). Off by default (a model used inside another stage, the crop models of
   * roi-stage.ts); the runs turn it on for their global model (pipeline/warp-stage.ts, bench-warp.ts).
   */
  safetyNet = false;
  private readonly safetyDecisions = new Map<string, SafetyNetDecision>();
  /** Colour projection, padding, alignment and polarity of every image (preprocess.ts). */
  readonly preprocessor: WarpPreprocessor;
  /** The image loss used (settings.loss.imageLoss 'auto' resolved on the reference) and why. */
  readonly imageLossChoice: ImageLossChoice;

  /**
   * `settings.loss.imageLoss` 'auto' is resolved here (loss-choice.ts); `this.settings` holds the resolved value,
   * so checkpoints record the loss actually trained with.
   */
  constructor(settings: WarpSettings, reference: { image: FloatImage; label: LabelMap }) {
    const { image, label } = reference;
    if (image.width !== label.width || image.height !== label.height) {
      throw new Error(`reference image ${image.width}x${image.height} and label ${label.width}x${label.height} differ in size`);
    }
    const R0 = settings.network.resolution;
    if ((settings.schedule.coarseSteps ?? 0) > 0 && R0 % 32 !== 0) {
      throw new MedpersamUserError('BAD_OPTION', `coarse steps halve the working grid, so its resolution must be a multiple of 32, got ${R0}`);
    }
    this.preprocessor = new WarpPreprocessor(settings.preprocess, reference, R0);
    this.imageLossChoice = chooseImageLoss(this.preprocessor.referenceWorkUnsmoothed, R0, settings.loss.imageLoss);
    settings = { ...settings, loss: { ...settings.loss, imageLoss: this.imageLossChoice.kind } };
    this.settings = settings;
    this.rng = new SeededRng(settings.schedule.seed);
    this.network = new WarpNetwork(settings.network, new ParamStore(this.rng));
    this.optimizer = new AdamW(this.network.params, {
      learningRate: settings.schedule.learningRate,
      weightDecay: settings.schedule.weightDecay,
    });
    const R = settings.network.resolution;
    this.classes = labelClasses(label);
    this.refLabel = label;
    this.refWork = this.preprocessor.referenceWork;
    this.refOneHotWork = toWorkingOneHot(label, this.classes, R);
    this.preparation = new PreparationPool(
      this.preprocessor,
      { options: this.preprocessor.options, reference: image, label, resolution: R0 },
      preparationError,
    );
  }

  get resolution(): number {
    return this.settings.network.resolution;
  }

  /** Where training stands: the phase, steps done in it, steps done in all phases. */
  get progress(): { phase: string; stepInPhase: number; totalSteps: number } {
    return { phase: this.phase, stepInPhase: this.stepInPhase, totalSteps: this.totalSteps };
  }

  /** Threads that compute each step: this one plus the workers. */
  get threads(): number {
    return 1 + this.peers.length;
  }

  /** Optimiser steps that phase budget means on this model's test set. */
  phaseSteps(budget: TrainBudget): number {
    return stepsInPhase(budget, batchSizeFor(budget, this.settings.schedule.batchSize, this.tests.length), this.tests.length);
  }

  /** Whether phase `phase` with that budget still has steps to run (false for phases before the current one). */
  needsTraining(phase: string, budget: TrainBudget): boolean {
    if (phaseRank(phase) !== phaseRank(this.phase)) return phaseRank(phase) > phaseRank(this.phase);
    return !this.converged && this.stepInPhase < this.phaseSteps(budget);
  }

  /**
   * Compute with these workers from now on (data-parallel: each step's batch is cut into 1 + workers.length
   * shards, see parallel/batch-data.ts; flows are computed in chunks). Sends them the model once; they stay
   * attached until detachWorkers (the caller owns them and closes them). Results depend on the number of threads,
   * not on which thread computes what.
   */
  async useWorkers(workers: WarpWorkerPeer[]): Promise<void> {
    const backend = tf.getBackend();
    if (workers.length > 0 && backend !== 'wasm' && backend !== 'cpu') {
      throw new Error(`warp workers need the wasm or cpu backend in every thread; this thread uses ${backend}`);
    }
    // addTestAsync may hand them images at once: they answer in order, so after their init.
    this.preparation.attach(workers);
    await Promise.all(
      workers.map((w) =>
        w.init({
          backend,
          settings: this.settings,
          reference: this.refWork,
          referenceOneHot: this.refOneHotWork,
          paramNames: this.network.params.names(),
        }),
      ),
    );
    this.peers = [...workers];
  }

  /** Stop using workers (they are not closed). */
  detachWorkers(): WarpWorkerPeer[] {
    const out = this.peers;
    this.peers = [];
    this.preparation.detach();
    return out;
  }

  private readonly weightsSource: WeightsSource = {
    version: 0,
    flat: () => {
      if (!this.weightsCache || this.weightsCache.version !== this.weightsVersion) {
        this.weightsCache = { version: this.weightsVersion, flat: flatWeights(this.network) };
      }
      return this.weightsCache.flat;
    },
  };

  private currentWeights(): WeightsSource {
    this.weightsSource.version = this.weightsVersion;
    return this.weightsSource;
  }

  get testIds(): string[] {
    return this.tests.map((t) => t.id);
  }

  /**
   * The tests, in the order they were added. Throws while an image of addTestAsync is still being prepared (await
   * testsReady first), and after a preparation failed.
   */
  private get tests(): TestEntry[] {
    const failed = this.preparation.failed;
    if (failed) throw new Error(`the test images are incomplete: ${failed.message}`, { cause: failed });
    const pending = this.preparation.pending;
    if (pending > 0) throw new Error(`${pending} test image(s) are still being prepared: await testsReady() first`);
    return this.testSlots as TestEntry[];
  }

  /**
   * Add a test image (kept only as its R×R working copy, its frame and its original size). Colour projection,
   * initial alignment and polarity are applied here (preprocess.ts).
   */
  addTest(id: string, image: FloatImage): void {
    if (this.testIndex.has(id)) throw new Error(`duplicate test image id ${id}`);
    const prepared = this.preprocessor.prepare(image);
    this.fillSlot(this.reserveSlot(id), id, image, prepared);
  }

  /**
   * addTest with the preparation on a warp worker when one is idle (useWorkers), else on this thread. The test
   * takes its place in the order of the calls, whichever preparation ends first, so the model is the same as with
   * addTest. Resolves once the image is handed over (await it before reading the next image: at most two images
   * per worker and one on this thread are held). Await `testsReady()` before anything reads the tests. Rejects
   * with the first failed preparation (its image id in the message), this one's or an earlier one's.
   */
  async addTestAsync(id: string, image: FloatImage): Promise<void> {
    const failed = this.preparation.failed;
    if (failed) throw failed;
    const slot = this.reserveSlot(id);
    const size = { width: image.width, height: image.height }; // not the image: it is not kept while a worker works
    await this.preparation.submit(id, image, (prepared) => this.fillSlot(slot, id, size, prepared));
  }

  /** Resolves when every image of addTestAsync is prepared; rejects with the first failure (naming the image). */
  testsReady(): Promise<void> {
    return this.preparation.settled();
  }

  private reserveSlot(id: string): number {
    if (this.testIndex.has(id)) throw new Error(`duplicate test image id ${id}`);
    const slot = this.testSlots.length;
    this.testSlots.push(undefined);
    this.testIndex.set(id, slot);
    return slot;
  }

  private fillSlot(slot: number, id: string, image: { width: number; height: number }, prepared: PreparedImage): void {
    this.testSlots[slot] = { id, width: image.width, height: image.height, frame: prepared.frame, prealignment: prepared.prealignment, work: prepared.work, pseudo: null };
  }

  /** What the preprocessing chose for the reference and every test image so far. */
  preprocessingReport(): PreprocessingReport {
    const images: Record<string, PrealignRecord> = {};
    let aligned = 0;
    let inverted = 0;
    let checked = 0;
    for (const t of this.tests) {
      if (!t.prealignment) continue;
      const r = prealignRecord(t.prealignment);
      images[t.id] = r;
      checked++;
      if (r.aligned) aligned++;
      if (r.inverted) inverted++;
    }
    return {
      options: this.settings.preprocess,
      colour: this.preprocessor.colour,
      imageLoss: this.imageLossChoice,
      denoise: this.preprocessor.denoise,
      prealign: { aligned, keptResize: checked - aligned, inverted, repeat: this.preprocessor.repeatPeriod, images },
    };
  }

  /** The R×R normalised working copy of a test image (the model's own input; do not modify it). */
  testWorkingImage(id: string): Float32Array {
    return this.entry(id).work;
  }

  /** Set (or replace) the pseudolabel of a test image, at that image's original size (§3.3). */
  setPseudolabel(id: string, label: LabelMap): void {
    const t = this.entry(id);
    if (label.width !== t.width || label.height !== t.height) {
      throw new Error(`pseudolabel for ${id} is ${label.width}x${label.height}, the image is ${t.width}x${t.height}`);
    }
    t.pseudo = workingOneHot(label, this.classes, t.frame, this.resolution);
  }

  clearPseudolabels(): void {
    for (const t of this.tests) t.pseudo = null;
  }

  private entry(id: string): TestEntry {
    const i = this.testIndex.get(id);
    if (i === undefined) throw new Error(`unknown test image id ${id}`);
    return this.tests[i]!;
  }

  // ---- training ----------------------------------------------------------------------------------------------

  /** One batch as plain arrays: these tests + `nAug` augmented reference pairs drawn from the model's RNG. */
  private makeBatchData(indices: number[], nAug: number): BatchData {
    const R = this.resolution;
    const K = this.classes.length + 1;
    const augImages: Float32Array[] = [];
    const augOneHot: Float32Array[] = [];
    for (let a = 0; a < nAug; a++) {
      // Eq. 2: a random Table 13 augmentation of the reference pair (image bilinear + colour jitter, soft masks).
      const pair = augmentOneHot(
        { image: this.refWork, oneHot: this.refOneHotWork, size: R, classesWithBackground: K },
        this.rng,
        this.settings.schedule.augmentPreset,
      );
      augImages.push(pair.image);
      augOneHot.push(pair.oneHot);
    }
    return {
      resolution: R,
      classesWithBackground: K,
      tests: indices.map((i) => this.tests[i]!.work),
      pseudo: indices.map((i) => this.tests[i]!.pseudo),
      augImages,
      augOneHot,
    };
  }

  private augPerBatch(): number {
    const { loss, schedule } = this.settings;
    return loss.augmentation && loss.lambdaAug > 0 ? schedule.augPerBatch : 0;
  }

  /**
   * Train phase `phase` ('initial' or 'retrain-N') until it has run its budget (schedule.ts: optimiser steps, or
   * epochs; a plain number means epochs). Resumes where a loaded checkpoint stopped; a phase earlier than the
   * current one is already done and returns at once.
   */
  async train(phase: string, budget: TrainBudget | number, opts: TrainPhaseOptions = {}): Promise<TrainPhaseResult> {
    const t0 = performance.now();
    const b: TrainBudget = typeof budget === 'number' ? { unit: 'epochs', epochs: budget } : budget;
    if (this.tests.length === 0) throw new Error('no test images to train on');
    const total = this.phaseSteps(b);
    const none: TrainPhaseResult = { phase, stepsRun: 0, phaseSteps: total, stoppedBy: 'budget', lossPerStep: [], coarseStepsRun: 0, coarseSeconds: 0, recentLoss: null, recentLossSteps: 0, seconds: 0 };
    if (phaseRank(phase) < phaseRank(this.phase)) return none;
    if (phase !== this.phase) {
      this.phase = phase;
      this.stepInPhase = 0;
      this.samplerState = { pass: [], position: 0 };
      this.recentLosses = [];
      this.converged = false;
    }
    const sampler = new BatchSampler(this.tests.length, batchSizeFor(b, this.settings.schedule.batchSize, this.tests.length), b.unit);
    sampler.setState(this.samplerState);
    const nAug = this.augPerBatch();
    const every = opts.checkpointEvery ?? 25;
    const startStep = this.stepInPhase;
    const recent: LossBreakdown[] = [];
    const rule = this.settings.schedule.plateau;
    const plateau = phase === PHASE_INITIAL && rule ? checkPlateauRule(rule) : undefined;
    const lossPerStep: number[] = [];
    let coarseStepsRun = 0;
    let coarseMs = 0;
    // With workers, the next batch is drawn while they compute (the same draws in the same order); a checkpoint
    // then holds the RNG state as it was right after the step's own draws.
    let drawnAhead: BatchData | null = null;
    let rngAfterStep: number | null = null;
    try {
      while (this.stepInPhase < total && !this.converged) {
        if (opts.signal?.aborted) {
          if (opts.onCheckpoint && this.stepInPhase > startStep) await opts.onCheckpoint(this.toCheckpoint(rngAfterStep));
          throw new TrainingAborted(phase, this.stepInPhase);
        }
        const stepStart = performance.now();
        this.optimizer.learningRate = this.learningRateAt(this.stepInPhase, total);
        const drawn = drawnAhead ?? this.makeBatchData(sampler.next(this.rng), nAug);
        drawnAhead = null;
        // Coarse to fine (schedule.ts): the batch is drawn at the working resolution either way (the same random
        // draws), then halved for a coarse step.
        const coarse = isCoarseStep(this.settings.schedule, phase, this.stepInPhase);
        const batch = coarse ? halveBatch(drawn) : drawn;
        const after = { rng: this.rng.getState(), sampler: sampler.getState() };
        const drawAhead =
          this.peers.length > 0 && this.stepInPhase + 1 < total ? () => void (drawnAhead = this.makeBatchData(sampler.next(this.rng), nAug)) : undefined;
        const loss = await this.step(batch, drawAhead);
        this.samplerState = after.sampler;
        rngAfterStep = drawnAhead ? after.rng : null;
        this.stepInPhase++;
        this.totalSteps++;
        if (coarse) {
          coarseStepsRun++;
          coarseMs += performance.now() - stepStart;
        }
        if (plateau) this.recordLossForStopRule(plateau, coarse, loss.total);
        lossPerStep.push(loss.total);
        recent.push(loss);
        if (recent.length > RECENT_LOSS_STEPS) recent.shift();
        opts.onProgress?.({
          stage: 'warp-train',
          done: this.stepInPhase,
          total,
          message: `${phase} step ${this.stepInPhase}/${total} loss ${loss.total.toFixed(4)}`,
        });
        if (opts.onCheckpoint && (this.stepInPhase % every === 0 || this.stepInPhase === total || this.converged)) {
          await opts.onCheckpoint(this.toCheckpoint(rngAfterStep));
        }
        // Let the event loop breathe (progress bars, signals) between steps.
        await new Promise((r) => setTimeout(r, 0));
      }
    } finally {
      // Stopped with a batch drawn ahead: rewind the RNG to the last completed step (the sampler state is kept
      // separately), so the model is exactly its last checkpoint's state.
      if (rngAfterStep !== null) this.rng.setState(rngAfterStep);
    }
    const recentLoss = recent.length === 0 ? null : meanBreakdown(recent);
    return {
      phase,
      stepsRun: this.stepInPhase - startStep,
      phaseSteps: total,
      stoppedBy: this.converged ? 'plateau' : 'budget',
      lossPerStep,
      coarseStepsRun,
      coarseSeconds: coarseMs / 1000,
      recentLoss,
      recentLossSteps: recent.length,
      seconds: (performance.now() - t0) / 1000,
    };
  }

  /**
   * Keep the step's loss for the stopping rule (stop-rule.ts) and decide whether the phase has converged. The
   * windows hold losses of one grid only: the first working-grid step after coarse steps starts them again, and
   * coarse steps never stop a phase.
   */
  private recordLossForStopRule(rule: PlateauRule, coarse: boolean, loss: number): void {
    const startsFineGrid = !coarse && this.stepInPhase >= 2 && isCoarseStep(this.settings.schedule, this.phase, this.stepInPhase - 2);
    if (startsFineGrid) this.recentLosses = [];
    this.recentLosses.push(loss);
    if (this.recentLosses.length > 2 * rule.window) this.recentLosses.shift();
    if (!coarse && plateauReached(rule, this.stepInPhase, this.recentLosses)) this.converged = true;
  }

  /**
   * One optimiser step on a batch: shard gradients (this thread computes shard 0 while the workers compute the
   * others, then runs `whileWorkersCompute`), summed in shard order, then AdamW. With no workers the batch is one
   * shard with shares 1.
   */
  private async step(batch: BatchData, whileWorkersCompute?: () => void): Promise<LossBreakdown> {
    const shards = this.peers.length === 0 ? [wholeBatch(batch)] : splitBatch(batch, this.threads);
    const weights = this.currentWeights();
    const remote = shards.slice(1).map((shard, i) => this.peers[i]!.gradients(weights, shard));
    // Whatever happens here, the workers' replies are awaited before returning (no stray work in flight).
    let local: ReturnType<typeof shardGradients> | undefined;
    let localError: unknown;
    try {
      local = shardGradients(this.network, shards[0]!, this.refWork, this.refOneHotWork, this.settings.loss);
      whileWorkersCompute?.();
    } catch (err) {
      localError = err;
    }
    const others = await Promise.allSettled(remote);
    if (localError !== undefined) throw localError;
    const results = [local!];
    for (const o of others) {
      if (o.status === 'rejected') throw o.reason;
      results.push(o.value);
    }
    const sum = results[0]!.flat;
    for (let s = 1; s < results.length; s++) {
      const g = results[s]!.flat;
      for (let i = 0; i < sum.length; i++) sum[i] += g[i]!;
    }
    // A parameter is skipped only when no shard gave it a gradient.
    const missing = results[0]!.missing.filter((name) => results.every((r) => r.missing.includes(name)));
    const updated = applyFlatGradients(this.network, this.optimizer, sum, missing);
    this.weightsVersion++;
    // The update returns the new weights: the workers' next copy, without reading the variables back.
    this.weightsCache = { version: this.weightsVersion, flat: updated };
    return sumBreakdowns(results.map((r) => r.breakdown));
  }

  /**
   * One retraining round of §3.3: replace the pseudolabels (test id → label map at that image's original size,
   * e.g. SAM's outputs; images without one get only the Eq. 3 terms) and train phase 'retrain-<round>' for
   * `budget` (default: the schedule's retraining budget, retrainSteps or retrainEpochs). Rounds are numbered from 1; resumable like `train`.
   */
  async retrain(
    round: number,
    pseudolabels: ReadonlyMap<string, LabelMap>,
    opts: TrainPhaseOptions & { budget?: TrainBudget } = {},
  ): Promise<TrainPhaseResult> {
    if (!Number.isInteger(round) || round < 1) throw new Error(`retraining round must be an integer >= 1, got ${round}`);
    this.clearPseudolabels();
    for (const [id, label] of pseudolabels) this.setPseudolabel(id, label);
    return this.train(`retrain-${round}`, opts.budget ?? phaseBudget(this.settings.schedule, 'retrain'), opts);
  }

  /** Learning rate at step `step` of a phase of `total` steps (deterministic, so resumed runs match). */
  private learningRateAt(step: number, total: number): number {
    const { learningRate, lrSchedule } = this.settings.schedule;
    if (lrSchedule !== 'cosine' || total <= 0) return learningRate;
    return learningRate * 0.5 * (1 + Math.cos((Math.PI * step) / total));
  }

  /** Loss on some test images (no update), with the model's current weights; consumes RNG only if nAug > 0. */
  lossOn(ids: string[], nAug = 0): LossBreakdown {
    const data = this.makeBatchData(ids.map((id) => this.testIndex.get(id)!), nAug);
    const batch = shardTensors(wholeBatch(data), this.refWork, this.refOneHotWork);
    try {
      return evaluateLoss(this.network, batch, this.settings.loss);
    } finally {
      disposeWarpBatch(batch);
    }
  }

  // ---- inference ---------------------------------------------------------------------------------------------

  /** Flows (R×R×2 each, xyWarp test → reference) for working-resolution images, in batches, in this thread. */
  predictFlowsWork(works: Float32Array[], batchSize = 8): Float32Array[] {
    return predictFlows(this.network, this.refWork, works, batchSize);
  }

  /**
   * predictFlowsWork on every thread: the images are cut into contiguous chunks, one per thread (this one takes
   * the first). The flows are the same as predictFlowsWork's, bit for bit (each image's flow is computed on its own).
   */
  async predictFlowsWorkParallel(works: Float32Array[], batchSize = 8): Promise<Float32Array[]> {
    if (this.peers.length === 0 || works.length < 2) return this.predictFlowsWork(works, batchSize);
    const sizes = shardSizes(works.length, this.threads);
    const chunks: Float32Array[][] = [];
    let start = 0;
    for (const n of sizes) {
      chunks.push(works.slice(start, start + n));
      start += n;
    }
    const weights = this.currentWeights();
    const remote = chunks.slice(1).map((chunk, i) => this.peers[i]!.flows(weights, chunk, this.resolution));
    let local: Float32Array[] = [];
    let localError: unknown;
    try {
      local = this.predictFlowsWork(chunks[0]!, batchSize);
    } catch (err) {
      localError = err;
    }
    const others = await Promise.allSettled(remote);
    if (localError !== undefined) throw localError;
    const out = [...local];
    for (const o of others) {
      if (o.status === 'rejected') throw o.reason;
      out.push(...o.value);
    }
    return out;
  }

  /**
   * Warp the reference label onto an image of (width × height) whose working copy is its plain resize (Eq. 4).
   * For test images added to the model use `labelForTest` (their frame may be aligned).
   */
  labelFromFlow(flowXyWarp: Float32Array, width: number, height: number, mode: LabelWarpMode = 'nearest'): LabelMap {
    return warpLabelThroughFrame(this.refLabel, flowXyWarp, this.resolution, { width, height, warpToOriginal: null }, mode);
  }

  /**
   * Eq. 4 for a test image already added: the reference label through its working flow and its frame.
   * `displacementScale` α scales the whole displacement, alignment included (Fig. 6; see working-frame.ts).
   */
  labelForTest(id: string, flowXyWarp: Float32Array, mode: LabelWarpMode = 'nearest', displacementScale = 1): LabelMap {
    return warpLabelThroughFrame(this.refLabel, flowXyWarp, this.resolution, this.entry(id).frame, mode, displacementScale);
  }

  /** The working frame of test image `id` (aligned after an initial alignment, else the plain resize). */
  testFrame(id: string): WorkingFrame {
    return this.entry(id).frame;
  }

  /** Eq. 4 for any image (preprocessed like a test image, not kept): the reference label at its original size. */
  warpLabel(image: FloatImage, mode: LabelWarpMode = 'nearest'): LabelMap {
    const prepared = this.preprocessor.prepare(image);
    const [flow] = this.predictFlowsWork([prepared.work]);
    return warpLabelThroughFrame(this.refLabel, flow!, this.resolution, prepared.frame, mode);
  }

  /**
   * Working-grid flows of test images already added (by id), with their original sizes; with the safety net on,
   * an image whose warp is less plausible than its aligned copy gets the zero flow (safety-net.ts).
   */
  testFlows(ids: string[], batchSize = 8): { id: string; flowXyWarp: Float32Array; width: number; height: number }[] {
    const entries = ids.map((id) => this.entry(id));
    const flows = this.predictFlowsWork(entries.map((e) => e.work), batchSize);
    return entries.map((e, j) => ({ id: e.id, flowXyWarp: this.checkedFlow(e, flows[j]!), width: e.width, height: e.height }));
  }

  /** The flow after the safety net (the zero flow when the image falls back); records the decision. */
  private checkedFlow(e: TestEntry, flow: Float32Array): Float32Array {
    if (!this.safetyNet) return flow;
    const decision = safetyNetDecision(this.refWork, e.work, flow, this.resolution);
    this.safetyDecisions.set(e.id, decision);
    return decision.fellBack ? new Float32Array(flow.length) : flow;
  }

  /** Whether test image `id` fell back to its aligned copy (its flows computed since the model was built). */
  fellBack(id: string): boolean {
    return this.safetyDecisions.get(id)?.fellBack === true;
  }

  /** The safety net's decisions so far (images whose flows were computed since the model was built). */
  safetyNetReport(): SafetyNetReport {
    const fellBack = [...this.safetyDecisions].filter(([, d]) => d.fellBack).map(([id]) => id);
    const round = (v: number) => Math.round(v * 1e4) / 1e4;
    const evidence: NonNullable<SafetyNetReport['evidence']> = {};
    for (const [id, d] of this.safetyDecisions) {
      evidence[id] = { warpAgreement: round(d.warpAgreement), copyAgreement: round(d.copyAgreement), margin: round(d.margin), maxDisplacementPx: round(d.maxDisplacementPx) };
    }
    return { enabled: this.safetyNet, checked: this.safetyDecisions.size, fellBack, evidence };
  }

  /** Eq. 4 for test images already added (by id), in batches; calls `each` per image in order. */
  warpTests(ids: string[], each: (id: string, label: LabelMap) => void, mode: LabelWarpMode = 'nearest', batchSize = 8): void {
    for (let s = 0; s < ids.length; s += batchSize) {
      const entries = ids.slice(s, s + batchSize).map((id) => this.entry(id));
      const flows = this.predictFlowsWork(entries.map((e) => e.work), batchSize);
      entries.forEach((e, j) => each(e.id, warpLabelThroughFrame(this.refLabel, this.checkedFlow(e, flows[j]!), this.resolution, e.frame, mode)));
    }
  }

  /** warpTests on every thread (predictFlowsWorkParallel): the same labels, in order. */
  async warpTestsParallel(ids: string[], each: (id: string, label: LabelMap) => void, mode: LabelWarpMode = 'nearest', batchSize = 8): Promise<void> {
    for (const f of await this.testFlowsParallel(ids, batchSize)) each(f.id, this.labelForTest(f.id, f.flowXyWarp, mode));
  }

  /** testFlows on every thread (predictFlowsWorkParallel); the same flows. */
  async testFlowsParallel(ids: string[], batchSize = 8): Promise<{ id: string; flowXyWarp: Float32Array; width: number; height: number }[]> {
    const entries = ids.map((id) => this.entry(id));
    const flows = await this.predictFlowsWorkParallel(entries.map((e) => e.work), batchSize);
    return entries.map((e, j) => ({ id: e.id, flowXyWarp: this.checkedFlow(e, flows[j]!), width: e.width, height: e.height }));
  }

  // ---- checkpoints -------------------------------------------------------------------------------------------

  /** The full training state (`rngState` overrides the RNG's current state: see train's draw-ahead). */
  toCheckpoint(rngState: number | null = null): CheckpointData {
    const opt = this.optimizer.exportState();
    return {
      settings: this.settings,
      progress: {
        phase: this.phase,
        stepInPhase: this.stepInPhase,
        totalSteps: this.totalSteps,
        rngState: rngState ?? this.rng.getState(),
        optimizerStep: opt.step,
        sampler: { pass: [...this.samplerState.pass], position: this.samplerState.position },
        recentLosses: [...this.recentLosses],
        converged: this.converged,
      },
      weights: this.network.params.exportArrays(),
      adamM: opt.m,
      adamV: opt.v,
    };
  }

  /** Restore weights, optimiser, RNG and progress (the settings must equal this model's). */
  loadCheckpoint(data: CheckpointData): void {
    if (JSON.stringify(data.settings) !== JSON.stringify(this.settings)) {
      throw new Error('checkpoint was trained with different settings');
    }
    this.network.params.importArrays(data.weights);
    this.optimizer.importState({ step: data.progress.optimizerStep, m: data.adamM, v: data.adamV });
    this.rng.setState(data.progress.rngState);
    this.phase = data.progress.phase;
    this.stepInPhase = data.progress.stepInPhase;
    this.totalSteps = data.progress.totalSteps;
    this.samplerState = { pass: [...data.progress.sampler.pass], position: data.progress.sampler.position };
    this.recentLosses = [...(data.progress.recentLosses ?? [])];
    this.converged = data.progress.converged === true;
    this.weightsVersion++;
  }

  // ---- saved models (saved-model.ts) -------------------------------------------------------------------------

  /** The trained weights with their settings and provenance, ready for serializeWarpModel. */
  toSavedModel(info: { reference: Omit<SavedWarpReference, 'classes'>; medpersamVersion: string; createdAt?: string }): SavedWarpModel {
    return {
      kind: WARP_MODEL_KIND,
      formatVersion: WARP_MODEL_FORMAT_VERSION,
      medpersamVersion: info.medpersamVersion,
      createdAt: info.createdAt ?? new Date().toISOString(),
      settings: this.settings,
      reference: { ...info.reference, classes: [...this.classes] },
      training: {
        phase: this.phase,
        totalSteps: this.totalSteps,
        threads: this.threads,
        backend: tf.getBackend(),
        testImages: this.tests.length,
      },
      weights: this.network.params.exportArrays(),
    };
  }

  /**
   * Warm start (`--init-model`): take a saved model's weights as the starting point of this model's training
   * instead of its random initialisation; the optimiser, RNG and progress stay fresh, so the schedule (a small
   * budget: the natural second run of a study) fine-tunes it. Only before any training step, and only from a model
   * of the same network (architecture, grid, widths) and the same reference classes; anything else is refused with
   * a MedpersamUserError saying what differs (`source` names the file in the message).
   */
  initialiseFrom(saved: SavedWarpModel, source: string): void {
    if (this.totalSteps > 0) throw new Error(`initialiseFrom: the model has already trained ${this.totalSteps} steps`);
    const theirs = saved.settings.network;
    const ours = this.settings.network;
    const differs = (Object.keys({ ...ours, ...theirs }) as (keyof typeof ours)[]).filter((k) => JSON.stringify(ours[k]) !== JSON.stringify(theirs[k]));
    if (differs.length > 0) {
      const said = differs.map((k) => `${k} ${JSON.stringify(theirs[k])} (this run: ${JSON.stringify(ours[k])})`).join(', ');
      throw new MedpersamUserError('WARP_MODEL_INCOMPATIBLE', `${source}: the initial warp model has another network: ${said}`);
    }
    if (saved.reference.classes.join(',') !== this.classes.join(',')) {
      throw new MedpersamUserError(
        'WARP_MODEL_REFERENCE_MISMATCH',
        `${source}: the initial warp model was trained for classes ${saved.reference.classes.join(', ')}, this reference mask has ${this.classes.join(', ')}`,
      );
    }
    try {
      this.network.params.importArrays(saved.weights);
    } catch (err) {
      throw new MedpersamUserError('WARP_MODEL_INCOMPATIBLE', `${source}: the initial warp model's weights do not fit the network (${(err as Error).message})`, { cause: err });
    }
    this.weightsVersion++;
  }

  /**
   * A model with a saved model's settings and weights, for the reference it was trained with (check that with
   * checkSavedReference first). Ready to warp: add tests and call warpTests / predictFlowsWork, no training.
   */
  static fromSavedModel(saved: SavedWarpModel, reference: { image: FloatImage; label: LabelMap }): WarpModel {
    let model: WarpModel;
    try {
      model = new WarpModel(saved.settings, reference);
    } catch (err) {
      throw new MedpersamUserError('WARP_MODEL_INCOMPATIBLE', `the warp model's settings do not build a network here (${(err as Error).message})`, { cause: err });
    }
    if (model.classes.join(',') !== saved.reference.classes.join(',')) {
      model.dispose();
      throw new MedpersamUserError(
        'WARP_MODEL_REFERENCE_MISMATCH',
        `the warp model was trained with reference classes ${saved.reference.classes.join(', ')}, this reference mask has ${model.classes.join(', ')}`,
      );
    }
    try {
      model.network.params.importArrays(saved.weights);
    } catch (err) {
      model.dispose();
      throw new MedpersamUserError('WARP_MODEL_INCOMPATIBLE', `the warp model's weights do not fit its network (${(err as Error).message})`, { cause: err });
    }
    model.phase = saved.training.phase;
    model.totalSteps = saved.training.totalSteps;
    model.weightsVersion++;
    return model;
  }

  dispose(): void {
    this.optimizer.dispose();
    this.network.params.dispose();
  }
}

const LOSS_KEYS: (keyof LossBreakdown)[] = ['total', 'image', 'reg', 'aug', 'augSeg', 'pseudoSeg'];

/** Sum of the shards' (already shared-weighted) loss breakdowns = the whole batch's. */
function sumBreakdowns(parts: readonly LossBreakdown[]): LossBreakdown {
  const out: LossBreakdown = { total: 0, image: 0, reg: 0, aug: 0, augSeg: 0, pseudoSeg: 0 };
  for (const p of parts) for (const k of LOSS_KEYS) out[k] += p[k];
  return out;
}

function meanBreakdown(steps: readonly LossBreakdown[]): LossBreakdown {
  const out = sumBreakdowns(steps);
  for (const k of LOSS_KEYS) out[k] /= steps.length;
  return out;
}
