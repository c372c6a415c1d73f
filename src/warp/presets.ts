/**
 * Named settings for the warping model: the paper's schedule (App. B.4) and a CPU default measured on a 2-core
 * machine (see docs in the report / bench/warp.ts). Every field can be overridden.
 */
import { DEFAULT_NETWORK_CONFIG, type WarpNetworkConfig } from './network.js';
import { DEFAULT_LOSS_OPTIONS, type WarpLossOptions } from './trainer.js';
import type { PlateauRule } from './stop-rule.js';
import { PAPER_PREPROCESS, ROBUST_PREPROCESS, type WarpPreprocessOptions } from './preprocess.js';

export interface WarpScheduleOptions {
  /**
   * Budget of the initial training phase (schedule.ts): optimiser steps whatever the folder size (`initialSteps`,
   * the CPU default), or epochs (`initialEpochs`, App. B.4: 30). Steps win when both are set; resolveWarpSettings
   * keeps only the one an override names.
   */
  initialSteps?: number;
  initialEpochs?: number;
  /**
   * Coarse to fine: the first coarseSteps optimiser steps of the initial phase run at half the working resolution
   * (schedule.ts isCoarseStep, coarse.ts); 0 or absent: every step at the working resolution.
   */
  coarseSteps?: number;
  /**
   * Stopping when done (stop-rule.ts): the initial phase ends before its budget once its windowed training loss
   * stops falling; absent: the whole budget runs.
   */
  plateau?: PlateauRule;
  /** Budget of each retraining round (§3.3): steps, or epochs (App. B.4: 10). */
  retrainSteps?: number;
  retrainEpochs?: number;
  /** Number of retraining rounds (App. B.4 / §4.3: 5). */
  retrainRounds: number;
  /** Test images per batch (App. B.4: 32). */
  batchSize: number;
  /** Augmented reference pairs added to each batch for the Eq. 2 loss. */
  augPerBatch: number;
  /** AdamW learning rate (App. B.4: 1e-4) and decoupled weight decay (PyTorch default 0.01). */
  learningRate: number;
  weightDecay: number;
  /**
   * Learning-rate schedule within each phase: 'constant' (paper) or 'cosine' (decays from learningRate to 0 over
   * the phase's epochs; a short CPU schedule ends on small steps).
   */
  lrSchedule?: 'constant' | 'cosine';
  /** Augmentation ranges (Table 13): 'paper' (Shenzhen/OdontoAI/CAMUS/JSRT column) or 'wide' (BUU column). */
  augmentPreset: 'paper' | 'wide';
  /** Seed for initialisation, shuffling and augmentation. */
  seed: number;
}

export interface WarpSettings {
  network: WarpNetworkConfig;
  loss: WarpLossOptions;
  schedule: WarpScheduleOptions;
  /** Per-image preprocessing: colour projection, initial alignment, polarity, fill (warp/preprocess.ts). */
  preprocess: WarpPreprocessOptions;
}

export type WarpPresetName = 'paper' | 'cpu';

/** The paper's settings (App. B.3–B.4, Table 12 JSRT). On this 2-core CPU these cost hours (see the report). */
export const PAPER_PRESET: WarpSettings = {
  network: { ...DEFAULT_NETWORK_CONFIG, arch: 'nice-trans', resolution: 256 },
  // App. B.1 picks SSIM or NCC per dataset; 'auto' applies its rule (loss-choice.ts).
  loss: { ...DEFAULT_LOSS_OPTIONS },
  preprocess: { ...PAPER_PREPROCESS },
  schedule: {
    initialEpochs: 30,
    retrainEpochs: 10,
    retrainRounds: 5,
    batchSize: 32,
    // The paper does not say how many augmented pairs a batch holds; a quarter of the batch, as in the CPU preset.
    augPerBatch: 8,
    learningRate: 1e-4,
    weightDecay: 0.01,
    lrSchedule: 'constant',
    augmentPreset: 'paper',
    seed: 1,
  },
};

