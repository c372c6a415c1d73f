/**
 * Requests and replies between the main thread (worker-peer.ts) and a warp worker (worker-server.ts). Every request
 * carries an id; the worker answers each with the same id, in order.
 */
import type { FloatImage, LabelMap } from '../../image/types.js';
import type { WarpSettings } from '../presets.js';
import type { WarpPreprocessOptions } from '../preprocess.js';
import type { LossBreakdown } from '../trainer.js';
import type { ShardData } from './batch-data.js';

export interface InitRequest {
  kind: 'init';
  id: number;
  /** tfjs backend the main thread uses ('wasm' or 'cpu'); the worker must compute with the same kernels. */
  backend: string;
  /** Where the wasm binaries live (browser: URL prefix); Node workers find them themselves. */
  wasmPaths?: string;
  settings: WarpSettings;
  /** The reference at working resolution: R×R image and R×R×K one-hot label. */
  reference: Float32Array;
  referenceOneHot: Float32Array;
  /** Parameter names in store order (checked against the worker's own network: the weight layout must agree). */
  paramNames: string[];
}

/** New weights (flat, store order) when `weightsVersion` differs from the last one sent to this worker. */
export interface WeightsUpdate {
  weightsVersion: number;
  weights?: Float32Array;
}

export interface GradientsRequest extends WeightsUpdate {
  kind: 'gradients';
  id: number;
  shard: ShardData;
}

export interface FlowsRequest extends WeightsUpdate {
  kind: 'flows';
  id: number;
  /** n working images, R×R each, back to back. */
  works: Float32Array;
  count: number;
}

/**
 * What the worker builds its WarpPreprocessor from (the same arguments as the main thread's), so that its
 * 'prepare' answers are the main thread's bit for bit. Independent of init: no tfjs involved.
 */
export interface PreprocessorRequest {
  kind: 'preprocessor';
  id: number;
  options: WarpPreprocessOptions;
  /** The reference at its original size, as given to the model. */
  reference: FloatImage;
  label: LabelMap;
  resolution: number;
}

/** Preprocess one test image (WarpPreprocessor.prepare); answered with a PreparedImage (preprocess.ts). */
export interface PrepareRequest {
  kind: 'prepare';
  id: number;
  image: FloatImage;
}

export interface DisposeRequest {
  kind: 'dispose';
  id: number;
}

export type WorkerRequest = InitRequest | GradientsRequest | FlowsRequest | PreprocessorRequest | PrepareRequest | DisposeRequest;

export interface GradientsResult {
  flat: Float32Array;
  missing: string[];
  breakdown: LossBreakdown;
}

export type WorkerReply =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { message: string; stack?: string } };
