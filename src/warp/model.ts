/**
 * WarpModel: the library face of the warping model — train once on (reference → test set), warp many, retrain
 * with pseudolabels (paper §3.1, §3.3, Eq. 4). Pure (no file system): runs in a browser.
 *
 * Frames:
 *  - xyOriginal: a test image's (or the reference's) own pixel grid, any size / aspect ratio.
 *  - xyWarp: the square R×R working grid. Each image (reference and tests) is resized to R×R on its own
 *    (normalised: percentile clip + min-max; area averaging), so x_warp = (x_orig + 0.5)·R/W − 0.5 per image.
 *  - The network's flow maps the *test* working grid to the *reference* working grid (see network.ts). To label a
 *    test pixel (xyOriginal of the test) we go test-original → test-working → + flow → reference-working →
 *    reference-original, and read the reference label there (nearest, or argmax of the bilinearly weighted
 *    one-hot labels).
 *
 * Memory: only working-resolution copies of the test images are kept (R²·4 bytes each), plus the reference label at
 * its original size; pseudolabels are stored as soft one-hot planes at working resolution.
 */
import * as tf from '@tensorflow/tfjs';
import type { FloatImage, LabelMap } from '../image/types.js';
import { toGrey, normalizeIntensity } from '../image/normalize.js';
import { resizeImage } from '../image/resize.js';
import { WarpNetwork } from './network.js';
import { AdamW, ParamStore } from './params.js';
import { SeededRng } from './seeded-rng.js';
import { trainStep, evaluateLoss, type WarpBatch, type LossBreakdown } from './trainer.js';
import type { WarpSettings } from './presets.js';
import type { CheckpointData } from './checkpoint.js';
import { augmentOneHot } from './augment.js';
import { upsampleFlowPlanes, warpLabelArgmax, warpLabelNearest } from './spatial.js';
import type { ProgressCallback } from '../progress.js';

export type LabelWarpMode = 'nearest' | 'argmax';

export interface TrainPhaseOptions {
  onProgress?: ProgressCallback;
  /** Called after every completed epoch with the full state (save it to resume later). */
  onEpochEnd?: (checkpoint: CheckpointData) => Promise<void> | void;
  /**
   * Abort between batches (throws). The weights then hold a partial epoch: to continue exactly, load the last
   * checkpoint passed to onEpochEnd (that is what the resumable pipeline does).
   */
  signal?: AbortSignal;
}

export interface TrainPhaseResult {
  phase: string;
  epochsRun: number;
  /** Mean loss breakdown of the last epoch run (null when nothing ran). */
  lastEpochLoss: LossBreakdown | null;
  seconds: number;
}

interface TestEntry {
  id: string;
  width: number;
  height: number;
  /** R×R normalised working image. */
  work: Float32Array;
  /** Soft one-hot pseudolabel at working resolution, R×R×K, or null. */
  pseudo: Float32Array | null;
}

/** Normalised grey R×R working copy of an image (percentile clip + min-max, area averaging). */
export function toWorkingImage(image: FloatImage, resolution: number): Float32Array {
  const grey = image.channels === 1 ? image : toGrey(image);
  return resizeImage(normalizeIntensity(grey), resolution, resolution, 'area').data;
}

/**
 * Soft one-hot of a label map at working resolution: channel 0 = background, channel k = classes[k-1]; pixels with
 * other values count as background. Area averaging, so channels sum to 1. Layout R×R×K interleaved.
 */
export function toWorkingOneHot(label: LabelMap, classes: readonly number[], resolution: number): Float32Array {
  const K = classes.length + 1;
  const lut = new Int16Array(256).fill(0);
  classes.forEach((c, i) => (lut[c] = i + 1));
  const out = new Float32Array(resolution * resolution * K);
  const plane = new Float32Array(label.width * label.height);
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < plane.length; i++) plane[i] = lut[label.data[i]!] === k ? 1 : 0;
    const small = resizeImage({ width: label.width, height: label.height, channels: 1, data: plane }, resolution, resolution, 'area').data;
    for (let i = 0; i < small.length; i++) out[i * K + k] = small[i]!;
  }
  return out;
}