/**
 * CPU default, chosen by measurement on JSRT (first 40 test images, 20 epochs, single-thread wasm on the shared
 * 2-core machine; bench/warp.ts, mean Dice): batch 4 + 1 augmented pair beat batch 8 + 2 at equal epochs (87.9 vs
 * 85.2: test-time training here is limited by optimiser steps, not by samples); 'conv' matched 'nice-trans'
 * (87.4 vs 87.2) at 25 % less CPU; a finest-stage width of 16 matched 32 (87.4 vs 87.2) at 18 % less CPU; lr 1e-3
 * (10× the paper's) because 1e-4 cannot move far in the few hundred steps a CPU affords, while 2e-3 diverged
 * without the residual bounds and was worse with them (83.4 vs 88.3). 10 epochs fit the whole 246-image warp stage
 * in under the elastix time on this machine. Full JSRT (246 test images, quiet machine): this preset 92.3 % mean
 * Dice in 449 s wall (1.83 s/image, peak RSS 0.57 GB); 'nice-trans' with finest width 32: 92.6 % in 611 s; elastix
 * 85.5 % in 769 s. The default stays 'conv': within noise of 'nice-trans' at 27 % less time.
 * Budget: a fixed number of optimiser steps whatever the folder size (issue 8). Mean Dice by step, one run per
 * folder size (bench/warp.ts --sizes 5,10,40,all --dice-every 100; constant lr, so a smaller budget is the start
 * of the same run): at 400 steps JSRT 40 images reach only 88.9 %; at 500 JSRT holds 92.8 / 92.5 / 90.9 / 91.7 % for
 * 5 / 10 / 40 / 246 images (600: 92.9 / 91.9 / 90.7 / 91.3); speckled low-contrast phantoms (stress set, 40) 93.1 %
 * (600: 93.6, still rising; both before the denoising of preprocess.ts, with which 500 steps reach 95.2 there).
 * 500 steps: the full-JSRT warp stage in about 300 s on the quiet 2-core machine (600: 333 s, 0.39 s/step), for at
 * most 0.5 points on the speckled phantoms.
 */
export const CPU_PRESET: WarpSettings = {
  network: { ...DEFAULT_NETWORK_CONFIG, arch: 'conv', resolution: 128, finestDecoderWidth: 16 },
  loss: { ...DEFAULT_LOSS_OPTIONS },
  preprocess: { ...ROBUST_PREPROCESS },
  schedule: {
    initialSteps: 500,
    retrainSteps: 200,
    retrainRounds: 5,
    batchSize: 3,
    augPerBatch: 1,
    learningRate: 1e-3,
    weightDecay: 0.01,
    lrSchedule: 'constant',
    augmentPreset: 'paper',
    seed: 1,
  },
};

export const WARP_PRESETS: Readonly<Record<WarpPresetName, WarpSettings>> = { paper: PAPER_PRESET, cpu: CPU_PRESET };

export interface WarpSettingsOverrides {
  network?: Partial<WarpNetworkConfig>;
  loss?: Partial<WarpLossOptions>;
  schedule?: Partial<WarpScheduleOptions>;
  preprocess?: Partial<WarpPreprocessOptions>;
}

/** A preset with overrides applied (deep-copied; the presets themselves are never mutated). */
export function resolveWarpSettings(preset: WarpPresetName = 'cpu', overrides: WarpSettingsOverrides = {}): WarpSettings {
  const base = WARP_PRESETS[preset];
  if (!base) throw new Error(`unknown warp preset "${String(preset)}" (known: ${Object.keys(WARP_PRESETS).join(', ')})`);
  return {
    network: {
      ...base.network,
      ...overrides.network,
      encoderWidths: [...(overrides.network?.encoderWidths ?? base.network.encoderWidths)] as WarpNetworkConfig['encoderWidths'],
      attentionLevels: [...(overrides.network?.attentionLevels ?? base.network.attentionLevels)],
    },
    loss: { ...base.loss, ...overrides.loss },
    schedule: withBudgetOverrides(base.schedule, overrides.schedule ?? {}),
    preprocess: { ...base.preprocess, ...overrides.preprocess },
  };
}

/**
 * The schedule with overrides, where a phase budget named by the overrides replaces the preset's in the other
 * unit: `{ initialEpochs: 20 }` on a steps preset trains 20 epochs (the preset's initialSteps is dropped), and
 * `{ initialSteps: 300 }` on an epochs preset trains 300 steps. Naming both units of one phase is an error.
 */
function withBudgetOverrides(base: WarpScheduleOptions, over: Partial<WarpScheduleOptions>): WarpScheduleOptions {
  const out: WarpScheduleOptions = { ...base, ...over };
  for (const [steps, epochs] of [['initialSteps', 'initialEpochs'], ['retrainSteps', 'retrainEpochs']] as const) {
    const givesSteps = over[steps] !== undefined;
    const givesEpochs = over[epochs] !== undefined;
    if (givesSteps && givesEpochs) throw new Error(`give ${steps} or ${epochs}, not both`);
    if (givesSteps) delete out[epochs];
    if (givesEpochs) delete out[steps];
  }
  return out;
}
