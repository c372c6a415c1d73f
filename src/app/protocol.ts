/** Messages between the page (main.ts) and the engine worker (worker.ts). Everything is structured-cloneable. */
import type { ProgressEvent } from '../progress.js';
import type { LabelWarpMode } from '../warp/model.js';
import type { WarpPresetName, WarpSettingsOverrides } from '../warp/presets.js';
import type { WarpEngine, WarpEngineChoice } from './engines.js';
import type { QualityBadge } from './quality-hook.js';
import type { ModelFile } from './sam-web.js';

export interface RunConfig {
  /** Run name in IndexedDB (one stored run: "current"). */
  run: string;
  mode: 'warp-only' | 'sam';
  engine: WarpEngineChoice;
  samProvider: 'auto' | 'webgpu' | 'wasm';
  /** Class index → name (validates the masks; names the download's classes.json). */
  classes: [number, string][];
  /** safetyNet: the per-image fallback to the aligned copy of the reference (src/warp/safety-net.ts; default on). */
  warp: { preset: WarpPresetName; overrides: WarpSettingsOverrides; labelMode: LabelWarpMode; safetyNet: boolean };
  retrainRounds?: number;
  refinements?: number;
  targetEmbedding?: boolean;
  /** URL prefixes of the tfjs and onnxruntime-web binaries (end with '/'). */
  tfjsWasmBase: string;
  ortWasmBase: string;
}

/** A reference mask drawn in the page (a label map) instead of a file. */
export interface DrawnMask {
  name: string;
  width: number;
  height: number;
  data: Uint8Array;
}

export interface RunInputs {
  reference: File;
  referenceMask: File | DrawnMask;
  images: File[];
  sam?: [ModelFile, ModelFile];
}

export type ToWorker = { type: 'start'; config: RunConfig; inputs: RunInputs } | { type: 'stop' };

export interface DoneSummary {
  mode: 'warp-only' | 'med-persam';
  images: number;
  written: number;
  reused: number;
  resumed: boolean;
  record: unknown;
  seconds: number;
  /** Images that could not be read (damaged, unsupported, too large for the tab): skipped, with the reason. */
  unreadable: { file: string; code: string; message: string }[];
}

export type FromWorker =
  | { type: 'engines'; warp: WarpEngine; sam?: string; threads: number; isolated: boolean }
  | { type: 'progress'; event: ProgressEvent }
  | { type: 'overlay'; id: string; png: Uint8Array; width: number; height: number }
  | { type: 'quality'; id: string; badge: QualityBadge }
  | { type: 'done'; summary: DoneSummary }
  | { type: 'stopped'; message: string }
  | { type: 'error'; code?: string; message: string; file?: string; internal: boolean };