export function labelClasses(label: LabelMap): number[] {
  const seen = new Uint8Array(256);
  for (let i = 0; i < label.data.length; i++) seen[label.data[i]!] = 1;
  const out: number[] = [];
  for (let c = 1; c < 256; c++) if (seen[c]) out.push(c);
  return out;
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
  private readonly tests: TestEntry[] = [];
  private readonly testIndex = new Map<string, number>();
  private phase = PHASE_INITIAL;
  private epochInPhase = 0;
  private totalEpochs = 0;

  constructor(settings: WarpSettings, reference: { image: FloatImage; label: LabelMap }) {
    const { image, label } = reference;
    if (image.width !== label.width || image.height !== label.height) {
      throw new Error(`reference image ${image.width}x${image.height} and label ${label.width}x${label.height} differ in size`);
    }
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
    this.refWork = toWorkingImage(image, R);
    this.refOneHotWork = toWorkingOneHot(label, this.classes, R);
  }

  get resolution(): number {
    return this.settings.network.resolution;
  }

  get progress(): { phase: string; epochInPhase: number; totalEpochs: number } {
    return { phase: this.phase, epochInPhase: this.epochInPhase, totalEpochs: this.totalEpochs };
  }

  get testIds(): string[] {
    return this.tests.map((t) => t.id);
  }

  /** Add a test image (kept only as its R×R working copy and its original size). */
  addTest(id: string, image: FloatImage): void {
    if (this.testIndex.has(id)) throw new Error(`duplicate test image id ${id}`);
    this.testIndex.set(id, this.tests.length);
    this.tests.push({ id, width: image.width, height: image.height, work: toWorkingImage(image, this.resolution), pseudo: null });
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
    t.pseudo = toWorkingOneHot(label, this.classes, this.resolution);
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

  /** Build the tensors of one batch (test indices + A augmented reference pairs drawn from the model's RNG). */
  private makeBatch(indices: number[], nAug: number): WarpBatch {
    const R = this.resolution;
    const K = this.classes.length + 1;
    const reference = tf.tensor4d(this.refWork, [1, R, R, 1]);
    const referenceOneHot = tf.tensor4d(this.refOneHotWork, [1, R, R, K]);
    let tests: tf.Tensor4D | null = null;
    let pseudo: WarpBatch['pseudo'] = null;
    if (indices.length > 0) {
      const buf = new Float32Array(indices.length * R * R);
      indices.forEach((ti, j) => buf.set(this.tests[ti]!.work, j * R * R));
      tests = tf.tensor4d(buf, [indices.length, R, R, 1]);
      const withPseudo = indices.map((ti, j) => [ti, j] as const).filter(([ti]) => this.tests[ti]!.pseudo !== null);
      if (withPseudo.length > 0) {
        const pb = new Float32Array(withPseudo.length * R * R * K);
        withPseudo.forEach(([ti], j) => pb.set(this.tests[ti]!.pseudo!, j * R * R * K));
        pseudo = { index: withPseudo.map(([, j]) => j), oneHot: tf.tensor4d(pb, [withPseudo.length, R, R, K]) };
      }
    }
    let augmented: WarpBatch['augmented'] = null;
    if (nAug > 0) {
      const ib = new Float32Array(nAug * R * R);
      const mb = new Float32Array(nAug * R * R * K);
      for (let a = 0; a < nAug; a++) {
        // Eq. 2: a random Table 13 augmentation of the reference pair (image bilinear + colour jitter, soft masks).
        const pair = augmentOneHot(
          { image: this.refWork, oneHot: this.refOneHotWork, size: R, classesWithBackground: K },
          this.rng,
          this.settings.schedule.augmentPreset,
        );
        ib.set(pair.image, a * R * R);
        mb.set(pair.oneHot, a * R * R * K);
      }
      augmented = { images: tf.tensor4d(ib, [nAug, R, R, 1]), oneHot: tf.tensor4d(mb, [nAug, R, R, K]) };
    }
    return { reference, referenceOneHot, tests, pseudo, augmented };
  }

  private disposeBatch(b: WarpBatch): void {
    b.reference.dispose();
    b.referenceOneHot.dispose();
    b.tests?.dispose();
    b.pseudo?.oneHot.dispose();
    b.augmented?.images.dispose();
    b.augmented?.oneHot.dispose();
  }

  private augPerBatch(): number {
    const { loss, schedule } = this.settings;
    return loss.augmentation && loss.lambdaAug > 0 ? schedule.augPerBatch : 0;
  }

  /**
   * Train phase `phase` ('initial' or 'retrain-N') until it has `epochs` epochs. Resumes where a loaded
   * checkpoint stopped; a phase earlier than the current one is already done and returns at once.
   */
  async train(phase: string, epochs: number, opts: TrainPhaseOptions = {}): Promise<TrainPhaseResult> {
    const t0 = performance.now();
    if (this.tests.length === 0) throw new Error('no test images to train on');
    if (phaseRank(phase) < phaseRank(this.phase)) return { phase, epochsRun: 0, lastEpochLoss: null, seconds: 0 };
    if (phase !== this.phase) {
      this.phase = phase;
      this.epochInPhase = 0;
    }
    const { batchSize } = this.settings.schedule;
    const nAug = this.augPerBatch();
    const stepsPerEpoch = Math.ceil(this.tests.length / batchSize);
    const totalSteps = (epochs - this.epochInPhase) * stepsPerEpoch;
    let step = 0;
    let epochsRun = 0;
    let lastEpochLoss: LossBreakdown | null = null;
    while (this.epochInPhase < epochs) {
      const order = this.rng.shuffle(this.tests.map((_, i) => i));
      const sum: LossBreakdown = { total: 0, image: 0, reg: 0, aug: 0, augSeg: 0, pseudoSeg: 0 };
      for (let s = 0; s < stepsPerEpoch; s++) {
        if (opts.signal?.aborted) throw new Error('training aborted');
        this.optimizer.learningRate = this.learningRateAt(this.epochInPhase * stepsPerEpoch + s, epochs * stepsPerEpoch);
        const batch = this.makeBatch(order.slice(s * batchSize, (s + 1) * batchSize), nAug);
        let loss: LossBreakdown;
        try {
          loss = trainStep(this.network, this.optimizer, batch, this.settings.loss);
        } finally {
          this.disposeBatch(batch);
        }
        for (const k of Object.keys(sum) as (keyof LossBreakdown)[]) sum[k] += loss[k] / stepsPerEpoch;
        step++;
        opts.onProgress?.({
          stage: 'warp-train',
          done: step,
          total: totalSteps,
          message: `${phase} epoch ${this.epochInPhase + 1}/${epochs} loss ${loss.total.toFixed(4)}`,
        });
        // Let the event loop breathe (progress bars, signals) between batches.
        await new Promise((r) => setTimeout(r, 0));
      }
      this.epochInPhase++;
      this.totalEpochs++;
      epochsRun++;
      lastEpochLoss = sum;
      if (opts.onEpochEnd) await opts.onEpochEnd(this.toCheckpoint());
    }
    return { phase, epochsRun, lastEpochLoss, seconds: (performance.now() - t0) / 1000 };
  }

  /**
   * One retraining round of §3.3: replace the pseudolabels (test id → label map at that image's original size,
   * e.g. SAM's outputs; images without one get only the Eq. 3 terms) and train phase 'retrain-<round>' for
   * `epochs` (default schedule.retrainEpochs). Rounds are numbered from 1; resumable like `train`.
   */
  async retrain(
    round: number,
    pseudolabels: ReadonlyMap<string, LabelMap>,
    opts: TrainPhaseOptions & { epochs?: number } = {},
  ): Promise<TrainPhaseResult> {
    if (!Number.isInteger(round) || round < 1) throw new Error(`retraining round must be an integer >= 1, got ${round}`);
    this.clearPseudolabels();
    for (const [id, label] of pseudolabels) this.setPseudolabel(id, label);
    return this.train(`retrain-${round}`, opts.epochs ?? this.settings.schedule.retrainEpochs, opts);
  }

  /** Learning rate at step `step` of a phase of `total` steps (deterministic, so resumed runs match). */
  private learningRateAt(step: number, total: number): number {
    const { learningRate, lrSchedule } = this.settings.schedule;
    if (lrSchedule !== 'cosine' || total <= 0) return learningRate;
    return learningRate * 0.5 * (1 + Math.cos((Math.PI * step) / total));
  }

  /** Loss on some test images (no update), with the model's current weights; consumes RNG only if nAug > 0. */
  lossOn(ids: string[], nAug = 0): LossBreakdown {
    const batch = this.makeBatch(ids.map((id) => this.testIndex.get(id)!), nAug);
    try {
      return evaluateLoss(this.network, batch, this.settings.loss);
    } finally {
      this.disposeBatch(batch);
    }
  }

  // ---- inference ---------------------------------------------------------------------------------------------

  /** Flows (R×R×2 each, xyWarp test → reference) for working-resolution images, in batches. */
  predictFlowsWork(works: Float32Array[], batchSize = 8): Float32Array[] {
    const R = this.resolution;
    const out: Float32Array[] = [];
    const ref = tf.tensor4d(this.refWork, [1, R, R, 1]);
    try {
      for (let s = 0; s < works.length; s += batchSize) {
        const chunk = works.slice(s, s + batchSize);
        const buf = new Float32Array(chunk.length * R * R);
        chunk.forEach((w, j) => buf.set(w, j * R * R));
        const flat = tf.tidy(() => this.network.forward(tf.tensor4d(buf, [chunk.length, R, R, 1]), ref).flowXyWarp.dataSync() as Float32Array);
        for (let j = 0; j < chunk.length; j++) out.push(flat.slice(j * R * R * 2, (j + 1) * R * R * 2));
      }
    } finally {
      ref.dispose();
    }
    return out;
  }

  /** Warp the reference label onto a test image given its working flow; result at (width × height) (Eq. 4). */
  labelFromFlow(flowXyWarp: Float32Array, width: number, height: number, mode: LabelWarpMode = 'nearest'): LabelMap {
    // xyWarp flow (test working grid) → displacement in pixels of the test's original grid, then sample the
    // reference label (its own size): src = (x + dx + 0.5)·W_ref/W_test − 0.5 (spatial.ts).
    const R = this.resolution;
    const flowXyOriginal = upsampleFlowPlanes(flowXyWarp, R, R, width, height);
    return mode === 'argmax'
      ? warpLabelArgmax(this.refLabel, flowXyOriginal, width, height)
      : warpLabelNearest(this.refLabel, flowXyOriginal, width, height);
  }

  /** Eq. 4 for any image: the reference label warped onto it, at its original size. */
  warpLabel(image: FloatImage, mode: LabelWarpMode = 'nearest'): LabelMap {
    const [flow] = this.predictFlowsWork([toWorkingImage(image, this.resolution)]);
    return this.labelFromFlow(flow!, image.width, image.height, mode);
  }

  /** Working-grid flows of test images already added (by id), with their original sizes. */
  testFlows(ids: string[], batchSize = 8): { id: string; flowXyWarp: Float32Array; width: number; height: number }[] {
    const entries = ids.map((id) => this.entry(id));
    const flows = this.predictFlowsWork(entries.map((e) => e.work), batchSize);
    return entries.map((e, j) => ({ id: e.id, flowXyWarp: flows[j]!, width: e.width, height: e.height }));
  }

  /** Eq. 4 for test images already added (by id), in batches; calls `each` per image in order. */
  warpTests(ids: string[], each: (id: string, label: LabelMap) => void, mode: LabelWarpMode = 'nearest', batchSize = 8): void {
    for (let s = 0; s < ids.length; s += batchSize) {
      const entries = ids.slice(s, s + batchSize).map((id) => this.entry(id));
      const flows = this.predictFlowsWork(entries.map((e) => e.work), batchSize);
      entries.forEach((e, j) => each(e.id, this.labelFromFlow(flows[j]!, e.width, e.height, mode)));
    }
  }

  // ---- checkpoints -------------------------------------------------------------------------------------------

  toCheckpoint(): CheckpointData {
    const opt = this.optimizer.exportState();
    return {
      settings: this.settings,
      progress: {
        phase: this.phase,
        epochInPhase: this.epochInPhase,
        totalEpochs: this.totalEpochs,
        rngState: this.rng.getState(),
        optimizerStep: opt.step,
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
    this.epochInPhase = data.progress.epochInPhase;
    this.totalEpochs = data.progress.totalEpochs;
  }

  dispose(): void {
    this.optimizer.dispose();
    this.network.params.dispose();
  }
}
